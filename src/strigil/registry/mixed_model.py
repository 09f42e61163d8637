"""Linear mixed-effects models by profiled (RE)ML, vectorised over patients.

Formulation of lme4 (Bates, Mächler, Bolker & Walker 2015, "Fitting Linear Mixed-Effects Models Using lme4",
J Stat Softw 67(1), sections 3.1–3.6): y = Xβ + ZΛθ u + ε with u ~ N(0, σ²I), ε ~ N(0, σ²I). For given θ the
penalised least-squares problem is solved by a Cholesky factorisation; β and σ² are profiled out, leaving a
deviance in θ alone. It is minimised by BFGS with its exact gradient (patient term only) or by Newton's method
with finite-difference derivatives (with a clinic level); θ has only 3–4 entries.

Structure used here:
- one random term per patient with q columns (usually intercept and slope): Λθ is block diagonal with the
  same lower-triangular q×q factor T in every block, so the random-effects part of the factorisation is one
  small q×q Cholesky per patient. These are done for all patients at once, looping only over the q×q entries
  (arrays are laid out (q, q, G)). Everything needed is in per-patient sums of cross-products, made once.
- optionally a random intercept per clinic, either nested (each patient always at one clinic) or crossed (a
  patient seen at several clinics). The patient blocks are eliminated first (block elimination, the Schur
  complement); what is left is a clinics×clinics matrix, diagonal when nested, dense but small when crossed.
  No sparse Cholesky of the whole system is ever formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import Presentable, Summary
from strigil.registry.crossproducts import Crossproducts, crossproducts
from strigil.registry.optimise import Optimum, newton_minimise, quasi_newton_minimise

if TYPE_CHECKING:
    import pandas as pd

    from strigil.registry.growth_model import GrowthDesign
    from strigil.registry.likelihood import LikelihoodRatioTests
    from strigil.registry.profile import Intervals
    from strigil.registry.random_effects import RandomEffects

__all__ = [
    "PILOT_GROUPS",
    "Crossproducts",
    "DeviancePieces",
    "MixedModelFit",
    "combine_pieces",
    "crossproducts",
    "deviance_pieces",
    "fit_crossproducts",
    "fit_from_pieces",
    "fit_mixed_model",
    "profiled_deviance",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _relative_factor(theta: np.ndarray, q: int) -> np.ndarray:
    """Lower-triangular T from θ, filled column by column as lme4 does."""
    T = np.zeros((q, q))
    k = 0
    for j in range(q):
        for i in range(j, q):
            T[i, j] = theta[k]
            k += 1
    return T


def _batched_cholesky(A: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of G symmetric q×q matrices laid out (q, q, G)."""
    q = A.shape[0]
    L = np.zeros_like(A)
    for j in range(q):
        d = A[j, j].copy()
        for k in range(j):
            d -= L[j, k] ** 2
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, q):
            s = A[i, j].copy()
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / L[j, j]
    return L


