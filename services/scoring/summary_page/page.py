"""The period summary (scoring.md §7) as one self-contained HTML page: every number beside a chart,
the styles and the CJK font subset inline, nothing fetched, no script.

Chinese names are set in HTML (headings, tables, tiles), the charts are labelled in English:
Chromium may lay SVG text out before an inline web font has loaded and never again, which leaves
boxes where the Chinese should be on a machine without a CJK font of its own.

Only counts, sums, rates and averages reach the page: it is built from the summary alone, and a
value that is not a number is never shown. A missing value reads "no data", never 0. Every number
shown carries `data-key` (its path in the summary) and `data-value` (the summary's value), so a
reader or a test can tie the page back to the summary.
"""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from html import escape

from services.scoring.summary_page import charts
from services.scoring.summary_page.font import font_face_css
from services.scoring.summary_page.labels import SECTIONS, STAGES, SURVEYS, TIERS, TITLE, stage_label, tier_label

NO_DATA = "no data"
KNOWN_COMPLAINT_FIELDS = ("opened", "resolved", "sla_compliance")
# A week or month with fewer answers is a gap in its trend: one or two answers swing it from end to end.
TREND_MIN_ANSWERS = 5
# Each survey's scale: its trend chart zooms in on the values but never reaches beyond it.
SURVEY_SCALES = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}


def count(value: float) -> str:
    return f"{value:,.0f}"


def money(value: float) -> str:
    return f"{value:,.2f}"


def rate(value: float) -> str:
    return f"{100 * value:.1f}%"


def survey_value(kind: str, value: float) -> str:
    return {"nps": f"{value:+.1f}", "csat": f"{value:.1f}%", "ces": f"{value:.2f}"}[kind]


def duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 48 * 3600 else f"{seconds / 86400:.1f} d"


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(key: str, value, fmt) -> str:
    """One number of the summary as shown, tied to its path; None (or anything not a number) is "no data"."""
    if not _is_number(value):
        return f'<span class="num no-data" data-key="{escape(key)}" data-value="">{NO_DATA}</span>'
    return f'<span class="num" data-key="{escape(key)}" data-value="{value!r}">{escape(fmt(value))}</span>'


def _name(label: tuple[str, str]) -> str:
    english, chinese = label
    return f'{escape(english)} <span class="zh" lang="zh-CN">{escape(chinese)}</span>' if chinese else escape(english)


def _tile(caption: str, shown: str, note: str = "") -> str:
    return f'<div class="tile"><div class="caption">{caption}</div><div class="big">{shown}</div><div class="note">{note}</div></div>'


def _section(section_id: str, body: str) -> str:
    english, chinese = SECTIONS[section_id]
    return (f'<section id="{section_id}"><h2>{escape(english)} <span class="zh" lang="zh-CN">{escape(chinese)}</span></h2>'
            f'{body}</section>')


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{cell}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _ordered(known: dict, seen: dict) -> list[str]:
    """The known names in their order, then any the summary has that this page does not know."""
    return [name for name in known if name in seen] + sorted(name for name in seen if name not in known)


def stages_and_tiers(summary: dict) -> str:
    return _section("stages-tiers", '<div class="pair">'
                    + _distribution(summary.get("stages") or {}, "stages", STAGES, stage_label)
                    + _distribution(summary.get("tiers") or {}, "tiers", TIERS, tier_label) + "</div>")


def _distribution(ends: dict, key: str, known: dict, label_of) -> str:
    start, end = ends.get("start") or {}, ends.get("end") or {}
    names = _ordered(known, {**start, **end})
    title = f"Customers by {key[:-1]}, start and end of the period"
    if not names:
        return f'<div class="panel">{charts.no_data(title)}</div>'
    chart = charts.grouped_bars(title, [label_of(name)[:1] for name in names],
                                [("Start", "#b8c4d1", [start.get(n, 0) for n in names]),
                                 ("End", "#3f6fb5", [end.get(n, 0) for n in names])], count)
    rows = [[_name(label_of(n)), number(f"{key}.start.{n}", start.get(n, 0), count), number(f"{key}.end.{n}", end.get(n, 0), count)]
            for n in names]
    return f'<div class="panel">{chart}{_table([key[:-1].capitalize(), "Start", "End"], rows)}</div>'


def moves(summary: dict) -> str:
    return _section("moves", '<div class="pair">' + _moves(summary.get("stage_moves") or {}, "stage_moves", STAGES, stage_label)
                    + _moves(summary.get("tier_moves") or {}, "tier_moves", TIERS, tier_label) + "</div>")


