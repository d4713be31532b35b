"""`pulse demo`: start the embedded stack when asked and nothing answers, fill it, say where to look."""

import asyncio
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.common.settings import SERVICE_PORTS, Settings
from services.demo import fill, look
from services.demo.client import DemoError, PulseApi, clients_for

READY_SECONDS = 120


def stack_urls(url: str, port_offset: int) -> dict[str, str]:
    """One host, the four services on their ports (as `pulse run` and the compose file have them)."""
    base = url.rstrip("/")
    if base.count(":") > 1:  # a port given: the host is what counts
        base = base.rsplit(":", 1)[0]
    return {name: f"{base}:{port + port_offset}" for name, port in SERVICE_PORTS.items()}


def start_embedded(settings: Settings) -> Path:
    """`pulse run` in the background, its output in <data>/embedded.log, its process id in <data>/embedded.pid."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Owner only: on its first start the stack prints the admin key, which lands in this log.
    log = os.fdopen(os.open(settings.data_dir / "embedded.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "run"], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, env=os.environ.copy())
    pid_file = settings.data_dir / "embedded.pid"
    pid_file.write_text(f"{process.pid}\n")
    return pid_file


async def _readiness(api: PulseApi) -> list[int | None]:
    return await asyncio.gather(*(api.readiness(name) for name in api.clients))


async def _wait_ready(api: PulseApi, seconds: float) -> None:
    """A busy service may answer 503 for a while (its database locked by a long write): wait."""
    deadline = time.monotonic() + seconds
    while set(await _readiness(api)) != {200}:
        if time.monotonic() > deadline:
            raise DemoError(f"the stack was not ready (/readyz) within {seconds:.0f} s (an embedded one logs to data/embedded.log)")
        await asyncio.sleep(0.5)


def api_key_from(settings: Settings, given: str | None) -> str:
    if given:
        return given
    key_file = settings.data_dir / "admin-api-key"
    if not key_file.exists():
        raise DemoError(f"no API key: give --api-key (or PULSE_API_KEY), or run the embedded stack, which writes {key_file}")
    return key_file.read_text().strip()


async def run_demo(options: fill.Options, urls: dict[str, str], api_key: str | None, *, start: bool, console: Console,
                   settings: Settings) -> None:
    clients = clients_for(urls)
    try:
        probe = PulseApi(clients, "", concurrency=4)
        if set(await _readiness(probe)) == {None}:
            if not start:
                raise DemoError(f"nothing answers at {urls['profiles']}/readyz: start the stack (make run) or use make demo")
            pid_file = start_embedded(settings)
            console.print(f"started the embedded stack in the background (process id in {pid_file}; stop it with make demo-stop)")
        await _wait_ready(probe, READY_SECONDS)
        api = PulseApi(clients, api_key_from(settings, api_key), concurrency=8)
        await _fill_and_show(api, options, urls, console)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients.values()))


async def _fill_and_show(api: PulseApi, options: fill.Options, urls: dict[str, str], console: Console) -> None:
    clock = PhaseClock()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    run = await fill.prepare(api, options)
    with Progress(*columns, console=console) as bar:
        history = bar.add_task("two years of history (customers)", total=options.customers)
        await fill.send(run, fill.HISTORY, advance=lambda n: bar.advance(history, n))
        clock.lap("history")
        expected = run.outcome.expected_purchases
        scoring = bar.add_task("scoring learns it (purchases)", total=expected)
        stats = await fill.wait_for_scoring(api, expected, options.customers, options.wait_seconds,
                                            tick=lambda s: bar.update(scoring, completed=min(s["purchases"], expected)))
        clock.lap("wait for scoring")
        today = bar.add_task("today: complaints and surveys (customers)", total=options.customers)
        await fill.send(run, fill.TODAY, advance=lambda n: bar.advance(today, n))
        clock.lap("today")
    added = ", ".join(f"{n:,} {kind}" for kind, n in run.outcome.added.items() if n) or "nothing (all there already)"
    console.print(f"added: {added}; done in {clock.total():.0f} s")
    if stats["purchases"] < expected:
        console.print(f"[yellow]scoring had applied {stats['purchases']:,} of {expected:,} purchases when the wait ended; "
                      "the figures below grow as it catches up (pulse demo again shows them)[/yellow]")
    if +run.outcome.added:  # nothing new, nothing to refit
        console.print(f"CLV models refitted: {_fit_state(await fill.refit(api))}")
        clock.lap("refit")
    await asyncio.sleep(2.0)  # the alerts raised by the re-scoring arrive through the bus
    start, end = fill.report_window(run.outcome.anchor, datetime.now(timezone.utc))
    for line in look.describe(await look.gather_sights(api, start, end), urls, start, end):
        console.print(line, highlight=False)
    clock.lap("summary")
    console.print(f"time per phase: {clock.describe()}", highlight=False)
    console.print("The stack keeps running: make demo-stop stops what make demo started (Ctrl-C stops make run).")


class PhaseClock:
    """Wall time per phase, and the machine's load average at each phase's end (figures taken on a
    shared machine mean little without it)."""

    def __init__(self):
        self.began = self.last = time.monotonic()
        self.laps: list[tuple[str, float, float]] = []

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.laps.append((phase, now - self.last, os.getloadavg()[0]))
        self.last = now

    def total(self) -> float:
        return time.monotonic() - self.began

    def describe(self) -> str:
        return "; ".join(f"{phase} {seconds:.0f} s (load {load:.1f})" for phase, seconds, load in self.laps)


def _fit_state(status: dict) -> str:
    latest = status.get("latest") or {}
    if not latest:
        return "no fit yet (the priors are used)"
    in_use = "in use" if latest.get("in_use") else "not in use"
    return f"{latest['model']} {latest['status']} on {latest['population']:,} customers, {in_use}"
