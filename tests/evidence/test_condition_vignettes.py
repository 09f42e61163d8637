"""One vignette per condition checks its patient summary against the library: trials and people, the GRADE
rating, what was compared, the natural-recovery and placebo explanation, and what to report and when."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from strigil.clinical.adverse import DEFAULT_COURSES
from strigil.evidence.library import load_library
from strigil.evidence.patient_summary import PatientSummary, build_summary, condition_codes, condition_info
from strigil.evidence.reading_level import visible_text
from strigil.evidence.render import render_html

LIBRARY = load_library()
VIGNETTES: list[dict[str, Any]] = tomllib.loads(
    (Path(__file__).parent / "condition_vignettes.toml").read_text(encoding="utf-8")
)["vignette"]
BY_CODE = {v["condition"]: v for v in VIGNETTES}


def _summary(code: str) -> PatientSummary:
    return build_summary(condition_info(code), LIBRARY)


def _text(summary: PatientSummary, key: str) -> str:
    return " ".join(s.text for s in summary.section(key).sentences)


def test_there_is_one_vignette_per_condition() -> None:
    assert len(VIGNETTES) == len(BY_CODE) == len(condition_codes())
    assert set(BY_CODE) == set(condition_codes())


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_trials_and_people(code: str) -> None:
    v, summary = BY_CODE[code], _summary(code)
    assert set(summary.studies) == set(v["studies"])
    assert (summary.participants, summary.unknown_size) == (v["people"], v["unknown"])
    research = _text(summary, "research")
    k = len(v["studies"])
    if not k:
        assert "No study in our library tested IASTM" in research
        return
    assert f"We found {k} stud{'y' if k == 1 else 'ies'} of IASTM" in research
    if v["people"] and not v["unknown"]:
        assert f"with {v['people']} people in all" in research
    elif v["people"]:
        assert f"with at least {v['people']} people" in research
        assert f"We do not know how many people were in {v['unknown']} stud" in research
    else:  # no trial gives its size: said plainly, never "at least 0 people"
        assert "We do not know how many people took part." in research
        assert "at least 0" not in research


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_the_grade_rating_in_words(code: str) -> None:
    v, summary = BY_CODE[code], _summary(code)
    research = _text(summary, "research")
    if not v["certainty"]:
        assert summary.certainty is None and "How sure are we? We cannot say." in research
        return
    assert summary.certainty == v["certainty"]
    assert f"({v['certainty']} certainty)" in research and "How sure are we?" in research


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_the_comparison_is_named(code: str) -> None:
    v, summary = BY_CODE[code], _summary(code)
    compared = _text(summary, "compared").lower()
    for phrase in v["compared"]:
        assert phrase.lower() in compared, (phrase, compared)
    cited = {src for s in summary.section("compared").sentences for src in s.sources}
    assert cited == set(v["studies"])


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_why_people_feel_better_whatever_the_treatment(code: str) -> None:
    why = _text(_summary(code), "why_better")
    assert "whatever the treatment" in why and "natural recovery" in why and "placebo" in why
    assert "compares a group who had IASTM with a group who did not" in why


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_what_to_report_and_when(code: str) -> None:
    summary = _summary(code)
    days = DEFAULT_COURSES[
        "bruising"
    ].window_days  # the decision aid's bruise window, a configurable heuristic
    assert summary.bruise_days == days
    report = _text(summary, "report")
    assert "right away if you feel numbness or tingling" in report
    assert f"if a bruise spreads, or if it lasts more than {days:g} days" in report
    assert "configurable heuristic" in report and "few days" in report


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_known_no_difference_results_and_big_claims(code: str) -> None:
    v, summary = BY_CODE[code], _summary(code)
    if v["no_difference"]:
        cited = {src for s in summary.section("no_difference").sentences for src in s.sources}
        assert cited == set(v["no_difference"])
        assert "did no better than" in _text(summary, "no_difference")
    else:
        assert not summary.has_section("no_difference")
    assert summary.has_section("caution") == v["caution"]
    if v["caution"]:
        assert "shin2022" in summary.section("caution").sentences[0].sources
    assert set(v.get("reviews", [])) <= {f.review for f in summary.published}


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_the_rendered_patient_page_says_it_too(code: str) -> None:
    v = BY_CODE[code]
    page = visible_text(render_html(_summary(code), LIBRARY))
    for phrase in [*v["compared"], "natural recovery", "numbness or tingling", "bruise spreads"]:
        assert phrase.lower() in page.lower(), phrase
    if v["certainty"]:
        assert f"({v['certainty']} certainty)" in page


def test_burke_2007_is_the_carpal_tunnel_no_difference_result() -> None:
    text = _text(_summary("carpal_tunnel_syndrome"), "no_difference")
    assert (
        text
        == "In one study, people who had IASTM did no better than people who had soft-tissue work by hand."
    )


def test_the_low_back_summary_says_both_groups_exercised_in_one_30_person_trial() -> None:
    summary = _summary("chronic_low_back_pain")
    compared = _text(summary, "compared")
    assert (
        "In one study of 30 people, both groups did the same general exercises. One group also had IASTM."
        in (compared)
    )
    research = _text(summary, "research")
    assert (
        "We are very unsure if IASTM leads to less pain. This comes from 1 study with 30 people in all."
        in (research)
    )
