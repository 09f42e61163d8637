"""Fixed/equal- and random-effects models and meta-regression (metafor's `rma.uni`).

The formulas follow metafor 3.8: β̂ by weighted least squares with wᵢ = 1/(vᵢ + τ²); Wald tests
with the normal (`test="z"`), the t distribution with k − p df (`"t"`) or the Hartung–Knapp–
Sidik–Jonkman scaling of the covariance matrix (`"knha"`; Hartung & Knapp, 2001; Sidik & Jonkman,
2002); Cochran's Q with inverse-variance weights; I² = 100 τ²/(ṽ + τ²) and H² = τ²/ṽ + 1 with the
"typical" variance ṽ = (k − p)/tr(P) (Higgins & Thompson, 2002, generalised as in metafor); the
prediction interval β̂ ± crit √(SE² + τ²) (Riley et al., 2011); the omnibus QM test (χ² or F);
and the pseudo-R² = max(0, 100 (τ²_RE − τ²_ME)/τ²_RE) of Raudenbush (2009).

Subgroups (`subgroup=`): each level is fitted separately with the same method and test (metafor's
`rma(..., subset=group == level)`, so every subgroup has its own τ²), and the between-subgroup test
is Cochran's Q of the subgroup estimates with weights 1/SE², df = G − 1 (the "separate τ²"
definition, as in metafor's FAQ "comparing estimates of independent meta-analyses" and RevMan).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strigil.meta.escalc import EffectSizes
from strigil.meta.result import Coefficient, RMAResult, Subgroup
from strigil.meta.tau2 import (
    ESTIMATORS,
    OVERFLOWED,
    TOO_EXTREME,
    WEIGHTED_ESTIMATORS,
    _terms,
    estimate_tau2_unchecked,
    finite_arithmetic,
)

__all__ = ["TESTS", "between_subgroups", "critical_value", "fit_design", "formula_moderators", "rma"]

_Array = NDArray[np.float64]

TESTS = ("z", "t", "knha")
_SQRT2 = math.sqrt(2.0)
_EPS = np.finfo(float).eps


@lru_cache(maxsize=256)
def critical_value(level: float, df: int | None) -> float:
    """Two-sided critical value of the normal (df None) or t distribution at `level` percent."""
    upper = 1 - (1 - level / 100) / 2
    if df is None:
        return float(special.ndtri(upper))
    return float(special.stdtrit(df, upper)) if df > 0 else math.nan


def _p_value(stat: float, df: int | None) -> float:
    if df is None:
        return math.erfc(abs(stat) / _SQRT2)
    return float(2 * special.stdtr(df, -abs(stat))) if df > 0 else math.nan


def _as_vector(name: str, values: Any) -> _Array:
    """A 1-D float array (NaN and ±inf kept: the caller leaves those studies out)."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; got {values!r}") from exc
    arr = np.atleast_1d(arr)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}")
    return arr


def _named(name: str, value: Any, data: Any) -> Any:
    """`value`, or the column of `data` it names."""
    if isinstance(value, str):
        from strigil.meta.formula import column

        return column(data, value)
    return value


def formula_moderators(formula: str, data: Any, k: int) -> tuple[_Array, tuple[str, ...], bool]:
    """A moderator formula ("~ dose + technique") on `data`: the matrix without the intercept column, the
    coefficient names as metafor writes them, and whether the formula keeps an intercept."""
    from strigil.meta.formula import formula_design

    if data is None:
        raise ValueError(f"the moderator formula {formula!r} needs data")
    design = formula_design(formula, data)
    if design.X.shape[0] != k:
        raise ValueError(f"the data have {design.X.shape[0]} rows for k={k} studies")
    M = design.X[:, 1:] if design.intercept else design.X
    names = design.names[1:] if design.intercept else design.names
    return M, tuple(names), design.intercept


