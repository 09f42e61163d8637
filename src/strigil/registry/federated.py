"""Federated (two-stage) analysis: each clinic shares model estimates, never patient rows.

Stage 1 (in each clinic): fit the growth model to the clinic's own rows and keep only the fixed-effect
estimates, their covariance matrix and counts (`site_summary`). Nothing in a summary describes fewer than
`MIN_PATIENTS` patients: a clinic with fewer patients produces no summary, a coefficient informed by fewer
patients (e.g. a category seen in 3 patients) is withheld, and so is a count below the threshold.
Stage 2 (anywhere): pool the clinics' estimates (`pool_sites`) — each coefficient by a random-effects model
with REML (`strigil.meta.rma`, as metafor's rma), and the whole vector by a multivariate common-effect
(inverse-variance, generalised least squares) estimate, reported alongside.

Two-stage pooling of this kind is described by Riley, Lambert & Abo-Zaid ("Meta-analysis of individual
participant data: rationale, conduct, and reporting", BMJ 2010;340:c221). With patient-level covariates it
agrees with the one-stage model of all rows up to sampling error (tests/registry/test_federated.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import Presentable, Summary
from strigil.registry.design import Column, codes_of, values_of
from strigil.registry.disclosure import MIN_PATIENTS
from strigil.registry.mixed_model import MixedModelFit

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MIN_PATIENTS",
    "SUMMARY_FORMAT",
    "PooledCoefficient",
    "PooledResult",
    "SiteTooSmall",
    "fit_site_summary",
    "pool_sites",
    "site_summary",
]


SUMMARY_FORMAT = "strigil-registry-site-summary/1"


class SiteTooSmall(ValueError):
    """The clinic has fewer patients than the disclosure threshold: no summary may be shared."""


def _patients_with(nonzero: np.ndarray, groups: np.ndarray, n_groups: int) -> int:
    return int((np.bincount(groups, nonzero.astype(float), minlength=n_groups) > 0).sum())


def site_summary(
    fit: MixedModelFit,
    X: np.ndarray,
    groups: np.ndarray,
    *,
    site: str,
    formula: str,
    random: Sequence[str],
    dose_counts: Mapping[str, Column] | None = None,
    min_patients: int = MIN_PATIENTS,
) -> dict[str, Any]:
    """The shareable aggregate of one clinic's fit (plain JSON-ready data, no patient rows or codes).

    `X` and `groups` are the fixed-effects matrix and patient codes the fit used: they decide which
    coefficients describe at least `min_patients` patients. `dose_counts` maps a column name to its values
    per row (e.g. minutes, technique): the summary gives the number of patients per value, withholding
    values seen in fewer than `min_patients` patients.
    """
    group_name = next(iter(fit.n_groups))
    n_patients = fit.n_groups[group_name]
    if n_patients < min_patients:
        raise SiteTooSmall(
            f"site {site!r} has {n_patients} patients; a summary must describe at least {min_patients}"
        )
    g = np.asarray(groups, dtype=np.intp)
    keep: list[int] = []
    withheld: list[str] = []
    for j, name in enumerate(fit.fixed_names):
        col = X[:, j]
        enough = _patients_with(col != 0, g, n_patients) >= min_patients
        if enough and name != "Intercept" and np.isin(col, (0.0, 1.0)).all():
            # An indicator also describes the patients in the reference category.
            enough = _patients_with(col == 0, g, n_patients) >= min_patients
        if enough:
            keep.append(j)
        else:
            withheld.append(name)
    names = [fit.fixed_names[j] for j in keep]
    counts: dict[str, dict[str, int | None]] = {}
    for column, values in (dose_counts or {}).items():
        vals = values_of(values)
        level_codes, n_levels = codes_of(np.asarray(vals).astype(str))
        levels = np.unique(np.asarray(vals).astype(str))
        per_level: dict[str, int | None] = {}
        for k in range(n_levels):
            n = _patients_with(level_codes == k, g, n_patients)
            per_level[str(levels[k])] = n if n >= min_patients else None
        counts[column] = per_level
    contract = fit.to_json()
    return {
        "format": SUMMARY_FORMAT,
        "site": site,
        "formula": formula,
        "random": list(random),
        "criterion": contract["criterion"],
        "fixed_names": names,
        "estimate": [float(fit.beta[j]) for j in keep],
        "covariance": [[float(fit.vcov[a, b]) for b in keep] for a in keep],
        "withheld": withheld,
        "n_obs": fit.n_obs,
        "n_patients": n_patients,
        "random_sd": contract["random_sd"],
        "random_corr": contract["random_corr"],
        "sigma": fit.sigma,
        "converged": fit.converged,
        "patients_per_value": counts,
        "min_patients": min_patients,
        "note": "counts below min_patients are withheld (null); min_patients is a configurable heuristic",
    }


def fit_site_summary(
    columns: Mapping[str, Column],
    formula: str,
    random: Sequence[str],
    *,
    site: str,
    count_columns: Sequence[str] = (),
    reml: bool = True,
    min_patients: int = MIN_PATIENTS,
) -> dict[str, Any]:
    """Fit one clinic's rows and return its shareable summary (see `site_summary`)."""
    from strigil.registry.growth_model import fit_design, growth_design

    design = growth_design(columns, formula, random)
    n_patients = int(design.groups.max()) + 1 if len(design.groups) else 0
    if n_patients < min_patients:
        raise SiteTooSmall(
            f"site {site!r} has {n_patients} patients; a summary must describe at least {min_patients}"
        )
    fit = fit_design(design, reml=reml)
    from strigil.registry.growth_model import take_rows

    counts = {c: take_rows(columns[c], design.rows) for c in count_columns}
    return site_summary(
        fit,
        design.X,
        design.groups,
        site=site,
        formula=formula,
        random=random,
        dose_counts=counts,
        min_patients=min_patients,
    )


