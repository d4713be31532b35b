"""Operator commands answer a failure with one line, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pulse(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from services.cli import main; main()", *args], cwd=ROOT,
                          env=os.environ | env, capture_output=True, text=True, timeout=60)


def test_an_unreachable_key_database_is_one_line_on_stderr():
    result = pulse("keys", "list", PULSE_AUTH_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: ")


def test_an_unknown_role_is_refused_with_the_roles_named(tmp_path):
    result = pulse("keys", "create", "--role", "boss", "--name", "x", PULSE_DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "admin, manager, agent, analyst, service" in result.stderr


def test_keys_are_created_listed_and_revoked_from_the_command_line(tmp_path):
    created = pulse("keys", "create", "--role", "analyst", "--name", "报表", PULSE_DATA_DIR=str(tmp_path))
    assert created.returncode == 0 and created.stdout.startswith("pk_")
    listed = pulse("keys", "list", PULSE_DATA_DIR=str(tmp_path))
    key_id = listed.stdout.split()[0]
    assert "analyst" in listed.stdout and "报表" in listed.stdout and "active" in listed.stdout
    assert pulse("keys", "revoke", key_id, PULSE_DATA_DIR=str(tmp_path)).returncode == 0
    assert "revoked" in pulse("keys", "list", PULSE_DATA_DIR=str(tmp_path)).stdout


def test_migrate_creates_every_service_schema_and_an_unknown_service_is_one_line(tmp_path):
    migrated = pulse("migrate", PULSE_DATA_DIR=str(tmp_path))
    assert migrated.returncode == 0, migrated.stderr
    assert {path.name for path in tmp_path.glob("*.db")} == {"auth.db", "profiles.db", "feedback.db", "scoring.db", "alerts.db"}
    again = pulse("migrate", "scoring", PULSE_DATA_DIR=str(tmp_path))
    assert again.returncode == 0 and "scoring: migrated" in again.stderr
    unknown = pulse("migrate", "billing", PULSE_DATA_DIR=str(tmp_path))
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: unknown service billing")
