"""The safety gates through the JSON API, on SQLite and PostgreSQL: a screening stored on the episode, a
session over it refused without an override reason (422, every reason by field, nothing written), and the
dashboard's counts of overrides and follow-up completeness."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from web_schema import TODAY, seed_clinic, session_doc
from web_world import PASSWORD, World

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.database import make_engine, migrate
from strigil.store.record import AdverseResponseRow, DoseStepRow, ScreeningRow, SessionRow
from strigil.web.app import create_app

REASON = "covered wound well away from the strokes; physician agreed"


@pytest.fixture
def gate_world(database_url: str, fast_hasher: None) -> Iterator[World]:
    """One seeded clinic on a fresh SQLite or PostgreSQL database, with a clinician account."""
    engine = make_engine(database_url)
    migrate(engine)
    with sessionmaker(engine, expire_on_commit=False)() as db:
        records = {1: seed_clinic(db, 1)}
        account = account_service.create_account(
            db, username="clinician1", display_name="C", role="clinician", clinic_id=1, password=PASSWORD
        )
        db.commit()
    app = create_app(Settings(database_url=database_url), engine=engine)
    yield World(
        app=app,
        engine=engine,
        ids={(1, "clinician"): account.public_id},
        records=records,
        account_rows={(1, "clinician"): account.id},
    )
    engine.dispose()


def _counts(world: World) -> dict[str, int]:
    with world.db() as db:
        return {
            row.__tablename__: int(db.scalar(select(func.count()).select_from(row)) or 0)
            for row in (SessionRow, DoseStepRow, AdverseResponseRow, ScreeningRow)
        }


def test_api_refuses_a_session_over_a_contraindicated_screening_and_writes_nothing(gate_world: World) -> None:
    client, csrf = gate_world.client("clinician")
    headers = {"X-CSRF-Token": csrf}
    episode = gate_world.records[1]["episode_id"]
    screened = client.post(
        f"/api/v1/episodes/{episode}/screenings",
        json={"region": "elbow", "findings": ["open_wound", "anticoagulant_medication"]},
        headers=headers,
    )
    assert screened.status_code == 201, screened.text
    assert screened.json()["verdict"] == "contraindicated" and screened.json()["screening_id"]
    before = _counts(gate_world)
    doc: dict[str, Any] = session_doc(episode, "c1", TODAY, 6, 4)
    refused = client.post(f"/api/v1/episodes/{episode}/sessions", json=doc, headers=headers)
    assert refused.status_code == 422, refused.text
    (problem,) = refused.json()["detail"]
    assert problem["field"] == "override_reason" and "gate.contraindicated" in problem["message"]
    assert _counts(gate_world) == before
    saved = client.post(
        f"/api/v1/episodes/{episode}/sessions", json={**doc, "override_reason": REASON}, headers=headers
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["screening"]["gates"]["overridden"]
    board = client.get("/api/v1/dashboard").json()
    assert board["safety"]["overrides"] == 1
    assert board["safety"]["follow_up_sessions"] == 1 and board["safety"]["follow_up_asked"] == 0
    assert any(a["kind"] == "screening" for a in board["alerts"])


def test_the_dashboard_page_shows_overrides_and_follow_up_completeness(gate_world: World) -> None:
    client, csrf = gate_world.client("clinician")
    episode = gate_world.records[1]["episode_id"]
    doc = {**session_doc(episode, "c1", TODAY, 6, 4), "follow_up": {"asked": True}}
    saved = client.post(f"/api/v1/episodes/{episode}/sessions", json=doc, headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 201, saved.text
    page = client.get("/").text
    assert '<strong id="override-count">0</strong>' in page
    assert '<strong id="follow-up-completeness">100 %</strong>' in page


def test_opening_an_episode_on_the_page_records_consent_as_choices(world: World) -> None:
    client, csrf = world.client("clinician")
    form = {
        "csrf_token": csrf,
        "condition": "lateral_elbow_tendinopathy",
        "region": "elbow",
        "side": "left",
        "target_tissue": "tendon",
        "co": "strengthening",
        "planned_iastm": "yes",
    }
    undated = client.post("/patients/A001/episodes", data={**form, "explained": ["bruising"]})
    assert undated.status_code == 422 and 'id="ep-onset-error"' in undated.text  # no date is assumed
    assert "enter when the symptoms began" in undated.text
    form["onset_date"] = "2026-01-10"
    refused = client.post("/patients/A001/episodes", data=form)
    assert refused.status_code == 422 and "consent" in refused.text
    risks_only = client.post("/patients/A001/episodes", data={**form, "explained": ["bruising"]})
    assert risks_only.status_code == 422 and "alternatives" in risks_only.text
    explained = ["bruising", "alternatives", "exercise_programme"]
    opened = client.post("/patients/A001/episodes", data={**form, "explained": explained})
    assert opened.status_code == 303, opened.text
    no_iastm = {k: v for k, v in form.items() if k != "planned_iastm"}
    assert client.post("/patients/A001/episodes", data=no_iastm).status_code == 303  # no IASTM, no consent