def _moves(pairs: dict, key: str, known: dict, label_of) -> str:
    title = "Stage moves" if key == "stage_moves" else "Tier moves"
    ranked = sorted(((name, n) for name, n in pairs.items() if _is_number(n)), key=lambda item: (-item[1], item[0]))
    bars, rows = [], []
    for name, n in ranked:
        before, _, after = name.partition("->")
        colour = known.get(after, ("", "", "#7b8794"))[2]
        bars.append(((f"{label_of(before)[0]} → {label_of(after)[0]}",), n, colour))
        rows.append([f"{_name(label_of(before))} → {_name(label_of(after))}", number(f"{key}.{name}", n, count)])
    table = _table(["Move", "Customers"], rows) if rows else f'<p class="no-data">{NO_DATA}: nobody moved</p>'
    return f'<div class="panel"><h3>{title}</h3>{charts.horizontal_bars(title, bars[:10], count)}{table}</div>'


def retention(summary: dict) -> str:
    customers, sales = summary.get("customers") or {}, summary.get("sales") or {}
    tiles = "".join([
        _tile("New customers", number("customers.new", customers.get("new"), count)),
        _tile("Reactivated", number("customers.reactivated", customers.get("reactivated"), count)),
        _tile("Churned", number("customers.churned", customers.get("churned"), count)),
        _tile("Churn rate", number("customers.churn_rate", customers.get("churn_rate"), rate), "churned ÷ customers at the start"),
        _tile("Repeat-purchase rate", number("sales.repeat_purchase_rate", sales.get("repeat_purchase_rate"), rate),
              "buyers with more than one purchase day"),
    ])
    flows = [(("New",), customers.get("new"), STAGES["new"][2]),
             (("Reactivated",), customers.get("reactivated"), STAGES["active"][2]),
             (("Churned",), customers.get("churned"), STAGES["churned"][2])]
    rates = [(("Churn rate",), customers.get("churn_rate"), STAGES["churned"][2]),
             (("Repeat-purchase rate",), sales.get("repeat_purchase_rate"), STAGES["active"][2])]
    flow_chart = charts.horizontal_bars("Customers won, won back and lost", [f for f in flows if _is_number(f[1])], count)
    rate_chart = charts.horizontal_bars("Churn and repeat-purchase rates", [r for r in rates if _is_number(r[1])], rate, most=1.0)
    return _section("retention", f'<div class="tiles">{tiles}</div><div class="pair"><div class="panel">{flow_chart}</div>'
                                 f'<div class="panel">{rate_chart}</div></div>')


def revenue_and_clv(summary: dict) -> str:
    sales, clv = summary.get("sales") or {}, summary.get("clv_by_tier_now") or {}
    tiles = "".join([
        _tile("Revenue", number("sales.revenue", sales.get("revenue"), money)),
        _tile("Orders", number("sales.orders", sales.get("orders"), count)),
        _tile("Average order value", number("sales.average_order_value", sales.get("average_order_value"), money)),
        _tile("Buyers", number("sales.buyers", sales.get("buyers"), count)),
    ])
    tiers = _ordered(TIERS, clv)
    averages = [(tier_label(t)[:1], clv[t].get("average_clv"), TIERS.get(t, ("", "", "#7b8794"))[2]) for t in tiers]
    totals = [(tier_label(t)[:1], clv[t].get("total_clv"), TIERS.get(t, ("", "", "#7b8794"))[2]) for t in tiers]
    whole = sum(v for _, v, _ in totals if _is_number(v))
    average_chart = charts.horizontal_bars("Average CLV by tier", [a for a in averages if _is_number(a[1])], money)
    share_chart = charts.donut("Share of total CLV by tier", [t for t in totals if _is_number(t[1]) and t[1] > 0],
                               (_short_money(whole), "total CLV"))
    rows = [[_name(tier_label(t)), number(f"clv_by_tier_now.{t}.customers", clv[t].get("customers"), count),
             number(f"clv_by_tier_now.{t}.average_clv", clv[t].get("average_clv"), money),
             number(f"clv_by_tier_now.{t}.total_clv", clv[t].get("total_clv"), money)] for t in tiers]
    table = _table(["Tier (now)", "Customers", "Average CLV", "Total CLV"], rows) if rows else f'<p class="no-data">{NO_DATA}</p>'
    return _section("revenue-clv", f'<div class="tiles">{tiles}</div><div class="pair"><div class="panel">{average_chart}</div>'
                                   f'<div class="panel">{share_chart}</div></div>{table}'
                                   '<p class="note">CLV is each customer\'s expected value as of now, by their tier now.</p>')