def _batched_forward(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve L V = B for G lower-triangular L (q, q, G) and B (q, G) or (q, G, m)."""
    q = L.shape[0]
    V = np.empty_like(B)
    extra = (slice(None),) + (None,) * (B.ndim - 2)
    for i in range(q):
        acc = B[i].copy()
        for k in range(i):
            acc -= L[i, k][extra] * V[k]
        V[i] = acc / L[i, i][extra]
    return V


def _shrinkage(T: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M = T A⁻¹ Tᵀ and P = A⁻¹ Tᵀ per patient (each (q, q, G)), with A = L Lᵀ."""
    q, G = L.shape[0], L.shape[2]
    eye = np.zeros((q, q, G))
    for i in range(q):
        eye[i, i] = 1.0
    Linv = np.stack([_batched_forward(L, eye[:, j]) for j in range(q)], axis=1)  # Linv[i, j] = (L⁻¹)ᵢⱼ
    LT = np.empty((q, q, G))  # L⁻¹ Tᵀ; both factors are lower triangular
    for i in range(q):
        for j in range(q):
            LT[i, j] = sum(Linv[i, k] * T[j, k] for k in range(min(i, j) + 1))
    M = np.empty((q, q, G))
    for i in range(q):
        for j in range(i + 1):
            M[i, j] = M[j, i] = sum(LT[k, i] * LT[k, j] for k in range(q))
    P = np.empty((q, q, G))
    for i in range(q):
        for j in range(q):
            P[i, j] = sum(Linv[k, i] * LT[k, j] for k in range(i, q))
    return M, P


@dataclass(frozen=True)
class DeviancePieces:
    """The parts of the profiled deviance at θ that are sums over patients (so sums over clinics too).

    Luo et al. (2022, "DLMM as a lossless one-shot algorithm for collaborative multi-site distributed linear
    mixed models", Nat Commun 13:1678) pool linear mixed models exactly because the likelihood is a sum of
    such per-site aggregates; here they are formed for given θ, which also covers random effects per patient.
    """

    n_obs: int
    logdet: float  # Σᵢ log|Aᵢ|, Aᵢ = TᵀZᵢᵀZᵢT + I
    reduced: np.ndarray  # (p+1, p+1) [X y]ᵀ[X y] − Σᵢ Bᵢᵀ Mᵢ Bᵢ, Bᵢ = Zᵢᵀ[X y]
    d_logdet: np.ndarray | None = None  # (k,) derivative of logdet in each entry of θ
    d_reduced: np.ndarray | None = None  # (k, p+1, p+1) derivative of `reduced` in each entry of θ

    def __add__(self, other: DeviancePieces) -> DeviancePieces:
        """The pieces of the union of two disjoint sets of patients."""

        def plus(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else a + b

        return DeviancePieces(
            n_obs=self.n_obs + other.n_obs,
            logdet=self.logdet + other.logdet,
            reduced=self.reduced + other.reduced,
            d_logdet=plus(self.d_logdet, other.d_logdet),
            d_reduced=plus(self.d_reduced, other.d_reduced),
        )


@dataclass(frozen=True)
class _Factorisation:
    deviance: float
    R: np.ndarray  # (p+1, p+1) upper factor of the reduced [X y] cross-product matrix
    r2: float  # penalised residual sum of squares
    gradient: np.ndarray | None = None


def deviance_pieces(theta: np.ndarray, cp: Crossproducts, gradient: bool = False) -> DeviancePieces:
    """The per-patient sums the profiled deviance (and its gradient) need at θ (patient term only)."""
    return _pieces_and_shrinkage(theta, cp, gradient)[0]


def _pieces_and_shrinkage(
    theta: np.ndarray, cp: Crossproducts, gradient: bool
) -> tuple[DeviancePieces, np.ndarray]:
    q = cp.q
    patterns = cp.pattern_ztz is not None and not cp.n_clinics
    ztz = cp.pattern_ztz if patterns and cp.pattern_ztz is not None else cp.ztz
    G = ztz.shape[2]
    T = _relative_factor(np.asarray(theta, dtype=float), q)
    # A = Tᵀ (ZᵢᵀZᵢ) T + I per patient, lower triangle only; T is lower triangular (T[m, j] = 0 for m < j).
    ST = [[sum(ztz[k, m] * T[m, j] for m in range(j, q)) for j in range(q)] for k in range(q)]
    A = np.empty((q, q, G))
    for i in range(q):
        for j in range(i + 1):
            A[i, j] = sum(T[k, i] * ST[k][j] for k in range(i, q)) + (1.0 if i == j else 0.0)
    L = _batched_cholesky(A)
    diag_product = L[0, 0].copy()
    for i in range(1, q):
        diag_product *= L[i, i]
    M, P = _shrinkage(T, L)
    # Σᵢ (Zᵢᵀ[X y])ᵀ M (Zᵢᵀ[X y]): the part of [X y]ᵀ[X y] explained by the patient effects.
    reduced = cp.xyxy.copy()
    if patterns:
        assert cp.pattern_count is not None and cp.pattern_bb is not None
        logdet = 2.0 * float(cp.pattern_count @ np.log(diag_product))
        reduced -= np.einsum("ijk,ijkmn->mn", M, cp.pattern_bb)
    else:
        logdet = 2.0 * float(np.log(diag_product).sum())
        for i in range(q):
            for j in range(i + 1):
                part = cp.ztxy[i].T @ (M[i, j][:, None] * cp.ztxy[j])
                reduced -= part if i == j else part + part.T
    d_logdet = d_reduced = None
    if gradient:
        d_logdet, d_reduced = _gradient_pieces(ztz, M, P, cp, patterns)
    return DeviancePieces(cp.n_obs, logdet, reduced, d_logdet, d_reduced), M


def combine_pieces(pieces: DeviancePieces, p: int, reml: bool) -> _Factorisation:
    """The profiled deviance (and gradient, when the pieces carry it) from pieces summed over patients."""
    try:
        R = np.linalg.cholesky(pieces.reduced).T
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "the fixed-effects design is rank deficient (collinear columns); drop a term"
        ) from exc
    r2 = float(R[p, p] ** 2)
    n = pieces.n_obs
    dof = n - p if reml else n
    dev = pieces.logdet + dof * (1.0 + _LOG_2PI + np.log(r2 / dof))
    if reml:
        dev += 2.0 * float(np.log(np.diag(R)[:p]).sum())
    grad = None
    if pieces.d_logdet is not None and pieces.d_reduced is not None:
        # d r² = wᵀ D w with w = (−β, 1); d log|R_X|² = tr(R_X⁻¹R_X⁻ᵀ Dₓₓ) (Schur-complement identities).
        RX = R[:p, :p]
        w = np.append(-np.linalg.solve(RX, R[:p, p]), 1.0)
        RXinv = np.linalg.solve(RX, np.eye(p))
        XtXinv = RXinv @ RXinv.T
        D = pieces.d_reduced
        grad = pieces.d_logdet + dof * np.einsum("i,kij,j->k", w, D, w) / r2
        if reml:
            grad = grad + np.einsum("ij,kij->k", XtXinv, D[:, :p, :p])
    return _Factorisation(deviance=float(dev), R=R, r2=r2, gradient=grad)


def _factorise(theta: np.ndarray, cp: Crossproducts, reml: bool, gradient: bool = False) -> _Factorisation:
    with_gradient = gradient and not cp.n_clinics
    pieces, M = _pieces_and_shrinkage(theta, cp, with_gradient)
    if cp.n_clinics:
        logdet_c, Vc = _clinic_block(theta[-1], M, cp)
        pieces = DeviancePieces(pieces.n_obs, pieces.logdet + logdet_c, pieces.reduced - Vc.T @ Vc)
    return combine_pieces(pieces, cp.p, reml)


def _gradient_pieces(
    ztz: np.ndarray,
    M: np.ndarray,
    P: np.ndarray,
    cp: Crossproducts,
    patterns: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-patient sums behind the exact gradient of the profiled deviance in θ (patient term only).

    With Sᵢ = ZᵢᵀZᵢ, Aᵢ = TᵀSᵢT + I, Mᵢ = TAᵢ⁻¹Tᵀ, Pᵢ = Aᵢ⁻¹Tᵀ and Qᵢ = I − SᵢMᵢ, a change dT gives
    d log|Aᵢ| = 2 tr(SᵢTAᵢ⁻¹ dTᵀ) and dMᵢ = Qᵢᵀ dT Pᵢ + Pᵢᵀ dTᵀ Qᵢ; the reduced [X y] cross-product matrix
    changes by −Σᵢ Bᵢᵀ dMᵢ Bᵢ (Bᵢ = Zᵢᵀ[X y]). `combine_pieces` turns these into the gradient.
    """
    q = cp.q
    weight = cp.pattern_count if patterns and cp.pattern_count is not None else 1.0
    # S T A⁻¹ = S Pᵀ, entry (a, b) summed over patients.
    STA = np.empty((q, q))
    for a in range(q):
        for b in range(q):
            STA[a, b] = float(np.sum(weight * sum(ztz[a, c] * P[b, c] for c in range(q))))
    # Q = I − S M
    Q = np.stack(
        [
            np.stack(
                [(1.0 if a == c else 0.0) - sum(ztz[a, k] * M[k, c] for k in range(q)) for c in range(q)]
            )
            for a in range(q)
        ]
    )
    if patterns:
        assert cp.pattern_bb is not None
        bb = cp.pattern_bb

        def uv(i: int, j: int) -> np.ndarray:
            return np.asarray(np.einsum("ck,dk,cdkmn->mn", Q[i], P[j], bb))
    else:
        # U = Q B and V = P B as (q, G, m) stacks.
        U = [sum(Q[a, c][:, None] * cp.ztxy[c] for c in range(q)) for a in range(q)]
        V = [sum(P[a, c][:, None] * cp.ztxy[c] for c in range(q)) for a in range(q)]

        def uv(i: int, j: int) -> np.ndarray:
            return np.asarray(U[i].T @ V[j])

    d_logdet, d_reduced = [], []
    for j in range(q):
        for i in range(j, q):  # θ order: T filled column by column; this θ is T[i, j]
            d_logdet.append(2.0 * STA[i, j])
            UV = uv(i, j)
            d_reduced.append(-(UV + UV.T))
    return np.array(d_logdet), np.stack(d_reduced)


def _clinic_block(lam: float, M: np.ndarray, cp: Crossproducts) -> tuple[float, np.ndarray]:
    """Eliminate the patient blocks from the clinic intercepts (Schur complement); log-det and clinic rows.

    With z the per-(patient, clinic) sums of the patient's random-effect columns, the clinic block of the
    factorised system is λ²·diag(n_c) + I − λ² Σ zₐᵀ M zᵦ over cells a, b of the same patient, and the clinic
    rows of the right-hand side are λ([X y] sums − Σ zᵀ M Zᵀ[X y]).
    """
    assert cp.cell_z is not None and cp.cell_group is not None and cp.cell_clinic is not None
    assert cp.clinic_n is not None and cp.clinic_xy is not None
    q, C, m = cp.q, cp.n_clinics, cp.p + 1
    Mc = M if cp.clinic_nested else M[:, :, cp.cell_group]
    zM = np.stack([sum(cp.cell_z[i] * Mc[i, j] for i in range(q)) for j in range(q)])  # (q, K) zᵀM per cell
    rhs = cp.clinic_xy.copy()
    for j in range(q):
        zxy = cp.ztxy[j] if cp.clinic_nested else cp.ztxy[j][cp.cell_group]
        for k in range(m):
            rhs[:, k] -= np.bincount(cp.cell_clinic, zM[j] * zxy[:, k], minlength=C)
    rhs *= lam
    if cp.clinic_nested:
        # Each patient belongs to one clinic, so the Schur complement is diagonal.
        quad = sum(zM[j] * cp.cell_z[j] for j in range(q))
        d = lam * lam * (cp.clinic_n - np.bincount(cp.cell_clinic, quad, minlength=C)) + 1.0
        return float(np.log(d).sum()), rhs / np.sqrt(d)[:, None]
    assert cp.pair_a is not None and cp.pair_b is not None
    w = sum(zM[j][cp.pair_a] * cp.cell_z[j][cp.pair_b] for j in range(q))
    flat = cp.cell_clinic[cp.pair_a] * C + cp.cell_clinic[cp.pair_b]
    S = np.diag(lam * lam * cp.clinic_n + 1.0) - lam * lam * np.bincount(flat, w, minlength=C * C).reshape(
        C, C
    )
    Ls = np.linalg.cholesky(S)
    # A general solve: scipy's triangular solve was far slower here for these small clinic blocks.
    Vc = np.linalg.solve(Ls, rhs)
    return 2.0 * float(np.log(np.diag(Ls)).sum()), Vc


def profiled_deviance(theta: np.ndarray, cp: Crossproducts, reml: bool = True) -> float:
    """The profiled REML criterion or ML deviance (−2 log-likelihood) at θ, as lme4 defines them."""
    return _factorise(np.asarray(theta, dtype=float), cp, reml).deviance


@dataclass(frozen=True, repr=False)
class MixedModelFit(Presentable):
    """A fitted linear mixed model; field names follow the `strigil registry fit --json` contract.

    In lme4's vocabulary: `fixef` (named coefficients), `ranef()` (BLUPs with conditional variances),
    `predict()`, `confint()` (Wald or profile), `logLik`, `AIC`, `BIC` and `anova()` (likelihood-ratio tests
    of nested fits). Those that need the rows (`ranef`, `predict`, profile intervals, `anova` of REML fits)
    work on fits made from data (`lmer`, `fit_growth_model`), not on fits pooled from clinic aggregates.
    """

    fixed_names: tuple[str, ...]
    beta: np.ndarray
    vcov: np.ndarray
    sigma: float
    theta: np.ndarray
    random_terms: dict[str, tuple[str, ...]]  # group -> term names
    random_cov: dict[str, np.ndarray]  # group -> covariance matrix of its random effects
    objective: float
    reml: bool
    n_obs: int
    n_groups: dict[str, int]
    converged: bool
    n_evaluations: int
    # the rows the model was fitted to (None for a fit pooled from clinic aggregates)
    design: GrowthDesign | None = field(default=None, compare=False)

    @property
    def se(self) -> np.ndarray:
        """Standard errors of the fixed effects."""
        return np.sqrt(np.diag(self.vcov))

    @property
    def formula(self) -> str:
        """The model in lme4's one-formula syntax ("" for a fit pooled from clinic aggregates)."""
        d = self.design
        if d is None:
            return ""
        random = " + ".join(
            f"({' + '.join('1' if t == 'Intercept' else t for t in r.terms)} | {r.group})" for r in d.terms
        )
        return f"{d.formula} + {random}"

    @property
    def fixef(self) -> dict[str, float]:
        """The fixed effects by name (lme4's `fixef`)."""
        return {n: float(b) for n, b in zip(self.fixed_names, self.beta, strict=True)}

    @property
    def npar(self) -> int:
        """Number of parameters: fixed effects, variance components (θ) and the residual variance."""
        return len(self.fixed_names) + len(self.theta) + 1

    @property
    def logLik(self) -> float:
        """The (restricted, for REML fits) log-likelihood, −objective/2 (lme4's `logLik`)."""
        return -self.objective / 2

    @property
    def AIC(self) -> float:
        """Akaike's information criterion, −2 logLik + 2 npar (REML criterion for REML fits, as lme4)."""
        return self.objective + 2 * self.npar

    @property
    def BIC(self) -> float:
        """The Bayesian information criterion, −2 logLik + log(n) npar (as lme4)."""
        return self.objective + float(np.log(self.n_obs)) * self.npar

    def ranef(self) -> RandomEffects:
        """The random effects (conditional modes, BLUPs) of every group with their conditional variances
        given the estimates (lme4's `ranef(fit, condVar = TRUE)`)."""
        from strigil.registry.random_effects import ranef

        return ranef(self)

    def predict(
        self, newdata: Any = None, *, random: bool = True, allow_new_levels: bool = False
    ) -> np.ndarray:
        """Predicted outcomes (lme4's `predict`).

        newdata: rows to predict for (a data frame or mapping column → values with the model's columns);
            None gives the fitted values of the rows the model was fitted to.
        random: include the patient's (and clinic's) random effects; False gives the population-level
            prediction Xβ (lme4's `re.form = NA`).
        allow_new_levels: a patient (or clinic) the model has not seen is predicted with random effects 0;
            without it, such a row is an error (as lme4).
        """
        from strigil.registry.prediction import predict

        return predict(self, newdata, random=random, allow_new_levels=allow_new_levels)

    def confint(self, method: str = "Wald", level: float = 95.0) -> Intervals:
        """Confidence intervals (lme4's `confint`).

        method: "Wald" (fixed effects, β ± z SE) or "profile" (likelihood-profile intervals of the standard
            deviations, correlations, σ and the fixed effects: where the signed root of the deviance change
            crosses the normal quantile).
        level: the confidence level in percent.
        """
        from strigil.registry.profile import confint

        return confint(self, method, level)

    def anova(self, *others: MixedModelFit) -> LikelihoodRatioTests:
        """Likelihood-ratio tests of this fit against nested fits of the same rows (lme4's `anova`); REML fits
        are refitted by ML first, as lme4 does."""
        from strigil.registry.likelihood import anova

        return anova(self, *others)

    def refit(self, reml: bool) -> MixedModelFit:
        """The same model fitted by REML or by maximum likelihood."""
        from strigil.registry.growth_model import fit_design

        if self.design is None:
            raise ValueError("this fit was pooled from clinic aggregates; refitting needs the rows")
        return fit_design(self.design, reml=reml)

    def summary(self) -> Summary:
        """What lme4 prints for `summary(fit)`: criterion, scaled residuals, random effects, fixed effects."""
        from strigil.registry.printing import mixed_model_summary

        return mixed_model_summary(self)

    def to_frame(self, part: str = "fixed") -> pd.DataFrame:
        """A DataFrame of the fixed effects (estimate, se, t, Wald interval) or of the variance components
        (`part` = "random": group, term, variance, sd, and correlations)."""
        from strigil.registry.printing import mixed_model_frame

        return mixed_model_frame(self, part)

    def to_json(self) -> dict[str, object]:
        """The JSON shape of `strigil registry fit --json`."""
        random_sd: dict[str, dict[str, float]] = {}
        random_corr: dict[str, dict[str, float]] = {}
        for group, terms in self.random_terms.items():
            cov = self.random_cov[group]
            sd = np.sqrt(np.diag(cov))
            random_sd[group] = {t: float(s) for t, s in zip(terms, sd, strict=True)}
            random_corr[group] = {
                f"{terms[a]}:{terms[b]}": float(cov[a, b] / (sd[a] * sd[b]))
                if sd[a] > 0 and sd[b] > 0
                else 0.0
                for a in range(len(terms))
                for b in range(a + 1, len(terms))
            }
        return {
            "fixed": {n: float(b) for n, b in zip(self.fixed_names, self.beta, strict=True)},
            "se": {n: float(s) for n, s in zip(self.fixed_names, self.se, strict=True)},
            "random_sd": random_sd,
            "random_corr": random_corr,
            "sigma": self.sigma,
            "objective": self.objective,
            "criterion": "REML" if self.reml else "ML",
            "n_obs": self.n_obs,
            "n_groups": self.n_groups,
            "converged": self.converged,
        }


def _fold(theta: np.ndarray, q: int) -> np.ndarray:
    """Negate the columns of T (and λ) whose diagonal is negative: the same model, in lme4's convention."""
    T = _relative_factor(theta, q)
    T = T * np.where(np.diag(T) < 0, -1.0, 1.0)[None, :]
    out = np.array([T[i, j] for j in range(q) for i in range(j, q)])
    if len(theta) > len(out):
        out = np.append(out, np.abs(theta[len(out) :]))
    return out


# Above this many patients, θ is first estimated on a systematic subset of patients (a warm start only; the
# estimate reported is always the optimum on all rows).
PILOT_GROUPS = 40_000


def _minimise(cp: Crossproducts, reml: bool, start: np.ndarray, pilot: Crossproducts | None) -> Optimum:
    """Minimise the profiled deviance over θ.

    No bounds are needed: negating a column of T (or λ) leaves Λθ Λθᵀ and so the deviance unchanged, so the
    search runs over all of θ and the result is folded back to lme4's convention θᵢᵢ ≥ 0 afterwards. (A bound
    at θᵢᵢ = 0 would sit on a saddle of this symmetric function, where a Newton step can stall.)
    With only patient effects the exact gradient is used (BFGS); with a clinic level, Newton with
    finite-difference derivatives.
    """
    lower = np.full(len(start), -np.inf)
    hessian = None
    first_evals = 0
    if pilot is not None:
        first = _minimise(pilot, reml, start, None)
        start, hessian = first.x, first.hessian * (cp.n_groups / pilot.n_groups)
        first_evals = first.n_evaluations
    if cp.n_clinics:
        full = newton_minimise(
            lambda th: _factorise(th, cp, reml).deviance, start, lower, hessian_guess=hessian
        )
        if not full.converged:  # one restart from where it stopped, with a fresh Hessian
            full = newton_minimise(lambda th: _factorise(th, cp, reml).deviance, full.x, lower)
    else:

        def fg(th: np.ndarray) -> tuple[float, np.ndarray]:
            fac = _factorise(th, cp, reml, gradient=True)
            assert fac.gradient is not None
            return fac.deviance, fac.gradient

        full = quasi_newton_minimise(fg, start, hessian)
        if not full.converged:  # one restart from where it stopped, with a fresh Hessian
            full = quasi_newton_minimise(fg, full.x)
    return Optimum(full.x, full.fun, full.converged, first_evals + full.n_evaluations, full.hessian)


def fit_mixed_model(
    X: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    groups: np.ndarray,
    *,
    fixed_names: tuple[str, ...],
    random_terms: tuple[str, ...],
    group_name: str,
    clinics: np.ndarray | None = None,
    clinic_name: str = "clinic",
    reml: bool = True,
) -> MixedModelFit:
    """Fit y = Xβ + Z b_patient (+ b_clinic) + ε by REML or ML (Bates et al. 2015, J Stat Softw 67(1))."""
    g = np.asarray(groups, dtype=np.intp)
    cp = crossproducts(X, y, Z, g, clinics)
    pilot = None
    if cp.n_groups > 2 * PILOT_GROUPS and (cp.pattern_ztz is None or cp.n_clinics):
        stride = cp.n_groups // PILOT_GROUPS
        rows = g % stride == 0
        pilot_clinics = (
            None if clinics is None else np.unique(np.asarray(clinics)[rows], return_inverse=True)[1]
        )
        pilot = crossproducts(X[rows], y[rows], Z[rows], g[rows] // stride, pilot_clinics)
    return fit_crossproducts(
        cp,
        fixed_names=fixed_names,
        random_terms=random_terms,
        group_name=group_name,
        clinic_name=clinic_name,
        reml=reml,
        pilot=pilot,
    )


def fit_crossproducts(
    cp: Crossproducts,
    *,
    fixed_names: tuple[str, ...],
    random_terms: tuple[str, ...],
    group_name: str,
    clinic_name: str = "clinic",
    reml: bool = True,
    pilot: Crossproducts | None = None,
) -> MixedModelFit:
    """Fit from already summed cross-products (see `crossproducts`); `pilot` (a subset) gives a warm start."""
    if cp.n_obs <= cp.p:
        raise ValueError(f"n_obs={cp.n_obs}: need more rows than the {cp.p} fixed effects")
    if len(fixed_names) != cp.p or len(random_terms) != cp.q:
        raise ValueError("fixed_names / random_terms do not match the design's columns")
    q = cp.q
    start = np.array([1.0 if i == j else 0.0 for j in range(q) for i in range(j, q)])
    if cp.n_clinics:
        start = np.append(start, 1.0)
    opt = _minimise(cp, reml, start, pilot)
    theta, converged, n_eval = _fold(opt.x, q), opt.converged, opt.n_evaluations
    fac = _factorise(theta, cp, reml)
    clinic = (clinic_name, cp.n_clinics) if cp.n_clinics else None
    return _fit_result(
        fac,
        theta,
        n_obs=cp.n_obs,
        fixed_names=fixed_names,
        random_terms=random_terms,
        group_name=group_name,
        n_groups=cp.n_groups,
        reml=reml,
        converged=converged,
        n_evaluations=n_eval,
        clinic=clinic,
    )


def fit_from_pieces(
    pieces: DeviancePieces,
    theta: np.ndarray,
    *,
    fixed_names: tuple[str, ...],
    random_terms: tuple[str, ...],
    group_name: str,
    n_groups: int,
    reml: bool,
    converged: bool,
    n_evaluations: int,
) -> MixedModelFit:
    """The fitted model at θ from pieces summed over patients (e.g. over clinics, see `exact_growth`)."""
    theta = _fold(np.asarray(theta, dtype=float), len(random_terms))
    return _fit_result(
        combine_pieces(pieces, len(fixed_names), reml),
        theta,
        n_obs=pieces.n_obs,
        fixed_names=fixed_names,
        random_terms=random_terms,
        group_name=group_name,
        n_groups=n_groups,
        reml=reml,
        converged=converged,
        n_evaluations=n_evaluations,
        clinic=None,
    )


def _fit_result(
    fac: _Factorisation,
    theta: np.ndarray,
    *,
    n_obs: int,
    fixed_names: tuple[str, ...],
    random_terms: tuple[str, ...],
    group_name: str,
    n_groups: int,
    reml: bool,
    converged: bool,
    n_evaluations: int,
    clinic: tuple[str, int] | None,
) -> MixedModelFit:
    p, q = len(fixed_names), len(random_terms)
    RX = fac.R[:p, :p]
    beta = np.linalg.solve(RX, fac.R[:p, p])
    sigma2 = fac.r2 / (n_obs - p if reml else n_obs)
    RXinv = np.linalg.solve(RX, np.eye(p))
    vcov = sigma2 * (RXinv @ RXinv.T)
    T = _relative_factor(theta, q)
    random_cov = {group_name: sigma2 * (T @ T.T)}
    terms = {group_name: random_terms}
    groups = {group_name: n_groups}
    if clinic is not None:
        random_cov[clinic[0]] = np.array([[sigma2 * theta[-1] ** 2]])
        terms[clinic[0]] = ("Intercept",)
        groups[clinic[0]] = clinic[1]
    return MixedModelFit(
        fixed_names=fixed_names,
        beta=beta,
        vcov=vcov,
        sigma=float(np.sqrt(sigma2)),
        theta=theta,
        random_terms=terms,
        random_cov=random_cov,
        objective=fac.deviance,
        reml=reml,
        n_obs=n_obs,
        n_groups=groups,
        converged=converged,
        n_evaluations=n_evaluations,
    )
