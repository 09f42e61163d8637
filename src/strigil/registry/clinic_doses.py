"""Dose–response per clinic and pooled: the dose term of each clinic's own growth model, and of the model of
all clinics' rows with clinic as a fixed effect (the fit the exact federated exchange reproduces)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from strigil.registry.design import Column, values_of
from strigil.registry.federated import MIN_PATIENTS

__all__ = ["ClinicDose", "clinic_dose_effects", "dose_terms"]

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class ClinicDose:
    """One clinic's (or the pooled) estimate of a dose term with its Wald 95% interval."""

    clinic: str
    term: str
    estimate: float
    ci_lb: float
    ci_ub: float
    n_patients: int
    note: str = ""


def dose_terms(names: Sequence[str], dose: str) -> list[str]:
    """The fixed-effect terms that involve the dose column (e.g. `session:minutes`)."""
    return [n for n in names if dose in n.split(":")]


def clinic_dose_effects(
    columns: Mapping[str, Column],
    formula: str,
    random: Sequence[str],
    *,
    clinic: str,
    dose: str,
    reml: bool = True,
    min_patients: int = MIN_PATIENTS,
) -> list[ClinicDose]:
    """Each clinic's dose terms (clinics with fewer than `min_patients` patients left out, said so), then the
    pooled ones from all rows with `clinic` added as a fixed effect."""
    from strigil.registry.growth_model import fit_growth_model, take_rows

    labels = np.asarray(values_of(columns[clinic])).astype(str)
    out: list[ClinicDose] = []
    patient = random[0].split("|")[1].strip()
    for site in sorted(set(labels.tolist())):
        rows = labels == site
        part = {k: take_rows(v, rows) for k, v in columns.items()}
        n_patients = len(set(np.asarray(values_of(part[patient])).astype(str).tolist()))
        if n_patients < min_patients:
            out.append(ClinicDose(site, "", np.nan, np.nan, np.nan, 0, f"fewer than {min_patients} patients"))
            continue
        try:
            fit = fit_growth_model(part, formula, random[:1], reml=reml)
        except ValueError as exc:
            out.append(ClinicDose(site, "", np.nan, np.nan, np.nan, n_patients, f"not fitted: {exc}"))
            continue
        out += _terms(site, fit.fixed_names, fit.beta, fit.se, dose, n_patients)
    pooled_formula = formula if f" {clinic}" in formula else f"{formula} + {clinic}"
    pooled = fit_growth_model(columns, pooled_formula, random[:1], reml=reml)
    n_all = next(iter(pooled.n_groups.values()))
    out += _terms("pooled", pooled.fixed_names, pooled.beta, pooled.se, dose, n_all)
    return out


def _terms(
    site: str, names: Sequence[str], beta: np.ndarray, se: np.ndarray, dose: str, n: int
) -> list[ClinicDose]:
    picked = dose_terms(names, dose)
    return [
        ClinicDose(
            site,
            t,
            float(beta[names.index(t)]),
            float(beta[names.index(t)] - _Z95 * se[names.index(t)]),
            float(beta[names.index(t)] + _Z95 * se[names.index(t)]),
            n,
        )
        for t in picked
    ]
