"""Small-study effects: Egger's regression test and Begg's rank correlation test (metafor's
`regtest` and `ranktest`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.display import Presentable, Summary
from strigil.meta.rma import critical_value, fit_design

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.result import RMAResult

__all__ = [
    "MODELS",
    "PREDICTORS",
    "RankTest",
    "RegTest",
    "ranktest",
    "regtest",
]

_Array = NDArray[np.float64]

MODELS = ("rma", "lm")
PREDICTORS = ("sei", "vi")


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True, repr=False)
class RegTest(Presentable):
    """Result of Egger's regression test: the test of the predictor's coefficient and the limit
    estimate (the intercept: the effect expected for a study of infinite precision)."""

    model: str
    predictor: str
    zval: float
    pval: float
    dfs: int | None
    est: float | None
    ci_lb: float | None
    ci_ub: float | None
    coef_names: tuple[str, ...]
    b: tuple[float, ...]
    se: tuple[float, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row: the test statistic, p-value and limit estimate with its interval."""
        from strigil.display import frame

        return frame({"model": [self.model], "predictor": [self.predictor], "stat": [self.zval],
                      "df": [self.dfs], "p": [self.pval], "est": [self.est], "ci_lb": [self.ci_lb],
                      "ci_ub": [self.ci_ub]})

    def summary(self) -> Summary:
        """metafor's `print(regtest(res))`."""
        from strigil.meta.printing import regtest_summary

        return regtest_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict with metafor's names (`zval` is a t statistic when `dfs` is set)."""
        return {
            "model": self.model, "predictor": self.predictor, "zval": _num(self.zval),
            "pval": _num(self.pval), "dfs": self.dfs, "est": _num(self.est), "ci_lb": _num(self.ci_lb),
            "ci_ub": _num(self.ci_ub),
            "fit": {"coef_names": list(self.coef_names), "b": [_num(x) for x in self.b],
                    "se": [_num(x) for x in self.se]},
        }


@dataclass(frozen=True, repr=False)
class RankTest(Presentable):
    """Result of Begg's rank correlation test: Kendall's tau between standardized effects and variances."""

    tau: float
    pval: float
    exact: bool

    def to_frame(self) -> pd.DataFrame:
        """One row: Kendall's tau and its p-value."""
        from strigil.display import frame

        return frame({"tau": [self.tau], "p": [self.pval], "exact": [self.exact]})

    def summary(self) -> Summary:
        """metafor's `print(ranktest(res))`."""
        from strigil.meta.printing import ranktest_summary

        return ranktest_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict with metafor's names."""
        return {"tau": _num(self.tau), "pval": _num(self.pval), "exact": self.exact}


def regtest(res: RMAResult, model: str = "rma", predictor: str = "sei") -> RegTest:
    """Egger's regression test for funnel-plot asymmetry (Egger et al., 1997, BMJ 315:629).

    `model="rma"` adds the predictor (standard error `sei` or variance `vi`) as a moderator to the
    fitted model (same method and test); `model="lm"` is the classical weighted regression with a
    multiplicative dispersion (weights 1/vi). Follows metafor's `regtest`.
    """
    if model not in MODELS:
        raise ValueError(f"model {model!r} is not supported; allowed: {', '.join(MODELS)}")
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor {predictor!r} is not supported; allowed: {', '.join(PREDICTORS)}")
    y, v = res.yi, res.vi
    X0 = res.X
    p = X0.shape[1]
    k = y.shape[0]
    extra = np.sqrt(v) if predictor == "sei" else v
    X = np.column_stack([X0, extra])
    names = (*(c.name for c in res.beta), predictor)
    # the lm version fits an exactly determined model (k = coefficients) with NaN errors, as R's lm
    too_few = k <= X.shape[1] if model == "rma" else k < X.shape[1]
    if too_few or np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(
            f"Egger's test needs more studies than coefficients and a predictor that varies; k={k}, "
            f"{X.shape[1]} coefficients")
    int_only = p == 1 and res.intercept
    if model == "rma":
        fit = fit_design(y, v, X, names, intercept=False, method=res.method, test=res.test,
                         level=res.level, weights=res.weights, r2=False)
        c = fit.beta[p]
        est = ci_lb = ci_ub = None
        if int_only:
            est, ci_lb, ci_ub = fit.beta[0].estimate, fit.beta[0].ci_lb, fit.beta[0].ci_ub
        return RegTest(model, predictor, c.stat, c.p, fit.df, est, ci_lb, ci_ub, names,
                       tuple(b.estimate for b in fit.beta), tuple(b.se for b in fit.beta))
    # classical weighted least squares: residual variance estimated (R's lm with weights = 1/vi)
    w = 1 / v
    xtwx_inv = np.linalg.inv(X.T @ (w[:, None] * X))
    b = xtwx_inv @ (X.T @ (w * y))
    r = y - X @ b
    ddf = k - X.shape[1]
    sigma2 = float(w @ (r * r)) / ddf if ddf > 0 else math.nan
    se = np.sqrt(np.diag(xtwx_inv) * sigma2)
    tval = float(b[p] / se[p])
    pval = float(2 * special.stdtr(ddf, -abs(tval))) if ddf > 0 else math.nan
    est = ci_lb = ci_ub = None
    if int_only:
        crit = critical_value(res.level, ddf) if ddf > 0 else math.nan
        est, ci_lb, ci_ub = float(b[0]), float(b[0] - crit * se[0]), float(b[0] + crit * se[0])
    return RegTest(model, predictor, tval, pval, ddf, est, ci_lb, ci_ub, names,
                   tuple(float(x) for x in b), tuple(float(x) for x in se))


