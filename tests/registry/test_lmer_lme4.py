"""lme4's vocabulary on the registry's mixed model, against lme4 (tests/reference/lme4/make_fixtures.R):
one formula, named coefficients, logLik/AIC/BIC, BLUPs with conditional variances, predictions, Wald and
profile intervals, likelihood-ratio tests and the printed summary."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from printed_output import assert_same_printout

from strigil.registry.growth_model import fit_growth_model
from strigil.registry.lmer import lmer, split_formula

from .conftest import REFERENCE, load_data, load_fixture

FIXTURES = sorted(p.name for p in REFERENCE.glob("*.json") if p.name != "anova.json")
RTOL = 1e-5


def _frame(ref: dict[str, Any]) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / (ref["source"] if ref["source"].endswith(".csv") else "sleepstudy.csv"))


def _group(ref: dict[str, Any]) -> str:
    return "Subject" if "Subject" in ref["formula"] else "patient"


@pytest.fixture(scope="module", params=FIXTURES)
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Any, pd.DataFrame]:
    ref = load_fixture(request.param)
    data = _frame(ref)
    return ref, lmer(ref["formula"], data, REML=ref["reml"]), data


def test_the_formula_names_the_coefficients_like_the_random_option(case: Any) -> None:
    ref, fit, _data = case
    fixed, random = split_formula(ref["formula"])
    by_option = fit_growth_model(
        load_data(ref["source"] if ref["source"].endswith(".csv") else "sleepstudy.csv"),
        fixed,
        random,
        reml=ref["reml"],
    )
    assert list(fit.fixef) == list(by_option.fixed_names)
    assert set(fit.fixef) == set(ref["fixed"])
    for name, value in ref["fixed"].items():
        assert fit.fixef[name] == pytest.approx(value, rel=RTOL, abs=1e-7)
        assert fit.fixef[name] == pytest.approx(by_option.fixef[name], rel=1e-7)  # optimiser tolerance


def test_log_likelihood_and_information_criteria(case: Any) -> None:
    ref, fit, _ = case
    assert fit.npar == ref["df"]
    for ours, theirs in ((fit.logLik, ref["logLik"]), (fit.AIC, ref["AIC"]), (fit.BIC, ref["BIC"])):
        assert ours == pytest.approx(theirs, rel=1e-8)


def test_random_effects_and_conditional_variances(case: Any) -> None:
    ref, fit, _ = case
    effects = fit.ranef()
    assert set(effects.groups) == set(ref["ranef"])
    for group, theirs in ref["ranef"].items():
        mine = effects[group]
        at = [mine.levels.index(str(level)) for level in theirs["levels"]]
        values = np.column_stack([np.atleast_1d(v) for v in theirs["values"]])
        condvar = np.array([np.atleast_1d(c) for c in theirs["condvar"]])
        scale = np.abs(values).max()
        np.testing.assert_allclose(mine.values[at], values, rtol=1e-4, atol=1e-5 * scale)
        np.testing.assert_allclose(mine.condvar[at].reshape(len(at), -1), condvar, rtol=1e-4)
    frame = effects.to_frame()
    assert list(frame.columns[: len(fit.design.terms[0].terms)]) == list(fit.design.terms[0].terms)


def test_predictions_population_patient_and_new_patients(case: Any) -> None:
    ref, fit, data = case
    tol = {"rtol": 1e-6, "atol": 1e-6 * float(np.abs(ref["fitted"]).max())}
    np.testing.assert_allclose(fit.predict(), ref["fitted"], **tol)
    rows = data.iloc[ref["predict_rows"]]
    np.testing.assert_allclose(fit.predict(rows), ref["predict_patient"], **tol)
    np.testing.assert_allclose(fit.predict(rows, random=False), ref["predict_population"], **tol)
    unseen = rows.assign(**{_group(ref): "unseen"})
    np.testing.assert_allclose(fit.predict(unseen, allow_new_levels=True), ref["predict_unseen"], **tol)
    with pytest.raises(ValueError, match="did not occur in the fitted data"):
        fit.predict(unseen)


def test_wald_intervals(case: Any) -> None:
    ref, fit, _ = case
    ci = fit.confint()
    theirs = ref["confint_wald"]
    assert list(ci.names) == theirs["names"]
    np.testing.assert_allclose(ci.lower, theirs["lower"], rtol=RTOL)
    np.testing.assert_allclose(ci.upper, theirs["upper"], rtol=RTOL)


def _lme4_lines(ref: dict[str, Any]) -> list[str]:
    """lme4's printout in Strigil's names, without the lines about R's call (formula, data, control)."""
    lines = list(ref["printed"])
    body = lines[lines.index("") :]
    title = lines[0].replace(" ['lmerMod']", "").rstrip()
    out = [title]
    for line in body:
        line = line.replace("(Intercept)", "Intercept").replace("phasechronic", "phase[T.chronic]")
        out.append(line)
    return out


def test_summary_prints_what_lme4_prints(case: Any) -> None:
    ref, fit, _ = case
    text = str(fit.summary())
    # the scaled residuals and the criterion are printed to lme4's precision; coefficients to at least it
    assert_same_printout(text, _lme4_lines(ref), places=1.01)
    assert repr(fit).startswith("<MixedModelFit: Linear mixed model fit by")
    assert "Random effects:" in fit._repr_html_()
    table = fit.to_frame()
    assert list(table.index) == list(fit.fixed_names)
    np.testing.assert_allclose(table["se"], [ref["se"][n] for n in fit.fixed_names], rtol=RTOL)


