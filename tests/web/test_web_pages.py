"""HTML pages: session form (HTMX steps, field-level errors), episode chart, summary, search, dashboard."""

from __future__ import annotations

import re

from web_schema import TODAY
from web_world import World

from strigil.web.session_form import SessionForm, missing_choices, parse_form, reorder_steps


def _form(episode_id: int | str, csrf: str, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf,
        "date": TODAY.isoformat(),
        "clinician": "c1",
        "tolerance": "well_tolerated",
        "m-0-measure": "nprs",
        "m-0-pre": "5",
        "m-0-post": "2",
        "screening_choice": "screen",
        "follow_up_choice": "none",
        "exercise_delivered": "yes",
    }
    for i, (stroke, direction) in enumerate((("sweep", "along"), ("strum", "across"))):
        data.update(
            {
                f"step-{i}-region": "elbow",
                f"step-{i}-side": "right",
                f"step-{i}-instrument": "graston_set",
                f"step-{i}-stroke": stroke,
                f"step-{i}-angle_deg": "45",
                f"step-{i}-direction": direction,
                f"step-{i}-pressure": "moderate",
                f"step-{i}-duration_s": "60",
            }
        )
    data.update(overrides)
    return data


def test_reorder_steps_moves_adds_and_removes() -> None:
    a, b, c = {"stroke": "a"}, {"stroke": "b"}, {"stroke": "c"}
    assert reorder_steps([a, b, c], "up", 2, {}) == [a, c, b]
    assert reorder_steps([a, b, c], "down", 0, {}) == [b, a, c]
    fresh = {"carried": "", "confirmed": ""}  # a copy is a new step, never marked as carried forward
    assert reorder_steps([a, b], "add", 0, {}) == [a, b, {**b, **fresh}]
    assert reorder_steps([], "add", 0, {"stroke": ""}) == [{"stroke": "", **fresh}]
    assert reorder_steps([a, b, c], "remove", 1, {}) == [a, c]
    assert reorder_steps([a, b], "up", 0, {}) == [a, b]  # first cannot move up


def test_parse_form_builds_the_session_document() -> None:
    form = SessionForm(
        {"date": "2026-01-02", "clinician": "c1", "tolerance": "well_tolerated"},
        [{"region": "elbow", "stroke": "sweep", "angle_deg": "30", "duration_s": "90"}],
        [{"measure": "nprs", "pre": "6", "post": ""}],
        ["stretching"],
    )
    doc, where = parse_form(form, 7)
    assert doc["episode_id"] == 7 and doc["steps"] == [
        {"region": "elbow", "stroke": "sweep", "angle_deg": 30.0, "duration_s": 90}
    ]
    assert doc["measurements"] == [{"measure": "nprs", "timing": "pre", "value": 6.0}]
    assert doc["followed_by"] == [{"kind": "stretching"}]
    assert where["steps[0].angle_deg"] == "step-0-angle_deg" and where["measurements[0].value"] == "m-0-pre"


