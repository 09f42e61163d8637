"""Best linear unbiased predictions: the random effects of a multilevel model (metafor's `ranef`)
and the study-specific true effects of a random-effects model (metafor's `blup`).

For `rma_mv` (Henderson, 1975; Robinson, 1991): with e = y − Xβ̂, W = M⁻¹ and P = W − WX(X'WX)⁻¹X'W,
the random effects of a term with covariance D and design Z are û = DZ'We with prediction variance
D − DZ'PZD. For `rma` (Raudenbush & Bryk, 1985): θ̂ᵢ = λᵢ yᵢ + (1 − λᵢ) xᵢ'β̂, λᵢ = τ²/(τ² + vᵢ),
Var = λᵢ vᵢ + (1 − λᵢ)² xᵢ'Var(β̂)xᵢ. Intervals are β̂-style: ± z (or t with k − p df) × SE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import Presentable, Summary

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.result import RMAResult
    from strigil.meta.result_mv import RMAMVResult

__all__ = ["RandomEffects", "blup", "ranef"]

_Array = NDArray[np.float64]
_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True, eq=False, repr=False)
class RandomEffects(Presentable):
    """Predicted random effects (or true effects), one per level, with SE and prediction interval."""

    term: str
    levels: tuple[str, ...]
    pred: _Array
    se: _Array
    pi_lb: _Array
    pi_ub: _Array

    def summary(self) -> Summary:
        """The predictions with their SEs and prediction intervals, as metafor prints `ranef`/`blup`."""
        from strigil.meta.printing import table_summary

        return table_summary(f"Random effects: {self.term} ({len(self.levels)} levels)", self.to_frame())

    def to_frame(self) -> pd.DataFrame:
        """One row per level: pred, se, pi_lb, pi_ub."""
        from strigil.display import frame

        cols = {"pred": self.pred, "se": self.se, "pi_lb": self.pi_lb, "pi_ub": self.pi_ub}
        return frame(cols, self.levels, "level")

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict of lists."""
        def lst(a: _Array) -> list[float | None]:
            return [float(x) if np.isfinite(x) else None for x in a]

        return {"term": self.term, "levels": list(self.levels), "pred": lst(self.pred), "se": lst(self.se),
                "pi_lb": lst(self.pi_lb), "pi_ub": lst(self.pi_ub)}

    def __repr__(self) -> str:
        return f"RandomEffects({self.term!r}, {len(self.levels)} levels)"


def _crit(level: float, df: int | None) -> float:
    from strigil.meta.rma import critical_value

    return critical_value(level, df)


def _quad_p(res: RMAMVResult, g: int, A: _Array) -> _Array:
    """For stacked columns A (blocks, s, n) of one block group: diag(A'PA) as (blocks, n)."""
    ev = res.evaluation
    W, WX = ev.W[g], ev.WX[g]
    WA = np.matmul(W, A)
    direct = np.einsum("bsn,bsn->bn", A, WA)
    xwa = np.einsum("bsp,bsn->bnp", WX, A)  # X'WA per column
    return direct - np.einsum("bnp,pq,bnq->bn", xwa, ev.vb, xwa)


def ranef(res: RMAMVResult, level: float | None = None) -> dict[str, RandomEffects]:
    """BLUPs of every random term: per level of each `~ 1 | …` factor, and per inner/outer pair of
    the `~ inner | outer` term (ordered by outer, then inner level, labelled 'inner | outer')."""
    lvl = res.level if level is None else level
    crit = _crit(lvl, res.df)
    model, ev = res.model, res.evaluation
    layout = model.layout
    out: dict[str, RandomEffects] = {}
    sigma2, tau2, rho = model.split(res.theta)
    for l_, factor in enumerate(res.spec.sigma2):
        s2 = float(sigma2[l_])
        n = factor.nlevels
        pred = np.zeros(n)
        var = np.full(n, s2)
        for g, grp in enumerate(layout.groups):
            # a level lies within one block; column j of the 0/1 same-level block is the indicator of
            # row j's level, so every row gives its level's prediction (repeats agree)
            Z = model.S[l_][g]
            codes = factor.codes[grp.rows]
            pred[codes] = s2 * np.einsum("bsn,bs->bn", Z, ev.u[g])
            var[codes] = s2 - s2 * s2 * _quad_p(res, g, Z)
        pred[np.abs(pred) < 100 * _EPS] = 0.0
        se = np.sqrt(np.maximum(var, 0.0))
        out[factor.name] = RandomEffects(factor.name, factor.levels, pred, se, pred - crit * se,
                                         pred + crit * se)
    io = res.spec.inner_outer
    if io is not None and model.structure is not None:
        G = model.structure.matrices(tau2, rho)[0]
        k = res.k
        pred_r = np.zeros(k)
        var_r = np.zeros(k)
        for g, grp in enumerate(layout.groups):
            Gb = model._gather(g, G)  # (blocks, s, s)
            pred_r[grp.rows] = np.einsum("bij,bj->bi", Gb, ev.u[g])
            var_r[grp.rows] = np.diagonal(Gb, axis1=1, axis2=2) - _quad_p(res, g, Gb)
        pred_r[np.abs(pred_r) < 100 * _EPS] = 0.0
        keys = sorted({(int(o), int(i)): r for r, (o, i) in
                       enumerate(zip(io.outer.codes, io.inner.codes, strict=True))}.items())
        rows = np.array([r for _, r in keys], dtype=np.intp)
        labels = tuple(f"{io.inner.levels[i]} | {io.outer.levels[o]}" for (o, i), _ in keys)
        se = np.sqrt(np.maximum(var_r[rows], 0.0))
        p = pred_r[rows]
        out[io.formula] = RandomEffects(io.formula, labels, p, se, p - crit * se, p + crit * se)
    return out


def blup(res: RMAResult, level: float | None = None) -> RandomEffects:
    """Study-specific true effects of an `rma` fit (metafor's `blup`); not for user weights."""
    if res.weights is not None:
        raise ValueError("best linear unbiased predictions need inverse-variance weights (no user weights)")
    lvl = res.level if level is None else level
    crit = _crit(lvl, res.df)
    tau2 = 0.0 if res.method in ("EE", "FE") else res.tau2
    lam = tau2 / (tau2 + res.vi)
    b = np.array([c.estimate for c in res.beta])
    fitted = res.X @ b
    pred = lam * res.yi + (1 - lam) * fitted
    var = lam * res.vi + (1 - lam) ** 2 * np.einsum("ij,jk,ik->i", res.X, res.vb, res.X)
    se = np.sqrt(var)
    labels = res.slab if res.slab is not None else tuple(f"Study {i + 1}" for i in range(res.k))
    return RandomEffects("study", labels, pred, se, pred - crit * se, pred + crit * se)
