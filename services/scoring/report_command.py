"""`pulse report`: the period summary of a running scoring API, written as the managers' page.

It asks the API rather than reading the database: the key's role decides who may see the report,
it works the same against the embedded stack and a distributed one (no database credentials on
the operator's machine), and the numbers are the ones the API gives everyone else.
"""

from datetime import UTC, date, datetime, time
from pathlib import Path

import httpx

from services.common.settings import Settings
from services.scoring.summary_page import render_summary_page

TIMEOUT_SECONDS = 300.0  # a year's summary over many customers takes a while on a small machine


class ReportFailed(Exception):
    """One line for the operator: what went wrong and what to do."""


def moment(text: str, option: str) -> datetime:
    """A day (YYYY-MM-DD, its UTC midnight) or an ISO 8601 moment with a zone."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise ReportFailed(f"{option} {text!r}: not a day (2026-03-01) nor a moment (2026-03-01T08:00:00+08:00)") from error
    if parsed.tzinfo is None:
        raise ReportFailed(f"{option} {text!r}: a moment needs a time zone, e.g. +08:00 or Z")
    return parsed


def api_key(settings: Settings, key: str | None) -> str:
    """The key given, else the embedded stack's admin key file (written by `pulse run`)."""
    if key:
        return key
    key_file = settings.data_dir / "admin-api-key"
    if key_file.is_file():
        return key_file.read_text().strip()
    raise ReportFailed(f"no API key: pass --key or set PULSE_API_KEY (no {key_file} to fall back on)")


def fetch_summary(url: str, key: str, start: datetime, end: datetime) -> dict:
    try:
        response = httpx.get(f"{url.rstrip('/')}/v1/reports/summary", timeout=TIMEOUT_SECONDS,
                             params={"from": start.isoformat(), "to": end.isoformat()},
                             headers={"Authorization": f"Bearer {key}", "Accept": "application/json"})
    except httpx.HTTPError as error:
        raise ReportFailed(f"cannot reach the scoring API at {url} ({type(error).__name__}); is it running?") from error
    if response.status_code != 200:
        raise ReportFailed(f"the scoring API answered {response.status_code}: {_problem(response)}")
    return response.json()


def _problem(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return response.reason_phrase
    fields = ", ".join(f"{error['field']} {error['message']}" for error in problem.get("errors") or [])
    return fields or problem.get("detail") or problem.get("title") or response.reason_phrase


def write_report(settings: Settings, *, start: str, end: str, out: Path, url: str | None, key: str | None) -> Path:
    first, last = moment(start, "--from"), moment(end, "--to")
    if last <= first:
        raise ReportFailed("--to must be after --from (the period is [from, to): --to is not included)")
    summary = fetch_summary(url or f"http://127.0.0.1:{settings.port_for('scoring')}", api_key(settings, key), first, last)
    out.write_text(render_summary_page(summary), encoding="utf-8")
    return out
