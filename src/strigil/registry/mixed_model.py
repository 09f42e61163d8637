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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Crossproducts", "MixedModelFit", "crossproducts", "fit_mixed_model", "profiled_deviance"]

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Crossproducts:
    """Per-patient sums of cross-products: all the data a fit needs (the rows themselves are not kept)."""

    n_obs: int
    p: int
    q: int
    n_groups: int
    ztz: np.ndarray  # (q, q, G) Σ z zᵀ per patient
    ztxy: np.ndarray  # (q, G, p+1) Σ z [x, y]ᵀ per patient
    xyxy: np.ndarray  # (p+1, p+1) Σ [x, y][x, y]ᵀ
    n_clinics: int = 0
    clinic_nested: bool = True
    cell_group: np.ndarray | None = None  # (K,) patient of each (patient, clinic) cell
    cell_clinic: np.ndarray | None = None  # (K,) clinic of each cell
    cell_z: np.ndarray | None = None  # (q, K) Σ z over the rows of each cell
    clinic_n: np.ndarray | None = None  # (C,) rows per clinic
    clinic_xy: np.ndarray | None = None  # (C, p+1) Σ [x, y] per clinic
    pair_a: np.ndarray | None = None  # crossed only: every ordered pair (a, b) of cells of the same patient
    pair_b: np.ndarray | None = None
    # Patients with the same ZᵢᵀZᵢ (the same pattern of visits) share Aᵢ, Mᵢ and Pᵢ; when there are few such
    # patterns, the deviance needs only per-pattern sums: counts, ZᵀZ and Σ Bᵢ[c]ᵀBᵢ[d] with Bᵢ = Zᵢᵀ[X y].
    pattern_ztz: np.ndarray | None = None  # (q, q, K)
    pattern_count: np.ndarray | None = None  # (K,)
    pattern_bb: np.ndarray | None = None  # (q, q, K, p+1, p+1)


def crossproducts(
    X: np.ndarray,
    y: np.ndarray,
    Z: np.ndarray,
    groups: np.ndarray,
    clinics: np.ndarray | None = None,
) -> Crossproducts:
    """Sum the cross-products per patient (`groups` and `clinics` are integer codes 0..G-1 and 0..C-1)."""
    n, p = X.shape
    q = Z.shape[1]
    g = np.asarray(groups, dtype=np.intp)
    G = int(g.max()) + 1 if n else 0
    ztz = np.empty((q, q, G))
    for i in range(q):
        for j in range(i + 1):
            ztz[i, j] = ztz[j, i] = np.bincount(g, Z[:, i] * Z[:, j], minlength=G)
    ztxy = np.empty((q, G, p + 1))
    for i in range(q):
        for k in range(p):
            ztxy[i, :, k] = np.bincount(g, Z[:, i] * X[:, k], minlength=G)
        ztxy[i, :, p] = np.bincount(g, Z[:, i] * y, minlength=G)
    xty = X.T @ y
    xyxy = np.empty((p + 1, p + 1))
    xyxy[:p, :p] = X.T @ X
    xyxy[:p, p] = xyxy[p, :p] = xty
    xyxy[p, p] = float(y @ y)
    if clinics is None:
        pz, pc, pbb = _visit_patterns(ztz, ztxy)
        return Crossproducts(
            n_obs=n,
            p=p,
            q=q,
            n_groups=G,
            ztz=ztz,
            ztxy=ztxy,
            xyxy=xyxy,
            pattern_ztz=pz,
            pattern_count=pc,
            pattern_bb=pbb,
        )
    c = np.asarray(clinics, dtype=np.intp)
    C = int(c.max()) + 1
    clinic_of = np.zeros(G, dtype=np.intp)
    clinic_of[g] = c
    nested = bool(np.array_equal(clinic_of[g], c))
    if nested:
        cell_group = np.arange(G)
        cell_clinic = clinic_of
        cell_index = g
        pair_a = pair_b = None
    else:
        cells, cell_index = np.unique(g * C + c, return_inverse=True)
        cell_group, cell_clinic = cells // C, cells % C
        pair_a, pair_b = _same_patient_pairs(cell_group)
    K = len(cell_group)
    cell_z = np.empty((q, K))
    for i in range(q):
        cell_z[i] = np.bincount(cell_index, Z[:, i], minlength=K)
    clinic_xy = np.empty((C, p + 1))
    for k in range(p):
        clinic_xy[:, k] = np.bincount(c, X[:, k], minlength=C)
    clinic_xy[:, p] = np.bincount(c, y, minlength=C)
    return Crossproducts(
        n_obs=n,
        p=p,
        q=q,
        n_groups=G,
        ztz=ztz,
        ztxy=ztxy,
        xyxy=xyxy,
        n_clinics=C,
        clinic_nested=nested,
        cell_group=cell_group,
        cell_clinic=cell_clinic,
        cell_z=cell_z,
        clinic_n=np.bincount(c, minlength=C).astype(float),
        clinic_xy=clinic_xy,
        pair_a=pair_a,
        pair_b=pair_b,
    )


