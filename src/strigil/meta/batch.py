"""Many intercept-only meta-analyses at once, vectorised over columns (simulations, power, permutations).

Column j of `yi`/`vi` (shape k × m) is one meta-analysis; every number equals what `rma` gives for
that column alone (same estimators and formulas, see `strigil.meta.rma`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.display import Presentable, Summary
from strigil.meta.rma import TESTS, critical_value
from strigil.meta.tau2 import (
    ESTIMATORS,
    OVERFLOWED,
    TOO_EXTREME,
    _terms,
    estimate_tau2_unchecked,
    finite_arithmetic,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BatchResult", "rma_batch"]

_Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False, repr=False)
class BatchResult(Presentable):
    """Per-column results of `rma_batch`, each an array of shape (m,)."""

    method: str
    test: str
    level: float
    k: int
    df: int | None
    tau2: _Array
    tau2_se: _Array
    estimate: _Array
    se: _Array
    stat: _Array
    p: _Array
    ci_lb: _Array
    ci_ub: _Array
    pi_lb: _Array
    pi_ub: _Array
    Q: _Array
    Q_p: _Array
    I2: _Array
    H2: _Array
    converged: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.tau2.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """One row per analysis (column of the input): estimate, se, test, intervals, τ², Q, I², H²."""
        from strigil.display import frame

        cols = ("estimate", "se", "stat", "p", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "tau2", "tau2_se", "Q",
                "Q_p", "I2", "H2", "converged")
        return frame({c: getattr(self, c) for c in cols})

    def summary(self) -> Summary:
        """The spread of the estimates, τ², I² and p-values over the analyses."""
        from strigil.meta.printing import batch_summary

        return batch_summary(self)



def _matrix(name: str, values: Any) -> _Array:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (k, m); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        cols = np.flatnonzero(~np.all(np.isfinite(arr), axis=0))[:5].tolist()
        raise ValueError(f"{name} has missing or non-finite values in columns {cols}")
    return arr


def rma_batch(yi: Any, vi: Any, *, method: str = "REML", test: str = "z", level: float = 95.0) -> BatchResult:
    """Fit one intercept-only model per column of `yi`, `vi` (shape k × m) in a single vectorised pass."""
    y = _matrix("yi", yi)
    v = _matrix("vi", vi)
    if y.shape != v.shape:
        raise ValueError(f"yi has shape {y.shape} but vi has {v.shape}")
    if np.any(v <= 0):
        raise ValueError("vi must be > 0 everywhere (sampling variances)")
    meth = method.upper()
    if meth not in ESTIMATORS:
        raise ValueError(f"method {method!r} is not supported; allowed: {', '.join(ESTIMATORS)}")
    if test not in TESTS:
        raise ValueError(f"test {test!r} is not supported; allowed: {', '.join(TESTS)}")
    k = y.shape[0]
    if k < 2:
        raise ValueError(f"batch fitting needs k >= 2 studies per meta-analysis; got k={k}")
    return _fit_batch(y, v, meth, test, level)


@finite_arithmetic("a batch fit")
def _fit_batch(y: _Array, v: _Array, meth: str, test: str, level: float) -> BatchResult:
    """The vectorised fits on validated input: finite estimates, else a clear ValueError."""
    k = y.shape[0]
    ymc = y - y.mean(axis=0)
    fe = _terms(ymc, v, None, 0.0)
    est = estimate_tau2_unchecked(meth, ymc, v, fe=fe)
    tau2 = np.broadcast_to(np.asarray(est.tau2, dtype=float), (y.shape[1],)).copy()
    w = 1.0 / (v + tau2)
    s1 = w.sum(axis=0)
    b = (w * y).sum(axis=0) / s1
    var_b = 1.0 / s1
    df = k - 1 if test in ("t", "knha") else None
    if test == "knha":
        e = y - b
        rss = (w * e * e).sum(axis=0)
        var_b = np.where(rss <= np.finfo(float).eps, 0.0, var_b * rss / (k - 1))
    se = np.sqrt(var_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = b / se
    p = special.erfc(np.abs(stat) / np.sqrt(2)) if df is None else 2 * special.stdtr(df, -np.abs(stat))
    crit = critical_value(level, df)
    Q = np.maximum(fe.ypy, 0.0)
    vt = (k - 1) / fe.tr_p
    if meth in ("EE", "FE"):
        with np.errstate(divide="ignore", invalid="ignore"):
            I2 = np.where(Q > 0, np.maximum(0.0, 100 * (Q - (k - 1)) / Q), 0.0)
        H2 = Q / (k - 1)
    else:
        I2 = 100 * tau2 / (vt + tau2)
        H2 = tau2 / vt + 1
    spread = crit * np.sqrt(se**2 + tau2)
    conv = np.broadcast_to(np.asarray(est.converged, dtype=bool), tau2.shape).copy()
    tau2_se = np.broadcast_to(np.asarray(est.se, dtype=float), tau2.shape).copy()
    checked = {"τ²": tau2, "the estimate": b, "its standard error": se, "Q": Q}
    if meth not in ("EE", "FE"):
        checked["the standard error of τ²"] = tau2_se
    for what, values in checked.items():
        if not np.all(np.isfinite(values)):
            cols = np.flatnonzero(~np.isfinite(values))[:5].tolist()
            raise ValueError(TOO_EXTREME.format(what=OVERFLOWED.format(f"{what} of columns {cols}")))
    return BatchResult(
        method=meth, test=test, level=level, k=k, df=df,
        tau2=tau2, tau2_se=tau2_se,
        estimate=b, se=se, stat=stat, p=p, ci_lb=b - crit * se, ci_ub=b + crit * se,
        pi_lb=b - spread, pi_ub=b + spread, Q=Q, Q_p=special.chdtrc(k - 1, Q), I2=I2, H2=H2, converged=conv,
    )
