"""Exact pooled time to improvement: stratified Cox equal to lifelines' single-database fit; pooled KM."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np
import pytest
from clinic_network import all_rows, network_columns
from cox_attack import recover_binary_cells, shared_patients

from strigil.registry.disclosure import count_allowed
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


def _shared_table(rows: dict[str, Any], spec: ImprovementSpec, mcid: float = 2.0) -> Any:
    """A clinic's patients as the single database would hold them, then only those it may share (the rule
    applied by the test's own code: `cox_attack.shared_patients`)."""
    tab = sessions_to_improvement(
        rows, outcome="pain", mcid=Mcid(mcid, True, ""), covariates=[*spec.covariates]
    )
    X = (
        np.column_stack(
            [
                (tab.covariates[c] == "chronic").astype(float)
                if c == "phase"
                else tab.covariates[c].astype(float)
                for c in spec.covariates
            ]
        )
        if spec.covariates
        else np.zeros((len(tab.sessions), 0))
    )
    keep = shared_patients(tab.sessions, tab.improved, X)
    return tab.sessions[keep], tab.improved[keep], X[keep]


@pytest.mark.parametrize("covariates", [("exercise", "phase"), ("exercise",)])
def test_stratified_cox_equals_the_single_database_fit_of_the_shared_patients(
    covariates: tuple[str, ...],
) -> None:
    import dataclasses

    import pandas as pd
    from lifelines import CoxPHFitter

    spec = dataclasses.replace(SPEC, covariates=covariates)
    clinics = network_columns()
    pooled = fit_exact_cox(spec, _ask(clinics))
    assert pooled.excluded["tiny"] == "fewer than 5 patients with follow-up"
    assert pooled.names == spec.names_for(spec.levels) and pooled.converged
    # Every clinic here has a cell of 1-4 patients, and the result says which clinics withheld patients.
    assert pooled.withheld == pooled.sites and "withheld at" in pooled.summary().text
    parts = []
    for site in pooled.sites:
        t, e, X = _shared_table(clinics[site], spec)
        parts.append(pd.DataFrame({"T": t, "E": e.astype(int), **dict(zip(pooled.names, X.T, strict=True))}))
        parts[-1]["clinic"] = site
    frame = pd.concat(parts, ignore_index=True)
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
    # No covariate: the cells are (band between improvement times, improved or not); at this threshold none
    # is small, so nothing is withheld and no band merged.
    spec = dataclasses.replace(SPEC, mcid=1.5, covariates=(), levels={})
    curve = pool_kaplan_meier(spec, _ask(clinics))
    assert not curve.coarsened and "No band was merged" in curve.note and curve.withheld == ()
    rows = all_rows(clinics, ["north", "south", "west"])
    tab = sessions_to_improvement(rows, outcome="pain", mcid=Mcid(1.5, True, ""))
    km = KaplanMeierFitter().fit(tab.sessions, tab.improved)
    expected = 1.0 - km.survival_function_at_times(curve.times).to_numpy()
    assert np.allclose(curve.improved, expected, atol=1e-12)
    ci = km.confidence_interval_survival_function_
    shown = [j for j, t in enumerate(curve.times) if t > 0 and t in ci.index]
    assert len(shown) >= 4
    band = ci.loc[curve.times[shown]].to_numpy()
    assert np.allclose(curve.lower[shown], 1.0 - band[:, 1], atol=1e-6)
    assert np.allclose(curve.upper[shown], 1.0 - band[:, 0], atol=1e-6)


def test_pooled_kaplan_meier_counts_only_shared_patients_and_says_so() -> None:
    from lifelines import KaplanMeierFitter

    clinics = network_columns()
    log: list[dict[str, Any]] = []
    curve = pool_kaplan_meier(SPEC, _ask(clinics, log))
    # The curve is built from the same patients the Cox answers use (so the two cannot be differenced).
    assert curve.withheld and "withheld patients" in curve.note and "tiny" in curve.excluded
    for message in log:
        for band in message.get("bands", []):
            for key in ("at_risk", "events", "censored"):
                assert band[key] == 0 or band[key] >= 5, (message["site"], band)
    assert np.all(np.diff(curve.improved) >= 0)
    shared = [_shared_table(clinics[s], SPEC) for s in curve.sites]
    km = KaplanMeierFitter().fit(
        np.concatenate([t for t, _, _ in shared]), np.concatenate([e for _, e, _ in shared])
    )
    if not curve.coarsened:
        assert np.allclose(
            curve.improved, 1.0 - km.survival_function_at_times(curve.times).to_numpy(), atol=1e-12
        )


