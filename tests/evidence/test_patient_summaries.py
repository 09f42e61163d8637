"""Patient summaries: reading grade, a source on every finding, wording no stronger than the certainty."""

from __future__ import annotations

import re

import pytest

from strigil.evidence.effect_sizes import study_effects
from strigil.evidence.library import load_library
from strigil.evidence.patient_summary import (
    PatientSummary,
    build_summary,
    condition_codes,
    condition_info,
    finding_sentence,
)
from strigil.evidence.patient_text import HEDGES
from strigil.evidence.pooling import pool_effects
from strigil.evidence.reading_level import MAX_GRADE, reading_grade
from strigil.evidence.render import render_clinician_html, render_html

LIBRARY = load_library()
SUMMARIES = {code: build_summary(condition_info(code), LIBRARY) for code in condition_codes()}
CLAIMED = [
    "achilles_tendinopathy",
    "rotator_cuff_tendinopathy",
    "iliotibial_band_syndrome",
    "shin_splints",
    "de_quervain_tenosynovitis",
    "fibromyalgia",
    "painful_scar",
]
STRONG = re.compile(r"\b(proves?|proven to work|cures?|always|definitely|guarantee[sd]?)\b", re.IGNORECASE)


def test_every_catalogue_condition_has_a_summary() -> None:
    assert len(SUMMARIES) == 25


@pytest.mark.parametrize("code", sorted(SUMMARIES))
def test_the_sentences_alone_read_at_grade_8_or_below(code: str) -> None:
    summary = SUMMARIES[code]
    measured = reading_grade(summary.text)
    assert measured == pytest.approx(summary.reading_grade)
    assert measured <= MAX_GRADE, (code, measured)


def test_the_reading_grade_measure_can_fail() -> None:
    hard = (
        "Instrument-assisted soft-tissue mobilization purportedly facilitates fibroblastic proliferation "
        "through controlled microtraumatic inflammatory stimulation of pathological connective tissue."
    )
    assert reading_grade(hard) > MAX_GRADE


@pytest.mark.parametrize("code", sorted(SUMMARIES))
def test_every_finding_carries_a_source_that_exists(code: str) -> None:
    summary = SUMMARIES[code]
    known = set(LIBRARY.studies)
    findings = [s for sec in summary.sections for s in sec.sentences if s.finding]
    assert findings
    for sentence in findings:
        assert sentence.sources, sentence.text
        assert set(sentence.sources) <= known, sentence.sources


@pytest.mark.parametrize("code", sorted(SUMMARIES))
def test_no_finding_is_worded_stronger_than_its_certainty(code: str) -> None:
    for sec in SUMMARIES[code].sections:
        for sentence in sec.sentences:
            if sentence.certainty is not None:
                hedges = HEDGES[sentence.certainty]
                assert not hedges or any(h in sentence.text for h in hedges), sentence
            if sentence.finding:
                assert not STRONG.search(sentence.text), sentence.text


def test_sentences_that_state_an_effect_are_findings() -> None:
    # a sentence that reports a result (found / leads to / change) must be marked as a finding with a source
    pattern = re.compile(r"\b(found|leads? to|led to|change|eases?|add)\b")
    for summary in SUMMARIES.values():
        for sec in summary.sections:
            if sec.key in ("research", "reviews"):
                for s in sec.sentences:
                    if pattern.search(s.text) and not s.text.startswith("So we"):
                        assert s.finding and s.sources, s.text


@pytest.mark.parametrize("code", CLAIMED)
def test_claimed_only_conditions_say_plainly_that_no_study_tested_them(code: str) -> None:
    summary = SUMMARIES[code]
    assert summary.studies == () and summary.outcomes == ()
    research = " ".join(s.text for s in summary.section("research").sentences)
    assert "No study in our library tested IASTM" in research
    assert summary.published == () and summary.certainty is None


