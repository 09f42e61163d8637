"""The session note and closing the loops through the web pages and the JSON API: read back, print, sign,
amend, add to, resolve (dashboard alert clears), discharge with its summary and letter, reopen, void; each
action audited, another clinic's records not found."""

from __future__ import annotations

import datetime as dt
import re

from web_schema import TODAY, session_doc
from web_world import PASSWORD, World

from strigil.services import accounts as account_service
from strigil.services import audit as audit_service
from strigil.services import clinics

VOID_REASON = "entered on the wrong patient by mistake"


def _signer(world: World) -> str:
    """Clinician ther1 of clinic 1 with an account of that user name (so it may sign ther1's notes), and a
    session ther1 recorded; its id."""
    with world.db() as db:
        clinics.add_clinician(
            db,
            1,
            {
                "code": "ther1",
                "name": "Thea Rapist",
                "profession": "physical_therapist",
                "years_experience": 3,
            },
        )
        account_service.create_account(
            db, username="ther1", display_name="Thea Rapist", role="clinician", clinic_id=1, password=PASSWORD
        )
        db.commit()
    client, csrf = world.client("ther", 1)
    episode = str(world.records[1]["episode_id"])
    doc = {**session_doc(episode, "ther1", TODAY, 5, 3), "follow_up": {"asked": True}}
    response = client.post(f"/api/v1/episodes/{episode}/sessions", json=doc, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _events(world: World) -> list[tuple[str, str, str]]:
    with world.db() as db:
        events = audit_service.list_events(db, 1, per_page=500).events  # newest first
        return [(e.action, e.resource, e.detail) for e in reversed(events)]


def _full_session(world: World, client, csrf: str) -> str:  # type: ignore[no-untyped-def]
    """A second session of clinic 1's first episode with every field filled; its id."""
    episode = world.records[1]["episode_id"]
    doc = session_doc(episode, "c1", TODAY, 5, 3)
    doc.update(
        warm_up={"kind": "cardiovascular", "minutes": 7},
        emollient="emu oil",
        followed_by=[{"kind": "strengthening", "detail": "eccentric wrist extension", "minutes": 10}],
        tolerance="tolerated_with_modification",
        clinician_decision="continue",
        decision_reason="pain settles after each visit",
        notes="patient keeps a pain diary",
        screening={"findings": []},
        follow_up={"asked": True},
        adverse_responses=[
            {"kind": "petechiae", "severity": "mild", "onset_on": TODAY.isoformat(), "region": "elbow"}
        ],
    )
    doc["steps"][0].update(
        edge="convex",
        stroke_count=33,
        force_n=11.5,
        patient_position="supine, elbow flexed",
        active_movement="wrist flexion",
    )
    response = client.post(f"/api/v1/episodes/{episode}/sessions", json=doc, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_the_note_page_and_print_view_show_everything_recorded(world: World) -> None:
    client, csrf = world.client("clinician")
    session_id = _full_session(world, client, csrf)
    episode = world.records[1]["episode_id"]
    listing = client.get(f"/episodes/{episode}").text
    assert f'href="/sessions/{session_id}"' in listing  # reachable from the episode's session list
    for path in (f"/sessions/{session_id}", f"/sessions/{session_id}/print"):
        page = client.get(path)
        assert page.status_code == 200
        text = re.sub(r"\s+", " ", page.text)
        for shown in (
            "Clinic 1",
            "A000",
            "Therapist 1 (c1",
            TODAY.isoformat(),
            "cardiovascular, 7",
            "emu oil",
            "Elbow",
            "supine, elbow flexed",
            "convex edge",
            "45°",
            "along",
            "moderate",
            "11.5 N",
            "90 s",
            "33",
            "wrist flexion",
            "eccentric wrist extension",
            "tolerated with modification",
            "petechiae",
            "pain settles after each visit",
            "patient keeps a pain diary",
            "precautions",
            "screened at this session",
            "asked and answered",
            "nothing new reported",
            "Signature:",
        ):
            assert shown in text, f"{path}: {shown!r} missing"
    printed = client.get(f"/sessions/{session_id}/print").text
    assert "printed-note" in printed and "<form" not in printed  # nothing to click on paper
    everything = client.get(f"/episodes/{episode}/notes/print").text
    assert everything.count('class="note printed-note"') == 2  # one note per page
    note = client.get(f"/api/v1/sessions/{session_id}/note").json()
    assert note["session"]["emollient"] == "emu oil" and note["clinic"] == "Clinic 1"
    assert note["session"]["steps"][0]["patient_position"] == "supine, elbow flexed"
    assert ("read", "session", "note printed") in _events(world)


def test_sign_amend_and_add_from_the_pages(world: World) -> None:
    session_id = _signer(world)
    client, csrf = world.client("clinician")  # clinician1: not the session's clinician
    refused = client.post(f"/sessions/{session_id}/sign", data={"csrf_token": csrf})
    assert refused.status_code == 422 and "signed by its clinician (ther1)" in refused.text
    signer, signer_csrf = world.client("ther", 1)
    signed = signer.post(f"/sessions/{session_id}/sign", data={"csrf_token": signer_csrf})
    assert signed.status_code == 303
    page = signer.get(f"/sessions/{session_id}").text
    assert "Signed electronically by Thea Rapist (ther1)" in page
    amended = signer.post(
        f"/sessions/{session_id}/amend",
        data={
            "csrf_token": signer_csrf,
            "notes": "heel raises corrected to wrist curls",
            "warm_up_kind": "moist_heat",
            "warm_up_minutes": "8",
            "exercise_delivered": "yes",
            "reason": "wrong drill",
        },
    )
    assert amended.status_code == 303, amended.text
    addendum = signer.post(
        f"/sessions/{session_id}/addenda",
        data={"csrf_token": signer_csrf, "on": TODAY.isoformat(), "text": "patient phoned: no soreness"},
    )
    assert addendum.status_code == 303
    page = re.sub(r"\s+", " ", signer.get(f"/sessions/{session_id}").text)
    assert 'why: <span class="amendment-reason">wrong drill</span>' in page

    def change(what: str, was: str, became: str) -> str:
        """One row of the amendments table, as the page writes it (cells labelled for a narrow screen)."""
        return (
            f'<td data-label="What">{what}</td><td data-label="Was"><del>{was}</del></td>'
            f'<td data-label="Became">{became}</td>'
        )

    assert change("notes", "—", "heel raises corrected to wrist curls") in page
    assert change("warm up.kind", "—", "moist_heat") in page
    assert change("warm up.minutes", "—", "8.0") in page
    assert "exercise delivered" not in page.split('id="amendments"')[1].split("</section>")[0]  # unchanged
    assert "patient phoned: no soreness" in page
    empty = signer.post(f"/sessions/{session_id}/addenda", data={"csrf_token": signer_csrf, "text": " "})
    assert empty.status_code == 422 and "say what the addendum adds" in empty.text
    details = [d for a, r, d in _events(world) if r == "session" and a == "update"]
    assert details == ["note signed", "note amended: wrong drill", "addendum added"]


def test_the_api_signs_amends_adds_and_voids(world: World) -> None:
    session_id = _signer(world)
    client, csrf = world.client("ther", 1)
    headers = {"X-CSRF-Token": csrf}
    signed = client.post(f"/api/v1/sessions/{session_id}/sign", headers=headers)
    assert signed.json()["session"]["signed_by"] == "ther1"
    again = client.post(f"/api/v1/sessions/{session_id}/sign", headers=headers)
    assert again.status_code == 409
    note = client.post(
        f"/api/v1/sessions/{session_id}/amendments",
        json={"changes": {"tolerance": "poorly_tolerated"}, "reason": "tolerance mistyped"},
        headers=headers,
    ).json()
    assert note["amendments"][0]["changes"] == [
        {"field": "tolerance", "before": "well_tolerated", "after": "poorly_tolerated"}
    ]
    bad = client.post(
        f"/api/v1/sessions/{session_id}/amendments",
        json={"changes": {"steps": []}, "reason": "x"},
        headers=headers,
    )
    assert bad.status_code == 422
    added = client.post(
        f"/api/v1/sessions/{session_id}/addenda",
        json={"on": TODAY.isoformat(), "text": "seen again"},
        headers=headers,
    )
    assert added.status_code == 201 and added.json()["session"]["addenda"][-1]["text"] == "seen again"

    def procedures() -> list[str]:
        bundle = client.get("/api/v1/fhir/Patient/A000/$everything").json()
        return [
            e["resource"]["status"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"
        ]

    before = procedures()
    short = client.post(f"/api/v1/sessions/{session_id}/void", json={"reason": "mistake"}, headers=headers)
    assert short.status_code == 422
    voided = client.post(f"/api/v1/sessions/{session_id}/void", json={"reason": VOID_REASON}, headers=headers)
    assert voided.json()["session"]["void_reason"] == VOID_REASON
    episode = client.get(f"/api/v1/episodes/{world.records[1]['episode_id']}").json()
    assert [s["voided_at"] is not None for s in episode["sessions"]] == [False, True]  # kept, marked
    assert episode["recommendation"]["latest_session"] == 1
    assert {p["session"] for series in episode["progress"] for p in series["points"]} == {1}
    page = client.get(f"/episodes/{world.records[1]['episode_id']}").text
    assert 'id="session-row-2" class="voided"' in page
    # the FHIR export carries the void session marked, never as a procedure done
    after = procedures()
    assert len(after) == len(before) and "entered-in-error" not in before
    assert after.count("entered-in-error") == 1 and after.count("completed") == len(before) - 1
    # another clinic's note is not found
    other = world.records[2]["session_id"]
    assert client.get(f"/api/v1/sessions/{other}/note").status_code == 404
    assert (
        client.post(
            f"/api/v1/sessions/{other}/void", json={"reason": VOID_REASON}, headers=headers
        ).status_code
        == 404
    )


def test_resolving_from_the_dashboard_clears_its_alert(world: World) -> None:
    client, csrf = world.client("clinician")
    adverse_id = world.records[1]["adverse_id"]
    dashboard = client.get("/").text
    assert f'action="/adverse-responses/{adverse_id}/resolve"' in dashboard
    resolved = client.post(
        f"/adverse-responses/{adverse_id}/resolve",
        data={"csrf_token": csrf, "resolved_on": TODAY.isoformat(), "where": "seen in clinic", "next": "/"},
    )
    assert resolved.status_code == 303 and resolved.headers["location"] == "/"
    assert f'action="/adverse-responses/{adverse_id}/resolve"' not in client.get("/").text
    api_alerts = client.get("/api/v1/dashboard").json()["alerts"]
    assert not [a for a in api_alerts if a["adverse_id"] == adverse_id]
    note = client.get(f"/api/v1/sessions/{world.records[1]['session_id']}/note").json()
    assert note["session"]["adverse_responses"][0]["resolved_where"] == "seen in clinic"
    assert "resolved on" in note["session"]["addenda"][0]["text"]
    again = client.post(
        f"/api/v1/adverse-responses/{adverse_id}/resolve",
        json={"resolved_on": TODAY.isoformat()},
        headers={"X-CSRF-Token": csrf},
    )
    assert again.status_code == 409
    # back to a page of this site only, never to another host
    second = world.records[2]["adverse_id"]
    assert client.post(f"/adverse-responses/{second}/resolve", data={"csrf_token": csrf}).status_code == 404
    with world.db() as db:
        from strigil.services.outcomes import add_adverse_response

        fresh = add_adverse_response(
            db,
            1,
            int(world.records[1]["episode_row"]),
            {"kind": "soreness", "severity": "mild", "onset_on": TODAY.isoformat()},
        )
        db.commit()
    away = client.post(
        f"/adverse-responses/{fresh.public_id}/resolve",
        data={"csrf_token": csrf, "resolved_on": TODAY.isoformat(), "next": "//evil.example/"},
    )
    assert away.status_code == 303 and away.headers["location"] == "/"


def test_discharge_summary_letter_and_reopen(world: World) -> None:
    client, csrf = world.client("clinician")
    episode = world.records[1]["episode_id"]
    session_id = _full_session(world, client, csrf)
    assert session_id
    form = client.get(f"/episodes/{episode}/discharge").text
    assert 'name="reason" value="goals_met"' in form and "the summary so far" in form
    missing = client.post(
        f"/episodes/{episode}/discharge",
        data={"csrf_token": csrf, "on": TODAY.isoformat(), "reason": "other"},
    )
    assert missing.status_code == 422 and "other: with text" in missing.text
    done = client.post(
        f"/episodes/{episode}/discharge",
        data={
            "csrf_token": csrf,
            "on": TODAY.isoformat(),
            "reason": "goals_met",
            "referrer": "Dr Rivera, GP",
        },
    )
    assert done.status_code == 303
    summary = client.get(f"/api/v1/episodes/{episode}/discharge-summary").json()
    assert (
        summary["reason"] == "goals_met"
        and summary["sessions"] == 2
        and summary["referrer"] == "Dr Rivera, GP"
    )
    (elbow,) = summary["dose"]
    assert (elbow["region"], elbow["seconds"], elbow["strokes"]) == (
        "elbow",
        2 * (90 + 60),
        33,
    )  # two sessions of two steps
    (nprs,) = summary["changes"]
    assert (nprs["first"], nprs["last"], nprs["change"]) == (6, 5, 1)
    letter = re.sub(r"\s+", " ", client.get(f"/episodes/{episode}/discharge/letter").text)
    assert "To: Dr Rivera, GP" in letter and "goals met" in letter and "Signature:" in letter
    assert "<form" not in letter
    page = client.get(f"/episodes/{episode}").text
    assert "discharged " + TODAY.isoformat() in page and "Record a session" not in page
    short = client.post(f"/episodes/{episode}/reopen", data={"csrf_token": csrf, "reason": "again"})
    assert short.status_code == 422
    reopened = client.post(
        f"/api/v1/episodes/{episode}/reopen",
        json={"reason": "the pain came back after a tournament"},
        headers={"X-CSRF-Token": csrf},
    )
    assert reopened.status_code == 200 and reopened.json()["closed_on"] is None
    details = [d for a, r, d in _events(world) if r == "episode" and a == "update"]
    assert details == ["discharged: goals_met", "reopened: the pain came back after a tournament"]


def test_an_episode_voided_from_its_page_is_struck_through_and_takes_no_sessions(world: World) -> None:
    client, csrf = world.client("clinician")
    episode = world.records[1]["episode_id"]
    voided = client.post(
        f"/episodes/{episode}/void", data={"csrf_token": csrf, "reason": "tennis elbow on the plantar foot"}
    )
    assert voided.status_code == 303
    patient = client.get("/patients/A000").text
    assert 'class="voided"' in patient and "void: tennis elbow on the plantar foot" in patient
    refused = client.post(
        f"/api/v1/episodes/{episode}/sessions",
        json=session_doc(episode, "c1", TODAY - dt.timedelta(days=1), 4, 3),
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 409 and "void" in refused.text
    assert "A000" not in client.get("/api/v1/dashboard").text


def test_an_episode_opened_with_its_referrer_addresses_the_letter_to_them(world: World) -> None:
    client, csrf = world.client("clinician")
    plan = {
        "condition": "lateral_elbow_tendinopathy",
        "region": "elbow",
        "side": "left",
        "target_tissue": "tendon",
        "onset_date": TODAY.isoformat(),
        "opened_on": TODAY.isoformat(),
        "planned_iastm": False,
        "planned_co_interventions": ["strengthening"],
        "referrer": "Dr Okafor, orthopaedics",
    }
    opened = client.post("/api/v1/patients/A001/episodes", json=plan, headers={"X-CSRF-Token": csrf})
    assert opened.status_code == 201 and opened.json()["referrer"] == "Dr Okafor, orthopaedics"
    episode = opened.json()["id"]
    form = client.get(f"/episodes/{episode}/discharge").text
    assert 'value="Dr Okafor, orthopaedics"' in form  # the discharge form offers the referrer recorded
    page = client.post(
        "/patients/A002/episodes",
        data={
            **{k: v for k, v in plan.items() if k not in ("planned_co_interventions", "referrer")},
            "co": "strengthening",
            "referrer": "Dr Lund",
            "csrf_token": csrf,
        },
    )
    assert page.status_code == 303
    assert client.get(page.headers["location"]).text.count("referred by Dr Lund") == 1


def test_the_note_names_each_range_of_motion_by_joint_motion_and_side_without_repeating_its_unit(
    world: World,
) -> None:
    client, csrf = world.client("clinician")
    episode = world.records[1]["episode_id"]
    doc = session_doc(episode, "c1", TODAY, 5, 3)
    rom = {"measure": "rom_deg", "joint": "elbow", "side": "right"}
    doc["measurements"] = [
        *doc["measurements"],  # type: ignore[misc]
        {**rom, "motion": "extension", "timing": "pre", "value": 60},
        {**rom, "motion": "extension", "timing": "post", "value": 72},
        {**rom, "motion": "flexion", "timing": "pre", "value": 120},
        {**rom, "motion": "flexion", "timing": "post", "value": 130},
    ]
    saved = client.post(f"/api/v1/episodes/{episode}/sessions", json=doc, headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 201, saved.text
    page = client.get(f"/sessions/{saved.json()['id']}").text
    table = page[page.index('id="note-measures"') : page.index("</table>", page.index('id="note-measures"'))]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", table)
    # the joint as the record's regions name it, then motion and side (as the progress charts label them)
    found = {
        (label.split(" — ")[1].split(",")[0][:5], label.split(", ")[-2], label.split(", ")[-1]): (pre, post)
        for label, pre, post in rows
        if label.startswith("Range of motion, goniometric (degrees) — ")
    }
    assert found == {
        ("Elbow", "Extension", "Right"): ("60.0", "72.0"),
        ("Elbow", "Flexion", "Right"): ("120.0", "130.0"),
    }
    assert "(degrees) (deg)" not in table and "Numeric Pain Rating Scale (points)" in table