def _short_money(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:.0f}"


def surveys(summary: dict) -> str:
    answers = summary.get("surveys") or {}
    return _section("surveys", '<div class="triple">' + "".join(_survey(kind, answers.get(kind) or {}) for kind in SURVEYS) + "</div>"
                    + '<p class="note">± is the 95% margin of error; the band on each trend is that margin per week or month. '
                    f'Weeks or months with fewer than {TREND_MIN_ANSWERS} answers are left out of the trends.</p>')


def _survey(kind: str, metric: dict) -> str:
    english, chinese, colour = SURVEYS[kind]
    fmt = lambda value: survey_value(kind, value)  # noqa: E731 - the metric's own format
    margin = metric.get("margin")
    shown = number(f"surveys.{kind}.score", metric.get("score"), fmt)
    plus_minus = f' <span class="margin">± {number(f"surveys.{kind}.margin", margin, _margin_format(kind))}</span>' if _is_number(margin) else ""
    trend = metric.get("trend") or {}
    points = [(label, bucket.get("score"), bucket.get("margin")) if (bucket.get("count") or 0) >= TREND_MIN_ANSWERS
              else (label, None, None) for label, bucket in trend.items()]
    floor, ceiling = _trend_range(points, SURVEY_SCALES[kind])
    why_empty = f"under {TREND_MIN_ANSWERS} answers in every bucket" if trend and metric.get("count") else NO_DATA
    chart = charts.trend_line(f"{english} trend", points, fmt, _margin_format(kind), floor=floor, ceiling=ceiling,
                              colour=colour, why_empty=why_empty)
    answers = number(f"surveys.{kind}.count", metric.get("count"), count)
    return (f'<div class="panel survey" id="survey-{kind}"><h3>{escape(english)} <span class="zh" lang="zh-CN">{chinese}</span></h3>'
            f'<div class="big">{shown}{plus_minus}</div><div class="note">{answers} answers</div>{chart}</div>')


def _trend_range(points: list, scale: tuple[float, float]) -> tuple[float, float]:
    """Zoomed on the values and their margins, so that a change shows, but never beyond the scale."""
    ends = [v + sign * (m or 0) for _, v, m in points if _is_number(v) for sign in (-1, 1)]
    if not ends:
        return scale
    low, high = min(ends), max(ends)
    pad = max((high - low) * 0.2, (scale[1] - scale[0]) * 0.05)
    return max(scale[0], low - pad), min(scale[1], high + pad)


def _margin_format(kind: str):
    return (lambda value: f"{value:.2f}") if kind == "ces" else (lambda value: f"{value:.1f}")


def complaints(summary: dict) -> str:
    found = summary.get("complaints") or {}
    compliance = found.get("sla_compliance")
    tiles = "".join([
        _tile("Complaints opened", number("complaints.opened", found.get("opened"), count)),
        _tile("Complaints resolved", number("complaints.resolved", found.get("resolved"), count)),
        _tile("SLA compliance", number("complaints.sla_compliance", compliance, rate), "resolved within the target"),
    ])
    volume = charts.horizontal_bars("Complaints opened and resolved", [
        bar for bar in ((("Opened",), found.get("opened"), "#f0a030"), (("Resolved",), found.get("resolved"), "#2e9e6a"))
        if _is_number(bar[1])], count)
    sla = (charts.donut("SLA compliance", [(("Within target",), compliance, "#2e9e6a"), (("Breached",), 1 - compliance, "#d9534f")],
                        (rate(compliance), "within target"))
           if _is_number(compliance) else charts.no_data("SLA compliance"))
    return _section("complaints", f'<div class="tiles">{tiles}</div><div class="pair"><div class="panel">{volume}</div>'
                                  f'<div class="panel">{sla}</div></div>{_complaint_times(found)}')


