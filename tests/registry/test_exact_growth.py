"""Exact pooled growth model: equal to the single-database fit of the participating clinics' shareable rows,
and no answer (alone or together with the others) discloses a group of fewer than 5 patients."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from clinic_network import (
    NETWORK_FORMULA,
    network_columns,
    network_levels,
    shareable_network_rows,
    shareable_rows,
    visit_pattern_cells,
)

from strigil.registry.disclosure import small_column_groups
from strigil.registry.exact_growth import (
    ClinicDataError,
    GrowthModelSpec,
    answer_request,
    fit_exact_growth,
    prepare_clinic,
)
from strigil.registry.growth_model import fit_growth_model, growth_design

PATIENT = "1 + session | patient"


@pytest.fixture(scope="module")
def clinics() -> dict[str, dict[str, Any]]:
    return network_columns()


def _spec(reml: bool = True) -> GrowthModelSpec:
    return GrowthModelSpec(NETWORK_FORMULA, PATIENT, levels=network_levels(), reml=reml)


def _network(clinics: dict[str, dict[str, Any]], spec: GrowthModelSpec, log: list[dict[str, Any]]) -> Any:
    prepared = [prepare_clinic(rows, spec) for rows in clinics.values()]

    def ask(request: dict[str, Any]) -> list[dict[str, Any]]:
        answers = [answer_request(c, request) for c in prepared]
        log.extend(answers)
        return answers

    return ask


@pytest.mark.parametrize("reml", [True, False])
def test_pooled_fit_equals_the_fit_of_all_shareable_rows(
    clinics: dict[str, dict[str, Any]], reml: bool
) -> None:
    log: list[dict[str, Any]] = []
    pooled = fit_exact_growth(_spec(reml), _network(clinics, _spec(reml), log))
    assert pooled.excluded == {"tiny": "fewer than 5 patients"}
    assert pooled.sites == ("north", "south", "west")
    assert pooled.withheld == ("north", "south", "west")
    single = fit_growth_model(
        shareable_network_rows(clinics, ["north", "south", "west"]), NETWORK_FORMULA, [PATIENT], reml=reml
    )
    a, b = pooled.fit.to_json(), single.to_json()
    assert list(a["fixed"]) == list(b["fixed"])
    assert "clinic[T.south]" in a["fixed"] and "clinic[T.tiny]" not in a["fixed"]
    for key in ("fixed", "se"):
        for name in b[key]:
            assert a[key][name] == pytest.approx(b[key][name], abs=1e-6, rel=1e-6), (key, name)
    for term, sd in b["random_sd"]["patient"].items():
        assert a["random_sd"]["patient"][term] == pytest.approx(sd, abs=1e-6, rel=1e-6)
    assert a["random_corr"]["patient"] == pytest.approx(b["random_corr"]["patient"], abs=1e-6)
    assert a["sigma"] == pytest.approx(b["sigma"], abs=1e-6, rel=1e-6)
    assert a["objective"] == pytest.approx(b["objective"], abs=1e-6, rel=1e-9)
    assert a["n_obs"] == b["n_obs"] and a["n_groups"] == b["n_groups"]
    assert a["criterion"] == ("REML" if reml else "ML") and a["converged"]


def test_excluded_reference_clinic_moves_the_reference_as_the_single_database_fit_does(
    clinics: dict[str, dict[str, Any]],
) -> None:
    levels = {"phase": ["acute", "chronic"], "clinic": ["aaa-small", "north", "south", "west"]}
    network = {k: v for k, v in clinics.items() if k != "tiny"}
    small = {
        k: v[np.isin(clinics["tiny"]["patient"], np.unique(clinics["tiny"]["patient"])[:2])]
        for k, v in clinics["tiny"].items()
    }
    small["clinic"] = np.full(len(small["pain"]), "aaa-small")
    network["aaa-small"] = small
    spec = GrowthModelSpec(NETWORK_FORMULA, PATIENT, levels=levels)
    pooled = fit_exact_growth(spec, _network(network, spec, []))
    assert pooled.excluded == {"aaa-small": "fewer than 5 patients"}
    single = fit_growth_model(
        shareable_network_rows(clinics, ["north", "south", "west"]), NETWORK_FORMULA, [PATIENT]
    )
    assert pooled.fit.fixed_names == single.fixed_names
    assert np.allclose(pooled.fit.beta, single.beta, atol=1e-6)


def _patients_behind(columns: dict[str, Any], spec: GrowthModelSpec) -> list[int]:
    """Independently of the clinic's code: patient counts of every group a shared sum describes."""
    design = growth_design(columns, spec.formula.replace(" + clinic", ""), [spec.random])
    counts = [int(design.groups.max()) + 1]
    for j in range(design.X.shape[1]):
        for mask in (design.X[:, j] != 0, design.X[:, j] == 0):
            n = len(np.unique(design.groups[mask]))
            if n:
                counts.append(n)
    return counts


