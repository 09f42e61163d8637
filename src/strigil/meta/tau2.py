"""Estimators of the between-study variance τ² and the Q-profile confidence interval.

The formulas are those of metafor 3.8 (`rma.uni`, `confint.rma.uni`); the iterative ones are solved
differently: instead of bare Fisher scoring, every iterative estimator (ML, REML, EB, PM) is a root
of a one-dimensional estimating equation in τ², found by Fisher/Newton steps safeguarded by a
bracket that shrinks at every step (bisection whenever a step leaves the bracket), so it always
converges where a root exists. Nothing here builds a k×k matrix: every trace is written through the
p×p matrices X'WⁿX.

References: DerSimonian & Laird (1986); Hedges (1983); Hunter & Schmidt (2004); Sidik & Jonkman
(2005); Paule & Mandel (1982); Morris (1983) for EB; Viechtbauer (2005) for ML/REML and the standard
errors; Viechtbauer (2007) for the Q-profile interval. DLIT, SJIT, PMM and GENQ: `tau2_iterated`.

Every function accepts `y` and `v` of shape (k,) or, without moderators (`X is None`), (k, m) for m
independent meta-analyses at once; sums run over axis 0. The public ones refuse data too extreme for
double precision (an overflow, a division by zero, a NaN on the way) with a ValueError saying so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = [
    "ESTIMATORS",
    "OVERFLOWED",
    "TOO_EXTREME",
    "WEIGHTED_ESTIMATORS",
    "Tau2Estimate",
    "estimate_tau2",
    "estimate_tau2_unchecked",
    "finite_arithmetic",
    "generalized_q",
    "q_profile_ci",
]

_Array = NDArray[np.float64]

ESTIMATORS = ("EE", "FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM", "DLIT", "SJIT", "PMM")
# estimators that need user weights (rma's `weights`), so not in the batch engine
WEIGHTED_ESTIMATORS = ("GENQ",)

# relative convergence tolerance of the iterative estimators (metafor's default threshold is 1e-5)
_TOL = 1e-12
_MAXITER = 500
# a Newton step this small (relative) leaves an error of its square: far below _TOL
_NEWTON_TOL = 1e-7


# What the user reads when the data leave double precision's range. Effects near ±1e123 with variances near
# 1 already do: the estimators square τ² (≈ the squared spread of the effects) and cube the weights.
TOO_EXTREME = (
    "yi and vi are too extreme for double-precision arithmetic: {what} (effects near ±1e123 with variances "
    "near 1 already are); check the data's units and for entry errors"
)
OVERFLOWED = "{} overflowed or lost all precision"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def finite_arithmetic(what: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Run the function with floating-point overflow, division by zero and invalid operations raising, and
    report any of them (or Python's ZeroDivisionError/OverflowError, or a numerically singular weighted
    design matrix) as a ValueError saying the data are too extreme, instead of an inf/nan estimate or a
    crash deep inside a formula.

    Code that produces NaN on purpose (a step that must fall back to bisection) keeps its own
    `np.errstate(..., invalid="ignore")`, which takes precedence inside it.
    """

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with np.errstate(over="raise", divide="raise", invalid="raise"):
                try:
                    return fn(*args, **kwargs)
                except ArithmeticError as exc:  # FloatingPointError, ZeroDivisionError, OverflowError
                    raise ValueError(TOO_EXTREME.format(what=OVERFLOWED.format(what))) from exc
                except np.linalg.LinAlgError as exc:
                    # rma refuses collinear moderators up front, so a singular X'WX here means weights
                    # 1/(vᵢ + τ²) spanning more orders of magnitude than double precision holds
                    singular = f"{what} met a numerically singular weighted design matrix"
                    raise ValueError(TOO_EXTREME.format(what=singular)) from exc

        return run

    return wrap


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

    w: _Array
    s1: Any  # sum w
    s2: Any  # sum w²
    ypy: Any  # y'Py, the generalized Q
    yppy: Any  # y'PPy
    tr_p: Any
    tr_pp: Any
    logdet_a: Any  # log det X'WX
    upu: Any  # u'Pu with u = Py: minus half the derivative of y'PPy in τ²


def _coldot(a: _Array, b: _Array) -> _Array:
    """Column-wise Σᵢ aᵢⱼ bᵢⱼ."""
    return np.einsum("ij,ij->j", a, b)


def _xtdx(X: _Array, d: _Array) -> _Array:
    return np.asarray(X.T @ (d[:, None] * X))


def _terms1(y: _Array, w: _Array) -> _Terms:
    """`_terms` for one meta-analysis without moderators, in floats (the hot path)."""
    # dot products only: on k ≈ 20 the per-call overhead, not the arithmetic, is the cost
    ww = w * w
    s1 = float(np.add.reduce(w))
    s2, s3 = float(w @ w), float(ww @ w)
    e = y - float(w @ y) / s1
    u = w * e
    wu = float(w @ u)
    r = s2 / s1
    return _Terms(w, s1, s2, float(u @ e), float(u @ u), s1 - r, s2 - 2 * s3 / s1 + r * r, math.log(s1),
                  float((w * u) @ u) - wu * wu / s1)