def _moderator_matrix(mods: Any, k: int) -> _Array | None:
    """The moderators as a k × q float matrix (NaN kept), or None without moderators."""
    if mods is None:
        return None
    if isinstance(mods, Mapping):
        cols = [np.asarray(mods[n], dtype=float) for n in mods]
        if any(c.ndim != 1 or c.shape[0] != k for c in cols):
            raise ValueError(f"mods must have one row per study ({k}); got lengths {[c.shape for c in cols]}")
        return np.column_stack(cols) if cols else np.empty((k, 0))
    try:
        M = np.asarray(mods, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"mods must be numeric (or a formula on data, e.g. '~ dose'); got {mods!r}") from exc
    if M.ndim == 1:
        M = M[:, None]
    if M.ndim != 2 or M.shape[0] != k:
        raise ValueError(f"mods must have one row per study ({k}); got shape {M.shape}")
    return M


def _design(
    M: _Array | None, mod_names: Sequence[str] | None, intercept: bool, k: int, mods: Any = None
) -> tuple[_Array | None, tuple[str, ...]]:
    if M is None:
        if not intercept:
            raise ValueError("a model without moderators needs the intercept (intercept=True)")
        return None, ("intrcpt",)
    if isinstance(mods, Mapping):
        names = [str(n) for n in mods]
    else:
        names = list(mod_names) if mod_names is not None else [f"mod{j + 1}" for j in range(M.shape[1])]
    if mod_names is not None and isinstance(mods, Mapping):
        names = list(mod_names)
    if len(names) != M.shape[1]:
        raise ValueError(f"mod_names has {len(names)} names for {M.shape[1]} moderator column(s)")
    if M.shape[1] == 0:
        return _design(None, None, intercept, k)
    X = np.column_stack([np.ones(k), M]) if intercept else M
    all_names = (("intrcpt",) if intercept else ()) + tuple(names)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(f"the moderators {names} are collinear (with the intercept); drop a redundant one")
    return X, all_names


