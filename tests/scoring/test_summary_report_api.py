"""The period summary from the scoring API as JSON, CSV or the managers' page, by the Accept
header (406 when none will do), and `pulse report` writing the same page from a running API."""

import asyncio
import csv
import io
import socket
from contextlib import asynccontextmanager

import pytest
import uvicorn
from typer.testing import CliRunner

from services.cli import app as pulse
from services.common.clock import ManualClock
from tests.harness import service_harness, settings_for_tests
from tests.scoring.summary_samples import SHOP_PERIOD, SHOP_START, open_the_shop
from tests.scoring.test_summary_page import numeric_leaves, shown_numbers

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@asynccontextmanager
async def open_shop(settings):
    # No refit while a test runs (the clock jumps half a year): the numbers stay as the shop left them.
    async with service_harness("scoring", settings, clock=ManualClock(SHOP_START), scoring_refit_interval_seconds=1e9) as harness:
        await open_the_shop(harness)
        yield harness


@pytest.fixture
async def shop_on_each_backend(tmp_path, database_url):
    async with open_shop(settings_for_tests(tmp_path, database_url=database_url)) as harness:
        yield harness


@pytest.fixture
async def shop(tmp_path):
    async with open_shop(settings_for_tests(tmp_path)) as harness:
        yield harness


async def summary_as(shop, accept: str | None):
    headers = shop.auth() | ({"Accept": accept} if accept is not None else {})
    return await shop.client.get("/v1/reports/summary", params=SHOP_PERIOD, headers=headers)


async def test_the_page_shows_every_number_of_the_json_summary(shop_on_each_backend):
    shop = shop_on_each_backend
    as_json = await summary_as(shop, None)
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    summary = as_json.json()
    assert summary["sales"]["orders"] > 0 and summary["complaints"]["opened"] > 0
    for kind in ("nps", "csat", "ces"):
        assert summary["surveys"][kind]["count"] > 0 and summary["surveys"][kind]["margin"] is not None
        assert list(summary["surveys"][kind]["trend"]) == [f"2026-W{week:02d}" for week in range(1, 15)]  # a quarter: by week
        assert sum(bucket["count"] for bucket in summary["surveys"][kind]["trend"].values()) == summary["surveys"][kind]["count"]

    page = await summary_as(shop, "text/html")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["vary"] == "Accept"
    shown = shown_numbers(page.text)
    for path, value in numeric_leaves(summary).items():
        if path.endswith(".margin") and value is None:
            continue
        assert shown[path][0] == ("" if value is None else repr(value)), path

    rows = list(csv.reader(io.StringIO((await summary_as(shop, "text/csv")).text)))
    trend_rows = [row for row in rows if row[0] == "surveys" and row[1].startswith("nps.trend.")]
    assert ["surveys", "nps.trend.2026-W07.count", str(summary["surveys"]["nps"]["trend"]["2026-W07"]["count"])] in trend_rows


async def test_the_accept_header_chooses_the_form_and_406_says_what_is_offered(shop):
    assert (await summary_as(shop, BROWSER)).headers["content-type"].startswith("text/html")
    assert (await summary_as(shop, "*/*")).headers["content-type"] == "application/json"
    assert (await summary_as(shop, "text/csv")).headers["content-type"].startswith("text/csv")
    refused = await summary_as(shop, "image/png")
    assert refused.status_code == 406 and refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["errors"][0]["field"] == "Accept" and "text/html" in problem["detail"]
    backwards = await shop.client.get("/v1/reports/summary", params={"from": SHOP_PERIOD["to"], "to": SHOP_PERIOD["from"]},
                                      headers=shop.auth() | {"Accept": "text/html"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "to"
    anonymous = await shop.client.get("/v1/reports/summary", params=SHOP_PERIOD, headers={"Accept": "text/html"})
    assert anonymous.status_code == 401


@asynccontextmanager
async def served(app):
    """The harness's app (already started) behind a real uvicorn on 127.0.0.1:<free port>."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        listener.close()


async def run_pulse(*args: str):
    return await asyncio.to_thread(CliRunner().invoke, pulse, list(args))


async def test_pulse_report_writes_the_page_the_api_gives(shop, tmp_path):
    out = tmp_path / "report.html"
    async with served(shop.app) as url:
        done = await run_pulse("report", "--from", "2026-01-01", "--to", "2026-04-01", "--out", str(out),
                               "--url", url, "--key", shop.admin_key)
        assert done.exit_code == 0, done.output
        assert out.read_text(encoding="utf-8") == (await summary_as(shop, "text/html")).text

        refused = await run_pulse("report", "--from", "2026-01-01", "--to", "2026-04-01", "--url", url, "--key", "wrong")
        assert refused.exit_code == 1 and "answered 401" in refused.output and "Traceback" not in refused.output
    for args, message in [(("--from", "2026-13-01", "--to", "2026-04-01"), "--from '2026-13-01': not a day"),
                          (("--from", "2026-01-01T00:00:00", "--to", "2026-04-01"), "needs a time zone"),
                          (("--from", "2026-04-01", "--to", "2026-01-01"), "--to must be after --from"),
                          (("--from", "2026-01-01", "--to", "2026-04-01", "--url", "http://127.0.0.1:9"), "cannot reach")]:
        done = await run_pulse("report", *args, "--key", "k", "--out", str(tmp_path / "never.html"))
        assert done.exit_code == 1 and message in done.output and len(done.output.strip().splitlines()) == 1, done.output
    assert not (tmp_path / "never.html").exists()
