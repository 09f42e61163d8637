"""Generalized linear mixed models for 2×2 tables and person-time data (metafor's `rma.glmm`,
model "UM.RS"): a binomial-normal model for odds ratios and a Poisson-normal one for rate ratios.

Each study contributes its two arms. With gᵢⱼ = 1 in group 1 and 0 in group 2, and hᵢⱼ = ±1/2,

    logit P(event) (or log rate)ᵢⱼ = α + σ uᵢ + (β + τ vᵢ) gᵢⱼ-as-coded:  α + σ uᵢ + β gᵢⱼ + τ vᵢ hᵢⱼ,

uᵢ, vᵢ ~ N(0, 1) independent: random study effects with variance σ² and a random treatment effect with
variance τ² (Stijnen, Hamza & Özdemir, 2010, Stat Med 29:3046; Turner et al., 2000, Stat Med 19:3417).
β (with moderators: β + x'γ) is the log odds (rate) ratio. The likelihood integrates the random effects
out by the Laplace approximation, as lme4's `glmer` with nAGQ = 1 does (Bates et al., 2015, J Stat
Softw 67(1)): per study, −2 log L ≈ −2 log p(y | û) + |û|² + log det(I + Λ'Z'WZΛ) at the conditional
mode û. The deviance is minimised over (σ, τ, α, β) with its exact gradient (implicit differentiation
through û), and the standard errors come from the inverse Hessian of the deviance over all parameters
(lme4's default for GLMMs).

Heterogeneity (as metafor): a likelihood-ratio and a Wald test of the saturated model, which gives every
study its own treatment effect (random study intercepts), against the model with one common effect and
τ² = 0, on k − p df. Studies with no events in either arm (or only events) carry no information on the
ratio and are left out and counted (metafor's `drop00`); so are studies with missing counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from strigil.display import Presentable, Summary
from strigil.meta import counts
from strigil.meta.counts import PersonTime, TwoByTwo
from strigil.meta.result import Coefficient, _num
from strigil.meta.rma import critical_value
from strigil.meta.tau2 import _terms

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MEASURES", "GLMMResult", "rma_glmm"]

_Array = NDArray[np.float64]
MEASURES = ("OR", "IRR")
# a saturated-model coefficient this far out means the study's ratio is 0 or infinite (an arm without
# events): that model has no finite maximum, and a Wald test of it means nothing
_SEPARATED = 15.0


# ---------------------------------------------------------------------------------------- the model


@dataclass(frozen=True, eq=False)
class _Model:
    """One GLMM: two rows (arms) per study, `q` random effects per study with design `Z` (2 × q)."""

    poisson: bool
    y: _Array  # (k, 2) events
    n: _Array  # (k, 2) participants (binomial) or ones (Poisson)
    offset: _Array  # (k, 2) log person-time (Poisson) or zeros
    X: _Array  # (k, 2, p) fixed effects
    Z: _Array  # (2, q)
    const: _Array  # (k,) the constant part of log p(y) (binomial coefficients, log y!)

    @property
    def q(self) -> int:
        return int(self.Z.shape[1])

    @property
    def p(self) -> int:
        return int(self.X.shape[2])


def _moments(m: _Model, eta: _Array) -> tuple[_Array, _Array, _Array, _Array]:
    """log p(y | η) per row (without the constant), the residual y − μ, the weight w = Var(y) and dw/dη."""
    if m.poisson:
        mu = np.exp(eta)
        return m.y * eta - mu, m.y - mu, mu, mu
    pr = special.expit(eta)
    w = m.n * pr * (1 - pr)
    ll = m.y * eta - m.n * np.logaddexp(0.0, eta)
    return ll, m.y - m.n * pr, w, w * (1 - 2 * pr)


@dataclass(frozen=True, eq=False)
class _Mode:
    u: _Array  # (k, q)
    eta: _Array
    resid: _Array
    w: _Array
    dw: _Array
    hinv: _Array  # (k, q, q)
    deviance: _Array  # (k,) per-study Laplace deviance


def _mode(m: _Model, theta: _Array, beta: _Array, u0: _Array | None = None) -> _Mode:
    """The conditional modes û (penalised IRLS, Newton on each study's q random effects) and the
    Laplace deviance per study."""
    A = m.Z * theta[None, :]  # ZΛ, (2, q)
    fixed = np.einsum("kjp,p->kj", m.X, beta) + m.offset
    u = np.zeros((m.y.shape[0], m.q)) if u0 is None else u0.copy()
    eye = np.eye(m.q)

    def penalised(u: _Array) -> tuple[_Array, _Array]:
        eta = fixed + u @ A.T
        ll = _moments(m, eta)[0]
        return -2 * ll.sum(axis=1) + (u * u).sum(axis=1), eta

    pdev, eta = penalised(u)
    for _ in range(200):
        _, r, w, _ = _moments(m, eta)
        g = r @ A - u
        H = np.einsum("jr,kj,js->krs", A, w, A) + eye
        step = np.linalg.solve(H, g[..., None])[..., 0]
        # Newton with step halving per study (the penalised deviance is convex in u: halving always helps)
        scale = np.ones(u.shape[0])
        for _ in range(30):
            cand = u + scale[:, None] * step
            new, eta_new = penalised(cand)
            worse = new > pdev + 1e-12 * np.abs(pdev)
            if not worse.any():
                break
            scale = np.where(worse, scale / 2, scale)
        u, eta, change = cand, eta_new, np.abs(scale[:, None] * step).max()
        pdev = new
        if change <= 1e-13 * (1 + np.abs(u).max()):
            break
    ll, r, w, dw = _moments(m, eta)
    H = np.einsum("jr,kj,js->krs", A, w, A) + eye
    logdet = np.linalg.slogdet(H)[1]
    dev = -2 * (ll.sum(axis=1) + m.const) + (u * u).sum(axis=1) + logdet
    return _Mode(u, eta, r, w, dw, np.linalg.inv(H), dev)


def _gradient(m: _Model, theta: _Array, mode: _Mode) -> _Array:
    """Exact gradient of the Laplace deviance over (θ, β), by implicit differentiation through û."""
    A = m.Z * theta[None, :]
    r, w, dw, hinv, u = mode.resid, mode.w, mode.dw, mode.hinv, mode.u
    # s_j = (A H⁻¹ A')_jj: how row j's weight moves log det H
    M = np.einsum("jr,krs,ls->kjl", A, hinv, A)  # (k, 2, 2)
    s = np.einsum("kjj->kj", M)
    # β: dD/dβ = −2 X'r + Σ_j dw_j s_j (dη_j/dβ), dη/dβ = X − M W X
    deta_db = m.X - np.einsum("kjl,kl,klp->kjp", M, w, m.X)
    g_beta = -2 * np.einsum("kjp,kj->p", m.X, r) + np.einsum("kj,kj,kjp->p", dw, s, deta_db)
    g_theta = np.empty(m.q)
    hawz = np.einsum("krs,js,kj->krj", hinv, A, w)  # H⁻¹A'W, (k, q, 2)
    for t in range(m.q):
        zr = m.Z[:, t]  # (2,)
        zu = u[:, t][:, None] * zr[None, :]  # ∂η/∂θ_t at fixed û, (k, 2)
        # û moves with θ_t: dû/dθ_t = H⁻¹ (e_t z_t'r − A'W z_t u_t)
        rhs = -np.einsum("js,kj,kj->ks", A, w, zu)
        rhs[:, t] += r @ zr
        du = np.einsum("krs,ks->kr", hinv, rhs)
        deta = zu + du @ A.T
        direct = 2 * np.einsum("kj,j->k", hawz[:, t, :], zr)  # 2 tr(H⁻¹A'W ∂A/∂θ_t)
        g_theta[t] = -2 * (r * zu).sum() + (direct + (dw * s * deta).sum(axis=1)).sum()
    return np.concatenate([g_theta, g_beta])


class _Objective:
    """The Laplace deviance and its gradient as functions of (θ, β), reusing the last modes."""

    def __init__(self, m: _Model) -> None:
        self.m = m
        self.u: _Array | None = None

    def __call__(self, params: _Array) -> tuple[float, _Array]:
        q = self.m.q
        theta, beta = params[:q], params[q:]
        mode = _mode(self.m, theta, beta, self.u)
        self.u = mode.u
        return float(mode.deviance.sum()), _gradient(self.m, theta, mode)

    def deviance(self, params: _Array) -> float:
        return self(params)[0]

    def hessian(self, params: _Array) -> _Array:
        """Central differences of the exact gradient (symmetrised)."""
        n = params.size
        H = np.empty((n, n))
        for i in range(n):
            h = 1e-5 * max(1.0, abs(params[i]))
            up, down = params.copy(), params.copy()
            up[i] += h
            down[i] -= h
            H[:, i] = (self(up)[1] - self(down)[1]) / (2 * h)
        return (H + H.T) / 2


@dataclass(frozen=True, eq=False)
class _Fit:
    params: _Array
    deviance: float
    hessian: _Array
    converged: bool


def _fit(m: _Model, starts: Sequence[_Array]) -> _Fit:
    """Minimise the deviance over (θ, β) from each start, keep the lowest, polish with Newton steps on the
    differenced Hessian until the gradient vanishes.

    θ is left unconstrained: the deviance is even in each θᵣ (the random effects' sign is arbitrary), so
    σ = |θ₁|, τ = |θ₂|. A bound at 0 would trap the search there, where the gradient vanishes by that
    symmetry even when 0 is a maximum.
    """
    obj = _Objective(m)
    best: tuple[float, _Array] | None = None
    for start in starts:
        obj.u = None
        res = optimize.minimize(obj, start, jac=True, method="BFGS", options={"maxiter": 5000, "gtol": 1e-8})
        if best is None or res.fun < best[0]:
            best = (float(res.fun), np.asarray(res.x, dtype=float))
    assert best is not None
    dev, x = best
    obj.u = None
    converged = False
    for _ in range(50):
        dev, g = obj(x)
        if np.abs(g).max() <= 1e-9 * max(1.0, abs(dev)):
            converged = True
            break
        try:
            step = -np.linalg.solve(obj.hessian(x), g)
        except np.linalg.LinAlgError:
            break
        if g @ step >= 0:  # the Hessian is not positive definite here: keep what BFGS found
            break
        t = 1.0
        for _ in range(40):
            if obj.deviance(x + t * step) <= dev + 1e-13 * abs(dev):
                x = x + t * step
                break
            t /= 2
        else:
            converged = np.abs(g).max() <= 1e-6 * max(1.0, abs(dev))
            break
    x[: m.q] = np.abs(x[: m.q])
    dev = obj.deviance(x)
    return _Fit(x, dev, obj.hessian(x), converged)


# ------------------------------------------------------------------------------------ the models


def _base(table: TwoByTwo | PersonTime, mods: _Array) -> tuple[bool, _Array, _Array, _Array, _Array, _Array]:
    """Response, trials, offset, the group-1 dummy, the study design (k × p) and the log-lik constant."""
    if isinstance(table, TwoByTwo):
        y = np.column_stack([table.ai, table.ci])
        n = np.column_stack([table.ai + table.bi, table.ci + table.di])
        offset = np.zeros_like(y)
        const = (special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)).sum(axis=1)
        poisson = False
    else:
        y = np.column_stack([table.x1i, table.x2i])
        n = np.ones_like(y)
        offset = np.log(np.column_stack([table.t1i, table.t2i]))
        const = -special.gammaln(y + 1).sum(axis=1)
        poisson = True
    return poisson, y, n, offset, mods, const


def _design(Xs: _Array, extra: _Array | None = None) -> _Array:
    """Per-row fixed effects: the study design times the group-1 dummy, then the common intercept α
    (metafor's X.fit and const), then any extra columns."""
    k, p = Xs.shape
    X = np.zeros((k, 2, p + 1))
    X[:, 0, :p] = Xs
    X[:, :, p] = 1.0
    if extra is not None:
        X = np.concatenate([X, extra], axis=2)
    return X


def _saturated_columns(Xs: _Array) -> _Array:
    """Study × group-1 columns that are not linearly dependent on the earlier ones (R's `glm` drops
    aliased columns from the end): the saturated model's extra treatment effects."""
    k = Xs.shape[0]
    kept: list[int] = []
    basis = Xs.copy()
    for i in range(k):
        col = np.zeros(k)
        col[i] = 1.0
        trial = np.column_stack([basis, col])
        if np.linalg.matrix_rank(trial) > basis.shape[1]:
            basis = trial
            kept.append(i)
    extra = np.zeros((k, 2, len(kept)))
    for j, i in enumerate(kept):
        extra[i, 0, j] = 1.0
    return extra


def _glm_start(m: _Model) -> _Array:
    """β of the fixed-effects GLM (θ = 0) by IRLS, a start for the mixed models."""
    beta = np.zeros(m.p)
    X = m.X.reshape(-1, m.p)
    for _ in range(100):
        eta = np.einsum("kjp,p->kj", m.X, beta) + m.offset
        _, r, w, _ = _moments(m, eta)
        info = X.T @ (w.reshape(-1)[:, None] * X) + 1e-10 * np.eye(m.p)
        step = np.linalg.solve(info, X.T @ r.reshape(-1))
        step = np.clip(step, -5, 5)
        beta = beta + step
        if np.abs(step).max() < 1e-10:
            break
    return beta


# ---------------------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False, repr=False)
class GLMMResult(Presentable):
    """A binomial-normal (OR) or Poisson-normal (IRR) random-effects model ("UM.RS", method ML).

    `beta` are the log ratio (`intrcpt`) and moderator coefficients; `tau2` is the variance of the
    treatment effect, `sigma2` that of the study effects. `QE_LRT`, `QE_Wld` test heterogeneity against
    the saturated model (`QE_Wld` is None when that model has no finite maximum, see `notes`); I² and H²
    use the typical within-study variance of the escalc effects, as metafor.
    """

    measure: str
    model: str
    method: str
    level: float
    k: int
    k_omitted: int
    k_double_zero: int
    beta: tuple[Coefficient, ...]
    vb: _Array
    tau2: float
    sigma2: float
    QE_LRT: float
    QE_LRT_p: float
    QE_Wld: float | None
    QE_Wld_p: float | None
    QE_df: int
    QM: float
    QM_df: int
    QM_p: float
    I2: float
    H2: float
    logLik: float
    converged: bool
    yi: _Array
    vi: _Array
    slab: tuple[str, ...]
    tables: TwoByTwo | PersonTime
    notes: tuple[str, ...] = ()

    def summary(self) -> Summary:
        """metafor's `print(rma.glmm(..., model = "UM.RS"))`."""
        from strigil.meta.printing import glmm_summary

        return glmm_summary(self)

    def to_frame(self, part: str = "coefficients") -> pd.DataFrame:
        """A DataFrame of the coefficients, the studies or the model statistics (`part` = "coefficients",
        "studies", "model")."""
        from strigil.meta.frames import glmm_frame

        return glmm_frame(self, part)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict; without moderators also the ratio (exp of the intercept) and its interval."""
        out: dict[str, Any] = {
            "measure": self.measure, "model": self.model, "method": self.method, "level": _num(self.level),
            "k": self.k, "k_omitted": self.k_omitted, "k_double_zero": self.k_double_zero,
            "beta": [{"name": c.name, "estimate": _num(c.estimate), "se": _num(c.se), "stat": _num(c.stat),
                      "p": _num(c.p), "ci_lb": _num(c.ci_lb), "ci_ub": _num(c.ci_ub)} for c in self.beta],
            "tau2": _num(self.tau2), "sigma2": _num(self.sigma2),
            "QE_LRT": _num(self.QE_LRT), "QE_LRT_p": _num(self.QE_LRT_p), "QE_Wld": _num(self.QE_Wld),
            "QE_Wld_p": _num(self.QE_Wld_p), "QE_df": self.QE_df, "QM": _num(self.QM), "QM_df": self.QM_df,
            "QM_p": _num(self.QM_p), "I2": _num(self.I2), "H2": _num(self.H2), "logLik": _num(self.logLik),
            "converged": self.converged, "notes": list(self.notes),
        }
        if len(self.beta) == 1:
            c = self.beta[0]
            out["exp"] = {"estimate": _num(math.exp(c.estimate)), "ci_lb": _num(math.exp(c.ci_lb)),
                          "ci_ub": _num(math.exp(c.ci_ub))}
        return out


def _mods_matrix(mods: Any, k: int) -> tuple[_Array, tuple[str, ...]]:
    if mods is None:
        return np.ones((k, 1)), ("intrcpt",)
    if isinstance(mods, Mapping):
        names = tuple(str(n) for n in mods)
        M = np.column_stack([np.asarray(mods[n], dtype=float) for n in mods])
    else:
        M = np.asarray(mods, dtype=float)
        M = M[:, None] if M.ndim == 1 else M
        names = tuple(f"mod{j + 1}" for j in range(M.shape[1]))
    if M.shape[0] != k:
        raise ValueError(f"mods must have one row per study ({k}); got {M.shape[0]}")
    return np.column_stack([np.ones(k), M]), ("intrcpt", *names)


def rma_glmm(
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    *,
    n1i: Any = None,
    n2i: Any = None,
    x1i: Any = None,
    t1i: Any = None,
    x2i: Any = None,
    t2i: Any = None,
    measure: str = "OR",
    mods: Any = None,
    level: float = 95.0,
    slab: Sequence[Any] | None = None,
) -> GLMMResult:
    """Random-effects meta-analysis of 2×2 tables (measure "OR": ai, bi, ci, di or ai, n1i, ci, n2i) by
    a binomial-normal model, or of person-time data ("IRR": x1i, t1i, x2i, t2i) by a Poisson-normal
    model, as metafor's `rma.glmm(model = "UM.RS", method = "ML")` with lme4. `mods` (k × q array or
    mapping name → values) adds moderators of the log ratio."""
    key = measure.upper()
    if key not in MEASURES:
        raise ValueError(f"measure {measure!r} is not supported by the GLMMs; allowed: {', '.join(MEASURES)}")
    if not 0 < level < 100:
        raise ValueError(f"level must lie strictly between 0 and 100; got {level!r}")
    table = counts.tables_of(key, ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, x1i=x1i, t1i=t1i, x2i=x2i,
                             t2i=t2i, slab=slab)
    k_all = len(table)
    Xs_all, names = _mods_matrix(mods, k_all)
    missing = table.missing | ~np.all(np.isfinite(Xs_all), axis=1)
    double = counts.double_zero(table) & ~missing
    keep = ~missing & ~double
    table = table.subset(keep)
    Xs = Xs_all[keep]
    k, p = Xs.shape
    if k == 0:
        raise ValueError("no study is left: every study has a missing value or no events in either arm"
                         if double.any() else "no study without missing values is left")
    if k <= p or np.linalg.matrix_rank(Xs) < p:
        raise ValueError(f"{p} coefficient(s) cannot be estimated from k={k} studies (or the moderators are "
                         "collinear)")
    poisson, y, n, offset, _, const = _base(table, Xs)
    z_one = np.ones((2, 1))

    def model(X: _Array, Z: _Array) -> _Model:
        return _Model(poisson, y, n, offset, X, Z, const)

    # common effect, τ² = 0 (random study intercepts only): the null of the heterogeneity tests
    fe = model(_design(Xs), z_one)
    b0 = _glm_start(fe)
    fit_fe = _fit(fe, [np.concatenate([[1.0], b0])])
    sigma_fe = fit_fe.params[0]
    # the saturated model: every study its own treatment effect
    extra = _saturated_columns(Xs)
    qe = model(_design(Xs, extra), z_one)
    start_qe = np.concatenate([[sigma_fe], fit_fe.params[1:], np.zeros(extra.shape[2])])
    fit_qe = _fit(qe, [start_qe])
    # the random-effects model: independent random study and treatment effects (lme4's `group || study`)
    ml = model(_design(Xs), np.array([[1.0, 0.5], [1.0, -0.5]]))
    starts = [np.concatenate([[sigma_fe, tau], fit_fe.params[1:]]) for tau in (0.1, 0.5, 1.0)]
    fit_ml = _fit(ml, starts)
    notes: list[str] = []
    if not fit_ml.converged:
        notes.append("the random-effects model did not converge to the required precision")
    # standard errors: inverse Hessian of the deviance over all parameters (θ and β), as lme4
    q = 2
    cov = 2 * np.linalg.inv(fit_ml.hessian)
    vb = np.asarray(cov[q:q + p, q:q + p], dtype=float)
    theta = fit_ml.params[:q]
    beta = fit_ml.params[q:q + p]
    se = np.sqrt(np.diag(vb))
    crit = critical_value(level, None)
    coefs = []
    for j, name in enumerate(names):
        b_j, se_j = float(beta[j]), float(se[j])
        z = b_j / se_j
        coefs.append(Coefficient(name, b_j, se_j, z, math.erfc(abs(z) / math.sqrt(2)), b_j - crit * se_j,
                                 b_j + crit * se_j))
    btt = list(range(1, p)) if p > 1 else [0]
    bb = beta[btt]
    QM = float(bb @ np.linalg.solve(vb[np.ix_(btt, btt)], bb))
    QE_df = k - p
    QE_LRT = max(0.0, fit_fe.deviance - fit_qe.deviance)
    QE_Wld: float | None = None
    n_extra = extra.shape[2]
    b_extra = fit_qe.params[1 + p + 1:]
    if n_extra == 0:
        QE_Wld = 0.0
    elif np.abs(b_extra).max() > _SEPARATED or not fit_qe.converged:
        notes.append("the saturated model has no finite maximum (a study with no events, or only events, "
                     "in one arm): the Wald test of heterogeneity is not available; the likelihood-ratio "
                     "test is")
    else:
        cov_qe = 2 * np.linalg.inv(fit_qe.hessian)
        idx = np.arange(1 + p + 1, 1 + p + 1 + n_extra)
        v2 = cov_qe[np.ix_(idx, idx)]
        QE_Wld = max(0.0, float(b_extra @ np.linalg.solve(v2, b_extra)))
    if isinstance(table, TwoByTwo):
        yi, vi = counts.table_effects("OR", table)
    else:
        yi, vi = counts.person_time_effects("IRR", table)
    wald_p = None if QE_Wld is None else (float(special.chdtrc(QE_df, QE_Wld)) if QE_df > 0 else 1.0)
    tau2 = float(theta[1] ** 2)
    vt = (k - p) / float(_terms(yi - yi.mean(), vi, None if p == 1 else Xs, 0.0).tr_p)
    chi2 = special.chdtrc
    labels = table.labels or tuple(f"Study {i + 1}" for i in np.flatnonzero(keep))
    return GLMMResult(
        measure=key, model="UM.RS", method="ML", level=level, k=k, k_omitted=int(missing.sum()),
        k_double_zero=int(double.sum()), beta=tuple(coefs), vb=vb, tau2=tau2, sigma2=float(theta[0] ** 2),
        QE_LRT=QE_LRT, QE_LRT_p=float(chi2(QE_df, QE_LRT)) if QE_df > 0 else 1.0,
        QE_Wld=QE_Wld, QE_Wld_p=wald_p,
        QE_df=QE_df, QM=QM, QM_df=len(btt), QM_p=float(chi2(len(btt), QM)),
        I2=100 * tau2 / (vt + tau2), H2=tau2 / vt + 1, logLik=-fit_ml.deviance / 2,
        converged=fit_ml.converged and fit_fe.converged, yi=yi, vi=vi, slab=tuple(labels), tables=table,
        notes=tuple(notes),
    )
