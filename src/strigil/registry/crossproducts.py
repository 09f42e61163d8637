"""Per-patient sums of cross-products: everything the mixed-model fit needs from the rows, made in one pass.

Built with np.bincount over integer patient codes (rows need not be sorted). When many patients share the
same pattern of visits (the same ZᵢᵀZᵢ), the sums are also grouped by pattern, which makes every evaluation of
the deviance independent of the number of patients (see mixed_model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PATTERNS_BY_PRODUCT",
    "PATTERN_SHARE",
    "Crossproducts",
    "crossproducts",
]


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
        ones = bool(np.all(Z[:, i] == 1.0))  # the random intercept: no products needed
        for k in range(p):
            ztxy[i, :, k] = np.bincount(g, X[:, k] if ones else Z[:, i] * X[:, k], minlength=G)
        ztxy[i, :, p] = np.bincount(g, y if ones else Z[:, i] * y, minlength=G)
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


# Up to this many patterns, the per-pattern sums are one matrix product per pattern; beyond, reduceat.
PATTERNS_BY_PRODUCT = 20_000


def _visit_patterns(
    ztz: np.ndarray, ztxy: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Group patients by identical ZᵢᵀZᵢ and sum Bᵢ[c]ᵀBᵢ[d] within each group (exact, no approximation)."""
    q, _, G = ztz.shape
    m = ztxy.shape[2]
    if G < 64:
        return None, None, None
    keys = [np.ascontiguousarray(ztz[i, j]) for i in range(q) for j in range(i + 1)]
    # Sort by a 64-bit hash of the keys (one integer sort instead of a lexicographic one) and check that
    # every run of equal hashes holds equal keys; on a collision, sort the keys themselves.
    h = np.zeros(G, dtype=np.uint64)
    for k, key in enumerate(keys):
        h ^= key.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15 + 2 * k + 1)
        h = (h << np.uint64(13)) | (h >> np.uint64(51))
    order = np.argsort(h, kind="stable")
    ordered = np.stack([key[order] for key in keys], axis=1)
    hs = h[order]
    starts = np.r_[0, np.flatnonzero(hs[1:] != hs[:-1]) + 1]
    K = len(starts)
    if K > PATTERN_SHARE * G:
        return None, None, None
    same = np.repeat(ordered[starts], np.diff(np.r_[starts, G]), axis=0)
    if not np.array_equal(same, ordered):  # a hash collision: fall back to the exact sort
        order = np.lexsort(keys[::-1])
        ordered = np.stack([key[order] for key in keys], axis=1)
        starts = np.r_[0, np.flatnonzero(np.any(ordered[1:] != ordered[:-1], axis=1)) + 1]
        K = len(starts)
    uniq = ordered[starts]
    counts = np.diff(np.r_[starts, G])
    pz = np.empty((q, q, K))
    col = 0
    for i in range(q):
        for j in range(i + 1):
            pz[i, j] = pz[j, i] = uniq[:, col]
            col += 1
    bb = np.empty((q, q, K, m, m))
    if K <= PATTERNS_BY_PRODUCT:
        # One matrix product per pattern over its patients' rows [Bᵢ[0] … Bᵢ[q-1]] gives every (c, d) block.
        flat = np.concatenate([ztxy[c] for c in range(q)], axis=1)[order]  # (G, q·m), sorted by pattern
        ends = np.r_[starts[1:], G]
        for k in range(K):
            rows = flat[starts[k] : ends[k]]
            bb[:, :, k] = (rows.T @ rows).reshape(q, m, q, m).transpose(0, 2, 1, 3)
    else:
        B = [ztxy[c][order] for c in range(q)]
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