def rma(
    yi: Any = "yi",
    vi: Any = "vi",
    *,
    mods: Any = None,
    mod_names: Sequence[str] | None = None,
    intercept: bool = True,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    subgroup: Any = None,
    weights: Any = None,
    control: Mapping[str, Any] | None = None,
    slab: Any = None,
    data: Any = None,
) -> RMAResult:
    """Fit a fixed/equal- or random-effects model or meta-regression, as metafor's `rma()`.

    Studies with a missing or non-finite yi, vi, weight or moderator are left out, as metafor does, and
    listed in `RMAResult.omitted`; vi <= 0 is an error.

    Parameters:
        yi: the effect sizes — values, the name of a column of `data` (default "yi"), or the result of
            `escalc` (its yi and vi; its rows are the data for column names and formulas).
        vi: their sampling variances — values or a column name (default "vi").
        mods: moderators (meta-regression): a formula on `data` ("~ dose + technique"; text columns are
            categorical with R's treatment coding, see `strigil.meta.formula`), a k × q array, or a mapping
            name → values.
        mod_names: names of the columns of an array `mods`.
        intercept: include the intercept (as metafor's default).
        method: the τ² estimator — EE (= FE), DL, HE, HS, SJ, ML, REML, EB, PM, DLIT, SJIT, PMM, or GENQ
            (which needs `weights`, the weights of its generalized Q).
        test: "z", "t" or "knha" (Hartung–Knapp–Sidik–Jonkman).
        level: the confidence level in percent.
        subgroup: one label per study (or a column name): each subgroup is also fitted on its own.
        weights: user weights (or a column name) instead of 1/(vᵢ + τ²).
        control: {"tau2": value} fixes τ² instead of estimating it.
        slab: study labels (or a column name); with an `escalc` result, its labels unless given here.
        data: a pandas DataFrame or a mapping column → values that the names above refer to.

    Returns the fitted `RMAResult`: `summary()` prints what metafor prints, `to_frame()` tabulates it.
    """
    if isinstance(yi, EffectSizes):
        if not (isinstance(vi, str) and vi == "vi"):
            raise ValueError("vi comes with the escalc result; do not give it as well")
        if data is None:
            data = {**yi.rows, "yi": list(yi.yi), "vi": list(yi.vi)}
        if slab is None:
            slab = yi.slab
        yi, vi = yi.yi, yi.vi
    y = _as_vector("yi", _named("yi", yi, data))
    v = _as_vector("vi", _named("vi", vi, data))
    if y.shape != v.shape:
        raise ValueError(f"yi has {y.shape[0]} values but vi has {v.shape[0]}")
    k_all = y.shape[0]
    if k_all == 0:
        raise ValueError("no studies: yi and vi are empty")
    meth = method.upper()
    if meth not in ESTIMATORS + WEIGHTED_ESTIMATORS:
        allowed = ", ".join(ESTIMATORS + WEIGHTED_ESTIMATORS)
        raise ValueError(f"method {method!r} is not supported; allowed: {allowed}")
    if test not in TESTS:
        raise ValueError(f"test {test!r} is not supported; allowed: {', '.join(TESTS)}")
    if not 0 < level < 100:
        raise ValueError(f"level must lie strictly between 0 and 100; got {level!r}")
    tau2_fixed = None
    if control:
        unknown = set(control) - {"tau2"}
        if unknown:
            raise ValueError(f"unknown control setting(s) {sorted(unknown)}; allowed: tau2")
        if control.get("tau2") is not None:
            tau2_fixed = float(control["tau2"])
            if not (math.isfinite(tau2_fixed) and tau2_fixed >= 0):
                raise ValueError(f"control tau2 must be a finite number >= 0; got {control['tau2']!r}")
    keep = np.isfinite(y) & np.isfinite(v)
    w_user = None
    if weights is not None:
        w_user = _as_vector("weights", _named("weights", weights, data))
        if w_user.shape != y.shape:
            raise ValueError(f"weights has {w_user.shape[0]} values for k={k_all} studies")
        keep &= np.isfinite(w_user)
    elif meth == "GENQ":
        raise ValueError("method GENQ needs weights (the weights of its generalized Q statistic)")
    if isinstance(mods, str):
        mods, mod_names, intercept = formula_moderators(mods, data, k_all)
    M_all = _moderator_matrix(mods, k_all)
    if M_all is not None:
        keep &= np.all(np.isfinite(M_all), axis=1)
    omitted = tuple(int(i) for i in np.flatnonzero(~keep))
    if not keep.any():
        raise ValueError(f"no study is left: all {k_all} have a missing or non-finite yi, vi, weight or "
                         "moderator")
    y, v = y[keep], v[keep]
    k = y.shape[0]
    if np.any(v <= 0):
        rows = np.flatnonzero(keep)[np.flatnonzero(v <= 0)][:5].tolist()
        raise ValueError(f"vi must be > 0 (a sampling variance); rows {rows} are not")
    if w_user is not None:
        w_user = w_user[keep]
        if np.any(w_user <= 0):
            raise ValueError("weights must be positive, one per study")
    X, names = _design(None if M_all is None else M_all[keep], mod_names, intercept, k, mods)
    if X is not None and X.shape[1] > k:
        raise ValueError(f"{X.shape[1]} coefficients cannot be estimated from k={k} studies")
    slab = _named("slab", slab, data)
    labels = tuple(str(s) for s in slab) if slab is not None else None
    if labels is not None:
        if len(labels) != k_all:
            raise ValueError(f"slab has {len(labels)} labels for k={k_all} studies")
        labels = tuple(labels[i] for i in np.flatnonzero(keep))
    subgroup = _named("subgroup", subgroup, data)
    if subgroup is not None:
        groups = list(subgroup)
        if len(groups) != k_all:
            raise ValueError(f"subgroup has {len(groups)} labels for k={k_all} studies")
        subgroup = [groups[i] for i in np.flatnonzero(keep)]
    res = _fit_checked(y, v, X, names, intercept=intercept, method=meth, test=test, level=level,
                       weights=w_user, tau2_fixed=tau2_fixed, slab=labels, subgroup=subgroup)
    return replace(res, omitted=omitted) if omitted else res


@finite_arithmetic("the model fit")
def _fit_checked(y: _Array, v: _Array, X: _Array | None, names: tuple[str, ...], *, subgroup: Any,
                 **options: Any) -> RMAResult:
    """`fit_design` (and the subgroups) on validated input: finite results, else a clear ValueError."""
    res = fit_design(y, v, X, names, **options)
    _require_finite(res)
    if subgroup is None:
        return res
    return _with_subgroups(res, y, v, subgroup, options["method"], options["test"], options["level"])


