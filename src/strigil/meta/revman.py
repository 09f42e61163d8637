"""Forest plots in RevMan's layout: extra columns (events and totals per arm for 2×2 and person-time
data, or any columns given), per-study weights and intervals, subgroup blocks with their subtotals,
heterogeneity and overall-effect lines, the total, and the test for subgroup differences — the
layout of Cochrane reviews (Higgins et al., Cochrane Handbook, 2023, ch. 10; Review Manager 5.4).

Works with every pooled result of `strigil.meta`: `rma` (inverse variance, with or without its own
`subgroup=` fits), `rma_mh`, `rma_peto` and `rma_glmm`. Ratio measures are shown as ratios on a log
axis. The test for subgroup differences is Cochran's Q of the subgroup estimates with weights 1/SE²
(df = groups − 1) and I² = (Q − df)/Q, as RevMan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import InlineFigure
from strigil.meta.glmm import GLMMResult
from strigil.meta.plots import _ACCENT, _INK, _save, _z
from strigil.meta.result import RMAResult
from strigil.meta.rma import between_subgroups
from strigil.meta.tables_result import TablesResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["RevManForest", "RevManRow", "forest_revman"]

_Fitted = RMAResult | TablesResult | GLMMResult
_RATIOS = ("OR", "RR", "IRR", "HR")


@dataclass(frozen=True)
class RevManRow:
    """One line: a study, a subgroup heading, a subtotal or total (with its diamond), or a text line
    (total events, heterogeneity, tests)."""

    kind: str  # "study", "heading", "subtotal", "total", "text"
    label: str
    cells: tuple[str, ...] = ()
    estimate: float | None = None
    ci_lb: float | None = None
    ci_ub: float | None = None
    weight: float | None = None


@dataclass(frozen=True, eq=False, repr=False)
class RevManForest(InlineFigure):
    """The drawn forest plot: its column titles, its rows top to bottom, and the figure."""

    columns: tuple[str, ...]
    rows: tuple[RevManRow, ...]
    ratio: bool
    figure: Figure = field(repr=False)

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the plot; the extension (.svg, .png, .pdf) picks the format."""
        return _save(self.figure, path, dpi)


    def to_json(self) -> dict[str, Any]:
        """What is drawn, as plain JSON (estimates on the analysis scale, e.g. log odds ratios)."""
        return {"columns": list(self.columns), "ratio": self.ratio,
                "rows": [{"kind": r.kind, "label": r.label, "cells": list(r.cells), "estimate": r.estimate,
                          "ci_lb": r.ci_lb, "ci_ub": r.ci_ub, "weight": r.weight} for r in self.rows]}


# --------------------------------------------------------------------------------- reading results


@dataclass(frozen=True)
class _Pooled:
    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    z: float
    p: float
    Q: float | None
    Q_df: int | None
    Q_p: float | None
    I2: float | None
    tau2: float | None
    tau2_method: str | None
    slab: tuple[str, ...]
    yi: np.ndarray
    vi: np.ndarray
    weights: np.ndarray | None
    events: list[tuple[str, ...]] | None  # per study: (events 1, total 1, events 2, total 2)
    totals: tuple[float, ...] | None


def _cells_of(res: TablesResult | GLMMResult) -> tuple[list[tuple[str, ...]], tuple[float, ...]]:
    """Per study: events and total (participants or person-time) in each arm; and their sums."""
    from strigil.meta.counts import TwoByTwo

    t = res.tables
    cols = (t.ai, t.ai + t.bi, t.ci, t.ci + t.di) if isinstance(t, TwoByTwo) else (t.x1i, t.t1i, t.x2i, t.t2i)
    rows = [tuple(f"{c[i]:g}" for c in cols) for i in range(len(t))]
    e1, n1, e2, n2 = (float(np.nansum(c)) for c in cols)
    return rows, (e1, n1, e2, n2)


