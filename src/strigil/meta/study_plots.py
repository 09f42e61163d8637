"""Plots of the studies around a fitted model: the bubble plot of a meta-regression (metafor's
`regplot`), the radial (Galbraith) plot (`radial`) and the L'Abbé plot of two-group outcomes (`labbe`).

As in `strigil.meta.plots`, each function computes the plot's content as plain data and draws it on
a matplotlib `Figure` not attached to pyplot; `plot.save("x.svg")` writes it (.svg, .png or .pdf).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import InlineFigure
from strigil.meta.counts import PersonTime, TwoByTwo
from strigil.meta.plots import _ACCENT, _INK, _save, _z
from strigil.meta.tables_result import TablesResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from strigil.meta.glmm import GLMMResult
    from strigil.meta.result import RMAResult

__all__ = ["BubblePlot", "LabbePlot", "RadialPlot", "labbe", "radial", "regplot"]

_Array = NDArray[np.float64]


def _lst(x: _Array) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(x, dtype=float)]


def _point_sizes(weights: _Array, lo: float = 0.5, hi: float = 3.0) -> _Array:
    """metafor's point sizes: √weight rescaled to [lo, hi] (all equal weights: 1)."""
    w = np.sqrt(np.asarray(weights, dtype=float))
    rng = float(np.nanmax(w) - np.nanmin(w))
    if rng <= math.sqrt(np.finfo(float).eps):
        return np.ones_like(w)
    return (w - np.nanmin(w)) / rng * (hi - lo) + lo


# ------------------------------------------------------------------------------------------- bubble


@dataclass(frozen=True, eq=False, repr=False)
class BubblePlot(InlineFigure):
    """A meta-regression's bubble plot: studies (moderator `x`, effect `yi`, point size `psize` by
    weight), the regression line `pred` over `grid` with its confidence (and prediction) band."""

    moderator: str
    x: _Array
    yi: _Array
    psize: _Array
    grid: _Array
    pred: _Array
    ci_lb: _Array
    ci_ub: _Array
    pi_lb: _Array | None
    pi_ub: _Array | None
    figure: Figure

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the plot; the extension (.svg, .png, .pdf) picks the format."""
        return _save(self.figure, path, dpi)


    def to_json(self) -> dict[str, Any]:
        """The plot's content as plain JSON."""
        return {"moderator": self.moderator, "x": _lst(self.x), "yi": _lst(self.yi),
                "psize": _lst(self.psize), "grid": _lst(self.grid), "pred": _lst(self.pred),
                "ci_lb": _lst(self.ci_lb), "ci_ub": _lst(self.ci_ub),
                "pi_lb": None if self.pi_lb is None else _lst(self.pi_lb),
                "pi_ub": None if self.pi_ub is None else _lst(self.pi_ub)}


def regplot(res: RMAResult, mod: str | None = None, *, show_pi: bool = False, points: int = 100,
            xlab: str | None = None, ylab: str = "Observed outcome") -> BubblePlot:
    """Bubble plot of a meta-regression (Thompson & Higgins, 2002, Stat Med 21:1559; metafor's
    `regplot`): each study's effect against moderator `mod` (the only one, by default), the point area
    growing with its weight, and the fitted line with its confidence band; other moderators are held at
    their means."""
    from matplotlib.figure import Figure

    names = [c.name for c in res.beta]
    mods = names[1:] if res.intercept else names
    if not res.moderators or not mods:
        raise ValueError("a bubble plot needs a meta-regression (a model with moderators)")
    if mod is None:
        if len(mods) > 1:
            raise ValueError(f"the model has several moderators ({', '.join(mods)}); choose one with mod=")
        mod = mods[0]
    if mod not in mods:
        raise ValueError(f"mod {mod!r} is not a moderator of the model; moderators are {', '.join(mods)}")
    col = names.index(mod)
    M = res.X[:, 1:] if res.intercept else res.X
    j = col - (1 if res.intercept else 0)
    x = M[:, j]
    grid = np.linspace(float(x.min()), float(x.max()), points)
    newmods = np.tile(M.mean(axis=0), (points, 1))
    newmods[:, j] = grid
    pred = res.predict(newmods)
    weights = 1 / (res.vi + res.tau2) if res.weights is None else res.weights
    psize = _point_sizes(weights)
    fig = Figure(figsize=(7.0, 5.2))
    ax = fig.add_subplot(1, 1, 1)
    if show_pi:
        ax.fill_between(grid, pred.pi_lb, pred.pi_ub, color="#e6e6e6", linewidth=0,
                        label="prediction interval")
    ax.fill_between(grid, pred.ci_lb, pred.ci_ub, color="#c6d5e6", linewidth=0,
                    label=f"{res.level:g}% confidence band")
    ax.plot(grid, pred.pred, color=_ACCENT, linewidth=1.6, label="fitted line")
    # marker area proportional to psize² as in metafor's cex scaling
    ax.scatter(x, res.yi, s=(6 * psize) ** 2, facecolor="#9a9a9a", edgecolor=_INK, linewidth=0.7, zorder=3,
               label="studies (area ~ weight)")
    ax.set_xlabel(xlab or mod)
    ax.set_ylabel(ylab)
    ax.legend(loc="best", fontsize=8, framealpha=0.95)
    return BubblePlot(mod, x.copy(), res.yi.copy(), psize, grid, pred.pred, pred.ci_lb, pred.ci_ub,
                      pred.pi_lb if show_pi else None, pred.pi_ub if show_pi else None, fig)


