"""Pictures of a recording: the force trace with the detected strokes, and a per-stroke chart with the target.

Drawn on matplotlib `Figure`s that are not attached to pyplot (no display, no global state); `svg()` gives
the SVG text for a web page and `save(path)` writes SVG, PNG or PDF.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from strigil.force.analysis import ForceAnalysis
from strigil.force.feedback import Target

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ForcePlot", "stroke_chart", "trace_plot"]

_INK = "#222222"
_STROKE = "#1f4e79"
_BAND = "#2e7d32"
_ABOVE = "#c0392b"
_BELOW = "#b9770e"
# A long trace is drawn as the lowest and highest force in each of this many bins: the picture is the
# same at screen resolution and the SVG stays small for an hour of samples.
_TRACE_BINS = 3000
_FORMATS = ("svg", "png", "pdf")


@dataclass(frozen=True)
class ForcePlot:
    """A drawn figure, with the number of strokes it shows (so callers and tests can check it)."""

    figure: Figure
    n_strokes: int

    def svg(self) -> str:
        """The figure as SVG text (text kept as text; no timestamp, so equal plots give equal bytes)."""
        from matplotlib import rc_context

        buffer = io.StringIO()
        with rc_context({"svg.fonttype": "none", "svg.hashsalt": "strigil"}):
            # No date, and no creator line with matplotlib's address: a page shows only its sources' hosts.
            metadata = {"Date": None, "Creator": None}
            self.figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=metadata)
        return buffer.getvalue()

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the figure; the file name's extension (.svg, .png, .pdf) picks the format."""
        out = Path(path)
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in _FORMATS:
            raise ValueError(f"cannot tell the image format from {out.name!r}; use .svg, .png or .pdf")
        if fmt == "svg":
            out.write_text(self.svg(), encoding="utf-8")
        else:
            metadata = {"CreationDate": None} if fmt == "pdf" else {}
            self.figure.savefig(out, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
        return out


def _envelope(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= 2 * _TRACE_BINS:
        return t, x
    size = len(x) // _TRACE_BINS
    used = size * _TRACE_BINS
    blocks = x[:used].reshape(_TRACE_BINS, size)
    times = t[:used].reshape(_TRACE_BINS, size)[:, [0, -1]].ravel()
    values = np.column_stack([blocks.min(axis=1), blocks.max(axis=1)]).ravel()
    return times, values


def trace_plot(
    analysis: ForceAnalysis,
    target: Target | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
) -> ForcePlot:
    """The cleaned normal force over time, detected strokes shaded, and the target band if one is given."""
    from matplotlib.figure import Figure

    t = analysis.cleaned.time_s
    x = analysis.cleaned.normal_n
    lo = t[0] if start_s is None else start_s
    hi = t[-1] if end_s is None else end_s
    window = (t >= lo) & (t <= hi)
    s = analysis.strokes
    shown = (s.offset_s >= lo) & (s.onset_s <= hi)
    fig = Figure(figsize=(10, 3.2))
    ax = fig.add_subplot()
    if target is not None and target.metric == "peak":
        ax.axhspan(target.low_n, target.high_n, color=_BAND, alpha=0.15, lw=0, label="your target (peak)")
    spans = [(float(a), float(b - a)) for a, b in zip(s.onset_s[shown], s.offset_s[shown], strict=True)]
    top = float(max(x[window].max(), 1.0)) * 1.05
    ax.broken_barh(spans, (0, top), facecolors=_STROKE, alpha=0.12, label="detected strokes")
    times, values = _envelope(t[window], x[window])
    ax.plot(times, values, color=_INK, lw=0.7, label="normal force (cleaned)")
    ax.plot(s.peak_time_s[shown], s.peak_n[shown], "v", color=_STROKE, ms=4, label="stroke peaks")
    # Strokes that followed without a return to rest share a boundary: mark where they were split.
    split = s.onset_s[shown & s.joined]
    if len(split):
        ax.vlines(split, 0, top, colors=_STROKE, linestyles="dashed", lw=0.8, label="split (no rest between)")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("normal force (N)")
    ax.set_title(f"{int(shown.sum())} strokes detected", loc="left", fontsize=10)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncols=5)
    fig.tight_layout()
    return ForcePlot(fig, int(shown.sum()))


def stroke_chart(analysis: ForceAnalysis, target: Target | None = None) -> ForcePlot:
    """Peak and mean force of every stroke in order, with the target band and strokes outside it marked."""
    from matplotlib.figure import Figure

    s = analysis.strokes
    number = np.arange(1, len(s) + 1)
    fig = Figure(figsize=(10, 3.2))
    ax = fig.add_subplot()
    ax.plot(number, s.mean_n, "o", color="#7f8c8d", ms=3.5, label="mean force")
    if target is None:
        ax.plot(number, s.peak_n, "o", color=_STROKE, ms=4.5, label="peak force")
    else:
        ax.axhspan(
            target.low_n, target.high_n, color=_BAND, alpha=0.15, lw=0, label=f"your target ({target.metric})"
        )
        values = s.column(target.metric)
        colours = np.where(values > target.high_n, _ABOVE, np.where(values < target.low_n, _BELOW, _BAND))
        if target.metric == "peak":
            ax.plot(number, s.peak_n, "-", color=_STROKE, lw=0.5, alpha=0.4)
        ax.scatter(
            number,
            values,
            c=list(colours),
            s=22,
            zorder=3,
            label=f"{target.metric} force (coloured by target)",
        )
        if target.metric == "mean":
            ax.plot(number, s.peak_n, "o", color=_STROKE, ms=3.5, label="peak force")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("stroke")
    ax.set_ylabel("force (N)")
    ax.set_ylim(bottom=0)
    if len(s):
        ax.set_xlim(0.5, len(s) + 0.5)
    ax.set_title(f"{len(s)} strokes", loc="left", fontsize=10)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncols=4)
    fig.tight_layout()
    return ForcePlot(fig, len(s))
