"""Exact pooled time to improvement: stratified Cox equal to lifelines' single-database fit; pooled KM."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from clinic_network import all_rows, network_columns

from strigil.registry.exact_growth import ClinicDataError
from strigil.registry.exact_survival import (
    ImprovementSpec,
    answer_survival_request,
    fit_exact_cox,
    pool_kaplan_meier,
)
from strigil.registry.time_to_improvement import Mcid, sessions_to_improvement

SPEC = ImprovementSpec(
    outcome="pain",
    mcid=2.0,
    mcid_source="test value",
    covariates=("minutes", "exercise", "phase"),
    levels={"phase": ["acute", "chronic"]},
    times=tuple(float(t) for t in range(1, 7)),
)


def _ask(clinics: dict[str, dict[str, Any]], log: list[dict[str, Any]] | None = None) -> Any:
    def ask(request: dict[str, Any]) -> list[dict[str, Any]]:
        answers = [answer_survival_request(rows, request) for rows in clinics.values()]
        if log is not None:
            log.extend(answers)
        return answers

    return ask


def _single_database_table(clinics: dict[str, dict[str, Any]], mcid: float = 2.0) -> Any:
    rows = all_rows(clinics, ["north", "south", "west"])
    return sessions_to_improvement(
        rows, outcome="pain", mcid=Mcid(mcid, True, ""), covariates=["minutes", "exercise", "phase", "clinic"]
    )


def test_stratified_cox_equals_the_single_database_fit() -> None:
    import pandas as pd
    from lifelines import CoxPHFitter

    clinics = network_columns()
    pooled = fit_exact_cox(SPEC, _ask(clinics))
    assert pooled.excluded == {"tiny": "fewer than 5 patients with follow-up"}
    assert pooled.names == ("minutes", "exercise", "phase[T.chronic]") and pooled.converged
    tab = _single_database_table(clinics)
    frame = pd.DataFrame(
        {
            "T": tab.sessions,
            "E": tab.improved.astype(int),
            "minutes": tab.covariates["minutes"],
            "exercise": tab.covariates["exercise"],
            "phase[T.chronic]": (tab.covariates["phase"] == "chronic").astype(float),
            "clinic": tab.covariates["clinic"],
        }
    )
    cph = CoxPHFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph.fit(frame, "T", "E", strata=["clinic"], fit_options={"precision": 1e-12})
    assert np.allclose(pooled.beta, cph.params_.to_numpy(), atol=1e-6)
    assert np.allclose(np.sqrt(np.diag(pooled.vcov)), cph.standard_errors_.to_numpy(), atol=1e-6)
    assert pooled.loglik == pytest.approx(cph.log_likelihood_, abs=1e-6)
    assert pooled.n_patients == len(frame) and pooled.n_events == int(frame["E"].sum())


def test_pooled_kaplan_meier_is_exact_when_no_count_is_small() -> None:
    import dataclasses

    from lifelines import KaplanMeierFitter

    clinics = network_columns(missing_visit_prob=0.0)
    spec = dataclasses.replace(SPEC, mcid=1.5)  # with this threshold no clinic's band count is small
    curve = pool_kaplan_meier(spec, _ask(clinics))
    assert not curve.coarsened and "No band was merged" in curve.note
    tab = _single_database_table(clinics, mcid=1.5)
    km = KaplanMeierFitter().fit(tab.sessions, tab.improved)
    expected = 1.0 - km.survival_function_at_times(curve.times).to_numpy()
    assert np.allclose(curve.improved, expected, atol=1e-12)
    ci = km.confidence_interval_survival_function_
    shown = [j for j, t in enumerate(curve.times) if t > 0 and t in ci.index]
    assert len(shown) >= 4
    band = ci.loc[curve.times[shown]].to_numpy()
    assert np.allclose(curve.lower[shown], 1.0 - band[:, 1], atol=1e-6)
    assert np.allclose(curve.upper[shown], 1.0 - band[:, 0], atol=1e-6)


def test_pooled_kaplan_meier_merges_small_bands_and_says_so() -> None:
    clinics = network_columns()
    log: list[dict[str, Any]] = []
    curve = pool_kaplan_meier(SPEC, _ask(clinics, log))
    assert curve.coarsened and "coarsened" in curve.note
    assert "tiny" in curve.excluded
    for message in log:
        for band in message.get("bands", []):
            for key in ("at_risk", "events", "censored"):
                assert band[key] == 0 or band[key] >= 5, (message["site"], band)
    assert np.all(np.diff(curve.improved) >= 0)


def test_cox_messages_come_from_at_least_5_patients_and_5_improvements() -> None:
    clinics = network_columns()
    # West's chronic patients: only 3, so west must stay out rather than share sums about them.
    west = clinics["west"]
    three = np.isin(west["patient"], np.unique(west["patient"])[:3])
    west["phase"] = np.where(three, "chronic", "acute")
    log: list[dict[str, Any]] = []
    fit = fit_exact_cox(SPEC, _ask(clinics, log))
    assert set(fit.excluded) == {"tiny", "west"}
    for message in log:
        if not message["participates"]:
            assert set(message) == {"format", "kind", "request", "site", "participates", "reason"}
            continue
        assert message["n_patients"] >= 5 and message["n_events"] >= 5
        # Recomputed from the clinic's rows: every covariate group behind the sums holds at least 5 patients.
        tab = sessions_to_improvement(
            clinics[message["site"]],
            outcome="pain",
            mcid=Mcid(2.0, True, ""),
            covariates=["exercise", "phase"],
        )
        for values in (tab.covariates["exercise"] > 0, tab.covariates["phase"] == "chronic"):
            assert min(int(values.sum()), int((~values).sum())) >= 5, message["site"]


def test_a_clinic_with_another_coding_is_named() -> None:
    clinics = network_columns()
    clinics["west"]["phase"] = np.where(clinics["west"]["phase"] == "acute", "sub-acute", "chronic")
    with pytest.raises(
        ClinicDataError, match=r"clinic 'west': column 'phase' has level\(s\) \['sub-acute'\]"
    ):
        fit_exact_cox(SPEC, _ask(clinics))