# Use the per-pattern sums when there are at most this share of distinct patterns per patient.
PATTERN_SHARE = 0.125


def _visit_patterns(
    ztz: np.ndarray, ztxy: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Group patients by identical ZᵢᵀZᵢ and sum Bᵢ[c]ᵀBᵢ[d] within each group (exact, no approximation)."""
    q, _, G = ztz.shape
    m = ztxy.shape[2]
    if G < 64:
        return None, None, None
    keys = [ztz[i, j] for i in range(q) for j in range(i + 1)]
    order = np.lexsort(keys[::-1])
    ordered = np.stack([k[order] for k in keys], axis=1)
    starts = np.r_[0, np.flatnonzero(np.any(ordered[1:] != ordered[:-1], axis=1)) + 1]
    K = len(starts)
    if K > PATTERN_SHARE * G:
        return None, None, None
    uniq = ordered[starts]
    counts = np.diff(np.r_[starts, G])
    pz = np.empty((q, q, K))
    col = 0
    for i in range(q):
        for j in range(i + 1):
            pz[i, j] = pz[j, i] = uniq[:, col]
            col += 1
    B = [ztxy[c][order] for c in range(q)]
    bb = np.empty((q, q, K, m, m))
    for c in range(q):
        for d in range(c + 1):
            for a in range(m):
                bb[c, d, :, a, :] = np.add.reduceat(B[c][:, a : a + 1] * B[d], starts, axis=0)
            if c != d:
                bb[d, c] = bb[c, d].transpose(0, 2, 1)
    return pz, counts.astype(float), bb


def _same_patient_pairs(cell_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs of cells that belong to the same patient (cells sorted by patient)."""
    starts = np.flatnonzero(np.r_[True, cell_group[1:] != cell_group[:-1]])
    sizes = np.diff(np.r_[starts, len(cell_group)])
    a_parts, b_parts = [], []
    for k in np.unique(sizes):
        first = starts[sizes == k]
        offs = np.arange(k)
        a_parts.append((first[:, None, None] + offs[None, :, None] + 0 * offs[None, None, :]).ravel())
        b_parts.append((first[:, None, None] + 0 * offs[None, :, None] + offs[None, None, :]).ravel())
    return np.concatenate(a_parts), np.concatenate(b_parts)


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
class _Factorisation:
    deviance: float
    R: np.ndarray  # (p+1, p+1) upper factor of the reduced [X y] cross-product matrix
    r2: float  # penalised residual sum of squares
    gradient: np.ndarray | None = None


def _factorise(theta: np.ndarray, cp: Crossproducts, reml: bool, gradient: bool = False) -> _Factorisation:
    q, p = cp.q, cp.p
    patterns = cp.pattern_ztz is not None and not cp.n_clinics
    ztz = cp.pattern_ztz if patterns and cp.pattern_ztz is not None else cp.ztz
    G = ztz.shape[2]
    T = _relative_factor(theta, q)
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
    if cp.n_clinics:
        logdet_c, Vc = _clinic_block(theta[-1], M, cp)
        logdet += logdet_c
        reduced -= Vc.T @ Vc
    try:
        R = np.linalg.cholesky(reduced).T
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "the fixed-effects design is rank deficient (collinear columns); drop a term"
        ) from exc
    r2 = float(R[p, p] ** 2)
    n = cp.n_obs
    dof = n - p if reml else n
    dev = logdet + dof * (1.0 + _LOG_2PI + np.log(r2 / dof))
    if reml:
        dev += 2.0 * float(np.log(np.diag(R)[:p]).sum())
    grad = None
    if gradient and not cp.n_clinics:
        grad = _gradient(ztz, M, P, R, r2, dof, reml, cp, patterns)
    return _Factorisation(deviance=float(dev), R=R, r2=r2, gradient=grad)