def _terms(y: _Array, v: _Array, X: _Array | None, t: Any, weights: _Array | None = None) -> _Terms:
    w = 1.0 / (v + t) if weights is None else weights
    if X is None and y.ndim == 1:
        return _terms1(y, w)
    s1 = w.sum(axis=0)
    if X is None:  # k × m: fused multiply-and-sum over the studies, column by column
        dot = _coldot
        ww = w * w
        s2 = ww.sum(axis=0)
        e = y - dot(w, y) / s1
        u = w * e
        wu = dot(w, u)
        r = s2 / s1
        tr_pp = s2 - 2 * dot(ww, w) / s1 + r * r
        upu = dot(u * w, u) - wu * wu / s1
        return _Terms(w, s1, s2, dot(u, e), dot(u, u), s1 - r, tr_pp, np.log(s1), upu)
    s2 = (w * w).sum(axis=0)
    A = _xtdx(X, w)
    a_inv = np.linalg.inv(A)
    beta = a_inv @ (X.T @ (w * y))
    e = y - X @ beta
    we = w * e
    m2 = a_inv @ _xtdx(X, w * w)
    m3 = a_inv @ _xtdx(X, w * w * w)
    sign, logdet = np.linalg.slogdet(A)
    ru = we - X @ (a_inv @ (X.T @ (w * we)))
    f = float
    return _Terms(w, s1, s2, f(we @ e), f(we @ we), f(s1 - np.trace(m2)),
                  f(s2 - 2 * np.trace(m3) + np.trace(m2 @ m2)), f(logdet) if sign > 0 else math.nan,
                  f((w * ru) @ ru))


@finite_arithmetic("the generalized Q statistic")
def generalized_q(y: _Array, v: _Array, X: _Array | None, t: Any) -> Any:
    """Generalized Q statistic Σ wᵢ (yᵢ − xᵢ'β̂)² with wᵢ = 1/(vᵢ + τ²) (Q itself at τ² = 0)."""
    return _terms(y, v, X, t).ypy


def _p(X: _Array | None) -> int:
    return 1 if X is None else int(X.shape[1])


def _score(kind: str, y: _Array, v: _Array, X: _Array | None, t: Any, target: Any) -> tuple[Any, Any, Any]:
    """An estimating equation g(τ²), positive left of its root, the step denominator, and whether
    that denominator is the exact −g'(τ²) (a Newton step, converging quadratically).

    kind "REML"/"ML": twice the (restricted) likelihood score; the denominator is −g'(τ²) (a
    Newton step) where the profile is concave and the Fisher information (metafor's scoring step)
    where it is not. kind "Q": generalized Q(τ²) − target, with −Q'(τ²) = y'PPy (Newton).
    """
    tm = _terms(y, v, X, t)
    if kind == "Q":
        return tm.ypy - target, tm.yppy, True
    reml = kind == "REML"
    info = tm.tr_pp if reml else tm.s2
    slope = info - 2 * tm.upu
    exact = slope < 0
    den = (-slope if exact else info) if isinstance(slope, float) else np.where(exact, -slope, info)
    return (tm.yppy - tm.tr_p if reml else tm.yppy - tm.s1), den, exact


def _solve1(
    kind: str, y: _Array, v: _Array, X: _Array | None, target: float, start: float, scale: float, g0: float
) -> tuple[float, bool, int]:
    """Root in [0, ∞) of `_score(kind)`: scoring/Newton steps kept inside a shrinking bracket.

    A step that leaves the bracket (lo, hi) is replaced by bisection (or, before any upper bound is
    known, by doubling), so the search converges wherever a root exists. If g(0) <= 0 and
    g(start) <= 0 the maximum sits on the boundary τ² = 0.
    """
    t = max(float(start), 0.0)
    g, den, exact = _score(kind, y, v, X, t, target)
    if g <= 0 and g0 <= 0:
        return 0.0, True, 0
    lo, hi = 0.0, math.inf
    for it in range(1, _MAXITER + 1):
        if g == 0:
            return t, True, it
        if g > 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        tn = t + g / den if den > 0 and math.isfinite(den) else math.nan
        newton = exact and lo < tn < hi
        if not (lo < tn < hi):
            tn = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * t + scale
        step = abs(tn - t)
        if (step <= (_NEWTON_TOL if newton else _TOL) * (t + scale)
                or (math.isfinite(hi) and hi - lo <= _TOL * (hi + scale))):
            return tn, True, it
        t = tn
        g, den, exact = _score(kind, y, v, X, t, target)
    return t, False, _MAXITER


