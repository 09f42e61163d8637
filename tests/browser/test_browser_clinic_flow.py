"""A clinician's session in a real browser: sign in, find a patient, record a session with two dose steps and
pain before/after, see the recommendation and the chart change, run a meta-analysis, print the summary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_session import sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

BCG = "study,yi,vi\n" + "\n".join(
    f"Trial {i},{y},{v}"
    for i, (y, v) in enumerate(
        [
            (-0.8893, 0.3256),
            (-1.5854, 0.1946),
            (-1.3481, 0.4154),
            (-1.4416, 0.0200),
            (-0.2175, 0.0512),
            (-0.7861, 0.0069),
            (-1.6209, 0.2230),
            (0.0120, 0.0040),
        ],
        start=1,
    )
)


def _points(page: Any) -> int:
    return int(page.locator("svg.progress-chart").first.get_attribute("data-points"))


def test_clinician_flow(server: str, browser: Any, shots: Path, tmp_path: Path, password: str) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 900})  # tablet width
    page = context.new_page()
    page.set_default_timeout(15_000)

    # Sign in
    sign_in(page, server, password)
    assert page.get_by_role("heading", name="Today's patients").is_visible()
    page.screenshot(path=str(shots / "01-dashboard.png"), full_page=True)

    # Find a patient: the search narrows as one types (HTMX)
    page.goto(f"{server}/patients")
    page.get_by_label("Patient code starts with").fill("A003")
    expect(page.locator("#patient-results tbody tr")).to_have_count(1)
    page.screenshot(path=str(shots / "02-patient-search.png"), full_page=True)
    page.get_by_role("link", name="A003").click()
    page.get_by_role("link", name=re.compile("Episode")).first.click()
    before = _points(page)

    # Record a session with two dose steps and pain before/after
    page.get_by_role("link", name="Blank session").click()
    page.get_by_label("Screen now").check()  # the screening step comes first
    page.get_by_label("Asked: nothing new noticed").check()  # then the follow-up questions
    page.get_by_label("Delivered in this session").check()
    page.select_option("#clinician", "c1")
    page.select_option("#step-0-instrument", "graston_set")
    page.select_option("#step-0-stroke", "sweep")
    page.fill("#step-0-angle_deg", "45")
    page.select_option("#step-0-direction", "along")
    page.select_option("#step-0-pressure", "moderate")
    page.fill("#step-0-duration_s", "90")
    page.get_by_role("button", name="+ Add a dose step").click()
    page.wait_for_selector("#step-1-stroke")
    page.select_option("#step-1-stroke", "strum")
    page.select_option("#step-1-direction", "across")
    page.get_by_role("button", name="Move step 2 up").click()
    expect(page.locator("#step-0-stroke")).to_have_value("strum")
    page.fill("#m-0-pre", "6")
    page.fill("#m-0-post", "3")
    page.select_option("#tolerance", "well_tolerated")
    page.screenshot(path=str(shots / "03-session-form.png"), full_page=True)
    page.get_by_role("button", name="Save session").click()
    page.wait_for_url(re.compile(r"/episodes/[0-9a-f]{32}\?recorded=2"))
    assert page.locator("#recommendation-word").get_attribute("data-code") in (
        "refer",
        "switch",
        "modify",
        "continue",
        "progress",
        "discharge",
    )
    assert _points(page) == before + 2
    rows = page.locator("#sessions-table tbody tr").first.inner_text().lower()
    assert "strum" in rows.split("sweep")[0]  # the moved step is first
    page.screenshot(path=str(shots / "04-episode-after-session.png"), full_page=True)

    # Meta-analysis: upload a CSV, see the forest plot
    csv_file = tmp_path / "bcg.csv"
    csv_file.write_text(BCG)
    page.goto(f"{server}/meta")
    page.set_input_files("#file", str(csv_file))
    page.select_option("#method", "REML")
    page.get_by_role("button", name="Fit").click()
    page.wait_for_selector("#forest svg")
    assert "k = 8" in page.locator("#meta-result caption").inner_text()
    page.screenshot(path=str(shots / "05-meta-analysis.png"), full_page=True)

    # Print the patient summary
    page.goto(f"{server}/patients/A003/summary")
    assert page.get_by_role("heading", name="What the research shows").first.is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header.bar").is_visible()  # navigation is not printed
    page.pdf(path=str(shots / "06-patient-summary.pdf"))
    page.screenshot(path=str(shots / "06-patient-summary-print.png"), full_page=True)
    assert (shots / "06-patient-summary.pdf").stat().st_size > 10_000
    context.close()
