"""Small SVG charts written as text: no plotting library in the service's path, crisp at any zoom,
and their labels set in the page's fonts.

A label is a tuple of lines (e.g. `("Active", "p_alive over 0.5")`); a value of None is drawn as
"no data", never as 0.
"""

import math
from collections.abc import Callable
from html import escape

Label = tuple[str, ...]
Format = Callable[[float], str]
INK, MUTED, GRID, EMPTY = "#1f2933", "#616e7c", "#e4e7eb", "#cbd2d9"


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>')


def _text(x: float, y: float, content: str, *, anchor: str = "middle", size: int = 12, color: str = INK,
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{color}" '
            f'font-weight="{weight}">{escape(content)}</text>')


def _label_lines(x: float, y: float, label: Label, *, anchor: str = "middle", size: int = 12) -> str:
    return "".join(_text(x, y + i * (size + 3), line, anchor=anchor, size=size, color=INK if i == 0 else MUTED)
                   for i, line in enumerate(label))


def no_data(title: str, *, width: int = 480, height: int = 120, why: str = "no data") -> str:
    body = (f'<rect x="1" y="1" width="{width - 2}" height="{height - 2}" rx="8" fill="#f5f7fa" stroke="{GRID}"/>'
            + _text(width / 2, height / 2 + 5, why, size=15, color=MUTED))
    return _svg(width, height, body, f"{title}: {why}")


def grouped_bars(title: str, categories: list[Label], series: list[tuple[str, str, list[float]]], fmt: Format) -> str:
    """Vertical bars per category, one per series `(name, colour, values)`, with a legend."""
    width, height, top, bottom, left = 520, 260, 34, 52, 12
    peak = max((v for _, _, values in series for v in values), default=0) or 1
    slot = (width - 2 * left) / len(categories)
    bar = min(34.0, slot * 0.8 / len(series))
    parts = [_legend([(name, colour) for name, colour, _ in series], left, 14)]
    base = height - bottom
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - left}" y2="{base}" stroke="{GRID}"/>')
    for i, label in enumerate(categories):
        middle = left + slot * (i + 0.5)
        first = middle - bar * len(series) / 2
        for j, (_, colour, values) in enumerate(series):
            tall = (base - top) * values[i] / peak
            x = first + j * bar
            parts.append(f'<rect x="{x + 1:.1f}" y="{base - tall:.1f}" width="{bar - 2:.1f}" height="{tall:.1f}" rx="3" fill="{colour}"/>')
            parts.append(_text(x + bar / 2, base - tall - 4, fmt(values[i]), size=10, color=MUTED))
        parts.append(_label_lines(middle, base + 16, label, size=12))
    return _svg(width, height, "".join(parts), title)


def horizontal_bars(title: str, rows: list[tuple[Label, float, str]], fmt: Format, *, most: float | None = None) -> str:
    """One bar per row `(label, value, colour)`, longest first as given; `most` fixes the full length (e.g. 1 for a rate)."""
    if not rows:
        return no_data(title)
    label_width, row_height, width = 210, 34, 520
    peak = most or max(value for _, value, _ in rows) or 1
    room = width - label_width - 70
    parts = []
    for i, (label, value, colour) in enumerate(rows):
        y = 8 + i * row_height
        parts.append(_label_lines(label_width - 10, y + 14 - 3 * (len(label) - 1), label, anchor="end", size=12))
        parts.append(f'<rect x="{label_width}" y="{y + 2}" width="{room}" height="20" rx="4" fill="#f0f2f5"/>')
        parts.append(f'<rect x="{label_width}" y="{y + 2}" width="{room * min(value / peak, 1):.1f}" height="20" rx="4" fill="{colour}"/>')
        parts.append(_text(label_width + room + 8, y + 17, fmt(value), anchor="start", size=12, weight="bold"))
    return _svg(width, 16 + len(rows) * row_height, "".join(parts), title)


def donut(title: str, parts: list[tuple[Label, float, str]], centre: tuple[str, str]) -> str:
    """Shares of a whole `(label, value, colour)` around a centre text `(big, small)`; a legend beside."""
    total = sum(value for _, value, _ in parts)
    if total <= 0:
        return no_data(title)
    cx, cy, outer, inner = 100, 100, 86, 56
    drawn, angle = [], -math.pi / 2
    for _, value, colour in parts:
        sweep = 2 * math.pi * value / total
        drawn.append(_arc(cx, cy, outer, inner, angle, sweep, colour))
        angle += sweep
    drawn.append(_text(cx, cy + 4, centre[0], size=22, weight="bold"))
    drawn.append(_text(cx, cy + 24, centre[1], size=11, color=MUTED))
    for i, (label, value, colour) in enumerate(parts):
        y = 34 + i * 40
        drawn.append(f'<rect x="214" y="{y - 11}" width="12" height="12" rx="2" fill="{colour}"/>')
        drawn.append(_label_lines(234, y, (f"{label[0]}  {100 * value / total:.0f}%", *label[1:]), anchor="start", size=12))
    return _svg(440, 200, "".join(drawn), title)


