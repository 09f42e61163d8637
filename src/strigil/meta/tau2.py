"""Estimators of the between-study variance τ² and the Q-profile confidence interval.

The formulas are those of metafor 3.8 (`rma.uni`, `confint.rma.uni`); the iterative ones are solved
differently: instead of bare Fisher scoring, every iterative estimator (ML, REML, EB, PM) is a root
of a one-dimensional estimating equation in τ², found by Fisher/Newton steps safeguarded by a
bracket that shrinks at every step (bisection whenever a step leaves the bracket), so it always
converges where a root exists. Nothing here builds a k×k matrix: every trace is written through the
p×p matrices X'WⁿX.

References: DerSimonian & Laird (1986); Hedges (1983); Hunter & Schmidt (2004); Sidik & Jonkman
(2005); Paule & Mandel (1982); Morris (1983) for EB; Viechtbauer (2005) for ML/REML and the standard
errors; Viechtbauer (2007) for the Q-profile interval.

Every function accepts `y` and `v` of shape (k,) or, without moderators (`X is None`), (k, m) for m
independent meta-analyses at once; sums run over axis 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = ["ESTIMATORS", "Tau2Estimate", "estimate_tau2", "generalized_q", "q_profile_ci"]

Array = NDArray[np.float64]

ESTIMATORS = ("EE", "FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")

# relative convergence tolerance of the iterative estimators (metafor's default threshold is 1e-5)
_TOL = 1e-12
_MAXITER = 500


@dataclass(frozen=True)
class Tau2Estimate:
    """A τ² estimate with its standard error, convergence flag and iteration count."""

    tau2: Any
    se: Any
    converged: Any
    iterations: int


@dataclass(frozen=True)
class _Terms:
    """Weighted least-squares pieces at one τ² value (P = W − WX(X'WX)⁻¹X'W)."""

    w: Array
    s1: Any  # sum w
    s2: Any  # sum w²
    ypy: Any  # y'Py, the generalized Q
    yppy: Any  # y'PPy
    tr_p: Any
    tr_pp: Any
    logdet_a: Any  # log det X'WX


def _xtdx(X: Array, d: Array) -> Array:
    return np.asarray(X.T @ (d[:, None] * X))


def _terms(y: Array, v: Array, X: Array | None, t: Any, weights: Array | None = None) -> _Terms:
    w = 1.0 / (v + t) if weights is None else weights
    s1 = w.sum(axis=0)
    s2 = (w * w).sum(axis=0)
    if X is None:
        mu = (w * y).sum(axis=0) / s1
        e = y - mu
        we = w * e
        s3 = (w * w * w).sum(axis=0)
        r = s2 / s1
        tr_pp = s2 - 2 * s3 / s1 + r * r
        return _Terms(w, s1, s2, (we * e).sum(axis=0), (we * we).sum(axis=0), s1 - r, tr_pp, np.log(s1))
    A = _xtdx(X, w)
    a_inv = np.linalg.inv(A)
    beta = a_inv @ (X.T @ (w * y))
    e = y - X @ beta
    we = w * e
    m2 = a_inv @ _xtdx(X, w * w)
    m3 = a_inv @ _xtdx(X, w * w * w)
    sign, logdet = np.linalg.slogdet(A)
    # numpy scalars (not floats) so that a zero denominator gives inf/nan, handled by the solver
    f = np.float64
    return _Terms(w, s1, s2, f(we @ e), f(we @ we), f(s1 - np.trace(m2)),
                  f(s2 - 2 * np.trace(m3) + np.trace(m2 @ m2)), f(logdet) if sign > 0 else f(np.nan))


def generalized_q(y: Array, v: Array, X: Array | None, t: Any) -> Any:
    """Generalized Q statistic Σ wᵢ (yᵢ − xᵢ'β̂)² with wᵢ = 1/(vᵢ + τ²) (Q itself at τ² = 0)."""
    return _terms(y, v, X, t).ypy


def _p(X: Array | None) -> int:
    return 1 if X is None else int(X.shape[1])


def _solve(
    gfun: Callable[[Any], tuple[Any, Any]], start: Any, scale: Any, g0: Any
) -> tuple[Any, Any, int]:
    """Root in [0, ∞) of a score g that is positive left of the root; Fisher steps in a bracket.

    `gfun(t)` returns (g, info) with info > 0 the expected slope magnitude, so t + g/info is the
    scoring step. If g(0) <= 0 and g(start) <= 0 the maximum sits on the boundary τ² = 0.
    """
    t = np.maximum(np.asarray(start, dtype=float), 0.0)
    lo = np.zeros_like(t)
    hi = np.full_like(t, np.inf)
    g, info = gfun(t)
    done = np.asarray((g <= 0) & (g0 <= 0))
    t = np.where(done, 0.0, t)
    converged = done.copy()
    it = 0
    for it in range(1, _MAXITER + 1):  # noqa: B007 - the count is reported
        lo = np.where(g > 0, np.maximum(lo, t), lo)
        hi = np.where(g < 0, np.minimum(hi, t), hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            tn = t + g / info
        bad = ~np.isfinite(tn) | (tn <= lo) | (tn >= hi)
        tn = np.where(bad, np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * t + scale), tn)
        step_small = np.abs(tn - t) <= _TOL * (t + scale)
        narrow = np.isfinite(hi) & ((hi - lo) <= _TOL * (hi + scale))
        now = ~done & (step_small | narrow | (g == 0))
        t = np.where(done | (g == 0), t, tn)
        converged = converged | now
        done = done | now
        if bool(np.all(done)):
            break
        g, info = gfun(t)
    return t, converged, it


def _reml_ll(y: Array, v: Array, X: Array | None, t: Any, reml: bool) -> Any:
    tm = _terms(y, v, X, t)
    ll = -0.5 * (np.log(v + t).sum(axis=0) + tm.ypy)
    return ll - 0.5 * tm.logdet_a if reml else ll


def estimate_tau2(
    method: str, y: Array, v: Array, X: Array | None = None, *, tau2_fixed: float | None = None
) -> Tau2Estimate:
    """Estimate τ² with metafor's `method` (EE/FE give 0); `y` should be mean-centred as in metafor.

    With `tau2_fixed` the value is taken as given (its standard error is still computed).
    """
    k = y.shape[0]
    p = _p(X)
    m = method.upper()
    if m not in ESTIMATORS:
        raise ValueError(f"method {method!r} is not supported; allowed: {', '.join(ESTIMATORS)}")
    nan = np.full(y.shape[1:], np.nan) if y.ndim > 1 else np.nan
    if m in ("EE", "FE"):
        return Tau2Estimate(np.zeros(y.shape[1:]) if y.ndim > 1 else 0.0, nan, True, 0)
    df = k - p
    if df <= 0:
        raise ValueError(f"τ² cannot be estimated with k={k} studies and p={p} coefficients (needs k > p)")
    scale = v.mean(axis=0)
    tau2: Any
    iterations = 0
    converged: Any = True
    if m in ("DL", "HS"):
        fe = _terms(y, v, X, 0.0)
        if tau2_fixed is not None:
            tau2 = tau2_fixed
        elif m == "DL":
            tau2 = (fe.ypy - df) / fe.tr_p
        else:
            tau2 = (fe.ypy - k) / fe.s1
        tau2 = np.maximum(tau2, 0.0)
        denom = fe.tr_p if m == "DL" else fe.s1
        se = np.sqrt((2 * df + 4 * tau2 * fe.tr_p + 2 * tau2**2 * fe.tr_pp) / denom**2)
        return Tau2Estimate(_scalar(tau2), _scalar(se), True, 0)
    if m == "HE":
        tau2, se = _hedges(y, v, X, tau2_fixed)
        return Tau2Estimate(_scalar(np.maximum(tau2, 0.0)), _scalar(se), True, 0)
    if m == "SJ":
        # metafor's starting value: the (biased) variance of the effects
        t0 = ((y - y.mean(axis=0)) ** 2).mean(axis=0)
        tm = _terms(y, v, X, t0)
        tau2 = tm.ypy * t0 / df if tau2_fixed is None else tau2_fixed
        tau2 = np.maximum(tau2, 0.0)
        tr_pvpv, tr_pvp = _pv_traces(tm.w, v, X)
        se = np.sqrt(t0**2 / df**2 * (2 * tr_pvpv + 4 * tau2 * tr_pvp + 2 * tau2**2 * tm.tr_pp))
        return Tau2Estimate(_scalar(tau2), _scalar(se), True, 0)
    if tau2_fixed is not None:
        tau2 = np.asarray(tau2_fixed, dtype=float)
    elif m in ("PM", "EB"):
        # EB (Morris, 1983) and PM solve the same equation, generalized Q(τ²) = k − p, which is
        # decreasing in τ²: its root (or 0 when Q(0) < k − p) is unique.
        def g_pm(t: Any) -> tuple[Any, Any]:
            tm = _terms(y, v, X, t)
            return tm.ypy - df, tm.yppy

        q0 = generalized_q(y, v, X, 0.0) - df
        start = np.maximum(_hedges(y, v, X, None)[0], 0.0)
        tau2, converged, iterations = _solve(g_pm, start, scale, q0)
    else:
        reml = m == "REML"

        def g_ml(t: Any) -> tuple[Any, Any]:
            tm = _terms(y, v, X, t)
            if reml:
                return tm.yppy - tm.tr_p, tm.tr_pp
            return tm.yppy - tm.s1, tm.s2

        g0 = g_ml(np.zeros(y.shape[1:]) if y.ndim > 1 else 0.0)[0]
        start = np.maximum(_hedges(y, v, X, None)[0], 0.0)
        tau2, converged, iterations = _solve(g_ml, start, scale, g0)
        # like metafor's ll0check: when τ² = 0 is itself a local maximum, keep the higher one
        check = (g0 <= 0) & (tau2 > 0)
        if bool(np.any(check)):
            ll_t = _reml_ll(y, v, X, tau2, reml)
            ll_0 = _reml_ll(y, v, X, np.zeros_like(tau2), reml)
            tau2 = np.where(check & (ll_0 > ll_t), 0.0, tau2)
    tau2 = np.maximum(tau2, 0.0)
    tm = _terms(y, v, X, tau2)
    if m == "ML":
        se = np.sqrt(2 / tm.s2)
    elif m == "REML":
        se = np.sqrt(2 / tm.tr_pp)
    else:
        se = np.sqrt(2 * k**2 / df / tm.s1**2)
    return Tau2Estimate(_scalar(tau2), _scalar(se), _scalar(converged), iterations)


def _scalar(x: Any) -> Any:
    a = np.asarray(x)
    return a.item() if a.ndim == 0 else a


def _hedges(y: Array, v: Array, X: Array | None, tau2_fixed: float | None) -> tuple[Any, Any]:
    """Hedges' (1983) method-of-moments estimate from the OLS residuals, with its standard error."""
    k = y.shape[0]
    p = _p(X)
    if X is None:
        e = y - y.mean(axis=0)
        rss = (e * e).sum(axis=0)
        sv, sv2 = v.sum(axis=0), (v * v).sum(axis=0)
        tr_pv = sv - sv / k
        tr_pvpv = sv2 - 2 * sv2 / k + (sv / k) ** 2
    else:
        xtx_inv = np.linalg.inv(X.T @ X)
        e = y - X @ (xtx_inv @ (X.T @ y))
        rss = float(e @ e)
        mv = xtx_inv @ _xtdx(X, v)
        tr_pv = float(v.sum() - np.trace(mv))
        tr_pvpv = float((v * v).sum() - 2 * np.trace(xtx_inv @ _xtdx(X, v * v)) + np.trace(mv @ mv))
    df = k - p
    tau2 = (rss - tr_pv) / df if tau2_fixed is None else tau2_fixed
    t = np.maximum(tau2, 0.0)
    se = np.sqrt((2 * tr_pvpv + 4 * t * tr_pv + 2 * t**2 * df) / df**2)
    return tau2 if tau2_fixed is None else np.asarray(tau2_fixed), se


def _pv_traces(w: Array, v: Array, X: Array | None) -> tuple[Any, Any]:
    """tr(PVPV) and tr(PVP) without forming P (V = diag(v))."""
    if X is None:
        s1 = w.sum(axis=0)
        a = (w * w * v).sum(axis=0)
        tr_pvpv = (w * w * v * v).sum(axis=0) - 2 * (w**3 * v * v).sum(axis=0) / s1 + (a / s1) ** 2
        tr_pvp = a - 2 * (w**3 * v).sum(axis=0) / s1 + (w * w).sum(axis=0) * (w * w * v).sum(axis=0) / s1**2
        return tr_pvpv, tr_pvp
    a_inv = np.linalg.inv(_xtdx(X, w))
    c = a_inv @ _xtdx(X, w * w * v)
    m2 = a_inv @ _xtdx(X, w * w)
    tr_pvpv = float((w * w * v * v).sum() - 2 * np.trace(a_inv @ _xtdx(X, w**3 * v * v)) + np.trace(c @ c))
    tr_pvp = float((w * w * v).sum() - 2 * np.trace(a_inv @ _xtdx(X, w**3 * v)) + np.trace(m2 @ c))
    return tr_pvpv, tr_pvp


def q_profile_ci(y: Array, v: Array, X: Array | None, level: float) -> tuple[float, float]:
    """Q-profile confidence interval for τ² (Viechtbauer, 2007), as metafor's `confint()`.

    Bounds solve Q(τ²) = χ²_{k−p} quantiles; a bound whose equation has no root in [0, ∞) is 0.
    Unlike metafor there is no upper search limit (`tau2.max`): the bracket grows until it holds
    the root.
    """
    k = y.shape[0]
    df = k - _p(X)
    if df <= 0:
        return (np.nan, np.nan)
    alpha = 1 - level / 100
    crit_u = float(special.chdtri(df, alpha / 2))  # upper α/2 quantile
    crit_l = float(special.chdtri(df, 1 - alpha / 2))  # lower α/2 quantile
    q0 = float(generalized_q(y, v, X, 0.0))
    scale = float(v.mean())

    def bound(target: float) -> float:
        if q0 <= target:
            return 0.0

        def g(t: Any) -> tuple[Any, Any]:
            tm = _terms(y, v, X, t)
            return tm.ypy - target, tm.yppy

        root, _, _ = _solve(g, 0.0, scale, np.asarray(q0 - target))
        return float(root)

    return bound(crit_u), bound(crit_l)
