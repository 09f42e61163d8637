"""Trim-and-fill: estimate and impute studies missing from one side of the funnel (metafor's `trimfill`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from strigil.display import Presentable, Summary
from strigil.meta.rma import fit_design

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.result import RMAResult

__all__ = [
    "ESTIMATORS",
    "MAX_ITER",
    "SIDES",
    "TrimFill",
    "trimfill",
]

_Array = NDArray[np.float64]

ESTIMATORS = ("L0", "R0")
SIDES = ("left", "right")
MAX_ITER = 100


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True, eq=False, repr=False)
class TrimFill(Presentable):
    """Trim-and-fill result: the estimated number of missing studies `k0` (with its SE and, for R0,
    a p-value), the side they are missing from, the imputed studies and the model refitted to the
    observed plus imputed studies (`fit`; the original model when k0 = 0)."""

    estimator: str
    side: str
    k0: int
    se_k0: float
    p_k0: float | None
    fill_yi: tuple[float, ...]
    fill_vi: tuple[float, ...]
    fit: RMAResult

    @property
    def estimate(self) -> float:
        """The pooled estimate after filling."""
        return self.fit.beta[0].estimate

    def to_frame(self) -> pd.DataFrame:
        """The imputed studies, one row each (yi, vi)."""
        from strigil.display import frame

        return frame({"yi": list(self.fill_yi), "vi": list(self.fill_vi)},
                     [f"Filled {i + 1}" for i in range(len(self.fill_yi))], "study")

    def summary(self) -> Summary:
        """metafor's `print(trimfill(res))`: the missing studies, then the model refitted with them."""
        from strigil.meta.printing import trimfill_summary

        return trimfill_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict: metafor's names plus the refitted model's estimate and interval."""
        c = self.fit.beta[0]
        return {
            "estimator": self.estimator, "side": self.side, "k0": self.k0, "se_k0": _num(self.se_k0),
            "p_k0": _num(self.p_k0), "fill_yi": [float(x) for x in self.fill_yi],
            "fill_vi": [float(x) for x in self.fill_vi], "k": self.fit.k, "b": _num(c.estimate),
            "se": _num(c.se), "zval": _num(c.stat), "pval": _num(c.p), "ci_lb": _num(c.ci_lb),
            "ci_ub": _num(c.ci_ub), "tau2": _num(self.fit.tau2),
        }


def _estimate_side(res: RMAResult) -> str:
    """Side with the missing studies: opposite to the sign of the Egger slope (as metafor)."""
    X = np.column_stack([np.ones(res.k), np.sqrt(res.vi)])
    if res.k < 3 or np.ptp(X[:, 1]) <= 1e-12 * float(X[:, 1].max()):
        raise ValueError("trim-and-fill cannot pick the side from Egger's slope here (fewer than 3 studies "
                         "or all variances equal); pass side='left' or side='right'")
    fit = fit_design(res.yi, res.vi, X, ("intrcpt", "sei"), intercept=False, method=res.method,
                     weights=res.weights, r2=False)
    return "right" if fit.beta[1].estimate < 0 else "left"


def _ranks_first(x: _Array) -> _Array:
    """Ranks 1…n with ties broken by position (R's rank(ties.method = "first"))."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.shape[0])
    ranks[order] = np.arange(1, x.shape[0] + 1)
    return ranks


def trimfill(res: RMAResult, side: str | None = None, estimator: str = "L0") -> TrimFill:
    """Duval and Tweedie's trim-and-fill method (Duval & Tweedie, 2000, Biometrics 56:455 and JASA
    95:89) with the L0 or R0 estimator of the number of missing studies.

    As metafor: the side is chosen from the sign of Egger's slope unless given; the iterations use
    the model's τ² estimator; the filled model is refitted with the default z test at 95%.
    """
    if res.moderators:
        raise ValueError("trim-and-fill applies only to models without moderators")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator {estimator!r} is not supported; allowed: {', '.join(ESTIMATORS)}")
    if side is not None and side not in SIDES:
        raise ValueError(f"side {side!r} is not supported; allowed: {', '.join(SIDES)} (or None)")
    if res.k < 2:
        raise ValueError(f"trim-and-fill needs at least 2 studies; got k={res.k}")
    side = side or _estimate_side(res)
    sign = -1.0 if side == "right" else 1.0
    y0 = sign * res.yi
    order = np.argsort(y0, kind="stable")
    y, v = y0[order], res.vi[order]
    w = None if res.weights is None else res.weights[order]
    k = y.shape[0]
    k0, k0_prev, it = 0, -1, 0
    se_k0, beta = math.nan, math.nan
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > MAX_ITER:
            raise ValueError(f"trim-and-fill did not converge in {MAX_ITER} iterations")
        kt = k - k0
        fit = fit_design(y[:kt], v[:kt], None, ("intrcpt",), method=res.method,
                         weights=None if w is None else w[:kt], r2=False)
        beta = fit.beta[0].estimate
        yc = y - beta
        signed = np.sign(yc) * _ranks_first(np.abs(yc))
        if estimator == "R0":
            negative = signed[signed < 0]
            if negative.size == 0:
                raise ValueError("trim-and-fill (R0): no study lies below the estimate; k0 is undefined")
            k0_raw = (k - float(np.max(-negative))) - 1
            se_k0 = math.sqrt(2 * max(0.0, k0_raw) + 2)
        else:
            sr = float(signed[signed > 0].sum())
            k0_raw = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0_raw**3 + 27 * k0_raw**2 + 17 * k0_raw
                      - 18 * k * k0_raw**2 - 18 * k * k0_raw + 6 * k**2 * k0_raw) / 24
            se_k0 = 4 * math.sqrt(var_sr) / (2 * k - 1) if var_sr >= 0 else math.nan
        # R's round() rounds half to even, as Python's does
        k0 = max(0, round(k0_raw))
        se_k0 = se_k0 if math.isnan(se_k0) else max(0.0, se_k0)
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else None
    if k0 == 0:
        return TrimFill(estimator, side, 0, se_k0, p_k0, (), (), res)
    # mirror the k0 most extreme studies around the trimmed estimate
    fill_y = sign * (2 * beta - y[k - k0:])
    fill_v = v[k - k0:]
    yy = np.concatenate([res.yi, fill_y])
    vv = np.concatenate([res.vi, fill_v])
    ww = None if w is None or res.weights is None else np.concatenate([res.weights, w[k - k0:]])
    slab = None if res.slab is None else (*res.slab, *(f"Filled {i + 1}" for i in range(k0)))
    filled = fit_design(yy, vv, None, ("intrcpt",), method=res.method, weights=ww, slab=slab, r2=False)
    return TrimFill(estimator, side, int(k0), se_k0, p_k0, tuple(float(x) for x in fill_y),
                    tuple(float(x) for x in fill_v), filled)
