"""Models recover the generator's chosen truth; lme4's fits of the same generated rows recover it too."""

from __future__ import annotations

import numpy as np
import pytest

from strigil.registry.generator import RegistryTruth, generate_registry
from strigil.registry.growth_model import fit_growth_model

from .conftest import load_fixture


@pytest.mark.parametrize("noise", ["t", "skewed"])
def test_fixed_effects_recovered_within_three_se(noise: str) -> None:
    truth = RegistryTruth(n_clinics=10, patients_per_clinic=150, noise=noise)
    reg = generate_registry(truth, seed=5)
    fit = fit_growth_model(reg.columns, reg.formula, ["1 + session | patient", "1 | clinic"]).to_json()
    for name, value in truth.fixed_effects().items():
        assert abs(fit["fixed"][name] - value) < 3 * fit["se"][name], name
    sd = fit["random_sd"]["patient"]
    assert sd["Intercept"] == pytest.approx(truth.patient_intercept_sd, rel=0.15)
    assert sd["session"] == pytest.approx(truth.patient_slope_sd, rel=0.2)
    assert fit["sigma"] == pytest.approx(truth.residual_sd, rel=0.1)


def test_lme4_recovers_the_same_truth_from_the_same_rows() -> None:
    # The generator's truth for registry_t.csv (tests/reference/lme4/make_registries.py).
    truth = RegistryTruth(n_clinics=8, patients_per_clinic=40, noise="t")
    ref = load_fixture("registry_t_clinic_reml.json")
    for name, value in truth.fixed_effects().items():
        assert abs(ref["fixed"][name] - value) < 3 * ref["se"][name], name


def test_generator_is_pure_and_seeded() -> None:
    a = generate_registry(RegistryTruth(n_clinics=2, patients_per_clinic=5), seed=1)
    b = generate_registry(RegistryTruth(n_clinics=2, patients_per_clinic=5), seed=1)
    c = generate_registry(RegistryTruth(n_clinics=2, patients_per_clinic=5), seed=2)
    np.testing.assert_array_equal(a.columns["pain"], b.columns["pain"])
    assert not np.array_equal(a.columns["pain"][:5], c.columns["pain"][:5])


def test_missing_visits_and_non_normal_noise() -> None:
    truth = RegistryTruth(
        n_clinics=4,
        patients_per_clinic=250,
        noise="skewed",
        missing_visit_prob=0.3,
        patient_intercept_sd=0.0,
        patient_slope_sd=0.0,
        clinic_intercept_sd=0.0,
        patient_corr=0.0,
    )
    reg = generate_registry(truth, seed=3)
    full = 1000 * truth.max_sessions
    assert 0.6 * full < reg.n_rows < 0.8 * full
    resid = reg.columns["pain"] - (
        truth.intercept
        + truth.session * reg.columns["session"]
        + truth.session_minutes * reg.columns["session"] * reg.columns["minutes"]
        + truth.session_exercise * reg.columns["session"] * reg.columns["exercise"]
        + truth.baseline_chronic * (reg.columns["phase"] == "chronic")
    )
    skew = float(np.mean((resid - resid.mean()) ** 3) / resid.std() ** 3)
    assert skew > 0.8  # gamma(2) noise: skewness √2


def test_unknown_noise_is_refused() -> None:
    with pytest.raises(ValueError, match="noise='cauchy'"):
        generate_registry(RegistryTruth(noise="cauchy"))
