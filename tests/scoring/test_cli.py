"""`pulse clv fit` and `pulse clv evaluate`: JSON on stdout, a row per customer, and one clear
line on stderr for every malformed input — never a traceback."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rich.progress
from typer.testing import CliRunner

from services.cli import app
from services.scoring.analysis import cli
from services.scoring.btyd import mbgnbd
from tests.common.test_cli import pulse as operator_command

HEADER = "customer_id,occurred_at,amount\n"
OUT_COLUMNS = [
    "customer_id", "frequency", "recency", "T", "monetary", "p_alive", "expected_purchases_30",
    "expected_purchases_90", "expected_purchases_365", "expected_order_value", "clv",
]


@pytest.fixture(scope="module")
def cdnow_csv(cdnow_transactions, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cdnow") / "transactions.csv"
    rows = zip(cdnow_transactions.customer_id, cdnow_transactions.date.dt.strftime("%Y-%m-%d"), cdnow_transactions.dollar_value)
    path.write_text(HEADER + "".join(f"{c},{d},{a}\n" for c, d, a in rows))
    return path


def pulse(*args):
    return CliRunner().invoke(app, ["clv", *map(str, args)])


def fit_args(path, as_of="1998-06-30"):
    return ("fit", "--transactions", path, "--as-of", as_of)


def test_fit_prints_the_model_as_json_and_writes_one_row_per_customer(cdnow_csv, tmp_path):
    out = tmp_path / "scores.csv"
    result = pulse(*fit_args(cdnow_csv), "--out", out)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "mbgnbd" and report["converged"] and report["time_unit"] == "days"
    assert report["n_customers"] == 23_570 and report["as_of"] == "1998-06-30"
    assert set(report["params"]) == set(report["standard_errors"]) == {"r", "alpha", "a", "b"}
    assert set(report["gamma_gamma"]["params"]) == {"p", "q", "v"} and report["gamma_gamma"]["converged"]
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == OUT_COLUMNS and len(rows) == 23_570
    params = [report["params"][k] for k in ("r", "alpha", "a", "b")]
    history = np.array([[float(row[k]) for k in ("frequency", "recency", "T")] for row in rows]).T
    np.testing.assert_allclose([float(row["p_alive"]) for row in rows], mbgnbd.p_alive(params, *history), rtol=1e-11)


@pytest.mark.slow
def test_fit_with_intervals_adds_bounds_around_each_estimate(cdnow_csv, tmp_path):
    out = tmp_path / "scores.csv"
    result = pulse(*fit_args(cdnow_csv), "--model", "bgnbd", "--out", out, "--intervals")
    assert result.exit_code == 0, result.stderr
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    for name in ("p_alive", "expected_purchases_90", "clv"):
        low, point, high = (np.array([float(r[c]) for r in rows]) for c in (f"{name}_low", name, f"{name}_high"))
        assert np.all(low <= high) and np.mean((low <= point * (1 + 1e-9)) & (point <= high * (1 + 1e-9))) > 0.95


def test_evaluate_prints_the_holdout_table_and_draws_the_chart(cdnow_csv, tmp_path):
    chart = tmp_path / "calibration.png"
    result = pulse("evaluate", "--transactions", cdnow_csv, "--calibration-end", "1997-09-30",
                   "--observation-end", "1998-06-30", "--plot", chart)
    assert result.exit_code == 0, result.stderr
    table = json.loads(result.stdout)["by_calibration_frequency"]
    assert [row["frequency_cal"] for row in table] == list(range(7))
    assert chart.read_bytes()[:4] == b"\x89PNG"


def write(tmp_path, text, name="transactions.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in lines[0]


GOOD = "c1,2020-01-01,10.00\nc2,2020-01-02,5.50\n"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ":1: empty file"),
        ("customer_id,occurred_at\nc1,2020-01-01\n", ":1: column 'amount': missing from the header"),
        (HEADER + GOOD + "c3,2020-02-30,1.0\n", ":4: column 'occurred_at': not an ISO date or date-time: '2020-02-30'"),
        (HEADER + GOOD + "c3,yesterday,1.0\n", ":4: column 'occurred_at': not an ISO date or date-time: 'yesterday'"),
        (HEADER + GOOD + "c3,2020-01-03,abc\n", ":4: column 'amount': not a decimal number: 'abc'"),
        (HEADER + GOOD + "c3,2020-01-03,1,extra\n", ":4: expected 3 fields, found 4"),
        (HEADER, ":2: no transactions after the header"),
        (HEADER + GOOD + ",2020-01-03,1.0\n", ":4: column 'customer_id': empty"),
    ],
)
def test_malformed_file_exits_with_one_line_naming_line_column_and_problem(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert_one_line_error(pulse(*fit_args(path)), f"{path}{expected}")


def test_as_of_before_a_purchase_in_the_file_is_a_clear_error(tmp_path):
    path = write(tmp_path, HEADER + GOOD + "c3,2020-03-01T10:00:00,1.0\n")
    assert_one_line_error(pulse(*fit_args(path, as_of="2020-02-15")), f"{path}:4: column 'occurred_at': purchase after --as-of 2020-02-15")


def test_bad_as_of_date_is_a_clear_error(tmp_path):
    assert_one_line_error(pulse(*fit_args(write(tmp_path, HEADER + GOOD), as_of="soon")), "--as-of: not an ISO date")


def test_missing_file_is_a_clear_error(tmp_path):
    assert_one_line_error(pulse(*fit_args(tmp_path / "absent.csv")), "absent.csv: cannot read")


def test_an_output_file_that_cannot_be_written_is_a_clear_error(cdnow_csv, tmp_path):
    result = pulse(*fit_args(cdnow_csv), "--out", tmp_path / "absent" / "scores.csv")
    assert_one_line_error(result, "scores.csv: cannot write: No such file or directory")


def test_too_few_customers_to_fit_is_a_clear_error(tmp_path):
    result = pulse(*fit_args(write(tmp_path, HEADER + GOOD), as_of="2020-06-30"))
    assert_one_line_error(result, "mbgnbd: need at least 200 customers to fit, got 2")


def test_unknown_model_is_a_clear_error(tmp_path):
    assert_one_line_error(pulse(*fit_args(write(tmp_path, HEADER + GOOD)), "--model", "magic"), "--model: unknown model 'magic'")


def test_evaluate_refuses_an_observation_end_before_the_calibration_end(tmp_path):
    result = pulse("evaluate", "--transactions", write(tmp_path, HEADER + GOOD), "--calibration-end", "2020-02-01",
                   "--observation-end", "2020-01-01")
    assert_one_line_error(result, "--observation-end: must be after --calibration-end")


def test_installed_pulse_command_reports_bad_amount_without_traceback(tmp_path):
    path = write(tmp_path, HEADER + GOOD + "c3,2020-01-03,12,5\n", name="t.csv")
    pulse_command = Path(sys.executable).with_name("pulse")
    done = subprocess.run([pulse_command, "clv", *map(str, fit_args(path))], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"{path}:4: expected 3 fields, found 4"]


def test_a_long_file_is_read_behind_a_progress_bar_that_leaves_stdout_alone(cdnow_csv, monkeypatch):
    monkeypatch.setattr(cli, "_shows_progress", lambda size: True)  # as on a terminal
    monkeypatch.setattr(cli, "READ_CHUNK_BYTES", 64 * 1024)
    reads = []
    monkeypatch.setattr(rich.progress.Progress, "advance", lambda self, task, size: reads.append(size))
    result = pulse(*fit_args(cdnow_csv))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n_customers"] == 23_570
    assert len(reads) > 10 and sum(reads) == cdnow_csv.stat().st_size


def test_no_progress_bar_is_drawn_into_a_pipe_or_for_a_short_file(monkeypatch):
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: False, raising=False)
    assert not cli._shows_progress(10**9)
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: True, raising=False)
    assert not cli._shows_progress(1024) and cli._shows_progress(cli.PROGRESS_FROM_BYTES)


def test_pulse_scoring_refit_fits_and_says_what_is_in_use(tmp_path):
    result = operator_command("scoring", "refit", "--as-of", "2026-01-31T00:00:00Z", PULSE_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["in_use"]["status"] == "priors" and status["in_use"]["population"] == 0
    refused = operator_command("scoring", "refit", "--as-of", "2026-01-31", PULSE_DATA_DIR=str(tmp_path))
    assert refused.returncode == 2 and "needs a time zone" in refused.stderr
