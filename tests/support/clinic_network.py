"""A small clinic network for the pooling tests: three clinics of different sizes and dose distributions,
and one with fewer than 5 patients (generated with `strigil.registry.generator`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from strigil.registry.generator import RegistryTruth, generate_registry

__all__ = [
    "NETWORK_CLINICS",
    "NETWORK_FORMULA",
    "all_rows",
    "network_columns",
    "network_levels",
    "shareable_network_rows",
    "shareable_rows",
    "visit_pattern_cells",
]


# Three clinics of different sizes and dose distributions, and one with fewer than 5 patients.
NETWORK_CLINICS = (
    ("north", 140, (1, 2, 3)),
    ("south", 60, (3, 4, 5, 6)),
    ("west", 95, (2, 4, 8)),
    ("tiny", 3, (1, 2)),
)
NETWORK_FORMULA = "pain ~ session + session:minutes + session:exercise + phase + clinic"


def network_columns(missing_visit_prob: float = 0.15) -> dict[str, dict[str, Any]]:
    """Each clinic's rows (generated; patient codes unique across clinics), by clinic name."""
    out: dict[str, dict[str, Any]] = {}
    for k, (name, patients, doses) in enumerate(NETWORK_CLINICS):
        truth = RegistryTruth(
            n_clinics=1,
            patients_per_clinic=patients,
            minutes_choices=doses,
            missing_visit_prob=missing_visit_prob,
            intercept=6.0 + 0.3 * k,
        )
        cols = dict(generate_registry(truth, seed=100 + k).columns)
        cols["clinic"] = np.full(len(cols["pain"]), name)
        cols["patient"] = np.char.add(f"{name}-", cols["patient"])
        out[name] = cols
    return out


def network_levels() -> dict[str, list[str]]:
    """The network's agreed coding of the text variables."""
    return {"phase": ["acute", "chronic"], "clinic": [c[0] for c in NETWORK_CLINICS]}


def all_rows(clinics: dict[str, dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """The named clinics' rows in one table (the single-database view)."""
    first = clinics[names[0]]
    return {k: np.concatenate([clinics[n][k] for n in names]) for k in first}


def visit_pattern_cells(columns: dict[str, Any], formula: str, random: str) -> list[list[int]]:
    """Independently of the clinic's code: for each visit pattern (a patient's number of visits, Σ session and
    Σ session², i.e. ZᵢᵀZᵢ of a random intercept and slope), the patient counts of every group a per-pattern
    sum describes — the pattern itself and, within it, each design column's nonzero and zero groups."""
    from strigil.registry.growth_model import growth_design

    design = growth_design(columns, formula, [random])
    patient = design.groups
    session = np.asarray(columns["session"], dtype=float)
    keys: dict[int, tuple[float, float, float]] = {}
    for g in np.unique(patient):
        s = session[patient == g]
        keys[int(g)] = (float(len(s)), float(s.sum()), float((s * s).sum()))
    cells = []
    for key in sorted(set(keys.values())):
        members = [g for g, k in keys.items() if k == key]
        rows = np.isin(patient, members)
        counts = [len(members)]
        for j in range(design.X.shape[1]):
            for mask in (design.X[:, j] != 0, design.X[:, j] == 0):
                n = len(np.unique(patient[rows & mask]))
                if n:
                    counts.append(n)
        cells.append(counts)
    return cells


def shareable_rows(
    columns: dict[str, Any], formula: str, random: str, min_patients: int = 5
) -> dict[str, Any]:
    """The rows of patients whose visit-pattern cell may be disclosed (each of its counts ≥ min_patients)."""
    from strigil.registry.growth_model import growth_design

    patient = growth_design(columns, formula, [random]).groups
    session = np.asarray(columns["session"], dtype=float)
    by_key: dict[tuple[float, float, float], list[int]] = {}
    for g in np.unique(patient):
        s = session[patient == g]
        by_key.setdefault((float(len(s)), float(s.sum()), float((s * s).sum())), []).append(int(g))
    keep = np.zeros(len(patient), dtype=bool)
    for members in by_key.values():
        rows = np.isin(patient, members)
        sub = {k: v[rows] for k, v in columns.items()}
        if all(n >= min_patients for n in visit_pattern_cells(sub, formula, random)[0]):
            keep |= rows
    return {k: v[keep] for k, v in columns.items()}


def shareable_network_rows(clinics: dict[str, dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """The single-database view of what the named clinics may share under the network's model."""
    own = NETWORK_FORMULA.replace(" + clinic", "")
    return all_rows({n: shareable_rows(clinics[n], own, "1 + session | patient") for n in names}, names)
