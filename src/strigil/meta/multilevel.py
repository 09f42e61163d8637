"""The likelihood of multilevel and multivariate meta-analytic models and its maximisation.

Model (Konstantopoulos, 2011; Berkey et al., 1998; Viechtbauer, 2010, for metafor's `rma.mv`):
y ~ N(Xβ, M(θ)) with M(θ) = V + Σₗ σ²ₗ ZₗZₗ' + (Z₁ G(τ², ρ) Z₁') ∘ (Z₂Z₂'). The (restricted)
log-likelihood, profiled over β,

    ℓ_ML   = −½ [k log 2π + log|M| + r'M⁻¹r]
    ℓ_REML = −½ [(k − p) log 2π − log|X'X| + log|M| + log|X'M⁻¹X| + r'M⁻¹r]

(r = y − Xβ̂, β̂ the GLS estimate; the log|X'X| term as metafor's default REMLf = TRUE), is
maximised by Newton–Raphson with the exact gradient and observed Hessian,

    ∂ℓ/∂θₖ = −½ tr(P Ṁₖ) + ½ u'Ṁₖu,
    ∂²ℓ/∂θₖ∂θₗ = ½ tr(PṀₖPṀₗ) − ½ tr(PM̈ₖₗ) − (Ṁₖu)'P(Ṁₗu) + ½ u'M̈ₖₗu

(P = W − WX(X'WX)⁻¹X'W, W = M⁻¹, u = Py; under ML, P → W in the trace terms), every trace
written through block sums and p × p matrices (Harville, 1977; Searle, Casella & McCulloch, 1992,
ch. 6). Variances stay ≥ 0 (an active set holds a variance at 0 while its gradient points outwards);
correlations are stepped as atanh(ρ). M is block-diagonal (strigil.meta.blocks), so each
evaluation costs O(k s²) for blocks of size s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from strigil.meta.blocks import BlockLayout
from strigil.meta.random_effects import CovarianceStructure

__all__ = ["Evaluation", "MarginalModel", "Maximum", "evaluate", "maximise", "zero_tiny"]

_Array = NDArray[np.float64]
_Index = NDArray[np.intp]
_LOG2PI = math.log(2 * math.pi)
_ZERO = 10 * np.finfo(float).eps  # metafor reports variance components this small as 0


@dataclass(frozen=True, eq=False)
class MarginalModel:
    """Data and covariance structure of one model, stacked block group by block group."""

    y: _Array
    X: _Array
    layout: BlockLayout
    V: list[_Array]
    S: list[list[_Array]]  # S[l][g]: 0/1 blocks of σ² component l
    inner: list[_Index] | None  # per group: (blocks, s) inner-level codes
    outer: list[_Array] | None  # per group: (blocks, s, s) 1 where two effects share the outer level
    structure: CovarianceStructure | None
    reml: bool
    logdet_xx: float
    V_matrix: sparse.csr_matrix  # the sampling covariance as given (for comparing nested models)
    ys: list[_Array] = field(init=False)
    Xs: list[_Array] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ys", [g.stack(self.y) for g in self.layout.groups])
        object.__setattr__(self, "Xs", [g.stack(self.X) for g in self.layout.groups])

    @property
    def n_sigma2(self) -> int:
        """Number of σ² components."""
        return len(self.S)

    @property
    def n_params(self) -> int:
        """Number of variance-component parameters θ = (σ², τ², ρ)."""
        s = self.structure
        return self.n_sigma2 + (0 if s is None else s.n_tau + s.n_rho)

    def kinds(self) -> list[str]:
        """Each parameter's kind: 'var' (a variance, bounded at 0), 'lvar' (a variance entering G through
        √τ²ᵢτ²ⱼ, stepped on the log scale like metafor) or 'cor' (a correlation)."""
        s = self.structure
        if s is None:
            return ["var"] * self.n_sigma2
        tau = "lvar" if s.struct in ("HCS", "UN", "HAR") else "var"
        return ["var"] * self.n_sigma2 + [tau] * s.n_tau + ["cor"] * s.n_rho

    def with_reml(self, reml: bool) -> MarginalModel:
        """The same model under ML (False) or REML (True)."""
        return MarginalModel(self.y, self.X, self.layout, self.V, self.S, self.inner, self.outer,
                             self.structure, reml, self.logdet_xx, self.V_matrix)

    def split(self, theta: _Array) -> tuple[_Array, _Array, _Array]:
        """θ as (σ², τ², ρ)."""
        ns = self.n_sigma2
        s = self.structure
        nt = 0 if s is None else s.n_tau
        return theta[:ns], theta[ns:ns + nt], theta[ns + nt:]

    def _gather(self, g: int, A: _Array) -> _Array:
        """An m × m matrix over inner levels placed into group g's blocks (zero across outer levels)."""
        assert self.inner is not None and self.outer is not None
        ii = self.inner[g]
        return A[ii[:, :, None], ii[:, None, :]] * self.outer[g]

    def g_matrices(self, theta: _Array) -> tuple[_Array, list[_Array], dict[tuple[int, int], _Array]] | None:
        """G with its derivatives, or None for a model without an `~ inner | outer` term."""
        if self.structure is None:
            return None
        _, tau2, rho = self.split(theta)
        return self.structure.matrices(tau2, rho)

    def marginal(self, theta: _Array, G: _Array | None) -> list[_Array]:
        """M(θ), block group by block group."""
        sigma2, _, _ = self.split(theta)
        out = []
        for g in range(len(self.layout.groups)):
            M = self.V[g].copy()
            for l_, s2 in enumerate(sigma2):
                if s2 != 0:
                    M += s2 * self.S[l_][g]
            if G is not None:
                M += self._gather(g, G)
            out.append(M)
        return out


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The likelihood at one θ, with what the fit and its diagnostics need."""

    theta: _Array
    ll: float
    grad: _Array | None
    hess: _Array | None
    beta: _Array
    vb: _Array  # (X'WX)⁻¹
    W: list[_Array]
    WX: list[_Array]
    u: list[_Array]  # W r per group
    logdet_m: float
    logdet_xwx: float
    rss: float
    k: int
    p: int
    logdet_xx: float

    @property
    def ll_ml(self) -> float:
        """ML log-likelihood at θ (β at its GLS estimate)."""
        return -0.5 * (self.k * _LOG2PI + self.logdet_m + self.rss)

    @property
    def ll_reml(self) -> float:
        """Restricted log-likelihood at θ (metafor's, with the +½ log|X'X| term)."""
        return -0.5 * ((self.k - self.p) * _LOG2PI - self.logdet_xx + self.logdet_m + self.logdet_xwx
                       + self.rss)


def _sym_inverse(M: _Array) -> tuple[_Array, _Array] | None:
    """Inverse and log-determinant of a stack of symmetric positive definite blocks; None if one is not."""
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return None
    diag = np.diagonal(L, axis1=1, axis2=2)
    if np.any(diag <= 0) or not np.all(np.isfinite(diag)):
        return None
    Li = np.linalg.inv(L)
    return np.matmul(np.swapaxes(Li, 1, 2), Li), 2.0 * np.log(diag).sum()


def evaluate(model: MarginalModel, theta: _Array, free: _Index, order: int = 2) -> Evaluation | None:
    """ℓ at θ and, for order ≥ 1, its gradient (and for order 2 its Hessian) in the free parameters;
    None where M(θ) is not positive definite (or, for UN, G is not positive semi-definite)."""
    gm = model.g_matrices(theta)
    G = None if gm is None else gm[0]
    st = model.structure
    # UN: G itself must stay positive semi-definite (metafor keeps it so by a Cholesky parametrisation)
    if (G is not None and st is not None and st.struct == "UN" and st.m > 1
            and np.linalg.eigvalsh(G).min() < -1e-12 * max(1.0, float(np.abs(G).max()))):
        return None
    Ms = model.marginal(theta, G)
    p = model.X.shape[1]
    k = model.y.shape[0]
    Ws, WXs, Wys = [], [], []
    xwx = np.zeros((p, p))
    xwy = np.zeros(p)
    logdet_m = 0.0
    for g, M in enumerate(Ms):
        inv = _sym_inverse(M)
        if inv is None:
            return None
        W, ld = inv
        logdet_m += float(ld)
        WX = np.matmul(W, model.Xs[g])
        Wy = np.einsum("bij,bj->bi", W, model.ys[g])
        xwx += np.einsum("bsp,bsq->pq", model.Xs[g], WX)
        xwy += np.einsum("bsp,bs->p", WX, model.ys[g])
        Ws.append(W)
        WXs.append(WX)
        Wys.append(Wy)
    try:
        c = np.linalg.cholesky(xwx)
    except np.linalg.LinAlgError:
        return None
    ci = np.linalg.inv(c)
    H = ci.T @ ci
    beta = H @ xwy
    logdet_xwx = 2.0 * float(np.log(np.diag(c)).sum())
    us = [Wy - np.einsum("bsp,p->bs", WX, beta) for Wy, WX in zip(Wys, WXs, strict=True)]
    rss = 0.0
    for g, u in enumerate(us):
        rss += float(np.einsum("bs,bs->", model.ys[g] - np.einsum("bsp,p->bs", model.Xs[g], beta), u))
    base = Evaluation(theta, math.nan, None, None, beta, H, Ws, WXs, us, logdet_m, logdet_xwx, rss, k, p,
                      model.logdet_xx)
    ll = base.ll_reml if model.reml else base.ll_ml
    if order == 0 or free.size == 0:
        return _with(base, ll, None, None)
    grad, hess = _derivatives(model, base, gm, free, order)
    return _with(base, ll, grad, hess)


def _with(ev: Evaluation, ll: float, grad: _Array | None, hess: _Array | None) -> Evaluation:
    return Evaluation(ev.theta, ll, grad, hess, ev.beta, ev.vb, ev.W, ev.WX, ev.u, ev.logdet_m, ev.logdet_xwx,
                      ev.rss, ev.k, ev.p, ev.logdet_xx)


def _derivatives(model: MarginalModel, ev: Evaluation,
                 gm: tuple[_Array, list[_Array], dict[tuple[int, int], _Array]] | None,
                 free: _Index, order: int) -> tuple[_Array, _Array | None]:
    """Gradient and observed Hessian of ℓ in the free parameters, accumulated block group by group."""
    ns = model.n_sigma2
    q = free.size
    H = ev.vb
    reml = model.reml
    p = H.shape[0]
    tr_wm = np.zeros(q)
    umu = np.zeros(q)
    F = np.zeros((q, p, p))
    xwa = np.zeros((q, p))
    hess_acc = np.zeros((q, q))  # ½ tr(WṀWṀ) − a'Wa, and the M̈ terms
    cross = np.zeros((q, q, p, p))  # X'WṀₖWṀₗWX
    second = {} if gm is None else gm[2]
    first = [] if gm is None else gm[1]

    def mdot(g: int, kk: int) -> _Array:
        if kk < ns:
            return model.S[kk][g]
        return model._gather(g, first[kk - ns])

    for g in range(len(model.layout.groups)):
        W, WX, u = ev.W[g], ev.WX[g], ev.u[g]
        Md = [mdot(g, int(kk)) for kk in free]
        A = [np.matmul(W, m) for m in Md] if order >= 2 else []
        a = [np.einsum("bij,bj->bi", m, u) for m in Md]
        for i, m in enumerate(Md):
            tr_wm[i] += float(np.einsum("bij,bij->", W, m))
            umu[i] += float(np.einsum("bi,bi->", u, a[i]))
            Q = np.matmul(m, WX)
            F[i] += np.einsum("bsp,bsq->pq", WX, Q)
            xwa[i] += np.einsum("bsp,bs->p", WX, a[i])
        if order < 2:
            continue
        Wa = [np.einsum("bij,bj->bi", W, ai) for ai in a]
        R = [np.matmul(Ai, WX) for Ai in A]  # W Ṁ W X
        for i in range(q):
            for j in range(i + 1):
                val = (0.5 * float(np.einsum("bij,bji->", A[i], A[j]))
                       - float(np.einsum("bi,bi->", a[i], Wa[j])))
                if reml:
                    cross[i, j] += np.einsum("bsp,bsq->pq", np.matmul(Md[i], WX), R[j])
                key = (int(max(free[i], free[j])) - ns, int(min(free[i], free[j])) - ns)
                if key[1] >= 0 and key in second:
                    m2 = model._gather(g, second[key])
                    val += -0.5 * float(np.einsum("bij,bij->", W, m2)) + 0.5 * float(
                        np.einsum("bi,bij,bj->", u, m2, u))
                    if reml:
                        # + ½ tr(H X'WM̈WX) from −½ tr(PM̈)
                        val += 0.5 * float(np.trace(H @ np.einsum("bsp,bst,btq->pq", WX, m2, WX)))
                hess_acc[i, j] += val
    tr_p = tr_wm - np.einsum("pq,kqp->k", H, F) if reml else tr_wm  # tr(PṀ) under REML, tr(WṀ) under ML
    grad = -0.5 * tr_p + 0.5 * umu
    if order < 2:
        return grad, None
    hess = np.zeros((q, q))
    HF = np.einsum("pq,kqr->kpr", H, F)
    for i in range(q):
        for j in range(i + 1):
            val = hess_acc[i, j] + float(xwa[i] @ H @ xwa[j])  # −a'Pa = −a'Wa + (X'Wa)'H(X'Wa)
            if reml:
                val += 0.5 * (-2.0 * float(np.trace(H @ cross[i, j]))
                              + float(np.einsum("pq,qp->", HF[i], HF[j])))
            hess[i, j] = hess[j, i] = val
    return grad, hess


@dataclass(frozen=True)
class Maximum:
    """Where the optimiser stopped."""

    evaluation: Evaluation
    converged: bool
    iterations: int


def maximise(model: MarginalModel, theta0: _Array, free: _Index, *, maxiter: int = 200) -> Maximum:
    """Maximise ℓ over the free parameters from θ₀ (the others stay at their θ₀ values)."""
    kinds = np.array(model.kinds())[free] if free.size else np.empty(0, dtype=str)
    is_var, is_log = kinds == "var", kinds == "lvar"
    theta = np.array(theta0, dtype=float)
    theta[free[is_var | is_log]] = np.maximum(theta[free[is_var | is_log]], 0.0)
    ev = evaluate(model, theta, free, order=2)
    if ev is None:
        raise ValueError("the model's marginal covariance matrix is not positive definite at the "
                         "starting values")
    if free.size == 0:
        return Maximum(ev, True, 0)
    vscale = max(float(np.mean([np.mean(np.diagonal(v, axis1=1, axis2=2)) for v in model.V])), 1e-300)
    quiet = 0
    for it in range(1, maxiter + 1):
        assert ev.grad is not None and ev.hess is not None
        t = theta[free]
        # ψ: variances as they are (bounded at 0), heteroscedastic τ² as log τ², correlations as atanh ρ
        jac = np.where(is_var, 1.0, np.where(is_log, t, 1.0 - t * t))
        curv = np.where(is_var, 0.0, np.where(is_log, t, -2.0 * t * (1.0 - t * t)))
        g = ev.grad * jac
        Hm = ev.hess * np.outer(jac, jac) + np.diag(ev.grad * curv)
        # a log-variance that has shrunk to nothing is held at 0, as a variance on its bound
        vanished = is_log & (t <= 1e-10 * vscale) & (ev.grad <= 0.0)
        if vanished.any():
            theta[free[vanished]] = 0.0
        active = ((is_var | is_log) & (theta[free] <= 0.0) & (g <= 0.0)) | vanished
        F = np.flatnonzero(~active)
        if F.size == 0:
            return Maximum(ev, True, it - 1)
        gF = g[F]
        w, Qv = np.linalg.eigh(-Hm[np.ix_(F, F)])
        floor = max(float(np.abs(w).max()) * 1e-10, 1e-300)
        w = np.where(w > floor, w, np.maximum(np.abs(w), floor))  # an ascent direction even off concavity
        d = np.zeros(free.size)
        d[F] = Qv @ ((Qv.T @ gF) / w)
        with np.errstate(divide="ignore"):
            psi = np.where(is_var, t, np.where(is_log, np.log(np.maximum(t, 1e-300)),
                                               np.arctanh(np.clip(t, -1 + 1e-15, 1 - 1e-15))))
        ref = np.where(is_var, np.abs(psi) + 1e-8 * vscale, np.abs(psi) + 1.0)
        small = bool(np.all(np.abs(d) <= 1e-10 * ref))
        decrement = float(gF @ d[F])
        # below the rounding noise of ℓ a line search cannot judge a step: trust the quadratic model
        near = decrement <= 1e-9 * max(1.0, abs(ev.ll))
        alpha = 1.0
        neg = is_var & (d < 0)
        if neg.any():
            alpha = min(1.0, float(np.min(t[neg] / -d[neg])))
        big = np.abs(d[~is_var]).max() if (~is_var).any() else 0.0
        if big > 3.0:
            alpha = min(alpha, 3.0 / big)
        accepted = None
        for _ in range(60):
            new_psi = psi + alpha * d
            trial = theta.copy()
            trial[free] = np.where(is_var, np.maximum(new_psi, 0.0),
                                   np.where(is_log, np.exp(new_psi), np.tanh(new_psi)))
            trial[free[active]] = theta[free[active]]
            if neg.any() and alpha < 1.0:
                trial[free[neg & (t + alpha * d <= t * 1e-12)]] = 0.0
            cand = evaluate(model, trial, free, order=2)
            if cand is not None and (near or cand.ll >= ev.ll + 1e-4 * alpha * decrement):
                accepted = (trial, cand)
                break
            alpha *= 0.5
        if accepted is None:
            return Maximum(ev, small, it)
        theta, ev = accepted
        quiet = quiet + 1 if near else 0
        if small or quiet > 25:
            return Maximum(ev, small or bool(np.all(np.abs(d) <= 1e-7 * ref)), it)
    return Maximum(ev, False, maxiter)


def zero_tiny(theta: _Array, kinds: list[str]) -> _Array:
    """Variance components at most 10 machine epsilons set to exactly 0 (metafor's rule)."""
    out = theta.copy()
    for i, kind in enumerate(kinds):
        if kind != "cor" and out[i] <= _ZERO:
            out[i] = 0.0
    return out
