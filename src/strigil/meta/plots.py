"""Forest and contour-enhanced funnel plots (metafor's `forest` and `funnel`), drawn with matplotlib.

Each function computes the plot's content as plain data (rows, points) and draws it on a
`matplotlib.figure.Figure` that is not attached to pyplot, so nothing here needs a display or
touches global state. Nothing is written until the caller asks: `plot.save("forest.svg")` — the
file name's extension (.svg, .png, .pdf) picks the format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.display import InlineFigure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from strigil.meta.glmm import GLMMResult
    from strigil.meta.result import RMAResult
    from strigil.meta.tables_result import TablesResult
    from strigil.meta.trimfill import TrimFill

__all__ = ["FORMATS", "ForestPlot", "ForestRow", "FunnelPlot", "forest", "funnel"]

_Array = NDArray[np.float64]
FORMATS = ("svg", "png", "pdf")
_INK = "#222222"
_ACCENT = "#1f4e79"
_FILL = "#c0392b"


def _z(level: float) -> float:
    return float(special.ndtri(1 - (1 - level / 100) / 2))


def _save(figure: Figure, path: str | Path, dpi: int) -> Path:
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the image format from {out.name!r}; use one of: "
                         + ", ".join(f".{f}" for f in FORMATS))
    # no timestamps in the file, so the same plot gives the same bytes
    metadata: dict[str, Any] = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})
    from matplotlib import rc_context

    # keep SVG text as text (searchable, accessible), not as outlines
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "strigil"}):
        figure.savefig(out, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
    return out


def _fmt_ci(est: float, lb: float, ub: float) -> str:
    return f"{est:6.2f} [{lb:6.2f}, {ub:6.2f}]"


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


# ------------------------------------------------------------------------------------- forest


@dataclass(frozen=True)
class ForestRow:
    """One line of a forest plot: a study, a subgroup heading, or a pooled estimate (`kind`)."""

    kind: str  # "study", "heading", "subgroup", "summary"
    label: str
    estimate: float | None = None
    ci_lb: float | None = None
    ci_ub: float | None = None
    weight: float | None = None  # percent
    note: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class ForestPlot(InlineFigure):
    """A drawn forest plot: its rows (top to bottom), the prediction interval and the figure."""

    rows: tuple[ForestRow, ...]
    pi: tuple[float, float] | None
    level: float
    figure: Figure

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the plot; the extension (.svg, .png, .pdf) picks the format."""
        return _save(self.figure, path, dpi)


    def to_json(self) -> dict[str, Any]:
        """The plot's content as plain JSON (what is drawn, not how)."""
        return {
            "level": self.level,
            "pi": None if self.pi is None else list(self.pi),
            "rows": [{"kind": r.kind, "label": r.label, "estimate": r.estimate, "ci_lb": r.ci_lb,
                      "ci_ub": r.ci_ub, "weight": r.weight, "note": r.note} for r in self.rows],
        }


def _labels(res: RMAResult) -> tuple[str, ...]:
    return res.slab if res.slab is not None else tuple(f"Study {i + 1}" for i in range(res.k))


def _study_rows(res: RMAResult, z: float) -> list[ForestRow]:
    w = 1 / (res.vi + res.tau2) if res.weights is None else res.weights
    pct = 100 * w / w.sum()
    se = np.sqrt(res.vi)
    return [ForestRow("study", lab, float(y), float(y - z * s), float(y + z * s), float(p))
            for lab, y, s, p in zip(_labels(res), res.yi, se, pct, strict=True)]


def _model_name(res: RMAResult) -> str:
    return "EE model" if res.method in ("EE", "FE") else "RE model"


def _summary_row(res: RMAResult, label: str, kind: str) -> ForestRow:
    c = res.beta[0]
    het = f"Q({res.Q_df}) = {res.Q:.2f}, {_fmt_p(res.Q_p)}; I² = {res.I2:.1f}%"
    if res.method not in ("EE", "FE"):
        het += f"; τ² = {res.tau2:.3g} ({res.method})"
    return ForestRow(kind, label, c.estimate, c.ci_lb, c.ci_ub, None, het)