def _gradient(
    ztz: np.ndarray,
    M: np.ndarray,
    P: np.ndarray,
    R: np.ndarray,
    r2: float,
    dof: int,
    reml: bool,
    cp: Crossproducts,
    patterns: bool,
) -> np.ndarray:
    """Exact gradient of the profiled deviance in θ (patient term only).

    With Sᵢ = ZᵢᵀZᵢ, Aᵢ = TᵀSᵢT + I, Mᵢ = TAᵢ⁻¹Tᵀ, Pᵢ = Aᵢ⁻¹Tᵀ and Qᵢ = I − SᵢMᵢ, a change dT gives
    d log|Aᵢ| = 2 tr(SᵢTAᵢ⁻¹ dTᵀ) and dMᵢ = Qᵢᵀ dT Pᵢ + Pᵢᵀ dTᵀ Qᵢ; the reduced [X y] cross-product matrix
    changes by −Σᵢ Bᵢᵀ dMᵢ Bᵢ (Bᵢ = Zᵢᵀ[X y]); r² and log|R_X|² follow from it by the usual Schur-complement
    identities (d r² = wᵀ D w with w = (−β, 1); d log|R_X|² = tr(R_X⁻¹R_X⁻ᵀ Dₓₓ)).
    """
    q, p = cp.q, cp.p
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

    RX = R[:p, :p]
    beta = np.linalg.solve(RX, R[:p, p])
    w = np.append(-beta, 1.0)
    RXinv = np.linalg.solve(RX, np.eye(p))
    XtXinv = RXinv @ RXinv.T
    grad = []
    for j in range(q):
        for i in range(j, q):  # θ order: T filled column by column; this θ is T[i, j]
            d_logdet = 2.0 * STA[i, j]
            UV = uv(i, j)
            D = -(UV + UV.T)
            d_r2 = float(w @ D @ w)
            g = d_logdet + dof * d_r2 / r2
            if reml:
                g += float(np.sum(XtXinv * D[:p, :p]))
            grad.append(g)
    return np.array(grad)


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


@dataclass(frozen=True)
class MixedModelFit:
    """A fitted linear mixed model; field names follow the `strigil registry fit --json` contract."""

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

    @property
    def se(self) -> np.ndarray:
        """Standard errors of the fixed effects."""
        return np.sqrt(np.diag(self.vcov))

    def to_contract(self) -> dict[str, object]:
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


def _theta_bounds(q: int, clinic: bool) -> list[tuple[float | None, float | None]]:
    bounds: list[tuple[float | None, float | None]] = []
    for j in range(q):
        for i in range(j, q):
            bounds.append((0.0, None) if i == j else (None, None))
    if clinic:
        bounds.append((0.0, None))
    return bounds


def _fd_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray
) -> tuple[np.ndarray, list[float]]:
    """Central-difference gradient; also returns f at x ± hᵢeᵢ (reused for the Hessian's diagonal)."""
    k = len(x)
    g = np.empty(k)
    values: list[float] = []
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        fp, fm = f(x + e), f(x - e)
        values += [fp, fm]
        g[i] = (fp - fm) / (2.0 * h[i])
    return g, values


