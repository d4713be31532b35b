"""`pulse clv`: fit the value models to a transaction log, and check them on a holdout period.

This module does the file I/O; the numbers come from the pure modules beside it. Every problem
with the input ends the command with one line on stderr, never a traceback.
"""

import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from services.scoring import gamma_gamma
from services.scoring.btyd import DEFAULT_MODEL, MODELS
from services.scoring.customer_scores import HORIZONS_DAYS, score_customers, score_intervals
from services.scoring.fitting import FitNotConverged, FitResult, NotEnoughCustomers
from services.scoring.holdout import calibration_table, calibration_chart_png, split_calibration_holdout
from services.scoring.summary import EventAfterAsOf, PurchaseSummary, summarise_purchases
from services.scoring.transaction_file import MalformedTransactions, Transactions, parse_days, parse_transactions

clv_app = typer.Typer(help="Customer value models: fit, score and check them.", no_args_is_help=True)

# Files larger than this show a progress bar while they are read.
PROGRESS_FROM_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 4 * 1024 * 1024
stderr = Console(stderr=True)


class CommandFailed(Exception):
    """One line for stderr, and the exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


@contextmanager
def one_line_errors():
    try:
        yield
    except CommandFailed as failure:
        print(failure, file=sys.stderr)
        raise typer.Exit(failure.code) from None


@dataclass(frozen=True)
class CustomerLog:
    path: Path
    transactions: Transactions
    codes: np.ndarray
    customer_ids: list[str]


def read_log(path: Path) -> CustomerLog:
    text = _read_text(path)
    try:
        transactions = parse_transactions(text)
    except MalformedTransactions as problem:
        raise CommandFailed(f"{path}:{problem}") from None
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(c, len(index)) for c in transactions.customer_id), dtype=np.int64)
    return CustomerLog(path, transactions, codes, list(index))


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            raw = _read_with_progress(handle, size) if size >= PROGRESS_FROM_BYTES else handle.read()
        return raw.decode("utf-8-sig")
    except OSError as problem:
        raise CommandFailed(f"{path}: cannot read: {problem.strerror}") from None
    except UnicodeDecodeError as problem:
        raise CommandFailed(f"{path}: not UTF-8 text (byte {problem.start})") from None


def _read_with_progress(handle, size: int) -> bytes:
    chunks = []
    columns = (TextColumn("reading {task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(handle.name, total=size)
        while chunk := handle.read(READ_CHUNK_BYTES):
            chunks.append(chunk)
            progress.advance(task, len(chunk))
    return b"".join(chunks)


def as_day(value: str, option: str) -> float:
    try:
        return float(parse_days([value], column=option)[0])
    except MalformedTransactions:
        raise CommandFailed(f"{option}: not an ISO date or date-time: '{value}'") from None


def summarise(log: CustomerLog, as_of: float, option: str) -> PurchaseSummary:
    transactions = log.transactions
    try:
        return summarise_purchases(log.codes, transactions.day, transactions.amount, as_of=as_of)
    except EventAfterAsOf as late:
        line = transactions.line_of(late.event_index)
        raise CommandFailed(f"{log.path}:{line}: column 'occurred_at': purchase after {option} {_date(as_of)}") from None


def _date(day: float) -> str:
    return str(np.datetime64(int(np.floor(day)), "D"))


def fit_models(model_name: str, summary: PurchaseSummary) -> tuple[FitResult, FitResult]:
    try:
        purchases = MODELS[model_name].fit(summary.frequency, summary.recency, summary.T)
        values = gamma_gamma.fit(summary.frequency, summary.monetary)
    except NotEnoughCustomers as problem:
        raise CommandFailed(str(problem)) from None
    return purchases, values


def fit_report(fit: FitResult, values: FitResult, as_of: float) -> dict:
    return {
        "model": fit.model,
        "params": fit.params,
        "standard_errors": fit.standard_error_by_name,
        "log_likelihood": fit.log_likelihood,
        "converged": fit.converged,
        "iterations": fit.iterations,
        "n_customers": fit.n_customers,
        "as_of": _date(as_of),
        "time_unit": "days",
        "gamma_gamma": {
            "params": values.params,
            "standard_errors": values.standard_error_by_name,
            "log_likelihood": values.log_likelihood,
            "converged": values.converged,
            "n_customers": values.n_customers,
        },
    }


def customer_table(log: CustomerLog, summary: PurchaseSummary, model_name: str, fit: FitResult, values: FitResult,
                   intervals: bool) -> dict[str, list[str]]:
    history = dict(x=summary.frequency, t_x=summary.recency, T=summary.T, monetary=summary.monetary)
    model = MODELS[model_name]
    try:
        scores = score_customers(model, fit.usable_params(), values.usable_params(), **history)
    except FitNotConverged as problem:
        raise CommandFailed(str(problem), code=2) from None
    columns = {
        "customer_id": [log.customer_ids[code] for code in summary.customers],
        "frequency": _whole(summary.frequency),
        "recency": _whole(summary.recency),
        "T": _whole(summary.T),
        "monetary": _decimal(summary.monetary),
        "p_alive": _decimal(scores.p_alive),
        **{f"expected_purchases_{t}": _decimal(scores.expected_purchases[t]) for t in HORIZONS_DAYS},
        "expected_order_value": _decimal(scores.expected_order_value),
        "clv": _decimal(scores.clv),
    }
    if intervals:
        columns |= _interval_columns(score_intervals(model, fit, values, **history))
    return columns


def _interval_columns(bounds) -> dict[str, list[str]]:
    named = {"p_alive": bounds.p_alive, "clv": bounds.clv}
    named |= {f"expected_purchases_{t}": bounds.expected_purchases[t] for t in HORIZONS_DAYS}
    columns = {}
    for name, (low, high) in named.items():
        columns[f"{name}_low"], columns[f"{name}_high"] = _decimal(low), _decimal(high)
    return columns


def _whole(values: np.ndarray) -> list[str]:
    return values.astype(np.int64).astype(str).tolist()


def _decimal(values: np.ndarray) -> list[str]:
    return list(map(repr, values.tolist()))


def write_table(path: Path, columns: dict[str, list[str]]) -> None:
    rows = map(",".join, zip(*columns.values()))
    try:
        path.write_text(",".join(columns) + "\n" + "\n".join(rows) + "\n")
    except OSError as problem:
        raise CommandFailed(f"{path}: cannot write: {problem.strerror}") from None


@clv_app.command("fit")
def fit_command(
    transactions: Path = typer.Option(..., "--transactions", help="CSV with header customer_id,occurred_at,amount"),
    as_of: str = typer.Option(..., "--as-of", help="observation date (ISO)"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="mbgnbd, bgnbd or pareto"),
    out: Path | None = typer.Option(None, "--out", help="CSV to write one row per customer to"),
    intervals: bool = typer.Option(False, "--intervals", help="add 90% intervals from parameter draws"),
) -> None:
    """Fit the purchase model and Gamma-Gamma; print the fit as JSON and write per-customer scores."""
    with one_line_errors():
        if model not in MODELS:
            raise CommandFailed(f"--model: unknown model '{model}' (choose from {', '.join(MODELS)})")
        as_of_day = as_day(as_of, "--as-of")
        log = read_log(transactions)
        summary = summarise(log, as_of_day, "--as-of")
        fit, values = fit_models(model, summary)
        print(json.dumps(fit_report(fit, values, as_of_day), indent=2))
        table = customer_table(log, summary, model, fit, values, intervals)
        if out is not None:
            write_table(out, table)


@clv_app.command("evaluate")
def evaluate_command(
    transactions: Path = typer.Option(..., "--transactions", help="CSV with header customer_id,occurred_at,amount"),
    calibration_end: str = typer.Option(..., "--calibration-end", help="last day of the calibration period"),
    observation_end: str = typer.Option(..., "--observation-end", help="last day of the holdout period"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="mbgnbd, bgnbd or pareto"),
    plot: Path | None = typer.Option(None, "--plot", help="PNG chart of predicted vs actual holdout purchases"),
) -> None:
    """Fit on the calibration period; compare predicted and actual holdout purchases by frequency."""
    with one_line_errors():
        if model not in MODELS:
            raise CommandFailed(f"--model: unknown model '{model}' (choose from {', '.join(MODELS)})")
        calibration_day = as_day(calibration_end, "--calibration-end")
        observation_day = as_day(observation_end, "--observation-end")
        if observation_day <= calibration_day:
            raise CommandFailed("--observation-end: must be after --calibration-end")
        log = read_log(transactions)
        summarise(log, observation_day, "--observation-end")  # refuses purchases after the holdout
        split = split_calibration_holdout(
            log.codes, log.transactions.day, log.transactions.amount,
            calibration_end=calibration_day, observation_end=observation_day,
        )
        try:
            fit = MODELS[model].fit(split.frequency, split.recency, split.T)
            params = fit.usable_params()
        except NotEnoughCustomers as problem:
            raise CommandFailed(str(problem)) from None
        except FitNotConverged as problem:
            raise CommandFailed(str(problem), code=2) from None
        table = calibration_table(MODELS[model], params, split)
        print(json.dumps({"model": model, "params": fit.params, "holdout_days": split.holdout_days,
                          "by_calibration_frequency": table.as_rows()}, indent=2))
        if plot is not None:
            plot.write_bytes(calibration_chart_png(table, model=model))
