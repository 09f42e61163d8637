"""Progress charts as small inline SVG (no JavaScript, prints well, screen readers read its <title> and the
table of its values beside it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import escape

from strigil.services.progress import MeasureSeries, Point

__all__ = [
    "BOTTOM",
    "HEIGHT",
    "LEFT",
    "RIGHT",
    "STYLES",
    "TOP",
    "WIDTH",
    "progress_rows",
    "progress_svg",
]

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


def _fmt(value: float) -> str:
    return f"{value:g}"


def _axis(series: MeasureSeries) -> tuple[list[dt.date | int], Callable[[Point], float], str]:
    """The x axis: dates (spaced by the days between them) when every session has a date of its own, else
    session numbers (two sessions on one day would sit on top of each other)."""
    sessions_seen = {p.session for p in series.points}
    dated = {p.date for p in series.points if p.date is not None}
    if series.points and all(p.date is not None for p in series.points) and len(dated) == len(sessions_seen):
        dates = sorted({p.date for p in series.points if p.date is not None})
        first, days = dates[0], max((dates[-1] - dates[0]).days, 1)

        def by_date(p: Point) -> float:
            assert p.date is not None
            return (p.date - first).days / days

        return list(dates), by_date, "date"
    sessions = sorted({p.session for p in series.points}) or [1]
    top = max(sessions[-1], 2)
    return list(sessions), lambda p: (p.session - 1) / (top - 1), "session"


def progress_svg(series: MeasureSeries) -> str:
    """A line per timing (before/after IASTM) over the dates of the sessions; shaded band = baseline ± the bar
    for a meaningful change (`change_bar`). Points outside the band on the better side are changes at least
    as large as the MCID (or MDC). The figure's table (`progress_table`) gives the same values as text."""
    ticks, where, axis = _axis(series)
    low, high = series.low, series.high
    if high <= low:
        values = [p.value for p in series.points] or [0.0, 1.0]
        low, high = min(values), max(values) + 1.0
    span = high - low
    plot_w = WIDTH - LEFT - RIGHT

    def x(fraction: float) -> float:
        return LEFT + fraction * plot_w

    def y(value: float) -> float:
        return TOP + (high - value) / span * (HEIGHT - TOP - BOTTOM)

    key = series.key or series.measure
    title = f"{series.label or series.name} ({series.unit}) by {axis}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{key}-title" class="progress-chart" '
        f'data-measure="{series.measure}" data-axis="{axis}" '
        f'data-points="{len(series.points)}">',
        f'<title id="chart-{key}-title">{escape(title)}</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="#ffffff" stroke="#767676"/>',
    ]
    if series.baseline is not None and series.threshold is not None:
        top_v = min(high, series.baseline + series.threshold)
        bottom_v = max(low, series.baseline - series.threshold)
        parts.append(
            f'<rect class="mcid-band" x="{LEFT}" y="{y(top_v):.1f}" width="{plot_w}" '
            f'height="{max(0.0, y(bottom_v) - y(top_v)):.1f}" fill="#dbe7f3">'
            f"<title>baseline {_fmt(series.baseline)} ± {series.threshold_kind} {_fmt(series.threshold)}: "
            f"changes inside this band are smaller than the {series.threshold_kind}</title></rect>"
        )
        step = -series.threshold if series.lower_is_better else series.threshold
        better = series.baseline + step
        if low <= better <= high:
            parts.append(
                f'<line class="goal-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(better):.1f}" '
                f'y2="{y(better):.1f}" stroke="#1d6b2b" stroke-width="1.5" stroke-dasharray="8 4">'
                f"<title>a meaningful improvement from baseline: {_fmt(round(better, 2))} "
                f"{escape(series.unit)}</title></line>"
            )
    for tick in range(5):
        value = low + span * tick / 4
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" font-size="15" text-anchor="end" fill="#1a1a1a">'
            f"{_fmt(round(value, 1))}</text>"
        )
    shown = ticks if len(ticks) <= 6 else ticks[:: -(-len(ticks) // 6)]  # labels stay apart on a phone
    for t in shown:
        point = Point(t if isinstance(t, int) else 0, "pre", 0.0, t if isinstance(t, dt.date) else None)
        label = t.strftime("%d %b") if isinstance(t, dt.date) else str(t)
        parts.append(
            f'<text x="{x(where(point)):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="15" text-anchor="middle" '
            f'fill="#1a1a1a">{label}</text>'
        )
    parts.append(
        f'<text x="{(LEFT + WIDTH) / 2:.0f}" y="{HEIGHT - 6}" font-size="15" text-anchor="middle" '
        f'fill="#1a1a1a">{axis}</text>'
    )
    for timing, (colour, dash, label) in STYLES.items():
        pts = [p for p in series.points if p.timing == timing]
        if not pts:
            continue
        path = " ".join(f"{x(where(p)):.1f},{y(p.value):.1f}" for p in pts)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5" '
            f'stroke-dasharray="{dash}"><title>{label}</title></polyline>'
        )
        for p in pts:
            when = f"{p.date}, " if p.date else ""
            parts.append(
                f'<circle cx="{x(where(p)):.1f}" cy="{y(p.value):.1f}" r="4" fill="{colour}">'
                f"<title>{when}session {p.session}, {label}: {_fmt(p.value)} {escape(series.unit)}</title>"
                "</circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


STYLES = {
    "pre": ("#0b5394", "none", "before IASTM"),
    "post": ("#8a3b00", "6 3", "after IASTM"),
    "between": ("#1d6b2b", "2 2", "between sessions"),
}


def progress_rows(series: MeasureSeries) -> list[dict[str, str]]:
    """The chart's values as rows for its table (for screen readers and print): date, session, before,
    after, between."""
    rows: dict[int, dict[str, str]] = {}
    for p in series.points:
        row = rows.setdefault(p.session, {"date": str(p.date or ""), "session": str(p.session)})
        row[p.timing] = _fmt(p.value)
    return [rows[n] for n in sorted(rows)]
