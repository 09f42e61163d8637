"""A session and an episode from start to end in Chromium, on SQLite and PostgreSQL: record a session with
every field of the form filled, find every value on its note page and in its print view; sign it; add an
amendment and an addendum and find both; resolve adverse responses and see the dashboard alert clear;
discharge the episode and check the summary's numbers against the record; void a session and check that the
analyses and exports leave it out."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from live import serving
from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from web_schema import seed_clinic

from strigil.catalog import load_catalog
from strigil.clinical.response import change_bar
from strigil.services import accounts as account_service
from strigil.services import clinics
from strigil.services.clinic_outcomes import clinic_outcomes
from strigil.services.export import write_csv
from strigil.settings import Settings
from strigil.store.database import make_engine, migrate
from strigil.store.record import DoseStepRow, MeasurementRow, SessionRow
from strigil.web.app import create_app

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
TODAY = dt.date.today()
VOID_REASON = "recorded for the wrong patient by mistake"


@pytest.fixture
def site(database_url: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """A running Strigil on a fresh seeded database, with clinician ther1 whose account may sign its notes."""
    engine = make_engine(database_url)
    migrate(engine)
    with sessionmaker(engine, expire_on_commit=False)() as db:
        records = seed_clinic(db, 1)
        clinics.add_clinician(
            db,
            1,
            {
                "code": "ther1",
                "name": "Thea Rapist",
                "profession": "physical_therapist",
                "years_experience": 8,
            },
        )
        account_service.create_account(
            db, username="ther1", display_name="Thea Rapist", role="clinician", clinic_id=1, password=PASSWORD
        )
        db.commit()
    app = create_app(Settings(database_url=database_url), engine=engine)
    with serving(app) as base:
        yield base, engine, records
    engine.dispose()


def _accessible(page: Any, where: str) -> None:
    """axe-core finds no violation on the page as it stands."""
    results = Axe().run(page)
    assert results.violations_count == 0, f"{where}: {results.generate_report()}"


def _text(page: Any) -> str:
    return re.sub(r"\s+", " ", page.locator("main").inner_text())


def _record_every_field(page: Any, base: str, episode: str) -> None:
    page.goto(f"{base}/episodes/{episode}/sessions/new")
    page.get_by_label("Screen now").check()
    page.get_by_label("Asked: nothing new noticed").check()
    page.select_option("#clinician", "ther1")
    page.fill("#date", TODAY.isoformat())
    page.select_option("#warm_up_kind", "cardiovascular")
    page.fill("#warm_up_minutes", "6")
    page.fill("#emollient", "emu oil")
    page.select_option("#step-0-region", "elbow")
    page.select_option("#step-0-side", "right")
    page.select_option("#step-0-instrument", "graston_set")
    page.select_option("#step-0-edge", "convex")
    page.select_option("#step-0-stroke", "sweep")
    page.fill("#step-0-angle_deg", "40")
    page.select_option("#step-0-direction", "along")
    page.select_option("#step-0-pressure", "moderate")
    page.locator("#steps details summary").first.click()  # force, stroke count, position, movement
    page.fill("#step-0-force_n", "12.5")
    page.fill("#step-0-duration_s", "60")
    page.fill("#step-0-stroke_count", "30")
    page.fill("#step-0-patient_position", "supine, elbow flexed")
    page.fill("#step-0-active_movement", "wrist flexion")
    page.locator('input[name="followed_by"][value="strengthening"]').check()
    page.select_option("#m-0-measure", "nprs")
    page.fill("#m-0-pre", "4")
    page.fill("#m-0-post", "3")
    page.select_option("#a-0-kind", "petechiae")
    page.select_option("#a-0-severity", "mild")
    page.fill("#a-0-onset_on", TODAY.isoformat())
    page.select_option("#a-0-region", "elbow")
    page.get_by_label("Delivered in this session").check()
    page.select_option("#tolerance", "tolerated_with_modification")
    page.select_option("#clinician_decision", "continue")
    page.fill("#decision_reason", "pain eased within the session")
    page.fill("#override_reason", "the patient asked to go ahead today")
    page.check("#dose_confirmed")
    page.fill("#notes", "patient keeps a pain diary")
    page.get_by_role("button", name="Save session").click()
    page.wait_for_url(re.compile(rf"/episodes/{episode}\?recorded=2"))


# What the form recorded, as the note shows it.
SHOWN = (
    "Clinic 1",
    "A000",
    "Thea Rapist (ther1",
    TODAY.isoformat(),
    "screened at this session",
    "asked and answered: nothing new reported",
    "cardiovascular, 6.0 min",
    "emu oil",
    "Elbow (lateral and medial epicondylar region) (right)",
    "Graston Technique instrument set",
    "supine, elbow flexed",
    "convex edge",
    "Sweep",
    "40°",
    "along",
    "moderate",
    "12.5 N",
    "60 s",
    "30",
    "wrist flexion",
    "strengthening",
    "delivered",
    "tolerated with modification",
    "petechiae at Elbow (lateral",
    "continue",
    "pain eased within the session",
    "the patient asked to go ahead today",
    "patient keeps a pain diary",
)


def test_a_session_and_an_episode_from_start_to_end(
    site: tuple[str, Any, dict[str, Any]], browser: Any
) -> None:
    base, engine, records = site
    episode, bruise = str(records["episode_id"]), str(records["adverse_id"])
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill("ther1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")

    # 1. record a session with every field filled; its note is reachable from the episode's session list
    _record_every_field(page, base, episode)
    page.get_by_role("link", name="Note of session 2").click()
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f]{32}$"))
    session_id = page.url.rsplit("/", 1)[1]
    _accessible(page, "note page")
    note = _text(page)
    for shown in SHOWN:
        assert shown in note, f"note page: {shown!r} missing"
    with engine.connect() as conn:
        measures = conn.execute(
            select(MeasurementRow.measure, MeasurementRow.timing, MeasurementRow.value)
            .join(SessionRow, SessionRow.id == MeasurementRow.session_id)
            .where(SessionRow.public_id == session_id)  # the URL names the session by its public id
        ).all()
    assert sorted(measures) == [("nprs", "post", 3.0), ("nprs", "pre", 4.0)]
    expect(page.locator("#note-measures")).to_contain_text("4.0")
    expect(page.locator("#note-measures")).to_contain_text("3.0")

    # ... and in the print view: clinic, patient, episode, clinician, date, a signature line; no forms
    page.goto(f"{base}/sessions/{session_id}/print")
    page.emulate_media(media="print")
    printed = _text(page)
    for shown in (*SHOWN, "Signature:"):
        assert shown in printed, f"print view: {shown!r} missing"
    assert page.locator("form").count() == 0
    assert page.locator(".printed-note").count() == 1
    page.emulate_media(media="screen")
    _accessible(page, "print view")
    # every note of the episode, one per printed page
    page.goto(f"{base}/episodes/{episode}/notes/print")
    page.emulate_media(media="print")
    breaks = page.eval_on_selector_all(
        ".printed-note", "notes => notes.map(n => getComputedStyle(n).breakAfter)"
    )
    assert breaks == ["page", "auto"]  # a page break after each note but the last
    assert not page.locator("header.bar").count()
    page.emulate_media(media="screen")

    # 2. sign; then an amendment and an addendum, both found with the note
    page.goto(f"{base}/sessions/{session_id}")
    page.get_by_role("button", name="Sign as ther1").click()
    expect(page.locator("#note-signed")).to_contain_text("Signed electronically by Thea Rapist (ther1)")
    page.fill("#amend-notes", "patient keeps a pain and activity diary")
    page.fill("#amend-reason", "activity diary left out")
    page.get_by_role("button", name="Save the correction").click()
    expect(page.locator("#amendments")).to_contain_text("activity diary left out")
    expect(page.locator("#amendments del")).to_contain_text("patient keeps a pain diary")
    expect(page.locator("#note-notes")).to_have_text("patient keeps a pain and activity diary")
    page.fill("#addendum-text", "patient phoned: the dots are fading")
    page.get_by_role("button", name="Add addendum").click()
    expect(page.locator("#addenda")).to_contain_text("patient phoned: the dots are fading")
    expect(page.locator("#note-signed")).to_be_visible()  # the signature stands; the changes show beside it

    # 3. resolve adverse responses: the bruise from the dashboard alert, the petechiae from the note
    page.goto(f"{base}/")
    alerts = page.locator("#alerts-h + ul.alerts")
    expect(alerts).to_contain_text("bruising since")
    _accessible(page, "dashboard with resolve forms")
    page.locator(f'form[action="/adverse-responses/{bruise}/resolve"]').locator("xpath=..").locator(
        "summary"
    ).click()
    page.fill(f"#resolved-where-{bruise}", "seen in clinic")
    page.locator(f'form[action="/adverse-responses/{bruise}/resolve"] button').click()
    page.wait_for_url(f"{base}/")
    expect(page.locator("#alerts-h + *")).not_to_contain_text("bruising since")
    expect(page.locator("#alerts-h + *")).to_contain_text("petechiae since")
    page.goto(f"{base}/sessions/{session_id}")
    page.locator("#note-adverse form.resolve button").click()
    expect(page.locator("#note-adverse")).to_contain_text(f"Resolved {TODAY.isoformat()}")
    page.goto(f"{base}/")
    expect(page.locator("#alerts-h + *")).not_to_contain_text("petechiae since")

    # 4. discharge; the summary's numbers against the record
    page.goto(f"{base}/episodes/{episode}")
    _accessible(page, "episode page")
    page.get_by_role("link", name="Discharge…").click()
    page.get_by_label("goals met").check()
    page.fill("#discharge-referrer", "Dr Rivera, sports medicine")
    page.get_by_role("button", name="Discharge").click()
    page.wait_for_url(f"{base}/episodes/{episode}/discharge")
    _accessible(page, "discharge summary")
    with engine.connect() as conn:
        seconds = conn.execute(
            select(func.sum(DoseStepRow.duration_s))
            .join(SessionRow, SessionRow.id == DoseStepRow.session_id)
            .where(SessionRow.episode_id == records["episode_row"])
        ).scalar_one()
        sessions = conn.execute(
            select(func.count())
            .select_from(SessionRow)
            .where(SessionRow.episode_id == records["episode_row"])
        ).scalar_one()
    assert (seconds, sessions) == (90 + 60 + 60, 2)
    expect(page.locator("#summary-sessions")).to_have_text("2 sessions")
    dose = page.locator("#summary-dose tbody tr")
    expect(dose).to_have_count(1)
    expect(dose.first).to_contain_text(f"{seconds} s ({round(seconds / 60, 2)} min)")
    expect(dose.first).to_contain_text("30")  # the strokes recorded (only session 2 counted them)
    bar = change_bar(load_catalog().measures["nprs"], condition="lateral_elbow_tendinopathy")
    assert bar is not None
    verdict = "improved" if bar.meaningful(6 - 4, 6) else "within the bar"
    change = page.locator("#summary-changes tbody tr")
    expect(change).to_have_count(1)
    expect(change.first).to_contain_text("6.0 (session 1)")
    expect(change.first).to_contain_text("4.0 (session 2)")
    expect(change.first).to_contain_text("+2")
    expect(change.first).to_contain_text(verdict)
    expect(page.locator("#summary-reason")).to_contain_text("goals met")
    expect(page.locator("#summary-adverse")).to_contain_text("resolved")
    page.get_by_role("link", name="Letter to the referring clinician").click()
    expect(page.locator("#letter-to")).to_have_text("To: Dr Rivera, sports medicine")
    _accessible(page, "discharge letter")
    expect(page.locator("#summary-sessions")).to_have_text("2 sessions")

    # 5. void session 2: kept, struck through, left out of analyses and exports
    page.goto(f"{base}/sessions/{session_id}")
    page.fill("#void-reason", VOID_REASON)
    page.get_by_role("button", name="Void session 2").click()
    expect(page.locator("#void")).to_contain_text(VOID_REASON)
    page.goto(f"{base}/episodes/{episode}")
    expect(page.locator("#session-row-2")).to_have_class("voided")
    shown = page.request.get(f"{base}/api/v1/episodes/{episode}").json()
    assert {p["session"] for series in shown["progress"] for p in series["points"]} == {1}
    assert shown["recommendation"] is None or shown["recommendation"]["latest_session"] == 1
    summary = page.request.get(f"{base}/api/v1/episodes/{episode}/discharge-summary").json()
    assert summary["sessions"] == 1 and summary["dose"][0]["seconds"] == 150
    bundle = page.request.get(f"{base}/api/v1/fhir/Patient/A000/$everything").json()
    # the FHIR export carries the void session only marked entered-in-error (its results too)
    marked = [
        e["resource"]["status"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] in ("Procedure", "Observation")
        and ("emu oil" in str(e["resource"]) or "wrist flexion" in str(e["resource"]))
    ]
    assert marked and set(marked) == {"entered-in-error"}
    with sessionmaker(engine)() as db:
        out = io.StringIO()
        write_csv(db, 1, out)
        # the export numbers each patient's episodes (1, 2, ...): never a database id nor a public id
        episode_rows = [r for r in out.getvalue().splitlines()[1:] if r.split(",")[3] == "1"]
        assert {r.split(",")[11] for r in episode_rows} == {"1"}  # the session column: session 1 only
        assert clinic_outcomes(db, 1).groups[0].sessions == 6  # one per seeded episode, not 7
    page.context.close()