def test_no_message_holds_a_value_computed_from_fewer_than_5_patients(
    clinics: dict[str, dict[str, Any]],
) -> None:
    # One clinic gets a rare category (3 chronic patients): it must not take part, and say why.
    rare = dict(clinics["west"])
    patients = np.unique(rare["patient"])
    rare["phase"] = np.where(np.isin(rare["patient"], patients[:3]), "chronic", "acute")
    network = {**clinics, "west": rare}
    log: list[dict[str, Any]] = []
    pooled = fit_exact_growth(_spec(), _network(network, _spec(), log))
    # West either stays out or shares none of the three: they are a cell of 1-4 in every visit pattern.
    if "west" in pooled.excluded:
        assert "phase" in pooled.excluded["west"] or "visit patterns" in pooled.excluded["west"]
    else:
        enrolled = next(m for m in log if m["site"] == "west" and m["kind"] == "enrol")
        assert enrolled["levels_present"]["phase"] == ["acute"]
    assert log, "the network exchanged no message"
    own = NETWORK_FORMULA.replace(" + clinic", "")
    numeric_keys = {"n_patients", "n_obs", "names", "levels_present", "points"}
    for message in log:
        site = message["site"]
        if not message["participates"]:
            # An excluded clinic sends no number at all.
            assert not numeric_keys & set(message), message
            # ... and states the rule it fails, never the count behind it.
            assert message["reason"] in (
                "fewer than 5 patients",
                "fewer than 5 patients in visit patterns it may share",
            ) or message["reason"].startswith(
                "between 1 and 4 patients have a nonzero (or a zero) value of"
            ), message
            continue
        shared = shareable_rows(network[site], own, PATIENT)
        counts = _patients_behind(shared, _spec())
        assert min(counts) >= 5, (site, counts)
        assert message["n_patients"] == counts[0] >= 5
        # The answers at many θ reveal sums per visit pattern: each pattern is a cell of its own.
        for cell in visit_pattern_cells(shared, own, PATIENT):
            assert min(cell) >= 5, (site, cell)
        # Every number in the message is a sum over all of the clinic's patients (no per-patient list).
        for point in message.get("points", []):
            assert set(point) == {"logdet", "reduced", "d_logdet", "d_reduced"}
            p1 = len(_spec().declared_names()) + 1
            assert np.asarray(point["reduced"]).shape == (p1, p1)
            assert np.asarray(point["d_reduced"]).shape == (3, p1, p1)


def test_small_column_groups_finds_a_group_of_three() -> None:
    groups = np.repeat(np.arange(10), 3)
    X = np.column_stack([np.ones(30), (groups < 3).astype(float), (groups < 5).astype(float)])
    assert small_column_groups(X, ["Intercept", "rare", "half"], groups, 5) == ["rare"]


def test_a_clinic_with_another_variable_set_or_coding_is_named(clinics: dict[str, dict[str, Any]]) -> None:
    spec = _spec()
    renamed = {("exercise_minutes" if k == "exercise" else k): v for k, v in clinics["south"].items()}
    with pytest.raises(ClinicDataError, match=r"clinic 'south': its data have no column 'exercise', which"):
        prepare_clinic(renamed, spec)
    recoded = dict(clinics["south"])
    recoded["phase"] = np.where(recoded["phase"] == "acute", "Acute", "Chronic")
    with pytest.raises(
        ClinicDataError, match=r"clinic 'south': column 'phase' has level\(s\) \['Acute', 'Chronic'\]"
    ):
        prepare_clinic(recoded, spec)
    as_text = dict(clinics["south"])
    as_text["exercise"] = np.where(as_text["exercise"] > 0, "yes", "no")
    with pytest.raises(ClinicDataError, match="clinic 'south': column 'exercise' holds text"):
        prepare_clinic(as_text, spec)
    numbers = dict(clinics["south"])
    numbers["phase"] = (numbers["phase"] == "chronic").astype(float)
    with pytest.raises(ClinicDataError, match="clinic 'south': column 'phase' holds numbers"):
        prepare_clinic(numbers, spec)


def test_an_answer_for_another_model_is_refused(clinics: dict[str, dict[str, Any]]) -> None:
    clinic = prepare_clinic(clinics["north"], _spec())
    other = dataclasses.replace(_spec(), reml=False)
    request = {"format": "strigil-exact-growth/1", "kind": "enrol", "model": other.to_json(), "id": "x"}
    with pytest.raises(ValueError, match="another model"):
        answer_request(clinic, request)


def test_the_answers_of_one_fit_cannot_be_solved_for_a_small_visit_pattern(
    clinics: dict[str, dict[str, Any]],
) -> None:
    # A researcher's review recovered, from one ordinary fit's answers, the count of every visit pattern (and
    # then one patient's record) by solving logdet(θ) = Σ_g n_g log|Λᵀ G_g Λ + I| over candidate patterns.
    import itertools

    from scipy.optimize import nnls

    prepared = {name: prepare_clinic(rows, _spec()) for name, rows in clinics.items()}
    thetas: list[np.ndarray] = []
    answers: list[float] = []

    def ask(request: dict[str, Any]) -> list[dict[str, Any]]:
        out = [answer_request(c, request) for c in prepared.values()]
        if request["kind"] == "pieces":
            south = next(a for a in out if a["site"] == "south")
            thetas.extend(np.asarray(th) for th in request["theta"])
            answers.extend(point["logdet"] for point in south["points"])
        return out

    fit_exact_growth(_spec(), ask)
    assert len(thetas) > 20

    def logdet(th: np.ndarray, visits: tuple[int, ...]) -> float:
        s = np.asarray(visits, dtype=float)
        G = np.array([[len(s), s.sum()], [s.sum(), (s * s).sum()]])
        L = np.array([[th[0], 0.0], [th[1], th[2]]])
        return float(np.linalg.slogdet(L.T @ G @ L + np.eye(2))[1])

    last = int(np.max(clinics["south"]["session"]))
    candidates = [(0, *c) for r in range(last + 1) for c in itertools.combinations(range(1, last + 1), r)]
    A = np.array([[logdet(th, c) for c in candidates] for th in thetas])
    counts, _ = nnls(A, np.asarray(answers), maxiter=5000)
    recovered = counts[counts > 0.5]
    assert len(recovered) >= 1
    assert recovered.min() >= 5 - 1e-6, sorted(recovered)
