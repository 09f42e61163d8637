"""Federated two-stage pooling: site files carry no patient data, small cells are withheld, and the pooled
result agrees with the one-stage analysis of all rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from strigil.registry.federated import SiteTooSmall, fit_site_summary, pool_sites
from strigil.registry.generator import TRUE_FORMULA, RegistryTruth, generate_registry
from strigil.registry.growth_model import fit_growth_model

PATIENT = ["1 + session | patient"]


def _clinic_rows(columns: dict[str, np.ndarray], clinic: str) -> dict[str, np.ndarray]:
    rows = columns["clinic"] == clinic
    return {k: v[rows] for k, v in columns.items()}


@pytest.fixture(scope="module")
def registry() -> dict[str, np.ndarray]:
    truth = RegistryTruth(n_clinics=8, patients_per_clinic=60, noise="t", clinic_intercept_sd=0.4)
    return generate_registry(truth, seed=21).columns


@pytest.fixture(scope="module")
def summaries(registry: dict[str, np.ndarray]) -> list[dict[str, object]]:
    return [
        fit_site_summary(_clinic_rows(registry, c), TRUE_FORMULA, PATIENT, site=c, count_columns=["minutes"])
        for c in np.unique(registry["clinic"])
    ]


def test_pooled_agrees_with_one_stage_within_its_se(
    registry: dict[str, np.ndarray], summaries: list[dict[str, object]]
) -> None:
    pooled = pool_sites(summaries)
    one_stage = fit_growth_model(registry, TRUE_FORMULA, [*PATIENT, "1 | clinic"]).to_json()
    assert len(pooled.coefficients) == 5
    for c in pooled.coefficients:
        assert c.k == 8
        assert abs(c.estimate - one_stage["fixed"][c.name]) < c.se, c.name
    for i, name in enumerate(pooled.common_names):
        se = float(np.sqrt(pooled.common_covariance[i, i]))
        assert abs(pooled.common_estimate[i] - one_stage["fixed"][name]) < 2 * se, name


def test_site_files_hold_no_patient_codes_or_rows(
    registry: dict[str, np.ndarray], summaries: list[dict[str, object]]
) -> None:
    allowed = {
        "format",
        "site",
        "formula",
        "random",
        "criterion",
        "fixed_names",
        "estimate",
        "covariance",
        "withheld",
        "n_obs",
        "n_patients",
        "random_sd",
        "random_corr",
        "sigma",
        "converged",
        "patients_per_value",
        "min_patients",
        "note",
    }
    for s in summaries:
        assert set(s) <= allowed
        text = json.dumps(s)
        rows = _clinic_rows(registry, str(s["site"]))
        for code in np.unique(rows["patient"]):
            assert code not in text
        # no list as long as the rows or the patients (no per-row or per-patient values)
        for value in s.values():
            if isinstance(value, list):
                assert len(value) < 10
        for v in rows["pain"][:50]:
            assert repr(float(v)) not in text


def test_small_clinic_gives_no_summary(registry: dict[str, np.ndarray]) -> None:
    rows = _clinic_rows(registry, "C000")
    few = np.isin(rows["patient"], np.unique(rows["patient"])[:4])
    with pytest.raises(SiteTooSmall, match="4 patients"):
        fit_site_summary({k: v[few] for k, v in rows.items()}, TRUE_FORMULA, PATIENT, site="tiny")


def test_coefficient_and_counts_about_fewer_than_5_patients_are_withheld(
    registry: dict[str, np.ndarray],
) -> None:
    rows = _clinic_rows(registry, "C001")
    patients = np.unique(rows["patient"])
    chronic = np.isin(rows["patient"], patients[:3])
    rows = dict(rows)
    rows["phase"] = np.where(chronic, "chronic", "acute")
    rows["minutes"] = np.where(chronic, 9.0, rows["minutes"])  # 3 patients with a rare dose
    s = fit_site_summary(rows, TRUE_FORMULA, PATIENT, site="C001", count_columns=["minutes"])
    assert "phase[T.chronic]" in s["withheld"]
    assert "phase[T.chronic]" not in s["fixed_names"]
    assert len(s["estimate"]) == len(s["fixed_names"]) == 4
    assert s["patients_per_value"]["minutes"]["9.0"] is None
    shown = [n for n in s["patients_per_value"]["minutes"].values() if n is not None]
    assert shown and min(shown) >= 5


def test_pooling_refuses_mixed_models(summaries: list[dict[str, object]]) -> None:
    other = dict(summaries[1])
    other["formula"] = "pain ~ session"
    with pytest.raises(ValueError, match="different models"):
        pool_sites([summaries[0], other])
    with pytest.raises(ValueError, match="at least 2"):
        pool_sites(summaries[:1])