def _read(res: _Fitted) -> _Pooled:
    if isinstance(res, RMAResult):
        if res.moderators:
            raise ValueError("a forest plot shows models without moderators (use subgroup= for groups)")
        c = res.beta[0]
        return _Pooled(c.estimate, c.se, c.ci_lb, c.ci_ub, c.stat, c.p, res.Q, res.Q_df, res.Q_p, res.I2,
                       None if res.method in ("EE", "FE") else res.tau2, res.method,
                       res.slab or tuple(f"Study {i + 1}" for i in range(res.k)), res.yi, res.vi,
                       res.weight_percent, None, None)
    events, totals = _cells_of(res)
    if isinstance(res, TablesResult):
        return _Pooled(res.estimate, res.se, res.ci_lb, res.ci_ub, res.z, res.p, res.Q, res.Q_df, res.Q_p,
                       res.I2, None, None, res.slab, res.yi, res.vi, res.weights, events, totals)
    if len(res.beta) != 1:
        raise ValueError("a forest plot shows models without moderators")
    c = res.beta[0]
    return _Pooled(c.estimate, c.se, c.ci_lb, c.ci_ub, c.stat, c.p, res.QE_LRT, res.QE_df, res.QE_LRT_p,
                   res.I2, res.tau2, "ML", res.slab, res.yi, res.vi, None, events, totals)


def _method_label(res: _Fitted, level: float) -> str:
    if isinstance(res, TablesResult):
        kind = "Peto, Fixed" if res.method == "PETO" else "M-H, Fixed"
    elif isinstance(res, GLMMResult):
        kind = "GLMM, Random"
    else:
        kind = "IV, Fixed" if res.method in ("EE", "FE") else "IV, Random"
    return f"{kind}, {level:g}% CI"


def _measure(res: _Fitted) -> str | None:
    if isinstance(res, TablesResult):
        return "OR" if res.method == "PETO" else res.measure
    if isinstance(res, GLMMResult):
        return res.measure
    return None


# ------------------------------------------------------------------------------------------ layout


def _fmt_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "P = n/a"
    return "P < 0.00001" if p < 1e-5 else f"P = {p:.2f}" if p >= 0.01 else f"P = {p:.3f}" if p >= 0.001 else \
        f"P = {p:.4f}"


def _fmt_ci(est: float, lb: float, ub: float, ratio: bool) -> str:
    if not all(math.isfinite(x) for x in (est, lb, ub)):
        return "Not estimable"
    if ratio:
        est, lb, ub = math.exp(est), math.exp(lb), math.exp(ub)
    return f"{est:.2f} [{lb:.2f}, {ub:.2f}]"


def _block(summary: _Pooled, label: str, kind: str, ratio: bool, level: float, columns: list[str],
           extra: Mapping[str, Mapping[str, str]], weights: Mapping[str, float], tables: bool,
           total_label: str) -> list[RevManRow]:
    z = _z(level)
    rows = []
    for i, slab in enumerate(summary.slab):
        y, v = float(summary.yi[i]), float(summary.vi[i])
        half = z * math.sqrt(v) if math.isfinite(v) else math.nan
        lb, ub = y - half, y + half
        w = weights.get(slab)
        cells = list(summary.events[i]) if tables and summary.events else []
        cells += [extra[c].get(slab, "") for c in extra]
        cells += ["" if w is None else f"{w:.1f}%", _fmt_ci(y, lb, ub, ratio)]
        rows.append(RevManRow("study", slab, tuple(cells), y if math.isfinite(y) else None,
                              lb if math.isfinite(lb) else None, ub if math.isfinite(ub) else None, w))
    w_sum = sum(weights.get(s, 0.0) for s in summary.slab)
    cells = []
    if tables and summary.totals:
        cells = ["", f"{summary.totals[1]:g}", "", f"{summary.totals[3]:g}"]
    cells += [""] * len(extra) + [f"{w_sum:.1f}%" if weights else "",
                                  _fmt_ci(summary.estimate, summary.ci_lb, summary.ci_ub, ratio)]
    rows.append(RevManRow(kind, total_label, tuple(cells), summary.estimate, summary.ci_lb, summary.ci_ub))
    if tables and summary.totals:
        rows.append(RevManRow("text", "Total events", (f"{summary.totals[0]:g}", "", f"{summary.totals[2]:g}",
                                                       "") + ("",) * (len(columns) - 4)))
    het = []
    if summary.tau2 is not None:
        het.append(f"Tau² = {summary.tau2:.2f} ({summary.tau2_method})")
    if summary.Q is not None and summary.Q_df:
        het.append(f"Chi² = {summary.Q:.2f}, df = {summary.Q_df} ({_fmt_p(summary.Q_p)})")
        if summary.I2 is not None:
            het.append(f"I² = {summary.I2:.0f}%")
    if het:
        rows.append(RevManRow("text", "Heterogeneity: " + "; ".join(het)))
    rows.append(RevManRow("text", f"Test for overall effect: Z = {abs(summary.z):.2f} ({_fmt_p(summary.p)})"))
    return rows


