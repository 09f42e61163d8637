"""Multilevel and multivariate meta-analysis (metafor's `rma.mv`).

Effects nested in trials (and trials in research groups) get one variance component per level,
`random="~ 1 | trial/effect"` (Konstantopoulos, 2011); several outcomes per trial get correlated
random effects, `random="~ outcome | trial"` with `struct` CS, HCS, UN, AR, HAR, ID or DIAG
(Berkey et al., 1998; Ishak et al., 2007). The sampling errors have a known covariance matrix V:
variances, a k × k matrix, or a `BlockCovariance` from `vcalc` (Gleser & Olkin, 2009). Without a
random term the model is the multivariate fixed-effects model. Estimation by REML or ML
(strigil.meta.multilevel); tests and intervals as metafor's with dfs = "residual".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse, special

from strigil.meta.blocks import BlockLayout, coo_of, not_positive_definite
from strigil.meta.formula import column, columns_of
from strigil.meta.likelihood import criteria
from strigil.meta.multilevel import MarginalModel, evaluate, maximise, zero_tiny
from strigil.meta.random_effects import RandomSpec, covariance_structure, parse_random
from strigil.meta.result import Coefficient
from strigil.meta.result_mv import RMAMVResult, VarianceComponent
from strigil.meta.rma import (
    TESTS,
    _as_vector,
    _design,
    _moderator_matrix,
    _named,
    _omnibus,
    _p_value,
    critical_value,
    formula_moderators,
)

__all__ = ["METHODS", "Setup", "estimate", "rma_mv"]

_Array = NDArray[np.float64]
_Index = NDArray[np.intp]

METHODS = ("REML", "ML")
_TESTS_MV = ("z", "t")


def _fixed_values(name: str, given: Any, n: int) -> list[float | None]:
    """User-fixed components: None (all estimated), a number (all fixed) or a list with None = estimate."""
    if given is None:
        return [None] * n
    vals: list[Any] = [given] * n if np.isscalar(given) else list(given)
    if len(vals) != n:
        raise ValueError(f"{name} has {len(vals)} values but the model has {n} such component(s)")
    out: list[float | None] = []
    for v in vals:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
            continue
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"{name}: fixed values must be finite numbers; got {v!r}")
        out.append(f)
    return out


def rma_mv(
    yi: Any,
    V: Any,
    *,
    mods: Any = None,
    mod_names: Sequence[str] | None = None,
    intercept: bool = True,
    random: str | Sequence[str] | None = None,
    struct: str = "CS",
    data: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    sigma2: Any = None,
    tau2: Any = None,
    rho: Any = None,
    slab: Sequence[str] | str | None = None,
) -> RMAMVResult:
    """Fit a multilevel/multivariate meta-analytic model, as metafor's `rma.mv`.

    `V`: sampling variances (k,), a k × k covariance matrix or a `BlockCovariance` (see `vcalc`).
    `random`: one or more of '~ 1 | trial', '~ 1 | group/trial/effect', '~ outcome | trial' naming
    columns of `data`. `struct`: CS, HCS, UN, AR, HAR, ID or DIAG for the '~ inner | outer' term.
    `sigma2`, `tau2`, `rho`: fix components (a number, or a list with None where estimated).
    `data`: a pandas DataFrame or a mapping column → values; with it, `yi`, `V` (variances) and `slab`
    may be column names and `mods` a formula ("~ year + factor(region)"), as in `rma`.
    Konstantopoulos (2011); Berkey et al. (1998); Viechtbauer (2010).
    """
    data = columns_of(data)
    yi, slab = _named("yi", yi, data), _named("slab", slab, data)
    if isinstance(V, str):
        V = np.asarray(column(data, V), dtype=float)
    y = _as_vector("yi", yi)
    k = y.shape[0]
    if not np.all(np.isfinite(y)):
        rows = np.flatnonzero(~np.isfinite(y))[:5].tolist()
        raise ValueError(f"yi has missing or non-finite values at rows {rows}; remove those effects first")
    if k < 2:
        raise ValueError(f"a multilevel model needs at least 2 effects; got k={k}")
    meth = method.upper()
    if meth not in METHODS:
        raise ValueError(f"method {method!r} is not supported for rma_mv; allowed: {', '.join(METHODS)}")
    if test not in _TESTS_MV:
        allowed = ", ".join(_TESTS_MV)
        extra = " (knha is for rma)" if test in TESTS else ""
        raise ValueError(f"test {test!r} is not supported for rma_mv; allowed: {allowed}{extra}")
    if not 0 < level < 100:
        raise ValueError(f"level must lie strictly between 0 and 100; got {level!r}")
    vi, vj, vv = coo_of(V, k)
    if not np.all(np.isfinite(vv)):
        raise ValueError("V has missing or non-finite entries; remove those effects first")
    diag = np.zeros(k)
    np.add.at(diag, vi[vi == vj], vv[vi == vj])
    if np.any(diag <= 0):
        rows = np.flatnonzero(diag <= 0)[:5].tolist()
        raise ValueError(f"V must have positive sampling variances on its diagonal; rows {rows} do not")
    _check_symmetric(vi, vj, vv, k)
    if isinstance(mods, str):
        mods, mod_names, intercept = formula_moderators(mods, data, k)
    M = _moderator_matrix(mods, k)
    if M is not None and not np.all(np.isfinite(M)):
        rows = np.flatnonzero(~np.all(np.isfinite(M), axis=1))[:5].tolist()
        raise ValueError(f"mods has missing or non-finite values at rows {rows}; remove those effects first")
    Xd, names = _design(M, mod_names, intercept, k, mods)
    X = np.ones((k, 1)) if Xd is None else Xd
    p = X.shape[1]
    if p >= k:
        raise ValueError(f"{p} coefficients cannot be estimated from k={k} effects")
    labels = tuple(str(s) for s in slab) if slab is not None else None
    if labels is not None and len(labels) != k:
        raise ValueError(f"slab has {len(labels)} labels for k={k} effects")
    spec = parse_random(random, data, k, struct) if random is not None else RandomSpec((), None, ())
    return _fit(y, X, names, (intercept and Xd is not None) or Xd is None, (vi, vj, vv), spec, meth, test,
                level, sigma2, tau2, rho, labels)


def _check_symmetric(i: _Index, j: _Index, v: _Array, k: int) -> None:
    m = sparse.coo_matrix((v, (i, j)), shape=(k, k)).tocsr()
    diff = abs(m - m.T)
    if diff.nnz and diff.max() > 1e-10 * max(1.0, float(np.abs(v).max())):
        raise ValueError("V must be a symmetric matrix")


def _fit(y: _Array, X: _Array, names: tuple[str, ...], has_intercept: bool, V: tuple[_Index, _Index, _Array],
         spec: RandomSpec, method: str, test: str, level: float, sigma2: Any, tau2: Any, rho: Any,
         slab: tuple[str, ...] | None) -> RMAMVResult:
    k = X.shape[0]
    notes: list[str] = []
    io = spec.inner_outer
    for f in spec.sigma2:
        if f.nlevels < 2:
            raise ValueError(f"the random term for {f.name!r} needs at least two levels; all {k} effects "
                             f"share the level {f.levels[0]!r} (one trial cannot show between-trial "
                             "variation)")
    if io is not None and io.outer.nlevels < 2:
        raise ValueError(f"the random term {io.formula!r} needs at least two levels of {io.outer.name!r}; "
                         f"all {k} effects share {io.outer.levels[0]!r}")
    memberships = [f.codes for f in spec.sigma2] + ([io.outer.codes] if io is not None else [])
    layout = BlockLayout.connect(k, (V[0], V[1]), memberships)
    Vs = layout.scatter(*V)
    for g, stack in zip(layout.groups, Vs, strict=True):
        bad = not_positive_definite(stack)
        if bad.size:
            rows = sorted(int(r) for r in g.rows[bad[0]])
            raise ValueError(f"V is not positive definite: the block of effects at rows {rows[:10]} has a "
                             "covariance matrix that is singular or indefinite (check the correlations)")
    S = [layout.same_level(f.codes) for f in spec.sigma2]
    structure = covariance_structure(io) if io is not None else None
    inner = [io.inner.codes[g.rows] for g in layout.groups] if io is not None else None
    outer = layout.same_level(io.outer.codes) if io is not None else None
    _, logdet_xx = np.linalg.slogdet(X.T @ X)
    model = MarginalModel(y, X, layout, Vs, S, inner, outer, structure, method == "REML", float(logdet_xx),
                          sparse.coo_matrix((V[2], (V[0], V[1])), shape=(k, k)).tocsr())

    # which components are free: user-fixed ones and those the data cannot identify stay fixed
    ns = len(spec.sigma2)
    fixed = _fixed_values("sigma2", sigma2, ns)
    n_tau = structure.n_tau if structure else 0
    n_rho = structure.n_rho if structure else 0
    if structure is None and (tau2 is not None or rho is not None):
        raise ValueError("tau2/rho can only be fixed for a model with an '~ inner | outer' random term")
    fixed += _fixed_values("tau2", tau2, n_tau) + _fixed_values("rho", rho, n_rho)
    for i, val in enumerate(fixed):
        kind = model.kinds()[i]
        if val is not None and kind == "var" and val < 0:
            raise ValueError(f"fixed variance components must be >= 0; got {val}")
        if val is not None and kind == "cor" and not -1 <= val <= 1:
            raise ValueError(f"fixed correlations must lie in [-1, 1]; got {val}")
    if io is not None and structure is not None and n_rho:
        _identifiable_rho(io, structure, fixed, ns + n_tau, k, notes)
    theta0 = _start(model, fixed, ns, n_tau, n_rho)
    return estimate(model, spec, fixed, theta0, Setup(names, has_intercept, test, level, slab, tuple(notes)))


@dataclass(frozen=True)
class Setup:
    """What a fit keeps besides the data: coefficient names, intercept, test, level, labels, notes."""

    names: tuple[str, ...]
    intercept: bool
    test: str
    level: float
    slab: tuple[str, ...] | None
    notes: tuple[str, ...]


def estimate(model: MarginalModel, spec: RandomSpec, fixed: Sequence[float | None], theta0: _Array,
             setup: Setup) -> RMAMVResult:
    """Maximise the (restricted) likelihood over the components not fixed and assemble the result."""
    free = np.array([i for i, v in enumerate(fixed) if v is None], dtype=np.intp)
    start = np.array([theta0[i] if v is None else float(v) for i, v in enumerate(fixed)], dtype=float)
    best = maximise(model, start, free)
    theta = zero_tiny(best.evaluation.theta, model.kinds())
    ev = evaluate(model, theta, np.empty(0, dtype=np.intp), order=0)
    if ev is None:  # cannot happen: the optimiser only accepts positive definite M
        raise ValueError("the fitted marginal covariance matrix is not positive definite")
    notes = list(setup.notes)
    if not best.converged:
        notes.append(f"the optimiser stopped after {best.iterations} iterations short of its tolerance")
    return _result(model, spec, ev, theta, free, setup, tuple(notes), best.converged, best.iterations)


def _identifiable_rho(io: Any, structure: Any, fixed: list[float | None], off: int, k: int,
                      notes: list[str]) -> None:
    """Fix to 0 correlations the data cannot inform (metafor's rules), with a note saying so."""
    single_inner = io.inner.nlevels == 1
    one_per_outer = io.outer.nlevels == k
    if structure.struct in ("CS", "HCS", "AR", "HAR", "UN") and (single_inner or one_per_outer):
        for c in range(structure.n_rho):
            if fixed[off + c] is None:
                fixed[off + c] = 0.0
        why = ("has a single level" if single_inner
               else "never occurs twice within one level of the outer factor")
        notes.append(f"rho fixed at 0: the inner factor {io.inner.name!r} {why}")
        return
    if structure.struct == "UN":
        together = np.zeros((io.inner.nlevels, io.inner.nlevels), dtype=bool)
        order = np.argsort(io.outer.codes, kind="stable")
        oc, ic = io.outer.codes[order], io.inner.codes[order]
        for o in np.unique(oc):
            lv = np.unique(ic[oc == o])
            together[np.ix_(lv, lv)] = True
        for c, (i, j) in enumerate(structure.rho_pairs):
            if not together[i, j] and fixed[off + c] is None:
                fixed[off + c] = 0.0
                notes.append(f"rho of {io.inner.levels[i]!r} and {io.inner.levels[j]!r} fixed at 0: "
                             "they never occur together within one level of the outer factor")


def _start(model: MarginalModel, fixed: list[float | None], ns: int, n_tau: int, n_rho: int) -> _Array:
    """metafor's starting values: the residual variance of the fixed-effects fit beyond the sampling
    variance, split evenly across the components; correlations 0.5."""
    theta = np.zeros(len(fixed))
    ev = evaluate(model, theta, np.empty(0, dtype=np.intp), order=0)
    assert ev is not None
    resid = model.y - model.X @ ev.beta
    vdiag = np.concatenate([np.diagonal(v, axis1=1, axis2=2).ravel() for v in model.V])
    parts = max(ns, 1) + max(n_tau, 1) + 1
    total = max(0.001 * parts, float(np.var(resid, ddof=1)) - 1.0 / float(np.mean(1.0 / vdiag)))
    for i in range(len(fixed)):
        if fixed[i] is not None:
            theta[i] = float(fixed[i])  # type: ignore[arg-type]
        elif i < ns + n_tau:
            theta[i] = total / parts
        else:
            theta[i] = 0.5
    return theta


def _result(model: MarginalModel, spec: RandomSpec, ev: Any, theta: _Array, free: _Index, setup: Setup,
            notes: tuple[str, ...], converged: bool, iterations: int) -> RMAMVResult:
    k, p = model.X.shape
    names, has_intercept, test, level = setup.names, setup.intercept, setup.test, setup.level
    method = "REML" if model.reml else "ML"
    b, vb = ev.beta, ev.vb
    df = k - p if test == "t" else None
    crit = critical_value(level, df)
    se = np.sqrt(np.diag(vb))
    coefs = []
    for j, name in enumerate(names):
        stat = float(b[j] / se[j]) if se[j] > 0 else math.nan
        coefs.append(Coefficient(name, float(b[j]), float(se[j]), stat, _p_value(stat, df),
                                 float(b[j] - crit * se[j]), float(b[j] + crit * se[j])))
    btt = list(range(1, p)) if (has_intercept and p > 1) else list(range(p))
    QM, QM_p = _omnibus(b, vb, btt, df)
    # residual heterogeneity: the fixed-effects fit with V alone
    fe = evaluate(model.with_reml(False), np.zeros_like(theta), np.empty(0, dtype=np.intp), order=0)
    assert fe is not None
    QE_df = k - p
    QE, QE_p = (fe.rss, float(special.chdtrc(QE_df, fe.rss))) if QE_df > 0 else (0.0, 1.0)
    ll_qe = -0.5 * k * math.log(2 * math.pi) - 0.5 * fe.logdet_m
    parms = p + int(free.size)
    ml = criteria("ML", ev.ll_ml, -2 * (ev.ll_ml - ll_qe), parms, k)
    reml = criteria("REML", ev.ll_reml, -2 * ev.ll_reml, parms, k - p)
    sigma2, tau2, rho = model.split(theta)
    is_free = np.zeros(theta.size, dtype=bool)
    is_free[free] = True
    ns = model.n_sigma2
    comps_s = tuple(VarianceComponent(f.name, float(sigma2[i]), not is_free[i], f.nlevels)
                    for i, f in enumerate(spec.sigma2))
    io = spec.inner_outer
    comps_t: tuple[VarianceComponent, ...] = ()
    comps_r: tuple[VarianceComponent, ...] = ()
    G = None
    if io is not None and model.structure is not None:
        st = model.structure
        G = st.matrices(tau2, rho)[0]
        tau_names = list(io.inner.levels) if st.n_tau > 1 else [io.inner.name]
        comps_t = tuple(VarianceComponent(tau_names[a], float(tau2[a]), not is_free[ns + a], io.inner.nlevels)
                        for a in range(st.n_tau))
        if st.struct == "UN":
            rho_names = [f"{io.inner.levels[i]},{io.inner.levels[j]}" for i, j in st.rho_pairs] or ["rho"]
        else:
            rho_names = ["rho"]
        if st.n_rho:
            comps_r = tuple(VarianceComponent(rho_names[c], float(rho[c]), not is_free[ns + st.n_tau + c],
                                              None) for c in range(st.n_rho))
        else:  # ID and DIAG: uncorrelated by definition
            comps_r = (VarianceComponent("rho", 0.0, True, None),)
    return RMAMVResult(
        k=k, p=p, method=method, test=test, dist="z" if df is None else "t", df=df, level=level,
        beta=tuple(coefs), vb=vb, sigma2=comps_s, tau2=comps_t, rho=comps_r,
        struct=None if io is None else io.struct, inner=None if io is None else io.inner.name,
        outer=None if io is None else io.outer.name, inner_levels=() if io is None else io.inner.levels,
        G=G, QE=float(QE), QE_df=QE_df, QE_p=QE_p, QM=QM, QM_df=len(btt), QM_ddf=df, QM_p=QM_p,
        btt=tuple(btt),
        fit_ml=ml, fit_reml=reml, parms=parms, converged=converged, iterations=iterations, notes=notes,
        random=spec.formulas, intercept=has_intercept, slab=setup.slab, yi=model.y, X=model.X,
        spec=spec, model=model, evaluation=ev, theta=theta, free=free, setup=setup,
    )
