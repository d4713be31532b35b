"""The period summary page (issue 16 part 4), rendered from a summary alone: every number the
summary has is on the page with the same value, missing ones read "no data" (never 0), every
section has a chart, nothing but numbers reaches it, and its CJK font covers its Chinese labels."""

import copy
from decimal import Decimal
import re
from html import unescape
from io import BytesIO

import pytest
from fontTools.ttLib import TTFont

from services.scoring.summary_page import render_summary_page
from services.scoring.summary_page.font import FONT_FILE, font_face_css
from services.scoring.summary_page.labels import SECTIONS, cjk_characters
from services.scoring.summary_page.page import count, money, rate, survey_value
from tests.scoring.summary_samples import SAMPLE_SUMMARY

SHOWN = re.compile(r'<span class="num(?: no-data)?" data-key="([^"]*)" data-value="([^"]*)">([^<]*)</span>')


def shown_numbers(page: str) -> dict[str, tuple[str, str]]:
    """data-key -> (data-value, text shown); a key shown twice must show the same both times."""
    found: dict[str, tuple[str, str]] = {}
    for key, value, text in SHOWN.findall(page):
        assert found.setdefault(unescape(key), (unescape(value), unescape(text))) == (unescape(value), unescape(text)), key
    return found


def numeric_leaves(values: dict, prefix: str = "") -> dict[str, float | None]:
    """Every number (or None) of the summary by its dotted path; the trends are checked on their own."""
    leaves = {}
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and key != "trend":
            leaves |= numeric_leaves(value, path)
        elif value is None or isinstance(value, int | float):
            leaves[path] = value
    return leaves


def format_for(path: str):
    if path.startswith("surveys."):
        kind, field = path.split(".")[1:3]
        return {"score": lambda v: survey_value(kind, v), "count": count,
                "margin": (lambda v: f"{v:.2f}") if kind == "ces" else (lambda v: f"{v:.1f}")}[field]
    if path.endswith(("_rate", "sla_compliance")):
        return rate
    if path.split(".")[-1] in ("revenue", "average_order_value", "average_clv", "total_clv"):
        return money
    return count


def test_every_number_of_the_summary_is_on_the_page_with_its_value():
    page = render_summary_page(SAMPLE_SUMMARY)
    shown = shown_numbers(page)
    leaves = numeric_leaves(SAMPLE_SUMMARY)
    assert len(leaves) > 60
    for path, value in leaves.items():
        if path.startswith("complaints.median_") or (path.endswith(".margin") and value is None):
            continue  # the times are checked below; no margin is shown without one
        assert path in shown, f"{path} is not on the page"
        expected = ("", "no data") if value is None else (repr(value), format_for(path)(value))
        assert shown[path] == expected, path
    assert shown["sales.revenue"] == ("1843210.5", "1,843,210.50")
    assert shown["customers.churn_rate"] == ("0.0275", "2.8%")
    assert shown["surveys.nps.score"] == ("31.4", "+31.4") and shown["surveys.nps.margin"] == ("5.2", "5.2")


def test_the_trend_points_carry_the_summarys_values():
    page = render_summary_page(SAMPLE_SUMMARY)
    tips = re.findall(r"<circle [^>]*><title>([^<]*)</title>", page)
    assert "2026-01: +27.0 ± 9.1" in tips and "2026-03: +34.2 ± 8.3" in tips
    assert "2026-01: 84.0% ± 5.1" in tips and not any(tip.startswith("2026-02: ") and "%" in tip for tip in tips)


def test_a_week_with_few_answers_is_a_gap_in_the_trend_not_a_point():
    thin = copy.deepcopy(SAMPLE_SUMMARY)
    thin["surveys"]["nps"]["trend"]["2026-02"] = {"count": 4, "score": -100.0, "margin": 60.0}
    tips = re.findall(r"<circle [^>]*><title>([^<]*)</title>", render_summary_page(thin))
    assert not any(tip.startswith("2026-02: -100") for tip in tips) and "2026-01: +27.0 ± 9.1" in tips