def _fd_hessian(
    f: Callable[[np.ndarray], float], x: np.ndarray, fx: float, h: np.ndarray, values: list[float]
) -> np.ndarray:
    """Central-difference Hessian (the profiled deviance is smooth in θ, also across θᵢᵢ = 0)."""
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        H[i, i] = (values[2 * i] - 2.0 * fx + values[2 * i + 1]) / h[i] ** 2
        for j in range(i):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i], ej[j] = h[i], h[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * h[i] * h[j]
            )
    return H


@dataclass(frozen=True)
class _Optimum:
    x: np.ndarray
    fun: float
    converged: bool
    n_evaluations: int
    hessian: np.ndarray


def _newton_minimise(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray,
    hessian_guess: np.ndarray | None = None,
    max_iter: int = 60,
) -> _Optimum:
    """Projected Newton with finite-difference derivatives, a positive-definite Hessian and backtracking.

    θ has only q(q+1)/2 (+1) entries, so derivatives by finite differences are cheap; the profiled deviance is
    defined on both sides of the bounds θᵢᵢ ≥ 0 (T and −T give the same covariance), so central differences at
    a bound are valid. With `hessian_guess` (e.g. from a fit on a subset of patients, scaled), the Hessian is
    updated by BFGS instead of recomputed, which needs only the gradient's 2k evaluations per step.
    """
    count = [0]

    def fc(x: np.ndarray) -> float:
        count[0] += 1
        return f(x)

    x = np.maximum(np.asarray(x0, dtype=float), lower)
    fx = fc(x)
    H = hessian_guess
    g_prev: np.ndarray | None = None
    s_prev: np.ndarray | None = None
    converged = False
    for _ in range(max_iter):
        h = 1e-4 * np.maximum(np.abs(x), 0.1)
        g, values = _fd_gradient(fc, x, h)
        if hessian_guess is None:
            H = _fd_hessian(fc, x, fx, h, values)
        elif g_prev is not None and s_prev is not None and H is not None:
            yk = g - g_prev
            sy = float(s_prev @ yk)
            if sy > 1e-12 * float(np.linalg.norm(s_prev) * np.linalg.norm(yk)):
                Hs = H @ s_prev
                H = H - np.outer(Hs, Hs) / float(s_prev @ Hs) + np.outer(yk, yk) / sy
        assert H is not None
        # Variables held at their bound by a gradient pointing outward stay there.
        free = ~((x <= lower) & (g > 0))
        step = np.zeros_like(x)
        if free.any():
            w, U = np.linalg.eigh(H[np.ix_(free, free)])
            w = np.maximum(np.abs(w), 1e-8 * max(float(np.abs(w).max()), 1e-300))
            step[free] = -(U @ ((U.T @ g[free]) / w))
        decrement = float(-(g @ step))
        if decrement < DECREMENT_TOL * max(1.0, abs(fx)) or np.all(np.abs(step) < STEP_TOL):
            converged = True
            break
        t = 1.0
        while True:
            x_new = np.maximum(x + t * step, lower)
            f_new = fc(x_new)
            if f_new <= fx + 1e-4 * float(g @ (x_new - x)) or t < 1e-3:
                break
            t *= 0.25
        if f_new > fx:
            # No decrease along a Newton direction: at the optimum up to rounding of the deviance.
            converged = decrement < 1e-8 * max(1.0, abs(fx))
            break
        g_prev, s_prev = g, x_new - x
        improvement = fx - f_new
        x, fx = x_new, f_new
        if improvement < 1e-12 * max(1.0, abs(fx)) and t == 1.0:
            converged = True
            break
    assert H is not None
    return _Optimum(x=x, fun=fx, converged=converged, n_evaluations=count[0], hessian=H)