@dataclass(frozen=True)
class PooledCoefficient:
    """One coefficient pooled across clinics by a random-effects model (REML)."""

    name: str
    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    tau2: float
    k: int  # number of clinics that reported it


@dataclass(frozen=True, repr=False)
class PooledResult(Presentable):
    """Two-stage pooled estimates across clinics."""

    coefficients: tuple[PooledCoefficient, ...]
    common_names: tuple[str, ...]
    common_estimate: np.ndarray  # multivariate common-effect (GLS) estimate over the shared coefficients
    common_covariance: np.ndarray
    sites: tuple[str, ...]
    n_obs: int
    n_patients: int

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: the random-effects pooled estimate, SE, interval, τ² and clinics."""
        from strigil.display import frame

        cols = ("estimate", "se", "ci_lb", "ci_ub", "tau2", "k")
        return frame({c: [getattr(x, c) for x in self.coefficients] for c in cols},
                     [x.name for x in self.coefficients], "term")

    def summary(self) -> Summary:
        """The pooled coefficients across clinics."""
        from strigil.registry.printing import pooled_result_summary

        return pooled_result_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "sites": list(self.sites),
            "n_sites": len(self.sites),
            "n_obs": self.n_obs,
            "n_patients": self.n_patients,
            "random_effects": {
                c.name: {
                    "estimate": c.estimate,
                    "se": c.se,
                    "ci_lb": c.ci_lb,
                    "ci_ub": c.ci_ub,
                    "tau2": c.tau2,
                    "k": c.k,
                }
                for c in self.coefficients
            },
            "common_effect": {
                n: {"estimate": float(b), "se": float(np.sqrt(self.common_covariance[i, i]))}
                for i, (n, b) in enumerate(zip(self.common_names, self.common_estimate, strict=True))
            },
            "method": "per coefficient: random-effects REML (strigil.meta.rma); vector: multivariate "
            "common-effect inverse-variance (GLS) over the coefficients every site reported",
        }


def _check(summary: Mapping[str, Any], index: int) -> None:
    if summary.get("format") != SUMMARY_FORMAT:
        raise ValueError(f"summary {index}: format={summary.get('format')!r}; expected {SUMMARY_FORMAT!r}")
    for key in ("fixed_names", "estimate", "covariance", "site", "n_obs", "n_patients"):
        if key not in summary:
            raise ValueError(f"summary {index} ({summary.get('site')!r}): missing field {key!r}")


def pool_sites(summaries: Sequence[Mapping[str, Any]]) -> PooledResult:
    """Pool clinic summaries two-stage (per-coefficient REML random effects; Riley et al. BMJ 2010)."""
    from strigil.meta import rma

    if len(summaries) < 2:
        raise ValueError(f"{len(summaries)} site summary given; pooling needs at least 2")
    for i, s in enumerate(summaries):
        _check(s, i)
    models = {(s["formula"], tuple(s["random"])) for s in summaries}
    if len(models) > 1:
        raise ValueError(f"the summaries come from different models: {sorted(models)}; pool like models only")
    order: list[str] = []
    for s in summaries:
        order += [n for n in s["fixed_names"] if n not in order]
    pooled: list[PooledCoefficient] = []
    for name in order:
        est, var = [], []
        for s in summaries:
            if name in s["fixed_names"]:
                j = s["fixed_names"].index(name)
                est.append(s["estimate"][j])
                var.append(s["covariance"][j][j])
        if len(est) < 2:
            continue
        res = rma(np.array(est), np.array(var), method="REML")
        coef = res.beta[0]
        pooled.append(
            PooledCoefficient(
                name,
                float(coef.estimate),
                float(coef.se),
                float(coef.ci_lb),
                float(coef.ci_ub),
                float(res.tau2),
                len(est),
            )
        )
    common = [n for n in order if all(n in s["fixed_names"] for s in summaries)]
    info = np.zeros((len(common), len(common)))
    score = np.zeros(len(common))
    for s in summaries:
        idx = [s["fixed_names"].index(n) for n in common]
        V = np.asarray(s["covariance"], dtype=float)[np.ix_(idx, idx)]
        b = np.asarray(s["estimate"], dtype=float)[idx]
        Vinv = np.linalg.inv(V)
        info += Vinv
        score += Vinv @ b
    cov = np.linalg.inv(info)
    return PooledResult(
        coefficients=tuple(pooled),
        common_names=tuple(common),
        common_estimate=cov @ score,
        common_covariance=cov,
        sites=tuple(str(s["site"]) for s in summaries),
        n_obs=int(sum(s["n_obs"] for s in summaries)),
        n_patients=int(sum(s["n_patients"] for s in summaries)),
    )
