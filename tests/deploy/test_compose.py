"""The compose file: the services start only once PostgreSQL accepts connections, and the README
tells how to get the first admin key of a compose deployment."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("profiles", "feedback", "scoring", "alerts")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_database_is_healthy_only_when_its_server_accepts_tcp_connections():
    probe = " ".join(compose()["services"]["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in probe
    # The image's first-start server listens on the Unix socket only; the real one on TCP.
    assert "-h 127.0.0.1" in probe or "--host=127.0.0.1" in probe


def test_every_service_waits_for_a_healthy_database_and_broker():
    services = compose()["services"]
    for name in SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy", name


def test_the_readme_gives_the_first_admin_key_step_of_a_compose_deployment():
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up" in readme
    assert "docker compose exec profiles pulse keys create --role admin" in readme