@lru_cache(maxsize=64)
def _inversion_counts(n: int) -> tuple[int, ...]:
    """Number of permutations of n items with j inversions, j = 0 … n(n−1)/2 (Mahonian numbers)."""
    counts = [1]
    for m in range(2, n + 1):
        new = [0] * (len(counts) + m - 1)
        for j, c in enumerate(counts):
            for add in range(m):
                new[j + add] += c
        counts = new
    return tuple(counts)


def _kendall_exact_p(q: int, n: int) -> float:
    """Two-sided exact p of Kendall's statistic T = q concordant pairs (as R's cor.test)."""
    counts = _inversion_counts(n)
    total = math.factorial(n)

    def cdf(t: int) -> float:
        if t < 0:
            return 0.0
        return sum(counts[: t + 1]) / total

    p = 1 - cdf(q - 1) if q > n * (n - 1) / 4 else cdf(q)
    return min(2 * p, 1.0)


def _tie_sizes(x: _Array) -> _Array:
    _, counts = np.unique(x, return_counts=True)
    return counts[counts > 1].astype(float)


def _kendall_tau_b(x: _Array, y: _Array) -> float:
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    s = float((dx * dy).sum()) / 2
    n0 = x.shape[0] * (x.shape[0] - 1) / 2
    tx = float((_tie_sizes(x) * (_tie_sizes(x) - 1)).sum()) / 2
    ty = float((_tie_sizes(y) * (_tie_sizes(y) - 1)).sum()) / 2
    denom = math.sqrt((n0 - tx) * (n0 - ty))
    return s / denom if denom > 0 else math.nan


def ranktest(res: RMAResult) -> RankTest:
    """Begg and Mazumdar's rank correlation test for funnel-plot asymmetry (Begg & Mazumdar, 1994,
    Biometrics 50:1088): Kendall's tau between the standardized deviates and the variances.

    The p-value is exact for n < 50 without ties, otherwise the normal approximation with the tie
    correction (as R's `cor.test(method="kendall")`, which metafor uses).
    """
    y, v = res.yi, res.vi
    n = y.shape[0]
    if n < 2:
        raise ValueError(f"the rank correlation test needs at least 2 studies; got k={n}")
    w = 1 / v
    theta = float(w @ y) / float(w.sum())
    v_star = v - 1 / float(w.sum())
    y_star = (y - theta) / np.sqrt(v_star)
    tau = _kendall_tau_b(y_star, v)
    if not math.isfinite(tau):
        return RankTest(math.nan, math.nan, False)
    ties = min(np.unique(y_star).size, np.unique(v).size) < n
    if n < 50 and not ties:
        q = round((tau + 1) * n * (n - 1) / 4)
        return RankTest(tau, _kendall_exact_p(int(q), n), True)
    tx, ty = _tie_sizes(y_star), _tie_sizes(v)
    t0 = n * (n - 1) / 2
    t1 = float((tx * (tx - 1)).sum()) / 2
    t2 = float((ty * (ty - 1)).sum()) / 2
    s = tau * math.sqrt((t0 - t1) * (t0 - t2))
    v0 = n * (n - 1) * (2 * n + 5)
    vt = float((tx * (tx - 1) * (2 * tx + 5)).sum())
    vu = float((ty * (ty - 1) * (2 * ty + 5)).sum())
    v1 = float((tx * (tx - 1)).sum()) * float((ty * (ty - 1)).sum())
    v2 = float((tx * (tx - 1) * (tx - 2)).sum()) * float((ty * (ty - 1) * (ty - 2)).sum())
    var_s = (v0 - vt - vu) / 18 + v1 / (2 * n * (n - 1)) + v2 / (9 * n * (n - 1) * (n - 2))
    z = s / math.sqrt(var_s)
    return RankTest(tau, float(special.erfc(abs(z) / math.sqrt(2))), False)
