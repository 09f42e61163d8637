"""Sessions until a meaningful improvement: per-patient table, Kaplan–Meier curves and Cox model."""

from __future__ import annotations

import numpy as np
import pytest

from strigil.registry.generator import RegistryTruth, generate_registry
from strigil.registry.time_to_improvement import (
    ImprovementTable,
    Mcid,
    catalogue_mcid,
    cox_model,
    kaplan_meier,
    sessions_to_improvement,
)

NPRS_2 = Mcid(value=2.0, lower_is_better=True, source="test")


def _table(lower_is_better: bool = True) -> dict[str, np.ndarray]:
    # A: 7 → 6 → 4.5 (improved by 2.5 at session 2); B: 5 → 4.5 → 4 (never); C: baseline only;
    # D: rows out of order, baseline at session 1: 8 → 5.9 at session 3 (2 sessions after baseline).
    return {
        "patient": np.array(["A", "A", "A", "B", "B", "B", "C", "D", "D", "D"]),
        "session": np.array([0, 1, 2, 0, 1, 2, 0, 3, 1, 2], dtype=float),
        "pain": np.array([7, 6, 4.5, 5, 4.5, 4, 6, 5.9, 8, 7], dtype=float),
        "minutes": np.array([2, 2, 2, 1, 1, 1, 3, 4, 4, 4], dtype=float),
    }


