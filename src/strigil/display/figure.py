"""Figures that display themselves in a notebook and never touch pyplot or the matplotlib backend.

A figure is made with `matplotlib.figure.Figure` (not `pyplot.figure`), so drawing needs no display and
changes no global state: a notebook's backend and its open figures stay as they were.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["InlineFigure", "figure_png", "figure_svg", "new_figure"]


def new_figure(width: float, height: float) -> Figure:
    """A figure detached from pyplot (no backend chosen, nothing registered)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def figure_svg(figure: Figure) -> str:
    """The figure as SVG text (text kept as text; no date, so the same figure gives the same text)."""
    from matplotlib import rc_context

    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "strigil"}):
        figure.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


class InlineFigure:
    """A drawn plot with a `figure`: Jupyter shows it inline (SVG, with PNG as the fallback)."""

    figure: Any

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: shown inline in a notebook; .save(path) writes it>"

    def _repr_svg_(self) -> str:
        return figure_svg(self.figure)

    def _repr_png_(self) -> bytes:
        return figure_png(self.figure)