# ------------------------------------------------------------------------------------------- radial


@dataclass(frozen=True, eq=False, repr=False)
class RadialPlot(InlineFigure):
    """A radial (Galbraith) plot: x = 1/√(vᵢ + τ²), y = yᵢ/√(vᵢ + τ²); the pooled estimate is the slope
    of the line through the origin, and ±z stays a band of two-sided significance around it."""

    x: _Array
    y: _Array
    estimate: float
    ci_lb: float
    ci_ub: float
    figure: Figure

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the plot; the extension (.svg, .png, .pdf) picks the format."""
        return _save(self.figure, path, dpi)


    def to_json(self) -> dict[str, Any]:
        """The plot's content as plain JSON."""
        return {"x": _lst(self.x), "y": _lst(self.y), "estimate": self.estimate, "ci_lb": self.ci_lb,
                "ci_ub": self.ci_ub}


def radial(res: RMAResult, *, xlab: str = "x = 1 / √(vᵢ + τ²)",
           ylab: str = "y = yᵢ / √(vᵢ + τ²)") -> RadialPlot:
    """Radial plot (Galbraith, 1988, Stat Med 7:889; metafor's `radial`) of a model without moderators:
    studies far from the line y = β̂x (beyond the ±z band) fit the pooled estimate badly."""
    from matplotlib.figure import Figure

    if res.moderators:
        raise ValueError("radial() draws models without moderators")
    se = np.sqrt(res.vi + res.tau2)
    x, y = 1 / se, res.yi / se
    c = res.beta[0]
    z = _z(res.level)
    fig = Figure(figsize=(7.0, 5.2))
    ax = fig.add_subplot(1, 1, 1)
    xs = np.array([0.0, float(x.max()) * 1.08])
    ax.fill_between(xs, c.estimate * xs - z, c.estimate * xs + z, color="#e9eef5", linewidth=0,
                    label=f"±{z:.2f} around the pooled line")
    ax.plot(xs, c.estimate * xs, color=_ACCENT, linewidth=1.4, label=f"pooled estimate {c.estimate:.3f}")
    ax.plot(xs, c.ci_lb * xs, color=_ACCENT, linewidth=0.8, linestyle="--")
    ax.plot(xs, c.ci_ub * xs, color=_ACCENT, linewidth=0.8, linestyle="--", label=f"{res.level:g}% CI")
    ax.axhline(0, color="#888888", linewidth=0.8, linestyle=":")
    ax.plot(x, y, "o", color="#9a9a9a", markeredgecolor=_INK, label="studies")
    ax.set_xlim(0, float(xs[1]))
    ax.set_xlabel(xlab)
    ax.set_ylabel(ylab)
    ax.legend(loc="best", fontsize=8, framealpha=0.95)
    return RadialPlot(x, y, c.estimate, c.ci_lb, c.ci_ub, fig)


# -------------------------------------------------------------------------------------------- labbe

_LABBE_MEASURES = ("OR", "RR", "RD", "IRR", "IRD")