@pytest.mark.parametrize("name", ["sleepstudy_reml.json", "sleepstudy_intercept_ml.json"])
def test_profile_intervals_agree_with_lme4(name: str) -> None:
    # lme4 profiles the ML deviance also for REML fits, and interpolates a spline through profile points:
    # its bounds are good to about 1e-4 (the correlation's upper bound on sleepstudy: 0.684986 vs 0.685019
    # from the exact crossing found here)
    ref = load_fixture(name)
    fit = lmer(ref["formula"], _frame(ref), REML=ref["reml"])
    ci = fit.confint("profile")
    theirs = ref["confint_profile"]
    assert [n.replace("(Intercept)", "Intercept") for n in theirs["names"]] == list(ci.names)
    np.testing.assert_allclose(ci.lower, theirs["lower"], rtol=1e-4)
    np.testing.assert_allclose(ci.upper, theirs["upper"], rtol=1e-4)


@pytest.mark.parametrize("test", load_fixture("anova.json")["tests"], ids=lambda t: t["case"])
def test_likelihood_ratio_tests_agree_with_lme4(test: dict[str, Any]) -> None:
    source = "sleepstudy.csv" if "Reaction" in test["small"] else "registry_t.csv"
    data = pd.read_csv(REFERENCE / source)
    small, large = lmer(test["small"], data), lmer(test["large"], data)
    table = large.anova(small)  # any order: the model with fewer parameters comes first
    assert table.refitted
    assert list(table.npar) == test["npar"]
    np.testing.assert_allclose(table.logLik, test["logLik"], rtol=1e-7)
    np.testing.assert_allclose(table.AIC, test["AIC"], rtol=1e-7)
    np.testing.assert_allclose(table.BIC, test["BIC"], rtol=1e-7)
    assert table.chisq[1] == pytest.approx(test["Chisq"], rel=1e-5)
    assert table.df[1] == test["Df"]
    assert table.p[1] == pytest.approx(test["p"], rel=1e-4)
    assert list(table.to_frame()["npar"]) == test["npar"]


def test_nested_grouping_expands_like_lme4() -> None:
    data = pd.read_csv(REFERENCE / "registry_t.csv")
    fixed = "pain ~ session + phase"
    nested = lmer(f"{fixed} + (1 | clinic/patient)", data)
    explicit = lmer(f"{fixed} + (1 | patient) + (1 | clinic)", data)
    assert set(nested.n_groups) == {"patient:clinic", "clinic"}
    assert nested.n_groups["patient:clinic"] == explicit.n_groups["patient"]
    np.testing.assert_allclose(nested.beta, explicit.beta, rtol=1e-7)
    assert nested.objective == pytest.approx(explicit.objective, rel=1e-9)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("pain ~ session + (1 + session || patient)", r"uncorrelated"),
        ("pain ~ session + (1 | patient) + (1 | clinic) + (1 | technique)", r"3 random terms"),
        (
            "pain ~ session + (1 + session | patient) + (1 + session | clinic)",
            r"two random terms with slopes",
        ),
        ("pain ~ session", r"no random term"),
        ("pain ~ session + (1 | clinic + patient)", r"not a column"),
    ],
)
def test_a_model_the_solver_does_not_fit_is_refused(formula: str, message: str) -> None:
    data = pd.read_csv(REFERENCE / "registry_t.csv")
    with pytest.raises(ValueError, match=message):
        lmer(formula, data)


def test_a_random_slope_written_as_an_expression_gets_the_right_reason() -> None:
    data = pd.read_csv(REFERENCE / "sleepstudy.csv")
    formula = "Reaction ~ Days + (1 + Days + I(Days^2) | Subject)"
    assert split_formula(formula) == ("Reaction ~ Days", ["1 + Days + I(Days^2) | Subject"])
    assert split_formula("y ~ I(a + b) + (1 | g) + x") == ("y ~ I(a + b) + x", ["1 | g"])
    with pytest.raises(ValueError, match=r"term 'I\(Days\^2\)' is not allowed; a random slope is a numeric"):
        lmer(formula, data)
    squared = lmer("Reaction ~ Days + (1 + Days + Days2 | Subject)", data.assign(Days2=data.Days**2))
    assert squared.design is not None and squared.design.terms[0].terms == ("Intercept", "Days", "Days2")


@pytest.mark.parametrize(
    "formula", ["Reaction ~ Days + (1 | g)", "Reaction ~ Days + (Days | Subject) + (1 | g)"]
)
def test_a_grouping_factor_with_one_level_is_refused(formula: str) -> None:
    data = pd.read_csv(REFERENCE / "sleepstudy.csv").assign(g="clinic A")
    with pytest.raises(ValueError, match=r"grouping factor 'g' has 1 level \('clinic A'\) in the 180"):
        lmer(formula, data)
    with pytest.raises(ValueError, match="at least two groups"):
        fit_growth_model(
            {k: data[k].to_numpy() for k in data.columns}, "Reaction ~ Days", ["Days | g"]
        )


def test_a_fit_without_rows_says_what_it_cannot_do(case: Any) -> None:
    from dataclasses import replace

    _, fit, _ = case
    pooled = replace(fit, design=None)
    for call in (pooled.ranef, pooled.predict, lambda: pooled.confint("profile")):
        with pytest.raises(ValueError, match="clinic aggregates"):
            call()
    assert re.search(r"Fixed effects:", str(pooled.summary()))