def test_parse_form_builds_the_screening_follow_up_and_adverse_parts() -> None:
    form = SessionForm(
        {
            "date": "2026-03-09",
            "screening_choice": "screen",
            "intolerance": "yes",
            "follow_up_choice": "reported",
            "exercise_delivered": "no",
            "exercise_not_delivered_reason": "ran out of time",
            "override_reason": "physician agreed to proximal work",
        },
        [],
        [],
        [],
        ["open_wound"],
        [{"code": "lymphedema", "region": "upper_arm"}, {"code": "", "region": ""}],
        [{"kind": "", "severity": "", "onset_on": "", "resolved_on": "", "region": ""},
         {"kind": "petechiae", "severity": "", "onset_on": "2026-03-09", "resolved_on": "", "region": ""}],
        [{"session": "1", "kind": "bruising", "severity": "mild", "onset_on": "2026-03-03",
          "resolved_on": "2026-03-06", "region": ""}],
        {
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": "2026-03-05",
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb": "",
        },  # adverse responses by public id
    )
    doc, where = parse_form(form, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
    assert doc["screening"] == {
        "findings": [{"code": "open_wound"}, {"code": "lymphedema", "region": "upper_arm"}],
        "intolerance": True,
    }
    # several responses, each with its own dates; no severity is filled in for the clinician
    assert doc["adverse_responses"] == [{"kind": "petechiae", "onset_on": "2026-03-09"}]
    assert where["adverse_responses[0].severity"] == "a-1-severity"
    assert doc["follow_up"] == {
        "asked": True,
        "reactions": [
            {"session": 1, "kind": "bruising", "severity": "mild", "onset_on": "2026-03-03",
             "resolved_on": "2026-03-06"}
        ],
        "resolved": [{"adverse_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "resolved_on": "2026-03-05"}],
    }
    assert where["follow_up.reactions[0].onset_on"] == "fu-0-onset_on"
    assert doc["exercise_delivered"] is False and doc["override_reason"].startswith("physician")
    assert missing_choices(SessionForm(), follow_up_session=True).keys() == {
        "screening_choice",
        "follow_up_choice",
    }


def test_htmx_step_block_adds_and_reorders(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = world.records[1]["episode_id"]
    data = _form(episode_id, csrf)
    added = client.post(
        f"/episodes/{episode_id}/sessions/steps?op=add", data=data, headers={"HX-Request": "true"}
    )
    assert added.status_code == 200 and added.text.lstrip().startswith('<fieldset id="steps">')
    assert 'name="step-2-stroke"' in added.text
    moved = client.post(f"/episodes/{episode_id}/sessions/steps?op=up&index=1", data=data)
    strokes = re.findall(r'name="step-(\d)-stroke".*?<option value="(\w+)" selected', moved.text, re.S)
    assert [s for _, s in strokes] == ["strum", "sweep"]


def test_session_form_records_and_shows_recommendation_and_chart(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = world.records[1]["episode_id"]
    form = client.get(f"/episodes/{episode_id}/sessions/new")
    assert form.status_code == 200 and 'for="step-0-instrument"' in form.text
    saved = client.post(f"/episodes/{episode_id}/sessions", data=_form(episode_id, csrf))
    assert saved.status_code == 303 and saved.headers["location"].startswith(
        f"/episodes/{episode_id}?recorded=2"
    )
    page = client.get(f"/episodes/{episode_id}")
    assert 'id="recommendation-word"' in page.text and "After session 2" in page.text
    assert 'class="mcid-band"' in page.text and 'data-points="4"' in page.text


def test_session_form_errors_sit_beside_their_fields_and_keep_input(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = world.records[1]["episode_id"]
    bad = _form(episode_id, csrf, **{"step-1-angle_deg": "135", "m-0-post": "14", "step-0-stroke": ""})
    page = client.post(f"/episodes/{episode_id}/sessions", data=bad)
    assert page.status_code == 422
    assert 'id="step-1-angle_deg-error"' in page.text and "less than or equal to 90" in page.text
    assert 'id="m-0-post-error"' in page.text and "outside the nprs range" in page.text
    assert 'id="step-0-stroke-error"' in page.text
    assert 'value="135"' in page.text  # what was typed comes back
    with world.db() as db:
        from strigil.services import episodes

        assert (
            len(episodes.show_episode(db, 1, int(world.records[1]["episode_row"])).sessions) == 1
        )  # nothing written


def test_patient_search_page_and_pagination(world: World) -> None:
    client, _ = world.client("clinician")
    page = client.get("/patients", params={"q": "A00"})
    assert page.status_code == 200 and "6 patients" in page.text and "B000" not in page.text
    assert 'href="/patients/A003"' in page.text


def test_printable_summary_joins_evidence_and_progress(world: World) -> None:
    client, _ = world.client("clinician")
    page = client.get("/patients/A000/summary")
    assert page.status_code == 200
    assert "What the research shows" in page.text and 'class="progress-chart"' in page.text
    assert "@media print" not in page.text  # print styles come from the stylesheet
    assert "This page reads at school grade" in page.text


def test_dashboard_shows_alerts_for_unresolved_adverse_responses(world: World) -> None:
    client, _ = world.client("clinician")
    page = client.get("/")
    assert page.status_code == 200 and "Alerts" in page.text
    assert "bruising" in page.text and "A000" in page.text


def test_screening_panel_fragment(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = world.records[1]["episode_id"]
    fragment = client.post(
        f"/episodes/{episode_id}/screening", data={"csrf_token": csrf, "intolerance": "yes"}
    )
    assert fragment.status_code == 200 and fragment.text.startswith('<div id="screening-result"')
    assert "Verdict:" in fragment.text
    # the episode page says the check is not recorded, and asks about intolerance to IASTM once
    page = client.get(f"/episodes/{episode_id}").text
    assert "Quick screening check (not saved)" in page and "nothing here is recorded" in page
    assert page.count("Earlier hypersensitivity or intolerance to IASTM") == 1
    assert 'show:#screening-result:top' in page  # the verdict is scrolled into view


def test_roles_land_on_their_pages(world: World) -> None:
    admin, _ = world.client("admin")
    assert admin.get("/").headers["location"] == "/admin/accounts"
    researcher, _ = world.client("researcher")
    assert researcher.get("/").headers["location"] == "/research"
    assert researcher.get("/patients").status_code == 403
