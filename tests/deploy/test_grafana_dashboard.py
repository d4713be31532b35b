"""Every metric the Grafana dashboard queries is one that a running stack exposes on /metrics."""

import json
import re
from pathlib import Path

import pytest

from tests.harness import SERVICES, embedded_harness, settings_for_tests

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/customer-pulse.json"
# What the dashboard must keep showing: the services' own health beside the platform's.
SHOWN = {
    "pulse_consumer_lag", "pulse_events_consumed_total", "pulse_alerts_raised_total", "pulse_alerts_timer_lateness_seconds_bucket",
    "pulse_timer_delay_seconds_bucket", "pulse_webhook_deliveries_total", "pulse_outbox_backlog", "pulse_outbox_oldest_unsent_seconds",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def metric_names(expression: str) -> set[str]:
    """The metric names of a PromQL expression: what is left when strings, label matchers, ranges,
    grouping clauses, functions, keywords and numbers are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"(?<![A-Za-z0-9_:])[0-9][A-Za-z0-9_.]*", "", text)  # numbers and durations (5m)
    words = re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text)
    return {word for word, call in words if not call and word.lower() not in PROMQL_WORDS}


def dashboard_metrics(dashboard: dict) -> dict[str, set[str]]:
    """Metric name → the titles of the panels that query it."""
    used: dict[str, set[str]] = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in metric_names(target["expr"]):
                used.setdefault(name, set()).add(panel["title"])
    return used


def exposed_series(exposition: str) -> set[str]:
    """The series names a /metrics page offers, from its TYPE lines (present before any sample):
    a histogram's _bucket, _sum and _count included."""
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, flags=re.MULTILINE):
        names.add(name)
        if kind in ("histogram", "summary"):
            names.update(name + suffix for suffix in HISTOGRAM_SERIES)
    return names


def unexposed(dashboard: dict, exposed: set[str]) -> dict[str, set[str]]:
    return {name: panels for name, panels in dashboard_metrics(dashboard).items() if name not in exposed}


@pytest.fixture(scope="module")
def exposed_by_the_stack(tmp_path_factory) -> set[str]:
    import asyncio

    async def scrape() -> set[str]:
        names: set[str] = set()
        async with embedded_harness(settings_for_tests(tmp_path_factory.mktemp("data"))) as stack:
            for service in SERVICES:
                response = await stack[service].client.get("/metrics")
                assert response.status_code == 200
                names |= exposed_series(response.text)
        return names

    return asyncio.run(scrape())


def test_every_metric_the_dashboard_queries_is_exposed_by_a_running_stack(exposed_by_the_stack):
    dashboard = json.loads(DASHBOARD.read_text())
    assert unexposed(dashboard, exposed_by_the_stack) == {}
    assert SHOWN <= set(dashboard_metrics(dashboard))


def test_a_panel_naming_a_metric_no_service_exposes_is_caught(exposed_by_the_stack):
    dashboard = json.loads(DASHBOARD.read_text())
    dashboard["panels"].append({"title": "typo", "targets": [{"expr": 'sum by (service) (rate(pulse_outbox_backlogs{service="x"}[5m]))'}]})
    assert unexposed(dashboard, exposed_by_the_stack) == {"pulse_outbox_backlogs": {"typo"}}


def test_metric_names_are_read_out_of_promql():
    expression = ('histogram_quantile(0.99, sum by (kind, le) (rate(pulse_a_seconds_bucket{kind!="x", le=~".+"}[5m])))'
                  ' / on (kind) group_left (severity) max without (instance) (pulse_b) + 2 * pulse_c offset 5m')
    assert metric_names(expression) == {"pulse_a_seconds_bucket", "pulse_b", "pulse_c"}