def _arc(cx: float, cy: float, outer: float, inner: float, start: float, sweep: float, colour: str) -> str:
    if sweep >= 2 * math.pi - 1e-9:  # one whole ring: an arc cannot end where it starts
        return (f'<circle cx="{cx}" cy="{cy}" r="{(outer + inner) / 2}" fill="none" stroke="{colour}" '
                f'stroke-width="{outer - inner}"/>')
    end, large = start + sweep, 1 if sweep > math.pi else 0

    def at(radius: float, angle: float) -> str:
        return f"{cx + radius * math.cos(angle):.2f} {cy + radius * math.sin(angle):.2f}"

    return (f'<path d="M {at(outer, start)} A {outer} {outer} 0 {large} 1 {at(outer, end)} L {at(inner, end)} '
            f'A {inner} {inner} 0 {large} 0 {at(inner, start)} Z" fill="{colour}"/>')


def trend_line(title: str, points: list[tuple[str, float | None, float | None]], fmt: Format, margin_fmt: Format, *,
               floor: float, ceiling: float, colour: str, why_empty: str = "no data") -> str:
    """The metric per bucket `(label, value, margin)` with its 95% band; buckets without a value are gaps."""
    if all(value is None for _, value, _ in points):
        return no_data(title, width=340, height=170, why=why_empty)
    width, height, left, right, top, bottom = 340, 170, 50, 26, 14, 40
    step = (width - left - right) / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + (step * i if len(points) > 1 else (width - left - right) / 2)

    def y(value: float) -> float:
        clipped = min(max(value, floor), ceiling)
        return top + (height - top - bottom) * (ceiling - clipped) / (ceiling - floor)

    parts = [_axis(floor, ceiling, y, left, width - right, fmt)]
    for run in _runs(points):
        band = [(x(i), y(v + (m or 0))) for i, v, m in run] + [(x(i), y(v - (m or 0))) for i, v, m in reversed(run)]
        parts.append(f'<polygon points="{_points(band)}" fill="{colour}" fill-opacity="0.15"/>')
        parts.append(f'<polyline points="{_points([(x(i), y(v)) for i, v, _ in run])}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        parts.extend(f'<line x1="{x(i):.1f}" y1="{y(v - m):.1f}" x2="{x(i):.1f}" y2="{y(v + m):.1f}" stroke="{colour}" '
                     f'stroke-opacity="0.5" stroke-width="2"/>' for i, v, m in run if len(run) == 1 and m)  # a band needs two points
        parts.extend(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}"><title>{escape(_tip(points[i][0], v, m, fmt, margin_fmt))}'
                     '</title></circle>' for i, v, m in run)
    every = max(1, math.ceil(len(points) / 5))
    parts.extend(_text(x(i), height - bottom + 16, label, size=10, color=MUTED)
                 for i, (label, _, _) in enumerate(points) if i % every == 0)
    return _svg(width, height, "".join(parts), title)


def _tip(label: str, value: float, margin: float | None, fmt: Format, margin_fmt: Format) -> str:
    return f"{label}: {fmt(value)}" + (f" ± {margin_fmt(margin)}" if margin is not None else "")


def _axis(floor: float, ceiling: float, y: Callable[[float], float], left: float, right: float, fmt: Format) -> str:
    lines = []
    for tick in (floor, (floor + ceiling) / 2, ceiling):
        lines.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{right}" y2="{y(tick):.1f}" stroke="{GRID}"/>')
        lines.append(_text(left - 6, y(tick) + 4, fmt(tick), anchor="end", size=10, color=MUTED))
    return "".join(lines)


def _runs(points: list[tuple[str, float | None, float | None]]) -> list[list[tuple[int, float, float | None]]]:
    """Consecutive buckets that have a value: a line is never drawn across a bucket without answers."""
    runs: list[list] = [[]]
    for i, (_, value, margin) in enumerate(points):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((i, value, margin))
    return [run for run in runs if run]


def _points(pairs: list[tuple[float, float]]) -> str:
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in pairs)


def _legend(entries: list[tuple[str, str]], x: float, y: float) -> str:
    parts = []
    for name, colour in entries:
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" rx="2" fill="{colour}"/>')
        parts.append(_text(x + 17, y, name, anchor="start", size=12, color=MUTED))
        x += 30 + 7 * len(name)
    return "".join(parts)
