"""More estimators of τ² (metafor's DLIT, SJIT, PMM and GENQ), on the engine of `strigil.meta.tau2`.

- DLIT: the DerSimonian–Laird estimator iterated to its fixed point τ² = max(0, (Q(τ²) − (k − p)) /
  tr P(τ²)), with Q and P built on the weights 1/(vᵢ + τ²) (DerSimonian & Kacker, 2007, Contemp Clin
  Trials 28:105), started at 0 as metafor. Where the iteration cycles instead of settling (two studies
  with equal variances: τ² ↦ c − τ²), metafor stops with an error; here the fixed point is then found
  by a bracketed root search.
- SJIT: the Sidik–Jonkman estimator iterated, τ² ← τ² Q(τ²)/(k − p) (Sidik & Jonkman, 2005). Its fixed
  point is the root of Q(τ²) = k − p, the Paule–Mandel estimate (or 0 when Q(0) < k − p, which the
  iteration approaches geometrically): solved directly, without iterating.
- PMM: the median-unbiased Paule–Mandel estimator, the root of Q(τ²) = χ²_{k−p, 0.5} (Viechtbauer, 2021,
  metafor's "PMM"; Jackson & Bowden's median-unbiased idea).
- GENQ: the generalized Q-statistic estimator with user weights aᵢ, τ² = (Q_a − tr(P_a V))/tr(P_a)
  (DerSimonian & Kacker, 2007; Jackson, 2013, Res Synth Methods 4:220); DL and HE are its special cases.

Standard errors as metafor's `rma.uni`. All work on y, v of shape (k,) or, without moderators, (k, m).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from strigil.meta.tau2 import Tau2Estimate, _pv_traces, _run, _scalar, _Terms, _terms

__all__ = ["ITERATED", "estimate_iterated"]

_Array = NDArray[np.float64]
ITERATED = ("DLIT", "SJIT", "PMM", "GENQ")
_MAXITER = 1000
_TOL = 1e-14


def _p(X: _Array | None) -> int:
    return 1 if X is None else int(X.shape[1])


def estimate_iterated(method: str, y: _Array, v: _Array, X: _Array | None, *, tau2_fixed: float | None,
                      fe: _Terms, weights: _Array | None) -> Tau2Estimate:
    """τ² by DLIT, SJIT, PMM or GENQ (`y` mean-centred, `fe` the terms at τ² = 0); `weights` are GENQ's."""
    k = y.shape[0]
    df = k - _p(X)
    scale = v.mean(axis=0)
    converged: Any = True
    iterations = 0
    if method == "GENQ":
        if weights is None:
            raise ValueError("method GENQ needs weights (the weights of its generalized Q statistic)")
        a = _terms(y, v, X, 0.0, weights)
        tr_pvpv, tr_pvp = _pv_traces(weights, v, X)
        tr_pv = _tr_pv(weights, v, X)
        tau2 = (a.ypy - tr_pv) / a.tr_p if tau2_fixed is None else np.asarray(tau2_fixed, dtype=float)
        tau2 = np.maximum(tau2, 0.0)
        se = np.sqrt((2 * tr_pvpv + 4 * tau2 * tr_pvp + 2 * tau2**2 * a.tr_pp) / a.tr_p**2)
        return Tau2Estimate(_scalar(tau2), _scalar(se), True, 0)
    if method == "DLIT":
        if tau2_fixed is None:
            tau2, converged, iterations = _dl_fixed_point(y, v, X, df, scale)
        else:
            tau2 = np.asarray(tau2_fixed, dtype=float)
        tm = _terms(y, v, X, tau2)
        se = np.sqrt((2 * df + 4 * tau2 * tm.tr_p + 2 * tau2**2 * tm.tr_pp) / tm.tr_p**2)
        return Tau2Estimate(_scalar(tau2), _scalar(se), _scalar(converged), iterations)
    # SJIT and PMM: roots of the generalized Q(τ²) = target, Q decreasing in τ²
    target = df if method == "SJIT" else special.chdtri(df, 0.5)
    if tau2_fixed is None:
        start = np.maximum((fe.ypy - df) / fe.tr_p, 0.0)
        tau2, converged, iterations = _run("Q", y, v, X, target, start, scale, fe.ypy - target)
    else:
        tau2 = np.asarray(tau2_fixed, dtype=float)
    tau2 = np.maximum(tau2, 0.0)
    tm = _terms(y, v, X, tau2)
    se = np.sqrt(2 * k**2 / df / tm.s1**2)
    return Tau2Estimate(_scalar(tau2), _scalar(se), _scalar(converged), iterations)


def _tr_pv(w: _Array, v: _Array, X: _Array | None) -> Any:
    """tr(P V) for P built on the weights w."""
    if X is None:
        s1 = w.sum(axis=0)
        return (w * v).sum(axis=0) - (w * w * v).sum(axis=0) / s1
    a_inv = np.linalg.inv(X.T @ (w[:, None] * X))
    return float((w * v).sum() - np.trace(a_inv @ (X.T @ ((w * w * v)[:, None] * X))))


def _dl_map(y: _Array, v: _Array, X: _Array | None, df: int, t: float) -> float:
    tm = _terms(y, v, X, t)
    return max(0.0, float((tm.ypy - df) / tm.tr_p))


def _dl_root(y: _Array, v: _Array, X: _Array | None, df: int, scale: float) -> tuple[float, bool]:
    """The fixed point of the DL map by bracketing: g(τ²) = map(τ²) − τ² is >= 0 at 0 and negative far
    out (the map falls like −(k − p)τ²/(k − 1))."""
    def g(t: float) -> float:
        return _dl_map(y, v, X, df, t) - t

    if g(0.0) <= 0:
        return 0.0, True
    hi = max(_dl_map(y, v, X, df, 0.0), scale)
    for _ in range(200):
        if g(hi) < 0:
            return float(optimize.brentq(g, 0.0, hi, xtol=1e-300, rtol=1e-15, maxiter=500)), True
        hi *= 2
    return math.nan, False


def _dl_fixed_point(y: _Array, v: _Array, X: _Array | None, df: int, scale: Any) -> tuple[Any, Any, int]:
    """Iterate τ² ← max(0, (Q(τ²) − df)/tr P(τ²)) from 0 until it settles (columns at once); columns
    that cycle get the fixed point from `_dl_root`."""
    t = np.zeros(y.shape[1:]) if y.ndim > 1 else np.zeros(())
    done = np.zeros(t.shape, dtype=bool)
    for it in range(1, _MAXITER + 1):
        tm = _terms(y, v, X, t)
        new = np.maximum((tm.ypy - df) / tm.tr_p, 0.0)
        done = np.abs(new - t) <= _TOL * (t + scale)
        t = np.where(done, t, new) if t.ndim else (t if done else new)
        if np.all(done):
            return t, True, it
    if y.ndim == 1:
        root, ok = _dl_root(y, v, X, df, float(scale))
        return np.asarray(root), ok, _MAXITER
    roots = np.array(t, dtype=float)
    settled = np.array(done, dtype=bool)
    for j in np.flatnonzero(~settled):
        roots[j], settled[j] = _dl_root(y[:, j], v[:, j], None, df, float(scale[j]))
    return roots, settled, _MAXITER