def _quasi_newton_minimise(
    fg: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    hessian_guess: np.ndarray | None = None,
    max_iter: int = 100,
) -> _Optimum:
    """BFGS with an exact gradient, started from a finite-difference Hessian of that gradient (or a guess)."""
    count = [0]

    def fgc(x: np.ndarray) -> tuple[float, np.ndarray]:
        count[0] += 1
        return fg(x)

    x = np.asarray(x0, dtype=float)
    fx, g = fgc(x)
    k = len(x)
    if hessian_guess is None:
        h = 1e-5 * np.maximum(np.abs(x), 0.1)
        H = np.empty((k, k))
        for i in range(k):
            e = np.zeros(k)
            e[i] = h[i]
            H[i] = (fgc(x + e)[1] - g) / h[i]
        H = 0.5 * (H + H.T)
    else:
        H = hessian_guess
    converged = False
    for _ in range(max_iter):
        w, U = np.linalg.eigh(H)
        w = np.maximum(np.abs(w), 1e-8 * max(float(np.abs(w).max()), 1e-300))
        step = -(U @ ((U.T @ g) / w))
        decrement = float(-(g @ step))
        if decrement < DECREMENT_TOL * max(1.0, abs(fx)) or np.all(np.abs(step) < STEP_TOL):
            converged = True
            break
        t = 1.0
        while True:
            x_new = x + t * step
            f_new, g_new = fgc(x_new)
            if f_new <= fx - 1e-4 * t * decrement or t < 1e-3:
                break
            t *= 0.25
        if f_new > fx:
            # No decrease along a Newton-like direction: at the optimum up to rounding of the deviance.
            converged = decrement < 1e-8 * max(1.0, abs(fx))
            break
        s_k, y_k = x_new - x, g_new - g
        sy = float(s_k @ y_k)
        if sy > 1e-12 * float(np.linalg.norm(s_k) * np.linalg.norm(y_k)):
            Hs = H @ s_k
            H = H - np.outer(Hs, Hs) / float(s_k @ Hs) + np.outer(y_k, y_k) / sy
        x, fx, g = x_new, f_new, g_new
    assert H is not None
    return _Optimum(x=x, fun=fx, converged=converged, n_evaluations=count[0], hessian=H)


# Above this many patients, θ is first estimated on a systematic subset of patients (a warm start only; the
# estimate reported is always the optimum on all rows).
PILOT_GROUPS = 40_000

# Stop when the predicted decrease of the deviance (the Newton decrement) is below this, relative to the
# deviance, or when no entry of θ would move by more than STEP_TOL.
DECREMENT_TOL = 1e-15
STEP_TOL = 1e-10


def _minimise(cp: Crossproducts, reml: bool, start: np.ndarray, pilot: Crossproducts | None) -> _Optimum:
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
        full = _newton_minimise(
            lambda th: _factorise(th, cp, reml).deviance, start, lower, hessian_guess=hessian
        )
        if not full.converged and hessian is not None:
            full = _newton_minimise(lambda th: _factorise(th, cp, reml).deviance, full.x, lower)
    else:

        def fg(th: np.ndarray) -> tuple[float, np.ndarray]:
            fac = _factorise(th, cp, reml, gradient=True)
            assert fac.gradient is not None
            return fac.deviance, fac.gradient

        full = _quasi_newton_minimise(fg, start, hessian)
        if not full.converged and hessian is not None:
            full = _quasi_newton_minimise(fg, full.x)
    return _Optimum(full.x, full.fun, full.converged, first_evals + full.n_evaluations, full.hessian)


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
    p = cp.p
    RX = fac.R[:p, :p]
    beta = np.linalg.solve(RX, fac.R[:p, p])
    sigma2 = fac.r2 / (cp.n_obs - p if reml else cp.n_obs)
    RXinv = np.linalg.solve(RX, np.eye(p))
    vcov = sigma2 * (RXinv @ RXinv.T)
    T = _relative_factor(theta, q)
    random_cov = {group_name: sigma2 * (T @ T.T)}
    terms = {group_name: random_terms}
    n_groups = {group_name: cp.n_groups}
    if cp.n_clinics:
        random_cov[clinic_name] = np.array([[sigma2 * theta[-1] ** 2]])
        terms[clinic_name] = ("Intercept",)
        n_groups[clinic_name] = cp.n_clinics
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
        n_obs=cp.n_obs,
        n_groups=n_groups,
        converged=converged,
        n_evaluations=n_eval,
    )
