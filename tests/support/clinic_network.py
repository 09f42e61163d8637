"""A small clinic network for the pooling tests: three clinics of different sizes and dose distributions,
and one with fewer than 5 patients (generated with `strigil.registry.generator`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from strigil.registry.generator import RegistryTruth, generate_registry

__all__ = ["NETWORK_CLINICS", "NETWORK_FORMULA", "all_rows", "network_columns", "network_levels"]


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