def forest(res: RMAResult, *, xlab: str = "Observed outcome", refline: float | None = 0.0,
           show_pi: bool = True, title: str | None = None,
           xlim: tuple[float, float] | None = None) -> ForestPlot:
    """Forest plot of an intercept-only model (Lewis & Clarke, 2001, BMJ 322:1479): one line per
    study with its CI (normal, at the model's level) and weight, the pooled estimate as a diamond,
    the prediction interval as a dashed bar, and with subgroups one block per subgroup with its own
    diamond and the test for subgroup differences. `xlim` fixes the effect axis; intervals that
    reach beyond it end in an arrow (as metafor's `alim`)."""
    from matplotlib.figure import Figure

    if xlim is not None and not (len(xlim) == 2 and math.isfinite(xlim[0]) and math.isfinite(xlim[1])
                                 and xlim[0] < xlim[1]):
        raise ValueError(f"xlim must be two finite numbers, lower < upper; got {xlim!r}")
    if res.moderators:
        raise ValueError("forest() draws models without moderators; fit without mods (or use subgroup=)")
    z = _z(res.level)
    rows: list[ForestRow] = []
    if res.subgroups:
        for g in res.subgroups:
            rows.append(ForestRow("heading", str(g.name)))
            rows.extend(_study_rows(g.result, z))
            rows.append(_summary_row(g.result, f"{_model_name(g.result)}, {g.name} (k = {g.k})",
                                     "subgroup"))
    else:
        rows.extend(_study_rows(res, z))
    overall = _summary_row(res, f"{_model_name(res)}, all (k = {res.k})", "summary")
    if res.subgroups and res.Q_between is not None and math.isfinite(res.Q_between):
        overall = ForestRow(overall.kind, overall.label, overall.estimate, overall.ci_lb, overall.ci_ub, None,
                            overall.note + f"\nSubgroup differences: Q({res.Q_between_df}) = "
                            f"{res.Q_between:.2f}, {_fmt_p(float(res.Q_between_p or math.nan))}")
    rows.append(overall)
    pi = None
    if show_pi and res.pi_lb is not None and res.pi_ub is not None and res.method not in ("EE", "FE"):
        pi = (float(res.pi_lb), float(res.pi_ub))
    n = len(rows) + 2  # header line and a spacer before the overall summary
    fig = Figure(figsize=(10.0, 1.2 + 0.32 * n))
    grid = fig.add_gridspec(1, 3, width_ratios=(3.4, 4.0, 3.0), wspace=0.02)
    ax_lab, ax, ax_num = (fig.add_subplot(grid[0, j]) for j in range(3))
    ys = _forest_positions(rows)
    top = max(ys) + 1.2
    for a in (ax_lab, ax_num):
        a.set_xlim(0, 1)
        a.axis("off")
    # the plot panel must not paint over labels that run into it
    ax.patch.set_visible(False)
    ax_lab.set_zorder(2)
    for a in (ax_lab, ax, ax_num):
        a.set_ylim(-1.2 if pi is None else -1.7, top + 0.4)
    _draw_forest(ax, ax_lab, ax_num, rows, ys, pi, refline, xlim)
    ax.set_xlabel(xlab)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax_lab.text(0.0, top, "Study", fontweight="bold", va="center", color=_INK)
    ax_num.text(0.02, top, f"Estimate [{res.level:g}% CI]", fontweight="bold", va="center", color=_INK)
    # with subgroups each study's weight is its share within its own subgroup's model
    ax_num.text(0.98, top, "Weight\nin group" if res.subgroups else "Weight", fontweight="bold",
                va="center", ha="right", color=_INK, fontsize=8 if res.subgroups else None)
    if title:
        fig.suptitle(title)
    return ForestPlot(tuple(rows), pi, res.level, fig)


def _forest_positions(rows: list[ForestRow]) -> list[float]:
    """y positions, top to bottom, with a gap after each subgroup block and before the summary."""
    ys: list[float] = []
    y = float(len(rows) + sum(r.kind == "subgroup" for r in rows) + 1)
    for r in rows:
        if r.kind == "summary":
            y -= 1
        ys.append(y)
        y -= 2 if r.kind == "subgroup" else 1
    shift = min(ys)
    return [v - shift for v in ys]


