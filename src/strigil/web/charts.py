"""Progress charts as small inline SVG (no JavaScript, prints well, screen readers read its <title>)."""

from __future__ import annotations

from html import escape

from strigil.services.progress import MeasureSeries

__all__ = [
    "BOTTOM",
    "HEIGHT",
    "LEFT",
    "RIGHT",
    "TOP",
    "WIDTH",
    "progress_svg",
]

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


def _fmt(value: float) -> str:
    return f"{value:g}"


def progress_svg(series: MeasureSeries) -> str:
    """A line per timing (before/after IASTM) over session numbers; shaded band = baseline ± threshold.

    Points outside the band on the better side are changes at least as large as the MCID (or MDC).
    """
    sessions = sorted({p.session for p in series.points}) or [1]
    x_max = max(sessions[-1], 2)
    low, high = series.low, series.high
    if high <= low:
        values = [p.value for p in series.points] or [0.0, 1.0]
        low, high = min(values), max(values) + 1.0
    span = high - low

    def x(session: float) -> float:
        return LEFT + (session - 1) / (x_max - 1) * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return TOP + (high - value) / span * (HEIGHT - TOP - BOTTOM)

    title = f"{series.name} ({series.unit}) over sessions"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{series.measure}-title" class="progress-chart" '
        f'data-measure="{series.measure}" '
        f'data-points="{len(series.points)}">',
        f'<title id="chart-{series.measure}-title">{escape(title)}</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="#ffffff" stroke="#767676"/>',
    ]
    if series.baseline is not None and series.threshold is not None:
        top_v = min(high, series.baseline + series.threshold)
        bottom_v = max(low, series.baseline - series.threshold)
        parts.append(
            f'<rect class="mcid-band" x="{LEFT}" y="{y(top_v):.1f}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{max(0.0, y(bottom_v) - y(top_v)):.1f}" fill="#dbe7f3">'
            f"<title>baseline {_fmt(series.baseline)} ± {series.threshold_kind} {_fmt(series.threshold)}: "
            f"changes inside this band are smaller than the {series.threshold_kind}</title></rect>"
        )
    for tick in range(5):
        value = low + span * tick / 4
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" font-size="12" text-anchor="end" fill="#1a1a1a">'
            f"{_fmt(round(value, 1))}</text>"
        )
    for s in sessions:
        parts.append(
            f'<text x="{x(s):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="12" text-anchor="middle" '
            f'fill="#1a1a1a">{s}</text>'
        )
    parts.append(
        f'<text x="{(LEFT + WIDTH) / 2:.0f}" y="{HEIGHT - 6}" font-size="12" text-anchor="middle" '
        'fill="#1a1a1a">session</text>'
    )
    styles = {
        "pre": ("#0b5394", "none", "before IASTM"),
        "post": ("#8a3b00", "6 3", "after IASTM"),
        "between": ("#1d6b2b", "2 2", "between sessions"),
    }
    for timing, (colour, dash, label) in styles.items():
        pts = [p for p in series.points if p.timing == timing]
        if not pts:
            continue
        path = " ".join(f"{x(p.session):.1f},{y(p.value):.1f}" for p in pts)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5" '
            f'stroke-dasharray="{dash}"><title>{label}</title></polyline>'
        )
        for p in pts:
            parts.append(
                f'<circle cx="{x(p.session):.1f}" cy="{y(p.value):.1f}" r="4" fill="{colour}">'
                f"<title>session {p.session}, {label}: {_fmt(p.value)} {escape(series.unit)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
