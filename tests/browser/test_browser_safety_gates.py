"""The session form's safety gates in Chromium, on SQLite and PostgreSQL: the screening step comes first, a
session over a contraindication is refused without an override reason (the reason shown beside its field,
nothing written), the follow-up questions are answered, and with a reason the session is recorded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from live import serving
from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from web_schema import seed_clinic

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.database import make_engine, migrate
from strigil.store.record import ScreeningRow, SessionRow
from strigil.web.app import create_app

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(database_url: str) -> Iterator[tuple[str, Any, int]]:
    """A running Strigil on a fresh seeded database: (base address, engine, the episode to treat)."""
    engine = make_engine(database_url)
    migrate(engine)
    with sessionmaker(engine, expire_on_commit=False)() as db:
        records = seed_clinic(db, 1)
        account_service.create_account(
            db, username="therapist1", display_name="T", role="clinician", clinic_id=1, password=PASSWORD
        )
        db.commit()
    app = create_app(Settings(database_url=database_url), engine=engine)
    with serving(app) as base:
        yield base, engine, str(records["episode_id"])
    engine.dispose()


def _counts(engine: Any) -> tuple[int, int]:
    with engine.connect() as conn:
        sessions = conn.execute(select(func.count()).select_from(SessionRow)).scalar_one()
        screenings = conn.execute(select(func.count()).select_from(ScreeningRow)).scalar_one()
    return int(sessions), int(screenings)


def test_the_form_refuses_a_contraindicated_session_without_a_reason(
    site: tuple[str, Any, int], browser: Any
) -> None:
    base, engine, episode = site
    page = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill("therapist1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/episodes/{episode}/sessions/new")

    # 1. the screening step, first: no screening stored yet, so screen now — an open wound at the elbow
    expect(page.locator("#previous-screening")).to_contain_text("No screening recorded yet")
    page.get_by_label("Screen now").check()
    page.locator("#screening-step summary").click()
    wound = page.locator('input[name="finding"][value="open_wound"]')
    wound.check()
    # ticking a contraindication: the screening step says so at once, in plain words (HTMX)
    expect(page.locator("#do-not-treat")).to_contain_text("Do not treat")
    expect(page.locator("#do-not-treat")).to_contain_text("Open wound")
    # 2. the follow-up questions about session 1, asked: nothing new
    expect(page.locator("#follow-up-questions")).to_contain_text("Since session 1, did you notice bruising?")
    page.get_by_label("Asked: nothing new noticed").check()
    # the session itself
    page.select_option("#clinician", "c1")
    page.select_option("#step-0-instrument", "graston_set")
    page.select_option("#step-0-stroke", "sweep")
    page.select_option("#step-0-direction", "along")
    page.select_option("#step-0-pressure", "light")
    page.fill("#step-0-duration_s", "90")
    page.get_by_label("Delivered in this session").check()
    page.select_option("#tolerance", "well_tolerated")
    expect(page.locator("#a-0-severity")).to_have_value("")  # no default severity
    before = _counts(engine)
    page.get_by_role("button", name="Save session").click()
    expect(page.locator("#error-summary")).to_contain_text("Do not treat")
    beside = page.locator("#override_reason-error")
    expect(beside).to_contain_text("IASTM over a contraindication (Open wound")
    expect(page.locator("#override_reason-error")).not_to_contain_text("[gate.")
    assert _counts(engine) == before  # refused: no session, no screening written
    # what was entered comes back; with a reason the session is recorded
    expect(wound).to_be_checked()
    page.fill("#override_reason", "wound dressed and far from the forearm strokes")
    page.get_by_role("button", name="Save session").click()
    page.wait_for_url(re.compile(rf"/episodes/{episode}\?recorded=2"))
    assert _counts(engine) == (before[0] + 1, before[1] + 1)
    page.context.close()
