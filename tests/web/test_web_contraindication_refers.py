"""A contraindication standing at the latest screening makes the decision aid say refer wherever it shows
(episode page, JSON API, Today page), and the session form says "Do not treat" in plain words beside the
screening when a contraindicated finding is ticked."""

from __future__ import annotations

import re

from web_schema import TODAY, session_doc
from web_world import World

REASON = "patient declined referral today; physician called and agreed"


def _screen(world: World, findings: list[str]) -> None:
    client, csrf = world.client("clinician")
    episode = world.records[1]["episode_id"]
    screened = client.post(
        f"/api/v1/episodes/{episode}/screenings",
        json={"region": "elbow", "findings": findings},
        headers={"X-CSRF-Token": csrf},
    )
    assert screened.status_code == 201, screened.text


def _word(page: str) -> str:
    found = re.search(r'id="recommendation-word" data-code="(\w+)"', page)
    assert found, "the episode page shows a recommendation"
    return found.group(1)


def test_a_session_saved_over_a_suspected_dvt_leaves_refer_on_every_view(world: World) -> None:
    client, csrf = world.client("clinician")
    episode = world.records[1]["episode_id"]
    _screen(world, ["suspected_dvt"])
    doc = {**session_doc(episode, "c1", TODAY, 6, 6), "override_reason": REASON}  # no change: alone, modify
    saved = client.post(f"/api/v1/episodes/{episode}/sessions", json=doc, headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 201, saved.text
    assert saved.json()["recommendation"]["recommendation"] == "refer"
    page = client.get(f"/episodes/{episode}").text
    assert _word(page) == "refer"
    card = page[page.index('id="recommendation"') :]
    assert "Suspected deep vein thrombosis" in card[: card.index("</section>")]
    assert "refer the same day" in card[: card.index("</section>")]
    api = client.get(f"/api/v1/episodes/{episode}").json()["recommendation"]
    assert api["recommendation"] == "refer" and api["reasons"][0]["rule"] == "respond.refer_contraindicated"
    today = client.get("/").text
    assert "decision aid says refer" in today and "decision aid says modify" not in today
    # a later screening that clears it: the measures decide again
    _screen(world, [])
    assert _word(client.get(f"/episodes/{episode}").text) != "refer"


def test_the_session_form_says_do_not_treat_beside_the_screening(world: World) -> None:
    client, csrf = world.client("clinician")
    episode = world.records[1]["episode_id"]
    form = {
        "csrf_token": csrf,
        "screening_choice": "screen",
        "finding": ["suspected_dvt"],
        "date": TODAY.isoformat(),
        "clinician": "c1",
        "tolerance": "well_tolerated",
        "exercise_delivered": "yes",
        "follow_up_choice": "none",
        "step-0-region": "elbow",
        "step-0-side": "right",
        "step-0-instrument": "graston_set",
        "step-0-stroke": "sweep",
        "step-0-angle_deg": "45",
        "step-0-direction": "along",
        "step-0-pressure": "moderate",
        "step-0-duration_s": "90",
    }
    # the partial the form swaps in when a finding is ticked (HTMX), server-rendered
    panel = client.post(f"/episodes/{episode}/sessions/screening", data=form)
    assert panel.status_code == 200, panel.text
    assert "Do not treat — refer the same day" in panel.text
    assert "Suspected deep vein thrombosis" in panel.text
    # saving without an override reason: the summary leads with the same words, no rule codes
    refused = client.post(f"/episodes/{episode}/sessions", data=form)
    assert refused.status_code == 422, refused.text
    summary = refused.text[refused.text.index('id="error-summary"') :]
    summary = summary[: summary.index("</div>")]
    assert "Do not treat — refer the same day" in summary
    assert summary.index("Do not treat") < summary.index("<a href")
    assert "[gate." not in summary
    screening = refused.text[refused.text.index('id="screening-step"') :]
    assert "Do not treat — refer the same day" in screening[: screening.index("</fieldset>")]
    beside = refused.text[refused.text.index('id="override_reason-error"') :]
    beside = beside[: beside.index("</span>")]
    assert "Suspected deep vein thrombosis" in beside and "at least 3 words" in beside
    assert "suspected_dvt" not in beside and "[gate." not in beside