def test_sessions_and_censoring_per_patient() -> None:
    t = sessions_to_improvement(_table(), outcome="pain", mcid=NPRS_2, covariates=["minutes"])
    assert t.n_without_follow_up == 1
    # patients in code order A, B, D (C has no follow-up)
    np.testing.assert_array_equal(t.sessions, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(t.improved, [True, False, True])
    np.testing.assert_array_equal(t.covariates["minutes"], [2.0, 1.0, 4.0])


def test_direction_of_improvement_is_respected() -> None:
    higher_better = Mcid(value=2.0, lower_is_better=False, source="test")
    t = sessions_to_improvement(_table(), outcome="pain", mcid=higher_better)
    assert not t.improved.any()


def test_kaplan_meier_matches_hand_computation() -> None:
    # 4 patients: improve at 1, 2, censored at 2, improve at 3 → S(1)=3/4, S(2)=3/4·2/3=1/2, S(3)=0
    cols = {
        "patient": np.repeat(["a", "b", "c", "d"], 4),
        "session": np.tile([0.0, 1, 2, 3], 4),
        "pain": np.array([8, 5, 5, 5, 8, 7, 5, 5, 8, 8, 8, np.nan, 8, 8, 7, 4], dtype=float),
    }
    t = sessions_to_improvement(cols, outcome="pain", mcid=NPRS_2)
    (curve,) = kaplan_meier(t)
    got = dict(zip(curve.sessions.tolist(), curve.improved.tolist(), strict=True))
    assert got[1.0] == pytest.approx(0.25)
    assert got[2.0] == pytest.approx(0.5)
    assert got[3.0] == pytest.approx(1.0)
    assert curve.median_sessions == 2.0
    assert np.all(curve.lower <= curve.improved + 1e-12) and np.all(curve.improved <= curve.upper + 1e-12)


def test_more_minutes_improve_sooner_in_generated_registry() -> None:
    reg = generate_registry(
        RegistryTruth(n_clinics=4, patients_per_clinic=150, session_minutes=-0.15), seed=8
    )
    t = sessions_to_improvement(reg.columns, outcome="pain", mcid=NPRS_2, covariates=["minutes", "technique"])
    model = cox_model(t, ["minutes", "technique"])
    hr = {term.name: term for term in model.terms}
    assert hr["minutes"].hazard_ratio > 1 and hr["minutes"].ci_lb > 1
    assert {"technique[T.strum]", "technique[T.sweep]"} <= set(hr)
    curves = kaplan_meier(t, by="minutes")
    assert [c.group for c in curves] == [f"minutes={m}" for m in ("1.0", "2.0", "3.0", "4.0", "5.0")]
    assert curves[-1].improved[-1] > curves[0].improved[-1]


def test_the_bar_comes_from_the_one_threshold_rule_with_its_source() -> None:
    m = catalogue_mcid("nprs")
    assert m.value == 2.0 and m.lower_is_better
    assert "Ostelo" in m.source and "percentage of each patient's baseline" in m.source
    # per patient: 30 % of a baseline of 3 is 0.9, but the MDC (1.77) is larger; at 8 the 2 points hold
    np.testing.assert_allclose(m.at(np.array([3.0, 8.0])), [1.77, 2.0])
    elbow = catalogue_mcid("nprs", "lateral_elbow_tendinopathy")
    assert elbow.value == pytest.approx(2.3) and "lateral elbow" in elbow.population
    with pytest.raises(ValueError, match="neck_pain"):
        catalogue_mcid("nprs", "neck_pian")


def test_a_patient_whose_change_stays_inside_the_mdc_never_counts_as_improved() -> None:
    cols = {
        "patient": np.array(["a", "a", "b", "b"]),
        "session": np.array([0.0, 1, 0, 1]),
        "pain": np.array([3.0, 1.5, 8.0, 6.0]),  # a: 1.5 points (50 %) but inside the MDC; b: 2 points
    }
    t = sessions_to_improvement(cols, outcome="pain", mcid=catalogue_mcid("nprs"))
    np.testing.assert_array_equal(t.improved, [False, True])


def _separated_table() -> ImprovementTable:
    # every patient with minutes = 4 improves, none with minutes = 1: the Cox coefficient has no finite
    # maximum and lifelines warns about it
    sessions = np.array([1.0, 2, 3, 2, 3, 4, 2, 3])
    improved = np.array([True, True, True, True, False, False, False, False])
    return ImprovementTable(sessions=sessions, improved=improved,
                            covariates={"minutes": np.array([4.0, 4, 4, 4, 1, 1, 1, 1])}, mcid=NPRS_2,
                            n_without_follow_up=0)


def test_cox_keeps_lifelines_fitter_and_its_warnings_as_notes() -> None:
    from lifelines import CoxPHFitter

    # warnings are errors in the test suite: one re-emitted by cox_model would fail here
    model = cox_model(_separated_table(), ["minutes"])
    assert isinstance(model.fitter, CoxPHFitter)
    assert model.fitter.params_.index.tolist() == ["minutes"]
    assert model.notes and any("converge" in n.lower() or "separation" in n.lower() for n in model.notes)
    assert "note:" in str(model.summary())
    assert model.to_frame().loc["minutes", "hazard_ratio"] == model.terms[0].hazard_ratio


def test_kaplan_meier_keeps_lifelines_fitter() -> None:
    from lifelines import KaplanMeierFitter

    (curve,) = kaplan_meier(_separated_table())
    assert isinstance(curve.fitter, KaplanMeierFitter)
    np.testing.assert_allclose(1 - curve.fitter.survival_function_.iloc[:, 0].to_numpy(), curve.improved)
    assert curve.notes == ()
    table = curve.to_frame()
    np.testing.assert_array_equal(table.index, curve.sessions)
    assert "Kaplan-Meier" in str(curve.summary())


def test_a_constant_covariate_is_refused_by_name() -> None:
    base = _separated_table()
    for constant in (np.ones(8), np.array(["clinic A"] * 8)):
        table = ImprovementTable(
            sessions=base.sessions, improved=base.improved,
            covariates={**base.covariates, "const": constant}, mcid=NPRS_2, n_without_follow_up=0,
        )  # fmt: skip
        with pytest.raises(ValueError, match=r"covariate 'const' has the same value \((1\.0|clinic A)\) for "
                           "every one of the 8 patients"):  # fmt: skip
            cox_model(table, ["minutes", "const"])


def test_a_cox_model_that_cannot_converge_says_why_in_plain_words() -> None:
    rng = np.random.default_rng(1)
    minutes = rng.normal(3.0, 1.0, 40)
    table = ImprovementTable(
        sessions=rng.integers(1, 8, 40).astype(float), improved=rng.random(40) < 0.6,
        covariates={"minutes": minutes, "minutes_again": minutes.copy()}, mcid=NPRS_2, n_without_follow_up=0,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"the Cox model on 'minutes', 'minutes_again' did not converge"):
        cox_model(table, ["minutes", "minutes_again"])