def _require_finite(res: RMAResult) -> None:
    """Every estimate of a fit that has one is a finite number (NaN only where it is so by definition)."""
    values: dict[str, float] = {"τ²": res.tau2, "Q": res.Q, "I²": res.I2, "H²": res.H2}
    if res.method not in ("EE", "FE") and res.k > res.p:  # otherwise τ² has no standard error
        values["the standard error of τ²"] = res.tau2_se
    for c in res.beta:
        values[f"the coefficient {c.name}"] = c.estimate
        if res.test != "knha" or res.k > res.p:  # Knapp-Hartung scaling needs residual df
            values[f"the standard error of {c.name}"] = c.se
    for what, value in values.items():
        if not math.isfinite(value):
            raise ValueError(TOO_EXTREME.format(what=OVERFLOWED.format(what)))


def fit_design(
    y: _Array,
    v: _Array,
    X: _Array | None,
    names: tuple[str, ...],
    *,
    intercept: bool = True,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    weights: _Array | None = None,
    tau2_fixed: float | None = None,
    slab: tuple[str, ...] | None = None,
    r2: bool = True,
) -> RMAResult:
    """Fit on validated arrays (X None = intercept only): the cheap path for loops (leave-one-out,
    permutations). No input checks beyond what the arithmetic needs."""
    if X is None and weights is None:
        return _fit_intercept_only(y, v, method, test, level, tau2_fixed, slab)
    k = y.shape[0]
    p = 1 if X is None else X.shape[1]
    ymc = y - y.mean()
    if k == 1:
        tau2, tau2_se, converged = (0.0 if tau2_fixed is None else tau2_fixed), math.nan, True
    else:
        est = estimate_tau2_unchecked(method, ymc, v, X, tau2_fixed=tau2_fixed, weights=weights)
        tau2, tau2_se, converged = float(est.tau2), float(est.se), bool(est.converged)
    w = 1.0 / (v + tau2)
    Xd = np.ones((k, 1)) if X is None else X
    if weights is None:
        if X is None:
            s1 = float(w.sum())
            b = np.array([float(w @ y) / s1])
            vb = np.array([[1.0 / s1]])
        else:
            vb = np.linalg.inv(Xd.T @ (w[:, None] * Xd))
            b = vb @ (Xd.T @ (w * y))
        resid = y - Xd @ b
        rss_knha = float(w @ (resid * resid))
    else:
        a_inv = np.linalg.inv(Xd.T @ (weights[:, None] * Xd))
        b = a_inv @ (Xd.T @ (weights * y))
        sandwich = Xd.T @ ((weights * weights * (v + tau2))[:, None] * Xd)
        vb = a_inv @ sandwich @ a_inv
        if test == "knha":
            bw = np.linalg.solve(Xd.T @ (w[:, None] * Xd), Xd.T @ (w * y))
            r = y - Xd @ bw
            rss_knha = float(w @ (r * r))
        else:
            rss_knha = math.nan
    df = k - p if test in ("t", "knha") else None
    if test == "knha":
        # metafor sets the scaling factor to 0 when the weighted RSS vanishes (all yi equal)
        s2w = 0.0 if rss_knha <= _EPS else rss_knha / (k - p) if k > p else math.nan
        vb = vb * s2w
    crit = critical_value(level, df)
    se = np.sqrt(np.diag(vb))
    coefs = []
    for j, name in enumerate(names):
        est_j, se_j = float(b[j]), float(se[j])
        stat = est_j / se_j if se_j > 0 else (math.copysign(math.inf, est_j) if est_j != 0 else math.nan)
        p_j = _p_value(stat, df) if not math.isnan(stat) else math.nan
        coefs.append(Coefficient(name, est_j, se_j, stat, p_j, est_j - crit * se_j, est_j + crit * se_j))
    # omnibus test of all coefficients except the intercept (all of them when there is none)
    btt = list(range(1, p)) if (intercept and p > 1) else list(range(p))
    m = len(btt)
    QM, QM_p = _omnibus(b, vb, btt, df)
    # heterogeneity: always with inverse-variance weights, on the centred effects (as metafor)
    if k > p:
        fe = _terms(ymc, v, X, 0.0)
        Q = max(0.0, float(fe.ypy))
        Q_p = float(special.chdtrc(k - p, Q))
        vt = (k - p) / float(fe.tr_p)
        if method in ("EE", "FE"):
            I2 = max(0.0, 100 * (Q - (k - p)) / Q) if Q > 0 else 0.0
            H2 = Q / (k - p)
        else:
            I2 = 100 * tau2 / (vt + tau2)
            H2 = tau2 / vt + 1
    else:
        Q, Q_p, I2, H2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    pi_lb = pi_ub = None
    if X is None:
        spread = crit * math.sqrt(float(se[0]) ** 2 + tau2)
        pi_lb, pi_ub = float(b[0]) - spread, float(b[0]) + spread
    R2 = None
    if X is not None and intercept and p > 1 and r2:
        R2 = _pseudo_r2(y, v, X, b, tau2, method, test, weights, ymc, w)
    return RMAResult(
        k=k, p=p, method=method, test=test, dist="z" if df is None else "t", df=df,
        tau2=tau2, tau2_se=tau2_se, I2=I2, H2=H2, Q=Q, Q_df=k - p, Q_p=Q_p, beta=tuple(coefs),
        pi_lb=pi_lb, pi_ub=pi_ub, QM=QM, QM_df=m, QM_ddf=df, QM_p=QM_p, R2=R2,
        subgroups=None, Q_between=None, Q_between_df=None, Q_between_p=None,
        level=level, converged=converged, yi=y, vi=v, X=Xd, weights=weights, vb=vb, slab=slab,
        intercept=intercept, vt=vt, tau2_fixed=tau2_fixed is not None,
    )


