"""Shared helpers of the registry tests: the lme4 reference fixtures and their data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from strigil.cli.registry import read_columns
from strigil.registry.design import Column

REFERENCE = Path(__file__).parent.parent / "reference" / "lme4"


def load_fixture(name: str) -> dict[str, Any]:
    """One lme4 reference fit (written by tests/reference/lme4/make_fixtures.R)."""
    with open(REFERENCE / name) as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def load_data(csv_name: str) -> dict[str, Column]:
    """The rows lme4 fitted."""
    return read_columns(REFERENCE / csv_name)


@pytest.fixture(scope="session")
def registry_t() -> dict[str, Column]:
    """The generated registry with t noise (also fitted by lme4)."""
    return load_data("registry_t.csv")


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
    import numpy as np

    from strigil.registry.generator import RegistryTruth, generate_registry

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
    import numpy as np

    first = clinics[names[0]]
    return {k: np.concatenate([clinics[n][k] for n in names]) for k in first}