def _draw_forest(ax: Axes, ax_lab: Axes, ax_num: Axes, rows: list[ForestRow], ys: list[float],
                 pi: tuple[float, float] | None, refline: float | None,
                 xlim: tuple[float, float] | None) -> None:
    from matplotlib.patches import Polygon

    weights = [r.weight for r in rows if r.kind == "study" and r.weight is not None]
    wmax = max(weights) if weights else 1.0
    xs = [v for r in rows for v in (r.ci_lb, r.ci_ub) if v is not None and math.isfinite(v)]
    if pi is not None:
        xs += list(pi)
    if xlim is None:
        lo, hi = (min(xs), max(xs)) if xs else (-1.0, 1.0)
        pad = 0.05 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = xlim
    ax.set_xlim(lo, hi)
    if refline is not None:
        ax.axvline(refline, color="#888888", linestyle=":", linewidth=1, zorder=0)
    for r, y in zip(rows, ys, strict=True):
        if r.kind == "heading":
            ax_lab.text(0.0, y, r.label, fontweight="bold", fontstyle="italic", va="center", color=_INK)
            continue
        assert r.estimate is not None and r.ci_lb is not None and r.ci_ub is not None
        if r.kind == "study":
            ax.plot([max(r.ci_lb, lo), min(r.ci_ub, hi)], [y, y], color=_INK, linewidth=1)
            for end, limit, arrow in ((r.ci_lb, lo, "<"), (r.ci_ub, hi, ">")):
                if (end < limit) if arrow == "<" else (end > limit):
                    ax.plot([limit], [y], marker=arrow, color=_INK, markersize=5, clip_on=False)
            size = 4 + 10 * math.sqrt((r.weight or 0.0) / wmax)
            ax.plot([r.estimate], [y], marker="s", markersize=size, color=_ACCENT, linestyle="none")
            ax_lab.text(0.03, y, r.label, va="center", color=_INK)
            ax_num.text(0.98, y, f"{r.weight:.1f}%", va="center", ha="right", family="monospace",
                        fontsize=8.5, color=_INK)
        else:
            face = _ACCENT if r.kind == "summary" else "#8fb3d9"
            ax.add_patch(Polygon([(r.ci_lb, y), (r.estimate, y + 0.35), (r.ci_ub, y), (r.estimate, y - 0.35)],
                                 closed=True, facecolor=face, edgecolor=_INK, linewidth=0.8))
            weight = "bold" if r.kind == "summary" else "normal"
            ax_lab.text(0.0, y, r.label, va="center", fontweight=weight, color=_INK)
            ax_lab.text(0.0, y - 0.5, r.note, va="top", fontsize=7, color="#555555")
            if r.kind == "summary" and pi is not None:
                ax.plot(list(pi), [y - 0.75, y - 0.75], color=_ACCENT, linestyle="--", linewidth=1.2)
                ax.plot([pi[0], pi[0]], [y - 0.9, y - 0.6], color=_ACCENT, linewidth=1.2)
                ax.plot([pi[1], pi[1]], [y - 0.9, y - 0.6], color=_ACCENT, linewidth=1.2)
                ax_num.text(0.02, y - 0.75, f"PI {pi[0]:6.2f} to {pi[1]:.2f}", va="center", fontsize=8,
                            color=_ACCENT)
        ax_num.text(0.02, y, _fmt_ci(r.estimate, r.ci_lb, r.ci_ub), va="center", family="monospace",
                    fontsize=8.5, color=_INK, fontweight="bold" if r.kind == "summary" else "normal")


# ------------------------------------------------------------------------------------- funnel


@dataclass(frozen=True, eq=False, repr=False)
class FunnelPlot(InlineFigure):
    """A drawn funnel plot: the studies (effect, standard error), the filled studies of a
    trim-and-fill (if given), the pooled estimate, the significance contours and the figure."""

    yi: _Array
    sei: _Array
    fill_yi: _Array
    fill_sei: _Array
    estimate: float
    contours: tuple[float, ...]
    refline: float
    figure: Figure

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the plot; the extension (.svg, .png, .pdf) picks the format."""
        return _save(self.figure, path, dpi)


    def to_json(self) -> dict[str, Any]:
        """The plot's content as plain JSON."""
        return {"yi": self.yi.tolist(), "sei": self.sei.tolist(), "fill_yi": self.fill_yi.tolist(),
                "fill_sei": self.fill_sei.tolist(), "estimate": self.estimate,
                "contours": list(self.contours), "refline": self.refline}


# shades from the centre outwards: p > 0.10, 0.10–0.05, 0.05–0.01, < 0.01 (for contours 90/95/99)
_SHADES = ("#ffffff", "#e3e3e3", "#c6c6c6", "#a8a8a8")