@dataclass(frozen=True, eq=False, repr=False)
class LabbePlot(InlineFigure):
    """A L'Abbé plot: each study's outcome in group 2 (`x`) against group 1 (`y`) on the measure's
    scale (log odds, log risk, risk, log rate, rate), point size by weight, with the line of no effect
    (y = x) and the line of the pooled effect."""

    measure: str
    x: _Array
    y: _Array
    psize: _Array
    estimate: float
    figure: Figure

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the plot; the extension (.svg, .png, .pdf) picks the format."""
        return _save(self.figure, path, dpi)


    def to_json(self) -> dict[str, Any]:
        """The plot's content as plain JSON."""
        return {"measure": self.measure, "x": _lst(self.x), "y": _lst(self.y), "psize": _lst(self.psize),
                "estimate": self.estimate}


def _arm_outcomes(table: TwoByTwo | PersonTime, measure: str) -> tuple[_Array, _Array]:
    """Each arm's outcome on the measure's scale, with metafor's 1/2 added to tables with a zero cell."""
    from strigil.meta.counts import _added

    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(table, TwoByTwo):
            a, b, c, d = _added([table.ai, table.bi, table.ci, table.di], 0.5, "only0")
            p1, p2 = a / (a + b), c / (c + d)
            if measure == "OR":
                return np.log(p1 / (1 - p1)), np.log(p2 / (1 - p2))
            if measure == "RR":
                return np.log(p1), np.log(p2)
            return p1, p2
        x1, x2 = _added([table.x1i, table.x2i], 0.5, "only0")
        r1, r2 = x1 / table.t1i, x2 / table.t2i
        return (np.log(r1), np.log(r2)) if measure == "IRR" else (r1, r2)


def labbe(res: TablesResult | GLMMResult, *, xlab: str = "Group 2 (control)",
          ylab: str = "Group 1 (treatment)") -> LabbePlot:
    """L'Abbé plot (L'Abbé, Detsky & O'Rourke, 1987, Ann Intern Med 107:224; metafor's `labbe`) of a
    Mantel–Haenszel, Peto or GLMM analysis of 2×2 or person-time tables."""
    from matplotlib.figure import Figure

    measure = "OR" if getattr(res, "method", "") == "PETO" else res.measure
    if measure not in _LABBE_MEASURES:
        raise ValueError(f"a L'Abbé plot needs OR, RR, RD, IRR or IRD; got {measure}")
    if isinstance(res, TablesResult):
        estimate, weights = res.estimate, res.weights
    else:
        if len(res.beta) != 1:
            raise ValueError("labbe() draws models without moderators")
        estimate, weights = res.beta[0].estimate, 1 / (res.vi + res.tau2)
    y, x = _arm_outcomes(res.tables, measure)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(weights)
    psize = np.full(x.shape, np.nan)
    psize[ok] = _point_sizes(weights[ok])
    fig = Figure(figsize=(6.0, 6.0))
    ax = fig.add_subplot(1, 1, 1)
    lo = float(min(x[ok].min(), y[ok].min()))
    hi = float(max(x[ok].max(), y[ok].max()))
    pad = 0.06 * (hi - lo or 1.0)
    line = np.linspace(lo - pad, hi + pad, 200)
    ax.plot(line, line, color="#888888", linewidth=0.9, linestyle=":", label="no effect")
    # log p1 = log p2 + log RR, kept below log 1 = 0 for risks
    pooled = np.minimum(line + estimate, 0.0) if measure == "RR" else line + estimate
    ax.plot(line, pooled, color=_ACCENT, linewidth=1.4, label="pooled effect")
    ax.scatter(x[ok], y[ok], s=(6 * psize[ok]) ** 2, facecolor="#9a9a9a", edgecolor=_INK, linewidth=0.7,
               zorder=3, label="studies (area ~ weight)")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    scale = {"OR": "log odds", "RR": "log risk", "RD": "risk", "IRR": "log rate", "IRD": "rate"}[measure]
    ax.set_xlabel(f"{xlab}, {scale}")
    ax.set_ylabel(f"{ylab}, {scale}")
    ax.legend(loc="best", fontsize=8, framealpha=0.95)
    return LabbePlot(measure, x, y, psize, float(estimate), fig)
