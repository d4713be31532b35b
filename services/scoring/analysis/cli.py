"""`pulse clv`: fit the value models to a transaction log, and check them on a holdout period.

This module does the file I/O; the numbers come from the pure modules beside it. Every problem
with the input ends the command with one line on stderr, never a traceback. polars (and the file
reader built on it) is imported by the commands that read a file, not with `pulse`: `pulse scoring
refit` and the other commands do not carry its memory.
"""

from __future__ import annotations

import os

# The models' matrices are a few rows wide, so BLAS worker threads bring nothing; on a machine
# whose other cores are busy they spin beside the main thread and made the two fits about three
# times slower (0.12 s became 0.36-0.43 s, measured). OpenBLAS reads this once, when numpy and
# scipy load it, which is why it comes before them; a caller's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gc
import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import typer

from services.scoring.analysis.holdout import calibration_table, split_calibration_holdout
from services.scoring.btyd import gamma_gamma
from services.scoring.btyd.fitting import FitNotConverged, FitResult, NotEnoughCustomers
from services.scoring.btyd.purchase_models import DEFAULT_MODEL, MODELS
from services.scoring.scores.customer_scores import HORIZONS_DAYS, score_customers, score_intervals
from services.scoring.scores.summary import EventAfterAsOf, PurchaseSummary, summarise_purchases

if TYPE_CHECKING:
    import polars as pl

    from services.scoring.analysis.transaction_file import Transactions

clv_app = typer.Typer(help="Customer value models: fit, score and check them.", no_args_is_help=True)

# Files larger than this show a progress bar while they are read, on a terminal.
PROGRESS_FROM_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 4 * 1024 * 1024


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

    @property
    def codes(self) -> np.ndarray:
        return self.transactions.customer_code

    @property
    def customer_ids(self) -> pl.Series:
        return self.transactions.customer_ids


def read_log(path: Path) -> CustomerLog:
    from services.scoring.analysis.transaction_file import MalformedTransactions, parse_transactions

    try:
        transactions = parse_transactions(_read_bytes(path))
    except MalformedTransactions as problem:
        raise CommandFailed(f"{path}:{problem}") from None
    return CustomerLog(path, transactions)


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            return _read_with_progress(handle, size) if _shows_progress(size) else handle.read()
    except OSError as problem:
        raise CommandFailed(f"{path}: cannot read: {problem.strerror}") from None


def _shows_progress(size: int) -> bool:
    """A bar is for someone watching: not for a pipe or a log, where drawing it only costs time."""
    return size >= PROGRESS_FROM_BYTES and sys.stderr.isatty()


def _read_with_progress(handle, size: int) -> bytes:
    # rich costs 25 ms to import: only a read that draws a bar pays it.
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    chunks = []
    columns = (TextColumn("reading {task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(handle.name, total=size)
        while chunk := handle.read(READ_CHUNK_BYTES):
            chunks.append(chunk)
            progress.advance(task, len(chunk))
    return b"".join(chunks)


def as_day(value: str, option: str) -> float:
    from services.scoring.analysis import transaction_file

    try:
        return float(transaction_file.parse_days([value], column=option)[0])
    except transaction_file.MalformedTransactions:
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
                   intervals: bool) -> pl.DataFrame:
    """One row per customer: id, summary, scores, and the interval bounds on request."""
    model = MODELS[model_name]
    try:
        params, value_params = fit.usable_params(), values.usable_params()
    except FitNotConverged as problem:
        raise CommandFailed(str(problem), code=2) from None
    history = dict(x=summary.frequency, t_x=summary.recency, T=summary.T, monetary=summary.monetary)
    scores = score_customers(model, params, value_params, **history)
    columns = {
        "customer_id": log.customer_ids[summary.customers],
        "frequency": summary.frequency.astype(np.int64),
        "recency": summary.recency.astype(np.int64),
        "T": summary.T.astype(np.int64),
        "monetary": summary.monetary,
        "p_alive": scores.p_alive,
        **{f"expected_purchases_{t}": scores.expected_purchases[t] for t in HORIZONS_DAYS},
        "expected_order_value": scores.expected_order_value,
        "clv": scores.clv,
    }
    if intervals:
        columns |= _interval_columns(score_intervals(model, fit, values, **history))
    import polars as pl

    return pl.DataFrame(columns)


def _interval_columns(bounds) -> dict[str, np.ndarray]:
    named = {"p_alive": bounds.p_alive, "clv": bounds.clv}
    named |= {f"expected_purchases_{t}": bounds.expected_purchases[t] for t in HORIZONS_DAYS}
    columns = {}
    for name, (low, high) in named.items():
        columns[f"{name}_low"], columns[f"{name}_high"] = low, high
    return columns


def write_table(path: Path, table: pl.DataFrame) -> None:
    try:
        with path.open("wb") as handle:  # opened here so that a failure says why, as the OS puts it
            table.write_csv(handle)
    except OSError as problem:
        raise CommandFailed(f"{path}: cannot write: {problem.strerror}") from None


def keep_what_is_loaded() -> None:
    """What is loaded now lives until the process ends: take it out of the cycle collector's walks.

    numpy, scipy, polars and typer leave hundreds of thousands of objects behind at import; the
    collections while the interpreter shuts down walked them all, about 0.1 s of every run.
    """
    gc.freeze()


@clv_app.command("fit")
def fit_command(
    transactions: Path = typer.Option(..., "--transactions", help="CSV with header customer_id,occurred_at,amount"),
    as_of: str = typer.Option(..., "--as-of", help="observation date (ISO)"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="mbgnbd, bgnbd or pareto"),
    out: Path | None = typer.Option(None, "--out", help="CSV to write one row per customer to"),
    intervals: bool = typer.Option(False, "--intervals", help="add 90% intervals from parameter draws"),
) -> None:
    """Fit the purchase model and Gamma-Gamma; print the fit as JSON and write per-customer scores."""
    keep_what_is_loaded()
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
    keep_what_is_loaded()
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
            # matplotlib costs a third of a second to import: only the command that draws pays it.
            from services.scoring.analysis.holdout_chart import calibration_chart_png

            plot.write_bytes(calibration_chart_png(table, model=model))