def test_cox_messages_come_from_cells_of_at_least_5_patients() -> None:
    clinics = network_columns()
    # West's chronic patients: only 3. Their cells are small, so west withholds them (or stays out).
    west = clinics["west"]
    three = np.isin(west["patient"], np.unique(west["patient"])[:3])
    west["phase"] = np.where(three, "chronic", "acute")
    log: list[dict[str, Any]] = []
    fit = fit_exact_cox(SPEC, _ask(clinics, log))
    assert "tiny" in fit.excluded
    for message in log:
        if not message["participates"]:
            assert set(message) == {"format", "kind", "request", "site", "participates", "reason"}
            continue
        assert message["n_patients"] >= 5 and message["n_events"] >= 5
        assert message.get("withheld_rare_cells") is True
        if message["kind"] == "enrol" and message["site"] == "west":
            assert list(message["levels_present"]["phase"]) == ["acute"]
        # Recomputed from the clinic's rows by the test's own rule: the patients behind the sums.
        t, e, X = _shared_table(clinics[message["site"]], SPEC)
        assert message["n_patients"] == len(t) and message["n_events"] == int(e.sum())
        for column in X.T:
            nonzero = column != 0
            assert count_allowed(int(nonzero.sum()), 5) and count_allowed(int((~nonzero).sum()), 5)


def test_a_clinic_with_another_coding_is_named() -> None:
    clinics = network_columns()
    clinics["west"]["phase"] = np.where(clinics["west"]["phase"] == "acute", "sub-acute", "chronic")
    with pytest.raises(
        ClinicDataError, match=r"clinic 'west': column 'phase' has level\(s\) \['sub-acute'\]"
    ):
        fit_exact_cox(SPEC, _ask(clinics))


# ---- What one ordinary analysis discloses ---------------------------------------------------------------

EXERCISE = ImprovementSpec(
    outcome="pain", mcid=2.0, mcid_source="test value", covariates=("exercise",), times=SPEC.times
)


def _adversarial_clinic() -> dict[str, Any]:
    """A clinic of 67 whose every Kaplan–Meier band count is 0 or ≥ 5, but where only 2 patients with
    exercise are still at risk at the last improvement time (session 5): one improves there, one does not."""
    # session: (improved without exercise, with), (censored without, with)
    plan = {
        1: ((6, 5), (0, 0)),
        2: ((7, 5), (0, 0)),
        3: ((6, 6), (0, 0)),
        4: ((8, 5), (5, 0)),
        5: ((6, 1), (6, 1)),
    }
    cols: dict[str, list[Any]] = {"patient": [], "session": [], "pain": [], "exercise": [], "clinic": []}
    k = 0
    for t, (improved, censored) in plan.items():
        for exercise, (n_improved, n_censored) in enumerate(zip(improved, censored, strict=True)):
            for better in [True] * n_improved + [False] * n_censored:
                k += 1
                for s in range(t + 1):
                    cols["patient"].append(f"adv-{k}")
                    cols["session"].append(float(s))
                    cols["pain"].append(4.5 if better and s == t else 7.0 - 0.1 * s)
                    cols["exercise"].append(float(exercise))
                    cols["clinic"].append("adversarial")
    return {c: np.asarray(v) for c, v in cols.items()}


def _one_analysis(clinics: dict[str, dict[str, Any]], spec: ImprovementSpec) -> dict[str, Any]:
    """Run the pooled curve and one Cox fit; keep, per clinic, what the analyst receives."""
    seen: dict[str, dict[str, Any]] = {}

    def ask(request: dict[str, Any]) -> list[dict[str, Any]]:
        answers = [answer_survival_request(rows, request) for rows in clinics.values()]
        for a in answers:
            got = seen.setdefault(a["site"], {"points": []})
            if a.get("kind") == "km" and a["participates"]:
                got["bands"] = a["bands"]
            if a.get("kind") == "cox" and a["participates"]:
                pt = a["points"][0]
                got["points"].append(
                    (
                        np.asarray(request["beta"][0]),
                        pt["loglik"],
                        np.asarray(pt["gradient"]),
                        np.asarray(pt["hessian"]),
                    )
                )
        return answers

    pool_kaplan_meier(spec, ask)
    fit_exact_cox(spec, ask)
    return seen


def _truth(rows: dict[str, Any], keep_all: bool) -> dict[str, list[int]]:
    tab = sessions_to_improvement(rows, outcome="pain", mcid=Mcid(2.0, True, ""), covariates=["exercise"])
    t, e, x = tab.sessions, tab.improved, tab.covariates["exercise"]
    keep = np.ones(len(t), dtype=bool) if keep_all else shared_patients(t, e, x[:, None])
    t, e, x = t[keep], e[keep], x[keep] == 1
    times = sorted(set(t[e]))
    nxt = [*times[1:], np.inf]
    return {
        "at_risk": [int(((t >= u) & x).sum()) for u in times],
        "improved": [int(((t == u) & e & x).sum()) for u in times],
        "censored_after": [int(((t >= u) & (t < v) & ~e & x).sum()) for u, v in zip(times, nxt, strict=True)],
    }


