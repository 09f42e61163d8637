"""Web pages that show sources: the evidence library and condition pages, the patient's printable summary, the
episode page (recommendation reasons, MCID captions) and the screening result for every finding — each checked
for allowed hosts only, no reading note, and on a patient page no practitioner source or statistical
abbreviation; the patient page reads at grade 8 or below and shows its own grade."""

from __future__ import annotations

import re

import pytest
from page_checks import page_problems
from web_world import World

from strigil.clinical.screening import load_findings
from strigil.evidence.reading_level import MAX_GRADE, page_grade, visible_text


def test_the_library_and_condition_pages_cite_the_sources_themselves(world: World) -> None:
    client, _ = world.client("clinician")
    library = client.get("/evidence")
    assert library.status_code == 200 and "IASTM study library" in library.text
    assert page_problems(library.text, patient=False) == []
    claim = client.get("/evidence", params={"condition": "fibromyalgia"})
    assert claim.status_code == 200 and "Practitioner opinion: Chicago Sports Doctors" in claim.text
    assert page_problems(claim.text, patient=False) == []
    patient = client.get("/evidence", params={"condition": "fibromyalgia", "view": "patient"})
    assert patient.status_code == 200 and "Chicago Sports Doctors" not in patient.text
    assert page_problems(patient.text, patient=True) == []
    unknown = client.get("/evidence", params={"condition": "fibromyalgya"})
    assert unknown.status_code == 422 and "fibromyalgia" in unknown.text  # the close code is suggested
    assert client.get("/evidence", params={"view": "everyone"}).status_code == 422


def test_researchers_read_the_library_and_admins_do_not(world: World) -> None:
    researcher, _ = world.client("researcher")
    assert researcher.get("/evidence", params={"condition": "neck_pain"}).status_code == 200
    admin, _ = world.client("admin")
    assert admin.get("/evidence").status_code == 403


def test_the_printable_patient_summary_obeys_the_citing_rules_and_reads_easily(world: World) -> None:
    client, _ = world.client("clinician")
    page = client.get(f"/patients/{world.records[1]['patient_code']}/summary")
    assert page.status_code == 200 and "What the research says" in page.text
    assert page_problems(page.text, patient=True) == []
    measured = page_grade(page.text)
    shown = re.search(r"This page reads at school grade (\d+\.\d)", visible_text(page.text))
    assert shown is not None and float(shown.group(1)) == round(measured, 1)
    assert measured <= MAX_GRADE
    assert "numbness or tingling" in page.text and "natural recovery" in page.text


def test_the_episode_page_cites_its_sources_without_copies_or_reading_notes(world: World) -> None:
    client, _ = world.client("clinician")
    page = client.get(f"/episodes/{world.records[1]['episode_id']}")
    assert page.status_code == 200
    assert page_problems(page.text, patient=False) == []


@pytest.mark.parametrize("code", sorted(load_findings().findings))
def test_every_screening_reason_cites_its_sources(world: World, code: str) -> None:
    client, csrf = world.client("clinician")
    fragment = client.post(
        f"/episodes/{world.records[1]['episode_id']}/screening",
        data={"csrf_token": csrf, "findings": [code]},
    )
    assert fragment.status_code == 200 and "Verdict:" in fragment.text
    assert page_problems(fragment.text, patient=False) == []
    finding = load_findings().findings[code]
    if "Practitioner opinion" in finding.source:
        assert "Practitioner opinion" in fragment.text  # labelled in words where it shows