def _solve(
    kind: str, y: _Array, v: _Array, target: Any, start: _Array, scale: _Array, g0: _Array
) -> tuple[_Array, NDArray[np.bool_], int]:
    """`_solve1` for the m columns of y, v (k × m) at once; finished columns leave the active set."""
    m = y.shape[1]
    t = np.maximum(np.broadcast_to(np.asarray(start, dtype=float), (m,)), 0.0).copy()
    tg_all = np.broadcast_to(np.asarray(target, dtype=float), (m,))
    g, den, exact = _score(kind, y, v, None, t, tg_all)
    exact = np.broadcast_to(exact, g.shape)
    done = (g <= 0) & (g0 <= 0)
    t[done] = 0.0
    converged = done.copy()
    act = np.flatnonzero(~done)
    ya, va, ta, sa, tg = y[:, act], v[:, act], t[act], scale[act], tg_all[act]
    ga, da, ea = g[act], den[act], exact[act]
    lo = np.zeros_like(ta)
    hi = np.full_like(ta, np.inf)
    it = 0
    while act.size and it < _MAXITER:
        it += 1
        lo = np.where(ga > 0, np.maximum(lo, ta), lo)
        hi = np.where(ga < 0, np.minimum(hi, ta), hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            tn = np.where(da > 0, ta + ga / da, np.nan)
        bad = ~np.isfinite(tn) | (tn <= lo) | (tn >= hi)
        tn = np.where(bad, np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * ta + sa), tn)
        tn = np.where(ga == 0, ta, tn)
        tol = np.where(ea & ~bad, _NEWTON_TOL, _TOL)
        fin = (np.abs(tn - ta) <= tol * (ta + sa)) | (ga == 0)
        fin |= np.isfinite(hi) & (hi - lo <= _TOL * (hi + sa))
        t[act[fin]] = tn[fin]
        converged[act[fin]] = True
        keep = ~fin
        act = act[keep]
        if not act.size:
            break
        ya, va, ta, sa, tg = ya[:, keep], va[:, keep], tn[keep], sa[keep], tg[keep]
        lo, hi = lo[keep], hi[keep]
        ga, da, ea = _score(kind, ya, va, None, ta, tg)
        ea = np.broadcast_to(ea, ga.shape)
    t[act] = ta if act.size else t[act]
    return t, converged, it


def _reml_ll(y: _Array, v: _Array, X: _Array | None, t: Any, reml: bool) -> Any:
    tm = _terms(y, v, X, t)
    ll = -0.5 * (np.log(v + t).sum(axis=0) + tm.ypy)
    return ll - 0.5 * tm.logdet_a if reml else ll


def estimate_tau2_unchecked(
    method: str,
    y: _Array,
    v: _Array,
    X: _Array | None = None,
    *,
    tau2_fixed: float | None = None,
    fe: _Terms | None = None,
    weights: _Array | None = None,
) -> Tau2Estimate:
    """Estimate τ² with metafor's `method` (EE/FE give 0); `y` should be mean-centred as in metafor.

    With `tau2_fixed` the value is taken as given (its standard error is still computed). `fe` may
    pass the terms at τ² = 0 when the caller has them already; `weights` are GENQ's. DLIT, SJIT, PMM
    and GENQ are computed in `strigil.meta.tau2_iterated`. No guard against overflow here:
    `estimate_tau2` is this function under `finite_arithmetic`.
    """
    k = y.shape[0]
    p = _p(X)
    m = method.upper()
    if m not in ESTIMATORS + WEIGHTED_ESTIMATORS:
        allowed = ", ".join(ESTIMATORS + WEIGHTED_ESTIMATORS)
        raise ValueError(f"method {method!r} is not supported; allowed: {allowed}")
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
    if fe is None:
        fe = _terms(y, v, X, 0.0)
    if m in ("DLIT", "SJIT", "PMM", "GENQ"):
        from strigil.meta.tau2_iterated import estimate_iterated

        return estimate_iterated(m, y, v, X, tau2_fixed=tau2_fixed, fe=fe, weights=weights)
    if m in ("DL", "HS"):
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
        q0 = fe.ypy - df
        start = np.maximum((fe.ypy - df) / fe.tr_p, 0.0)  # the DL estimate: free, and close
        tau2, converged, iterations = _run("Q", y, v, X, df, start, scale, q0)
    else:
        reml = m == "REML"
        g0 = fe.yppy - fe.tr_p if reml else fe.yppy - fe.s1
        # start from the DL estimate (free from the τ² = 0 terms; metafor starts from HE)
        start = np.maximum((fe.ypy - df) / fe.tr_p, 0.0)
        tau2, converged, iterations = _run(m, y, v, X, None, start, scale, g0)
        tau2 = _beyond_zero(m, y, v, X, tau2, scale)
        # like metafor's ll0check: when τ² = 0 is itself a local maximum, keep the higher one
        check = (g0 <= 0) & (tau2 > 0)
        if y.ndim == 1:
            if check and _reml_ll(y, v, X, 0.0, reml) > _reml_ll(y, v, X, tau2, reml):
                tau2 = 0.0
        elif check.any():
            cols = np.flatnonzero(check)
            yc, vc = y[:, cols], v[:, cols]
            ll_0 = _reml_ll(yc, vc, None, np.zeros(cols.size), reml)
            worse = ll_0 > _reml_ll(yc, vc, None, tau2[cols], reml)
            tau2 = tau2.copy()
            tau2[cols[worse]] = 0.0
    tau2 = np.maximum(tau2, 0.0)
    tm = _terms(y, v, X, tau2)
    if m == "ML":
        se = np.sqrt(2 / tm.s2)
    elif m == "REML":
        se = np.sqrt(2 / tm.tr_pp)
    else:
        se = np.sqrt(2 * k**2 / df / tm.s1**2)
    return Tau2Estimate(_scalar(tau2), _scalar(se), _scalar(converged), iterations)