def forest_revman(
    res: _Fitted,
    *,
    subgroups: Mapping[str, _Fitted] | None = None,
    columns: Mapping[str, Sequence[Any]] | None = None,
    groups: tuple[str, str] = ("Group 1", "Group 2"),
    favours: tuple[str, str] | None = None,
    ratio: bool | None = None,
    title: str | None = None,
) -> RevManForest:
    """Forest plot in RevMan's layout of a pooled result, with subgroup blocks (an `rma(..., subgroup=)`
    fit has them already; for the others pass `subgroups`, name → the result of that subgroup) and
    extra `columns` (title → one value per study of `res`, in its order). `groups` name the two arms in
    the events/total columns of count data; `favours` label the two sides of the axis. `ratio` shows
    log-scale estimates as ratios (automatic for OR, RR and IRR from the count models; pass it for an
    `rma` fit of log ratios)."""
    overall = _read(res)
    level = res.level
    measure = _measure(res)
    ratio = measure in _RATIOS if ratio is None else ratio
    tables = overall.events is not None
    if columns and any(len(v) != len(overall.slab) for v in columns.values()):
        raise ValueError(f"each extra column needs one value per study ({len(overall.slab)})")
    extra = {str(title): {s: str(v) for s, v in zip(overall.slab, values, strict=True)}
             for title, values in (columns or {}).items()}
    arms = [f"{groups[0]} Events", f"{groups[0]} Total", f"{groups[1]} Events", f"{groups[1]} Total"]
    effect = f"{measure or 'Estimate'} {_method_label(res, level)}"
    cols = (arms if tables else []) + list(extra) + ["Weight", effect]
    weights: dict[str, float] = ({} if overall.weights is None
                                 else dict(zip(overall.slab, overall.weights.tolist(), strict=True)))
    blocks: list[tuple[str, _Pooled]] = []
    if isinstance(res, RMAResult) and res.subgroups:
        blocks = [(str(g.name), _read(g.result)) for g in res.subgroups]
    elif subgroups:
        blocks = [(str(name), _read(r)) for name, r in subgroups.items()]
    rows: list[RevManRow] = []
    for name, summary in blocks:
        rows.append(RevManRow("heading", name))
        rows += _block(summary, name, "subtotal", ratio, level, cols, extra, weights, tables,
                       f"Subtotal ({level:g}% CI)")
    rows += [r for r in _block(overall, "Total", "total", ratio, level, cols, extra, weights, tables,
                               f"Total ({level:g}% CI)") if not (blocks and r.kind == "study")]
    if blocks:
        Q, df, p, I2 = between_subgroups([b.estimate for _, b in blocks], [b.se for _, b in blocks])
        rows.append(RevManRow("text", f"Test for subgroup differences: Chi² = {Q:.2f}, df = {df} "
                                      f"({_fmt_p(p)}), I² = {I2:.1f}%"))
    fig = _draw(rows, cols, ratio, favours, title)
    return RevManForest(tuple(cols), tuple(rows), ratio, fig)