def test_every_summary_has_the_required_parts() -> None:
    for summary in SUMMARIES.values():
        text = summary.text
        assert "IASTM is a hands-on treatment" in text
        assert "petechiae" in text and "few days" in text and "bruise" in text
        assert "numbness or tingling" in text and "bruise spreads" in text
        assert "natural recovery" in text and "placebo" in text
        assert "Exercise is the main part of care" in text and "add-on" in text
        assert "best dose" in text and "how it works" in text
        assert len(summary.section("questions").sentences) >= 4


def test_low_back_pain_reports_lee_2016_with_its_numbers() -> None:
    summary = SUMMARIES["chronic_low_back_pain"]
    pain = next(o for o in summary.outcomes if o.outcome == "pain")
    assert pain.k == 1 and pain.n == 30 and pain.studies == ("lee2016",)
    assert pain.effect == pytest.approx(-19.1) and pain.favours == "iastm"
    # one trial of 30 people: very serious imprecision (configurable heuristic), so very low
    assert pain.certainty == "very low"
    assert "imprecision: a single study of 30 participants < 100" in pain.grade.reasons


def test_studied_conditions_without_usable_numbers_say_so() -> None:
    summary = SUMMARIES["lateral_elbow_tendinopathy"]
    assert set(summary.studies) == {"sevier2015", "blanchette2011"} and summary.outcomes == ()
    research = " ".join(s.text for s in summary.section("research").sentences)
    assert "None of them gave numbers we could use" in research


def test_the_reviews_figures_are_shown_and_marked_not_reproduced() -> None:
    summary = SUMMARIES["chronic_low_back_pain"]
    assert {f.review for f in summary.published} >= {"tang2025", "nazari_update", "shin2022"}
    sentences = [s.text for s in summary.section("reviews").sentences]
    assert any("could not check these pooled results" in s for s in sentences)
    rom = SUMMARIES["healthy_rom_limitation"]
    assert {f.review for f in rom.published} >= {"tang2024"} and "tang2025" not in {
        f.review for f in rom.published
    }


@pytest.mark.parametrize(
    ("certainty", "words"),
    [
        ("high", "IASTM leads to less pain"),
        ("moderate", "probably"),
        ("low", "may"),
        ("very low", "very unsure"),
    ],
)
def test_the_finding_wording_follows_the_certainty(certainty: str, words: str) -> None:
    effect = next(e for e in study_effects(LIBRARY) if e.study == "lee2016" and e.outcome == "pain")
    pooled = pool_effects([effect], LIBRARY.studies)
    forced = type(pooled)(**{**pooled.__dict__, "grade": type(pooled.grade)(certainty, "high")})
    sentence = finding_sentence(forced)
    assert words in sentence.text and sentence.certainty == certainty and sentence.sources == ("lee2016",)


def test_summary_type() -> None:
    assert isinstance(SUMMARIES["neck_pain"], PatientSummary)


UNKNOWN_SIZE_ONLY = [
    "carpal_tunnel_syndrome",
    "patellar_tendinopathy",
    "patellofemoral_pain",
    "plantar_heel_pain",
    "tfl_shortness",
]
NO_PEOPLE = re.compile(r"at least 0\b|\b0 people\b", re.IGNORECASE)


@pytest.mark.parametrize("code", sorted(SUMMARIES))
def test_no_summary_counts_zero_people(code: str) -> None:
    summary = SUMMARIES[code]
    for page in (summary.text, render_html(summary, LIBRARY), render_clinician_html(summary, LIBRARY)):
        assert not NO_PEOPLE.search(page), NO_PEOPLE.search(page)


@pytest.mark.parametrize("code", UNKNOWN_SIZE_ONLY)
def test_trials_of_unknown_size_say_so_plainly(code: str) -> None:
    summary = SUMMARIES[code]
    assert summary.studies and summary.participants == 0  # the library gives no trial's size here
    assert "We do not know how many people took part." in summary.section("research").sentences[0].text
    assert "participants: not known (no trial gives its size)" in render_clinician_html(summary, LIBRARY)
