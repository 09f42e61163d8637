"""Internal identities of the solver: visit patterns, exact gradient, folding of θ, error messages."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from strigil.registry import mixed_model as mm
from strigil.registry.generator import RegistryTruth, generate_registry
from strigil.registry.growth_model import fit_growth_model, growth_design


@pytest.fixture(scope="module")
def crossproducts() -> mm.Crossproducts:
    reg = generate_registry(RegistryTruth(n_clinics=4, patients_per_clinic=100), seed=4)
    d = growth_design(reg.columns, reg.formula, ["1 + session | patient"])
    return mm.crossproducts(d.X, d.y, d.Z, d.groups)


def _per_patient(cp: mm.Crossproducts) -> mm.Crossproducts:
    return dataclasses.replace(cp, pattern_ztz=None, pattern_count=None, pattern_bb=None)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("theta", [[1.2, -0.05, 0.2], [0.3, 0.4, -0.7], [0.0, 0.0, 0.0]])
def test_visit_patterns_give_the_same_deviance_and_gradient(
    crossproducts: mm.Crossproducts, theta: list[float], reml: bool
) -> None:
    assert crossproducts.pattern_ztz is not None  # 400 patients, at most 32 visit patterns
    assert crossproducts.pattern_ztz.shape[2] <= 32
    th = np.array(theta)
    a = mm._factorise(th, crossproducts, reml, gradient=True)
    b = mm._factorise(th, _per_patient(crossproducts), reml, gradient=True)
    assert a.deviance == pytest.approx(b.deviance, rel=1e-12)
    assert a.gradient is not None and b.gradient is not None
    np.testing.assert_allclose(a.gradient, b.gradient, rtol=1e-8, atol=1e-8)


def test_exact_gradient_matches_finite_differences(crossproducts: mm.Crossproducts) -> None:
    th = np.array([0.8, 0.1, 0.3])
    g = mm._factorise(th, crossproducts, True, gradient=True).gradient
    assert g is not None
    h = 1e-6
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        fd = (mm.profiled_deviance(th + e, crossproducts) - mm.profiled_deviance(th - e, crossproducts)) / (
            2 * h
        )
        assert g[k] == pytest.approx(fd, rel=1e-5, abs=1e-3)


def test_deviance_is_even_in_each_column_of_the_factor(crossproducts: mm.Crossproducts) -> None:
    # Negating a column of T leaves Λ Λᵀ unchanged: the reason the search needs no bounds.
    a = mm.profiled_deviance(np.array([0.9, 0.1, 0.2]), crossproducts)
    b = mm.profiled_deviance(np.array([-0.9, -0.1, 0.2]), crossproducts)
    c = mm.profiled_deviance(np.array([0.9, 0.1, -0.2]), crossproducts)
    assert a == pytest.approx(b, rel=1e-13) and a == pytest.approx(c, rel=1e-13)


def test_collinear_design_is_reported() -> None:
    reg = generate_registry(RegistryTruth(n_clinics=2, patients_per_clinic=20), seed=1)
    cols = dict(reg.columns)
    cols["twice"] = 2 * cols["session"]
    with pytest.raises(ValueError, match="rank deficient"):
        fit_growth_model(cols, "pain ~ session + twice", ["1 + session | patient"])


def test_random_term_errors_name_the_problem() -> None:
    reg = generate_registry(RegistryTruth(n_clinics=2, patients_per_clinic=20), seed=1)
    with pytest.raises(ValueError, match="random intercept only"):
        fit_growth_model(reg.columns, "pain ~ session", ["1 + session | patient", "1 + session | clinic"])
    with pytest.raises(ValueError, match="terms \\| group"):
        fit_growth_model(reg.columns, "pain ~ session", ["1 + session"])
    with pytest.raises(ValueError, match="dose not in the data"):
        fit_growth_model(reg.columns, "pain ~ session", ["1 + dose | patient"])


def test_three_random_terms_per_patient() -> None:
    # q = 3 (intercept, session, session²): the batched q×q code is general; check its exact gradient and
    # the visit-pattern sums against the per-patient path.
    reg = generate_registry(RegistryTruth(n_clinics=4, patients_per_clinic=100), seed=6)
    cols = dict(reg.columns)
    cols["session2"] = cols["session"] ** 2 / 10
    d = growth_design(cols, "pain ~ session + session2", ["1 + session + session2 | patient"])
    cp = mm.crossproducts(d.X, d.y, d.Z, d.groups)
    th = np.array([1.0, 0.1, -0.2, 0.3, 0.05, 0.2])
    fac = mm._factorise(th, cp, True, gradient=True)
    per_patient = mm._factorise(th, _per_patient(cp), True, gradient=True)
    assert fac.deviance == pytest.approx(per_patient.deviance, rel=1e-12)
    assert fac.gradient is not None
    for k in range(6):
        e = np.zeros(6)
        e[k] = 1e-6
        fd = (mm.profiled_deviance(th + e, cp) - mm.profiled_deviance(th - e, cp)) / 2e-6
        assert fac.gradient[k] == pytest.approx(fd, rel=1e-4, abs=1e-3)
    fit = fit_growth_model(cols, "pain ~ session + session2", ["1 + session + session2 | patient"])
    assert fit.converged
    assert list(fit.to_json()["random_corr"]["patient"]) == [
        "Intercept:session",
        "Intercept:session2",
        "session:session2",
    ]


def test_pattern_sums_by_product_and_by_reduceat_agree(
    crossproducts: mm.Crossproducts, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strigil.registry import crossproducts as cpm

    by_product = cpm._visit_patterns(crossproducts.ztz, crossproducts.ztxy)
    monkeypatch.setattr(cpm, "PATTERNS_BY_PRODUCT", 0)
    by_reduceat = cpm._visit_patterns(crossproducts.ztz, crossproducts.ztxy)
    for a, b in zip(by_product, by_reduceat, strict=True):
        assert a is not None and b is not None
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