# ------------------------------------------------------------------------------------------ drawing


def _draw(rows: list[RevManRow], cols: list[str], ratio: bool, favours: tuple[str, str] | None,
          title: str | None) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon

    n = len(rows) + 2
    label_w = 2.6
    # the effect column holds "0.64 [0.59, 0.69]"; the others short numbers
    widths = [0.85] * (len(cols) - 1) + [1.6]
    right = [label_w + sum(widths[: j + 1]) for j in range(len(cols))]  # right edge of each column
    table_w = right[-1] + 0.1
    fig = Figure(figsize=(table_w + 3.6, 0.9 + 0.26 * n))
    grid = fig.add_gridspec(1, 2, width_ratios=(table_w, 3.4), wspace=0.02)
    ax_t, ax = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    top = n - 0.5
    for a in (ax_t, ax):
        a.set_ylim(-0.5, top + 0.5)
    ax_t.set_xlim(0, table_w)
    ax_t.axis("off")
    ax_t.text(0, top, "Study or Subgroup", fontweight="bold", va="center", fontsize=8, color=_INK)
    for x, c in zip(right, cols, strict=True):
        ax_t.text(x - 0.05, top, c.replace(" ", "\n", 1), fontweight="bold", va="center", ha="right",
                  fontsize=7, color=_INK)
    finite = [v for r in rows for v in (r.ci_lb, r.ci_ub) if v is not None and math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (-1.0, 1.0)
    span = max(abs(lo), abs(hi), 0.1)
    lo, hi = min(lo, -0.1 * span), max(hi, 0.1 * span)
    ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.axvline(0, color="#888888", linewidth=0.9)
    wmax = max((r.weight or 0.0) for r in rows) or 1.0
    y = top - 1.5
    for r in rows:
        bold = "bold" if r.kind in ("heading", "subtotal", "total") else "normal"
        size = 7 if r.kind == "text" else 8
        ax_t.text(0.05 if r.kind != "study" else 0.15, y, r.label, va="center", fontsize=size,
                  fontweight=bold, color=_INK, fontstyle="italic" if r.kind == "text" else "normal")
        for x, cell in zip(right, r.cells, strict=False):
            ax_t.text(x - 0.05, y, cell, va="center", ha="right", fontsize=7.5, color=_INK,
                      fontweight=bold)
        if r.estimate is not None and r.ci_lb is not None and r.ci_ub is not None:
            _mark(ax, r, y, wmax, Polygon)
        y -= 1
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if ratio:
        ticks = [t for t in (0.01, 0.1, 0.2, 0.5, 1, 2, 5, 10, 100) if lo <= math.log(t) <= hi] or [1]
        ax.set_xticks([math.log(t) for t in ticks])
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=7)
    else:
        ax.tick_params(axis="x", labelsize=7)
    if favours:
        ax.set_xlabel(f"Favours {favours[0]}          Favours {favours[1]}", fontsize=7.5)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _mark(ax: Axes, r: RevManRow, y: float, wmax: float, polygon: Any) -> None:
    assert r.estimate is not None and r.ci_lb is not None and r.ci_ub is not None
    if r.kind == "study":
        ax.plot([r.ci_lb, r.ci_ub], [y, y], color=_INK, linewidth=0.9)
        size = 3 + 8 * math.sqrt((r.weight or 0.0) / wmax)
        ax.plot([r.estimate], [y], marker="s", markersize=size, color="#2e7d32" if r.weight else _ACCENT,
                linestyle="none")
        return
    ax.add_patch(polygon([(r.ci_lb, y), (r.estimate, y + 0.32), (r.ci_ub, y), (r.estimate, y - 0.32)],
                         closed=True, facecolor=_INK if r.kind == "total" else _ACCENT, edgecolor=_INK))