def _fit_intercept_only(y: _Array, v: _Array, method: str, test: str, level: float,
                        tau2_fixed: float | None, slab: tuple[str, ...] | None) -> RMAResult:
    """`fit_design` without moderators or user weights, in scalar arithmetic (the common, hot case)."""
    k = y.shape[0]
    ymc = y - float(y.sum()) / k
    fe = _terms(ymc, v, None, 0.0)
    if k == 1:
        tau2, tau2_se, converged = (0.0 if tau2_fixed is None else tau2_fixed), math.nan, True
    else:
        est = estimate_tau2_unchecked(method, ymc, v, None, tau2_fixed=tau2_fixed, fe=fe)
        tau2, tau2_se, converged = float(est.tau2), float(est.se), bool(est.converged)
    w = 1.0 / (v + tau2)
    s1 = float(w.sum())
    b = float(w @ y) / s1
    var_b = 1.0 / s1
    df = k - 1 if test in ("t", "knha") else None
    if test == "knha":
        e = y - b
        rss = float((w * e) @ e)
        var_b *= 0.0 if rss <= _EPS else rss / (k - 1) if k > 1 else math.nan
    se = math.sqrt(var_b)
    stat = b / se if se > 0 else (math.copysign(math.inf, b) if b != 0 else math.nan)
    pval = _p_value(stat, df) if not math.isnan(stat) else math.nan
    crit = critical_value(level, df)
    coef = Coefficient("intrcpt", b, se, stat, pval, b - crit * se, b + crit * se)
    if k > 1:
        Q = max(0.0, float(fe.ypy))
        Q_p = float(special.chdtrc(k - 1, Q))
        vt = (k - 1) / float(fe.tr_p)
        if method in ("EE", "FE"):
            I2 = max(0.0, 100 * (Q - (k - 1)) / Q) if Q > 0 else 0.0
            H2 = Q / (k - 1)
        else:
            I2 = 100 * tau2 / (vt + tau2)
            H2 = tau2 / vt + 1
    else:
        Q, Q_p, I2, H2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    spread = crit * math.sqrt(var_b + tau2)
    # the omnibus test of the intercept alone is its own Wald test (χ²₁ = z², F₁ = t²)
    # (metafor: not available when the SE is 0, e.g. knha on identical effects)
    QM = stat * stat if se > 0 else math.nan
    QM_p = pval if se > 0 else math.nan
    return RMAResult(
        k=k, p=1, method=method, test=test, dist="z" if df is None else "t", df=df,
        tau2=tau2, tau2_se=tau2_se, I2=I2, H2=H2, Q=Q, Q_df=k - 1, Q_p=Q_p, beta=(coef,),
        pi_lb=b - spread, pi_ub=b + spread, QM=QM, QM_df=1, QM_ddf=df, QM_p=QM_p, R2=None,
        subgroups=None, Q_between=None, Q_between_df=None, Q_between_p=None,
        level=level, converged=converged, yi=y, vi=v, X=np.ones((k, 1)), weights=None,
        vb=np.array([[var_b]]), slab=slab, intercept=True, vt=vt, tau2_fixed=tau2_fixed is not None,
    )


