"""Every page that shows sources cites the sources themselves: allowed hosts only, no reading note, and on a
patient page no practitioner source and no statistical abbreviation (the web's pages: tests/web)."""

from __future__ import annotations

import json

import pytest
from page_checks import page_problems

from strigil.evidence.library import load_library
from strigil.evidence.patient_summary import build_summary, condition_codes, condition_info
from strigil.evidence.render import render_clinician_html, render_html, render_library_html, summary_json

LIBRARY = load_library()
CODES = condition_codes()
SUMMARIES = {code: build_summary(condition_info(code), LIBRARY) for code in CODES}


@pytest.mark.parametrize("code", CODES)
def test_the_patient_page_obeys_the_citing_rules(code: str) -> None:
    html = render_html(SUMMARIES[code], LIBRARY)
    assert page_problems(html, patient=True) == []


@pytest.mark.parametrize("code", CODES)
def test_the_clinician_page_obeys_the_citing_rules(code: str) -> None:
    html = render_clinician_html(SUMMARIES[code], LIBRARY)
    assert page_problems(html, patient=False) == []


def test_the_library_page_obeys_the_citing_rules() -> None:
    assert page_problems(render_library_html(LIBRARY), patient=False) == []


@pytest.mark.parametrize("code", CODES)
def test_the_json_export_cites_no_copy_and_no_reading_note(code: str) -> None:
    data = summary_json(SUMMARIES[code], LIBRARY)
    # the export is checked as text: every address in it and every phrase
    text = json.dumps(data, ensure_ascii=False)
    problems = page_problems(f"<p>{text}</p>", patient=False)
    assert problems == []
    assert all(not s["practitioner_opinion"] for s in data["patient_sources"])


def test_a_clinic_claim_is_shown_to_clinicians_labelled_and_never_to_patients() -> None:
    summary = SUMMARIES["fibromyalgia"]
    clinician = render_clinician_html(summary, LIBRARY)
    assert "Practitioner opinion: Chicago Sports Doctors" in clinician
    assert "https://www.chicagosportsdoctors.com/graston-technique/" in clinician
    patient = render_html(summary, LIBRARY)
    assert "Chicago Sports Doctors" not in patient and "chicagosportsdoctors" not in patient


def test_tang_2025_is_cited_by_its_doi_not_a_mirror() -> None:
    html = render_html(SUMMARIES["chronic_low_back_pain"], LIBRARY)
    assert "https://doi.org/10.1186/s12891-025-08492-4" in html
    assert "booksci" not in html and "hutech" not in html


@pytest.mark.parametrize(
    ("injected", "patient", "problem"),
    [
        ('<a href="https://booksci.cn/literaturecn/143633435.htm">x</a>', False, "not allowed"),
        ("<li>Read at https://www.scribd.com/document/1</li>", False, "not allowed"),
        ("<li>journal not shown in the excerpt read</li>", False, "reading note"),
        ("<li>Baker 2017 — domain reference §0 ✅</li>", False, "reading note"),
        (
            '<a href="https://www.chicagosportsdoctors.com/graston-technique/">clinic</a>',
            True,
            "practitioner",
        ),
        ("<li>Practitioner opinion: a clinic page</li>", True, "practitioner"),
        ("<td>SMD 0.60 (95% CI 0.41 to 0.80)</td>", True, "statistical abbreviation"),
    ],
)
def test_the_checks_fail_on_a_breach(injected: str, patient: bool, problem: str) -> None:
    clean = render_html(SUMMARIES["neck_pain"], LIBRARY)
    assert page_problems(clean, patient=patient) == []
    broken = clean.replace("</body>", f"<ul>{injected}</ul></body>")
    assert any(problem in p for p in page_problems(broken, patient=patient))