def test_a_missing_value_reads_no_data_and_never_zero():
    empty = {
        "from": "2026-03-01T00:00:00+00:00", "to": "2026-03-08T00:00:00+00:00",
        "stages": {"start": {}, "end": {}}, "tiers": {"start": {}, "end": {}}, "stage_moves": {}, "tier_moves": {},
        "customers": {"new": 0, "reactivated": 0, "churned": 0, "churn_rate": None},
        "sales": {"revenue": 0.0, "orders": 0, "average_order_value": None, "buyers": 0, "repeat_purchase_rate": None},
        "clv_by_tier_now": {},
        "surveys": {kind: {"count": 0, "score": None, "margin": None, "trend": {"2026-W10": {"count": 0, "score": None, "margin": None}}}
                    for kind in ("nps", "csat", "ces")},
        "complaints": {"opened": 0, "resolved": 0, "sla_compliance": None},
    }
    page = render_summary_page(empty)
    shown = shown_numbers(page)
    for path in ("customers.churn_rate", "sales.average_order_value", "sales.repeat_purchase_rate", "surveys.nps.score",
                 "surveys.csat.score", "surveys.ces.score", "complaints.sla_compliance"):
        assert shown[path] == ("", "no data"), path
    assert shown["sales.revenue"] == ("0.0", "0.00") and shown["sales.orders"] == ("0", "0")  # a real 0 is a 0
    assert all(text == "no data" for value, text in shown.values() if value == "")
    assert "surveys.nps.margin" not in shown  # no "± no data" beside a missing score
    # Every section still has its chart, saying "no data" instead of drawing zeros.
    assert page.count('aria-label="') >= len(SECTIONS) and ": no data</title>" in page
    assert "2026-03-01 → 2026-03-07 (UTC days, both included)" in page


def test_every_section_has_its_heading_and_a_chart():
    page = render_summary_page(SAMPLE_SUMMARY)
    sections = dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page, re.S))
    assert list(sections) == list(SECTIONS)
    for section_id, (english, chinese) in SECTIONS.items():
        assert f"<h2>{english} " in sections[section_id] and chinese in sections[section_id]
        assert '<svg class="chart"' in sections[section_id], section_id
    assert sections["surveys"].count('<svg class="chart"') == 3


def test_complaint_times_are_shown_when_the_summary_has_them_and_only_numbers_reach_the_page():
    page = render_summary_page(SAMPLE_SUMMARY)
    shown = shown_numbers(page)
    assert shown["complaints.median_first_response_seconds"] == ("5400.0", "1.5 h")
    assert shown["complaints.median_resolution_seconds"] == ("97200.0", "27.0 h")
    assert "Median first response" in page and 'aria-label="Complaint response and resolution times"' in page

    leaky = copy.deepcopy(SAMPLE_SUMMARY)
    leaky["complaints"]["worst_customer"] = "张伟 13800138000"
    leaky["complaints"]["by_priority"] = {"high": {"median_resolution_hours": 5.5, "note": "call 王芳"}}
    page = render_summary_page(leaky)
    assert "张伟" not in page and "13800138000" not in page and "王芳" not in page
    assert shown_numbers(page)["complaints.by_priority.high.median_resolution_hours"] == ("5.5", "5.5 h")

    without = copy.deepcopy(SAMPLE_SUMMARY)
    without["complaints"] = {"opened": 3, "resolved": 2, "sla_compliance": 0.5}
    assert "Complaint response and resolution times" not in render_summary_page(without)


def test_the_page_is_self_contained():
    page = render_summary_page(SAMPLE_SUMMARY)
    assert not re.search(r'(?:src|href)="(?!data:)', page) and "url(http" not in page
    assert "<script" not in page
    assert "data:font/woff;base64," in page and '"Pulse CJK"' in page
    assert re.search(r'font-family: [^;]*"Pulse CJK", "Noto Sans CJK SC"', page)


def test_the_embedded_font_covers_every_chinese_character_the_page_can_show():
    font = TTFont(BytesIO(FONT_FILE.read_bytes()))
    covered = {chr(code) for code in font.getBestCmap()}
    missing = set(cjk_characters()) - covered
    assert not missing, f"run deploy/fonts/report-font.sh: the font lacks {''.join(sorted(missing))}"
    on_page = {char for char in render_summary_page(SAMPLE_SUMMARY) if 0x2E80 <= ord(char) <= 0x9FFF}
    assert on_page and on_page <= covered
    assert len(font_face_css()) < 40_000  # a subset, not a 20 MB font


@pytest.mark.parametrize("broken", [{}, {"from": "not a date", "surveys": None, "complaints": {"opened": "many"}}])
def test_a_partial_or_odd_summary_still_renders(broken):
    page = render_summary_page(broken)
    assert all(f'<section id="{section_id}">' in page for section_id in SECTIONS)


def test_decimals_from_a_database_show_as_the_json_floats():
    with_decimals = copy.deepcopy(SAMPLE_SUMMARY)
    with_decimals["sales"]["revenue"] = Decimal("1843210.5")
    with_decimals["clv_by_tier_now"]["high"]["total_clv"] = Decimal("8548480.0")
    assert render_summary_page(with_decimals) == render_summary_page(SAMPLE_SUMMARY)