def _recovered(clinics: dict[str, dict[str, Any]], sites: tuple[str, ...]) -> dict[str, list[Any]]:
    seen = _one_analysis(clinics, EXERCISE)
    return {
        site: recover_binary_cells(got["bands"], got["points"], last_session=6)
        for site, got in seen.items()
        if site in sites and got["points"] and "bands" in got
    }


def test_without_the_cell_rule_one_analysis_discloses_a_patient(monkeypatch: pytest.MonkeyPatch) -> None:
    # The attack, against the exchange as it was (every patient shared): from one Cox fit's answers and the
    # band counts of the same analysis, the analyst recovers each clinic's exact table per improvement time.
    import strigil.registry.exact_survival as exact_survival

    monkeypatch.setattr(
        exact_survival, "disclosable_patients", lambda t, e, X, m: np.ones(len(t), dtype=bool)
    )
    clinics = {**network_columns(), "adversarial": _adversarial_clinic()}
    recovered = _recovered(clinics, ("west", "adversarial"))
    for site in ("west", "adversarial"):
        assert len(recovered[site]) == 1, site  # one table fits the answers
        ((_, cells),) = recovered[site]
        assert cells == _truth(clinics[site], keep_all=True), site
    # West merged its bands from session 3 on (a censoring count of 1), yet one table fits: it shows the one
    # patient with exercise censored between sessions 3 and 4, and the 4 with exercise improving at session 1.
    west = recovered["west"][0][1]
    assert west["censored_after"][2] == 1 and west["improved"][0] == 4
    # The adversarial clinic: its 2 patients with exercise at risk at the last improvement time, 1 improving.
    adversarial = recovered["adversarial"][0][1]
    assert adversarial["at_risk"][-1] == 2 and adversarial["improved"][-1] == 1


def test_the_answers_of_one_analysis_solve_only_for_cells_of_at_least_5() -> None:
    clinics = {**network_columns(), "adversarial": _adversarial_clinic()}
    recovered = _recovered(clinics, ("north", "south", "west", "adversarial"))
    assert all(recovered[s] for s in ("north", "south", "west", "adversarial"))
    for site, tables in recovered.items():
        for marg, cells in tables:
            # What the attack recovers is the shared patients' table: no cell of 1 to 4 is left in it.
            assert cells == _truth(clinics[site], keep_all=False), site
            without = {
                "at_risk": [n for n, _ in marg],
                "improved": [d for _, d in marg],
                "censored_after": [
                    n - d - nxt for (n, d), nxt in zip(marg, [*(m for m, _ in marg[1:]), 0], strict=True)
                ],
            }
            for key, values in cells.items():
                for total, with_exercise in zip(without[key], values, strict=True):
                    assert count_allowed(with_exercise, 5), (site, key, values)
                    assert count_allowed(total - with_exercise, 5), (site, key, values)


def test_the_clinics_cell_rule_agrees_with_the_tests_own_on_random_tables() -> None:
    from strigil.registry.exact_survival import disclosable_patients

    rng = np.random.default_rng(7)
    merged = 0
    for _ in range(200):
        n = int(rng.integers(5, 80))
        time = rng.integers(1, 6, n).astype(float)
        event = rng.random(n) < 0.6
        X = rng.integers(0, 2, (n, int(rng.integers(0, 3)))).astype(float)
        mine = disclosable_patients(time, event, X, 5)
        assert np.array_equal(mine, shared_patients(time, event, X)), (time, event, X)
        kept = set(time[event & mine])
        merged += kept != set(time[event])  # withholding removed an improvement time: bands merged
        # No cell of the shared patients holds 1-4.
        times = sorted(kept)
        band = np.searchsorted(times, time[mine], side="right")
        cells = Counter(zip(band, event[mine], map(tuple, X[mine]), strict=True))
        assert all(count_allowed(c, 5) for c in cells.values())
    assert merged > 0


def test_a_fit_left_ill_determined_by_the_withheld_patients_still_reports() -> None:
    # Three covariates (with 3-4 doses of minutes per clinic) leave few shareable patients: the fit's
    # intervals are wide or infinite, but it prints and serialises rather than failing.
    fit = fit_exact_cox(SPEC, _ask(network_columns()))
    assert fit.withheld and "south" in fit.excluded
    out = fit.to_json()
    assert out["withheld"] == list(fit.withheld) and len(out["terms"]) == 3
    assert "withheld at" in fit.summary().text
