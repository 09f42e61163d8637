"""Choosing the threshold a change is judged against (MCID by population, MDC fallback, clinic setting)."""

from __future__ import annotations

import pytest

from strigil.catalog import Measure, Threshold, load_catalog
from strigil.clinical.adverse import AdverseReport
from strigil.clinical.response import ChangeThreshold, SessionMeasurement, recommend, select_threshold

CATALOG = load_catalog()


def test_clinic_override_beats_the_catalogue() -> None:
    t = select_threshold(CATALOG.measures["nprs"], "neck", override=2.5)
    assert t is not None and t.kind == "clinic setting" and t.value == 2.5


@pytest.mark.parametrize(("population", "value"), [("neck", 1.3), ("low back", 2.0), ("lateral elbow", 2.3)])
def test_population_picks_its_mcid(population: str, value: float) -> None:
    t = select_threshold(CATALOG.measures["nprs"], population)
    assert t is not None and t.kind == "MCID" and t.value == value
    assert population in t.population


def test_condition_name_picks_its_mcid_and_says_so() -> None:
    name = CATALOG.conditions["neck_pain"].name
    t = select_threshold(CATALOG.measures["nprs"], condition_name=name)
    assert t is not None and t.value == 1.3 and "condition" in t.note


def test_unmatched_population_falls_back_to_the_first_verified_entry_and_notes_it() -> None:
    t = select_threshold(CATALOG.measures["nprs"], "wrist")
    first = next(x for x in CATALOG.measures["nprs"].mcids if x.verified)
    assert t is not None and t.value == first.value and "no MCID for population" in t.note


def test_measures_without_mcid_use_the_mdc_labelled_so() -> None:
    t = select_threshold(CATALOG.measures["ppt_kpa"])
    assert t is not None and t.kind == "MDC" and t.detail.startswith("MDC")
    assert select_threshold(CATALOG.measures["grip_kg"]) is None


def test_unverified_values_are_labelled() -> None:
    shaky = Threshold(11.0, 37.0, "lateral elbow pain", "Poltawski & Watson 2011 (not read)", verified=False)
    m = Measure("x", "X", "src", kind="function", unit="points", min=0, max=100, mcids=(shaky,))
    t = select_threshold(m)
    assert t is not None and not t.verified and "unverified" in t.note


def test_value_or_percent_means_the_smaller_bar() -> None:
    t = ChangeThreshold("MCID", 2.0, 30.0, "", "low back pain", "Ostelo 2008")
    assert t.units(3.0) == pytest.approx(0.9)
    assert t.units(10.0) == pytest.approx(2.0)
    assert t.units(0.0) == 2.0  # a percentage of a zero baseline is no bar at all
    assert ChangeThreshold("MDC", None, 6.94, "", "", "").units(0.0) is None


def test_respond_lists_what_to_ask_at_the_next_session() -> None:
    out = recommend(
        [SessionMeasurement("nprs", 1, "pre", 6), SessionMeasurement("nprs", 1, "post", 3)],
        adverse_responses=[AdverseReport("petechiae", "mild", None, 1)],
    ).to_json()
    specific = [q for q in out["follow_up_questions"] if q["session"] == 1]
    assert [q["about"] for q in specific] == ["petechiae"]
    assert len(out["follow_up_questions"]) == 1 + 7
