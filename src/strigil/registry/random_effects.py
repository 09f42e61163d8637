"""Random effects of a fitted mixed model: conditional modes (BLUPs) with their conditional variances.

With b = Λθ u and u | y ~ N(ũ, σ² P⁻¹), P = ΛθᵀZᵀZΛθ + I, the conditional modes are ũ = P⁻¹ΛθᵀZᵀ(y − Xβ̂) and
the conditional covariance of b is σ² Λθ P⁻¹ Λθᵀ, at the estimates (θ̂, β̂, σ̂) — lme4's `ranef(condVar = TRUE)`
(Bates et al. 2015, J Stat Softw 67(1), section 3.5). P is block diagonal over patients except for the clinic
intercepts; these are eliminated through the Schur complement S = D − BᵀA⁻¹B (clinics × clinics), so that
only the diagonal blocks of P⁻¹ are formed: A_i⁻¹ + W_i S⁻¹ W_iᵀ with W = A⁻¹B for patient i, S⁻¹ for clinics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from strigil.display import Presentable, Summary
from strigil.registry.crossproducts import crossproducts
from strigil.registry.mixed_model import _relative_factor

if TYPE_CHECKING:
    import pandas as pd

    from strigil.registry.mixed_model import MixedModelFit

__all__ = ["GroupEffects", "RandomEffects", "ranef"]


@dataclass(frozen=True, eq=False)
class GroupEffects:
    """The random effects of one grouping factor: one row per level, one column per term."""

    group: str
    levels: tuple[str, ...]
    terms: tuple[str, ...]
    values: np.ndarray  # (levels, terms)
    condvar: np.ndarray  # (levels, terms, terms): conditional covariance of each level's effects

    @property
    def condsd(self) -> np.ndarray:
        """Conditional standard deviations (levels, terms)."""
        return np.sqrt(np.einsum("ijj->ij", self.condvar))


@dataclass(frozen=True, eq=False, repr=False)
class RandomEffects(Presentable):
    """BLUPs of every grouping factor (patient, and clinic when the model has one)."""

    groups: dict[str, GroupEffects]

    def __getitem__(self, group: str) -> GroupEffects:
        return self.groups[group]

    def to_frame(self, group: str | None = None) -> pd.DataFrame:
        """One row per level: each term's BLUP and its conditional SD (`condsd_<term>`); the first group
        (the patient) unless `group` names another."""
        from strigil.display import frame

        g = self.groups[group] if group is not None else next(iter(self.groups.values()))
        cols: dict[str, np.ndarray] = {t: g.values[:, j] for j, t in enumerate(g.terms)}
        cols.update({f"condsd_{t}": g.condsd[:, j] for j, t in enumerate(g.terms)})
        return frame(cols, g.levels, g.group)

    def summary(self) -> Summary:
        """The BLUPs of each group, as lme4 prints `ranef(fit)`."""
        from strigil.registry.printing import random_effects_summary

        return random_effects_summary(self)


def ranef(fit: MixedModelFit) -> RandomEffects:
    """Conditional modes and conditional covariances of the random effects at the estimates."""
    d = fit.design
    if d is None:
        raise ValueError("this fit was pooled from clinic aggregates; random effects need the rows")
    cp = crossproducts(d.X, d.y, d.Z, d.groups, d.clinics)
    q, p, G = cp.q, cp.p, cp.n_groups
    beta, sigma2 = fit.beta, fit.sigma**2
    T = _relative_factor(fit.theta, q)
    S = cp.ztz.transpose(2, 0, 1)  # (G, q, q) ZᵢᵀZᵢ
    A = np.einsum("ma,imn,nb->iab", T, S, T) + np.eye(q)
    A_inv = np.linalg.inv(A)
    resid_z = cp.ztxy[:, :, p].T - np.einsum("agk,k->ga", cp.ztxy[:, :, :p], beta)  # (G, q) Zᵢᵀ(yᵢ − Xᵢβ)
    r_a = resid_z @ T  # Tᵀ Zᵢᵀ(yᵢ − Xᵢβ), row-wise
    u_a = np.einsum("iab,ib->ia", A_inv, r_a)
    cov_a = A_inv
    groups: dict[str, GroupEffects] = {}
    patient, *clinic = d.terms
    if cp.n_clinics:
        assert cp.cell_z is not None and cp.cell_group is not None and cp.cell_clinic is not None
        assert cp.clinic_n is not None and cp.clinic_xy is not None
        C, lam = cp.n_clinics, float(fit.theta[-1])
        B = np.zeros((G, q, C))  # coupling of patient i's effects with clinic c's intercept
        np.add.at(B.transpose(0, 2, 1), (cp.cell_group, cp.cell_clinic), lam * (cp.cell_z.T @ T))
        W = np.einsum("iab,ibc->iac", A_inv, B)
        schur = np.diag(lam * lam * cp.clinic_n + 1.0) - np.einsum("iac,iad->cd", B, W)
        s_inv = np.linalg.inv(schur)
        r_d = lam * (cp.clinic_xy[:, p] - cp.clinic_xy[:, :p] @ beta)
        u_d = s_inv @ (r_d - np.einsum("iac,ia->c", W, r_a))
        u_a = u_a - W @ u_d
        cov_a = A_inv + np.einsum("iac,cd,ibd->iab", W, s_inv, W)
        groups_c = GroupEffects(
            clinic[0].group,
            d.clinic_levels,
            ("Intercept",),
            (lam * u_d)[:, None],
            (sigma2 * lam * lam * np.diag(s_inv))[:, None, None],
        )
    b = u_a @ T.T
    cond = sigma2 * np.einsum("am,imn,bn->iab", T, cov_a, T)
    groups[patient.group] = GroupEffects(patient.group, d.group_levels, patient.terms, b, cond)
    if cp.n_clinics:
        groups[groups_c.group] = groups_c
    return RandomEffects(groups)