def _omnibus(b: _Array, vb: _Array, btt: list[int], df: int | None) -> tuple[float, float]:
    sub = vb[np.ix_(btt, btt)]
    bb = b[btt]
    try:
        QM = float(bb @ np.linalg.solve(sub, bb))
    except np.linalg.LinAlgError:
        return math.nan, math.nan
    m = len(btt)
    if df is None:
        return QM, float(special.chdtrc(m, QM))
    QM /= m
    return QM, float(special.fdtrc(m, df, QM)) if df > 0 else math.nan


def _pseudo_r2(y: _Array, v: _Array, X: _Array, b: _Array, tau2: float, method: str, test: str,
               weights: _Array | None, ymc: _Array, w: _Array) -> float:
    """Pseudo-R² (%) as metafor: τ² reduction against the intercept-only model; for EE/FE models
    the adjusted R² of the weighted least-squares regression."""
    k, p = X.shape
    if method in ("EE", "FE"):
        if np.all(y == y[0]):
            return 0.0
        a = w if weights is None else weights
        mean = float(a @ y) / float(a.sum())
        sst = float(a @ (y - mean) ** 2)
        e = y - X @ b
        sse = float(a @ (e * e))
        r2 = 1 - sse / sst
        adj = 1 - (1 - r2) * (k - 1) / (k - p)
        return max(0.0, 100 * adj)
    try:
        tau2_re = float(estimate_tau2_unchecked(method, ymc, v, None, weights=weights).tau2)
    except ValueError:
        return math.nan
    if tau2_re == 0:
        return 0.0
    return max(0.0, 100 * (tau2_re - tau2) / tau2_re)


def between_subgroups(estimates: Sequence[float], ses: Sequence[float]) -> tuple[float, int, float, float]:
    """Test for subgroup differences: Q = Σ (θ̂ᵍ − θ̄)²/SEᵍ² with θ̄ the inverse-variance mean of the
    subgroup estimates, its df (groups − 1), p-value and I² = max(0, (Q − df)/Q) (Borenstein &
    Higgins, 2013, Prev Sci 14:134; RevMan's "test for subgroup differences"); NaN without two
    subgroups with positive finite standard errors."""
    est, se = np.asarray(estimates, dtype=float), np.asarray(ses, dtype=float)
    df = max(est.size - 1, 0)
    if df < 1 or not (np.all(np.isfinite(se)) and np.all(se > 0)):
        return math.nan, df, math.nan, math.nan
    w = 1 / se**2
    Q = float(w @ (est - float(w @ est) / float(w.sum())) ** 2)
    return Q, df, float(special.chdtrc(df, Q)), max(0.0, 100 * (Q - df) / Q) if Q > 0 else 0.0


def _with_subgroups(res: RMAResult, y: _Array, v: _Array, subgroup: Any, method: str, test: str,
                    level: float) -> RMAResult:
    labels = [str(s) for s in subgroup]
    if len(labels) != y.shape[0]:
        raise ValueError(f"subgroup has {len(labels)} labels for k={y.shape[0]} studies")
    order = sorted(set(labels))  # as R's factor levels
    groups = []
    lab = np.array(labels, dtype=object)
    for name in order:
        idx = np.flatnonzero(lab == name)
        sub_slab = None if res.slab is None else tuple(res.slab[i] for i in idx)
        r = fit_design(y[idx], v[idx], None, ("intrcpt",), method=method, test=test, level=level,
                       slab=sub_slab)
        c = r.beta[0]
        groups.append(Subgroup(name, r.k, c.estimate, c.se, c.ci_lb, c.ci_ub, r.tau2, r.I2, r))
    qb, qb_df, qb_p, _ = between_subgroups([g.estimate for g in groups], [g.se for g in groups])
    return replace(res, subgroups=tuple(groups), Q_between=qb, Q_between_df=qb_df, Q_between_p=qb_p)