def _complaint_times(found: dict) -> str:
    """Response and resolution times, when the summary has them: numbers only, whatever their names."""
    extra = {key: value for key, value in _flatten(found, "complaints").items()
             if key.partition(".")[2] not in KNOWN_COMPLAINT_FIELDS}
    if not extra:
        return ""
    rows = [[escape(_caption(key)), number(key, value, _format_of(key))] for key, value in extra.items()]
    timed = [((_caption(key),), _seconds(key, value), "#3f8fd2") for key, value in extra.items()
             if _is_number(value) and _seconds(key, value) is not None]
    chart = charts.horizontal_bars("Complaint response and resolution times", timed, duration) if timed else ""
    return f'<div class="pair"><div class="panel">{chart}</div><div class="panel">{_table(["Measure", "Value"], rows)}</div></div>'


def _flatten(values: dict, prefix: str) -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}.{key}")
        elif _is_number(value) or value is None:
            flat[f"{prefix}.{key}"] = value
    return flat


def _caption(key: str) -> str:
    name = key.partition(".")[2]
    stem, _, unit = name.rpartition("_")
    return (stem if unit in UNIT_SECONDS else name).replace(".", " ").replace("_", " ").capitalize()


UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def _seconds(key: str, value: float) -> float | None:
    unit = key.rsplit("_", 1)[-1]
    return value * UNIT_SECONDS[unit] if unit in UNIT_SECONDS else None


def _format_of(key: str):
    unit = key.rsplit("_", 1)[-1]
    if unit in UNIT_SECONDS:
        return lambda value: duration(value * UNIT_SECONDS[unit])
    return rate if unit in ("rate", "compliance", "share") else count


def render_summary_page(summary: dict) -> str:
    """The whole page for one period summary, as the API's JSON gives it."""
    summary = _as_json_numbers(summary)
    body = "".join(part(summary) for part in (stages_and_tiers, moves, retention, revenue_and_clv, surveys, complaints))
    return PAGE.format(title=escape(f"{TITLE[0]} {TITLE[1]}"), font=font_face_css(), style=STYLE,
                       heading=_name(TITLE), period=_period(summary), body=body)


def _as_json_numbers(value):
    """Decimals (as a database may sum) become the floats the JSON answer has, so both pages agree."""
    if isinstance(value, dict):
        return {key: _as_json_numbers(inner) for key, inner in value.items()}
    return float(value) if isinstance(value, Decimal) else value


def _period(summary: dict) -> str:
    """Whole days read as days, the last one included; anything else as the instants, end excluded."""
    try:
        start, end = (datetime.fromisoformat(summary[key]).astimezone(UTC) for key in ("from", "to"))
    except (KeyError, TypeError, ValueError):
        return escape(f'{summary.get("from")} → {summary.get("to")}')
    if start.time() == end.time() == time(0):
        return f"{start:%Y-%m-%d} → {end - timedelta(days=1):%Y-%m-%d} (UTC days, both included)"
    return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC (end not included)"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{font}{style}</style></head>
<body><header><h1>{heading}</h1><p class="period">{period}</p></header><main>{body}</main>
<footer>Customer Pulse · counts and sums only, no personal data · scoring.md §7</footer></body></html>
"""
STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --paper: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "DejaVu Sans", "Pulse CJK", "Noto Sans CJK SC",
    "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; }
header { background: linear-gradient(120deg, #243b6b, #3f6fb5); color: white; padding: 28px 40px; }
header h1 { margin: 0; font-size: 28px; } header .zh { color: #dbe7ff; }
.period { margin: 6px 0 0; opacity: .85; }
main { max-width: 1120px; margin: 0 auto; padding: 16px 24px 32px; }
section { background: white; border: 1px solid var(--line); border-radius: 12px; padding: 18px 22px; margin: 18px 0;
  box-shadow: 0 1px 2px rgba(31, 41, 51, .05); }
h2 { margin: 0 0 14px; font-size: 20px; } h3 { margin: 0 0 8px; font-size: 15px; }
.zh { color: var(--muted); font-weight: normal; margin-left: 4px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 14px; }
.tile { background: var(--paper); border-radius: 10px; padding: 12px 14px; }
.caption { color: var(--muted); font-size: 13px; } .big { font-size: 26px; font-weight: 700; margin: 4px 0; }
.note { color: var(--muted); font-size: 12px; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.triple { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; }
.panel { min-width: 0; }
.margin { font-size: 15px; color: var(--muted); font-weight: normal; }
.no-data { color: var(--muted); font-style: italic; font-weight: normal; }
table { border-collapse: collapse; width: 100%; margin-top: 10px; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); }
td:not(:first-child), th:not(:first-child) { text-align: right; }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 0 0 28px; }
"""