def funnel(res: RMAResult | TablesResult | GLMMResult, *, contours: tuple[float, ...] = (90.0, 95.0, 99.0),
           refline: float = 0.0, fill: TrimFill | None = None, xlab: str = "Observed outcome") -> FunnelPlot:
    """Contour-enhanced funnel plot (Peters et al., 2008, J Clin Epidemiol 61:991): effects against
    their standard errors (0 at the top) over regions of two-sided significance around `refline`,
    with the pooled estimate and its pseudo-confidence funnel; trim-and-fill studies as open dots.
    For Mantel–Haenszel, Peto and GLMM results the studies are their per-study effects (escalc's)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    yi, vi, est, level = _funnel_points(res)
    levels = tuple(sorted(float(c) for c in contours))
    if any(not 0 < c < 100 for c in levels) or len(levels) > 3:
        raise ValueError(f"contours must be up to three levels strictly between 0 and 100; got {contours!r}")
    sei = np.sqrt(vi)
    f_y = np.array(fill.fill_yi if fill is not None else (), dtype=float)
    f_se = np.sqrt(np.array(fill.fill_vi if fill is not None else (), dtype=float))
    top = float(max(sei.max(), f_se.max() if f_se.size else 0.0)) * 1.08
    se_grid = np.linspace(0.0, top, 200)
    fig = Figure(figsize=(7.0, 5.6))
    ax = fig.add_subplot(1, 1, 1)
    zs = [_z(c) for c in levels]
    reach = max(zs) * top * 1.1
    spread = max(float(np.max(np.abs(yi - refline))),
                 float(np.max(np.abs(f_y - refline))) if f_y.size else 0.0, reach)
    ax.set_facecolor(_SHADES[len(zs)])
    handles = []
    for z, shade in zip(reversed(zs), reversed(_SHADES[: len(zs)]), strict=True):
        ax.fill_betweenx(se_grid, refline - z * se_grid, refline + z * se_grid, color=shade, linewidth=0)
    bounds = [100.0, *levels]
    for j, shade in enumerate(_SHADES[: len(zs) + 1]):
        lo_p = 1 - bounds[j] / 100 if j else 1.0
        hi_p = 1 - levels[j] / 100 if j < len(levels) else 0.0
        text = f"p > {hi_p:.2f}" if j == 0 else (f"p < {lo_p:.2f}" if j == len(levels) else
                                                 f"{hi_p:.2f} < p < {lo_p:.2f}")
        handles.append(Patch(facecolor=shade, edgecolor="#666666", linewidth=0.5, label=text))
    z_model = _z(level)
    ax.plot(est - z_model * se_grid, se_grid, color=_INK, linestyle="--", linewidth=0.9)
    ax.plot(est + z_model * se_grid, se_grid, color=_INK, linestyle="--", linewidth=0.9)
    ax.axvline(est, color=_INK, linewidth=1)
    ax.plot(yi, sei, "o", color=_ACCENT, markeredgecolor=_INK, markersize=6, label="studies")
    if f_y.size:
        ax.plot(f_y, f_se, "o", markerfacecolor="white", markeredgecolor=_FILL, markeredgewidth=1.6,
                markersize=6, label="filled (trim-and-fill)")
    ax.set_xlim(refline - spread * 1.05, refline + spread * 1.05)
    ax.set_ylim(top, 0.0)
    ax.set_xlabel(xlab)
    ax.set_ylabel("Standard error")
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], loc="lower right", fontsize=8,
              framealpha=0.95)
    return FunnelPlot(yi.copy(), sei, f_y, f_se, est, levels, refline, fig)


def _funnel_points(res: RMAResult | TablesResult | GLMMResult) -> tuple[_Array, _Array, float, float]:
    """The studies' effects and variances (those with both), the pooled estimate and the level."""
    from strigil.meta.tables_result import TablesResult

    if isinstance(res, TablesResult):
        est = res.estimate
    else:
        if len(res.beta) != 1:
            raise ValueError("funnel() draws models without moderators")
        est = res.beta[0].estimate
    ok = np.isfinite(res.yi) & np.isfinite(res.vi)
    if not ok.any():
        raise ValueError("funnel() needs at least one study with an effect and a variance")
    return res.yi[ok], res.vi[ok], float(est), float(res.level)