# The public estimator refuses inf/nan; `rma` and `rma_batch` guard their whole fit once and call the
# unchecked one, and so do the refitting loops (leave-one-out, permutations), where every µs counts.
estimate_tau2 = finite_arithmetic("the τ² estimate")(estimate_tau2_unchecked)


def _beyond_zero(kind: str, y: _Array, v: _Array, X: _Array | None, tau2: Any, scale: Any) -> Any:
    """Where the search stopped at τ² = 0, look for an interior maximum as well.

    The (restricted) likelihood profile can be bimodal: τ² = 0 a local maximum and a higher one
    further out (metafor, starting from the HE estimate, may find either). A geometric grid from
    min(v)/8 to 8 (max(v) + var(y)), step ×3, finds a point with a positive score; the bracketed
    search climbs from there and the caller keeps the higher likelihood.
    """
    if y.ndim == 1:
        if tau2 > 0:
            return tau2
        t, hi = float(v.min()) / 8, 8 * (float(v.max()) + float(y.var()))
        while t <= hi:
            if _score(kind, y, v, X, t, None)[0] > 0:
                root, ok, _ = _solve1(kind, y, v, X, math.nan, t, scale, 1.0)
                return root if ok else tau2
            t *= 3
        return tau2
    cols = np.flatnonzero(tau2 == 0)
    if not cols.size:
        return tau2
    yc, vc = y[:, cols], v[:, cols]
    t, hi = vc.min(axis=0) / 8, 8 * (vc.max(axis=0) + yc.var(axis=0))
    found = np.full(cols.size, np.nan)
    while True:
        active = np.isnan(found) & (t <= hi)
        if not active.any():
            break
        g = _score(kind, yc, vc, None, t, np.nan)[0]
        found = np.where(active & (g > 0), t, found)
        t = t * 3
    hit = np.flatnonzero(~np.isnan(found))
    if hit.size:
        yh, vh = yc[:, hit], vc[:, hit]
        roots, done, _ = _solve(kind, yh, vh, np.nan, found[hit], scale[cols[hit]], np.ones(hit.size))
        tau2 = np.asarray(tau2, dtype=float).copy()
        tau2[cols[hit]] = np.where(done, roots, 0.0)
    return tau2


def _run(kind: str, y: _Array, v: _Array, X: _Array | None, target: Any, start: Any, scale: Any,
         g0: Any) -> tuple[Any, Any, int]:
    if y.ndim > 1:
        return _solve(kind, y, v, target, start, scale, g0)
    return _solve1(kind, y, v, X, target, float(start), float(scale), float(g0))


def _scalar(x: Any) -> Any:
    a = np.asarray(x)
    return a.item() if a.ndim == 0 else a


def _hedges(y: _Array, v: _Array, X: _Array | None, tau2_fixed: float | None) -> tuple[Any, Any]:
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


def _pv_traces(w: _Array, v: _Array, X: _Array | None) -> tuple[Any, Any]:
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


@finite_arithmetic("the Q-profile interval for τ²")
def q_profile_ci(y: _Array, v: _Array, X: _Array | None, level: float) -> tuple[float, float]:
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
        root, converged, _ = _solve1("Q", y, v, X, target, 0.0, scale, q0 - target)
        if not converged:
            # Q(τ²) is decreasing, so the bracketed search always converges unless the root lies beyond
            # 2^500 sampling variances: its last iterate would be a silently wrong bound.
            what = f"the Q-profile bound for τ² found no root in {_MAXITER} steps"
            raise ValueError(TOO_EXTREME.format(what=what))
        return float(root)

    return bound(crit_u), bound(crit_l)
