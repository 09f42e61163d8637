"""The session form at clinic speed: the signed-in clinician treats, a new session from the last one (dose
steps as a draft to confirm), sourced templates, the condition's measures, every error at once, cloned
notes."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

from web_world import World

from strigil.services import accounts as account_service
from strigil.services import episodes as episode_service
from strigil.services.progress import progress


class _Form(HTMLParser):
    """The fields a browser would send for the session form, as the page rendered them."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._first: str | None = None
        self._chosen = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.setdefault(name, []).append(a.get("value", "on"))
            else:
                self.data.setdefault(name, []).append(a.get("value", ""))
        elif tag == "select" and name:
            self._select, self._first, self._chosen = name, None, False
        elif tag == "option" and self._select:
            if self._first is None:
                self._first = a.get("value", "")
            if "selected" in a:
                self.data[self._select] = [a.get("value", "")]
                self._chosen = True
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] = [self.data[self._textarea][0] + data]

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            if not self._chosen:
                self.data[self._select] = [self._first or ""]
            self._select = None
        if tag == "textarea":
            self._textarea = None


def _fields(html: str) -> dict[str, list[str]]:
    start = html.index('<form method="post" action="/episodes/')
    parser = _Form()
    parser.feed(html[start : html.index("</form>", start)])
    return parser.data


def _link(world: World, code: str = "c1") -> None:
    with world.db() as db:
        account_service.link_clinician(db, account_service.get_account(db, "clinician1"), code)
        db.commit()


def _episode(world: World) -> str:
    return str(world.records[1]["episode_id"])


def test_the_signed_in_clinicians_own_record_treats(world: World) -> None:
    client, _ = world.client("clinician")
    page = client.get(f"/episodes/{_episode(world)}/sessions/new")
    assert _fields(page.text)["clinician"] == [""]  # not linked: no one is chosen for them
    assert 'id="clinician-note"' in page.text and "cannot be recorded as the treating clinician" in page.text
    _link(world)
    client, _ = world.client("clinician")
    page = client.get(f"/episodes/{_episode(world)}/sessions/new")
    assert _fields(page.text)["clinician"] == ["c1"] and "(you)" in page.text
    assert 'id="clinician-note"' not in page.text


def test_an_account_links_only_to_a_clinician_record_of_its_own_clinic(world: World) -> None:
    import pytest

    with world.db() as db:
        account = account_service.get_account(db, "clinician1")
        with pytest.raises(account_service.AccountError, match="not a clinician record"):
            account_service.link_clinician(db, account, "c2")  # clinic 2's clinician
        with pytest.raises(account_service.AccountError, match="only a clinician account"):
            account_service.link_clinician(db, account_service.get_account(db, "researcher1"), "c1")


def _carry(world: World) -> tuple[object, str, dict[str, list[str]], str]:
    _link(world)
    client, csrf = world.client("clinician")
    page = client.get(f"/episodes/{_episode(world)}/sessions/new?from=last")
    assert page.status_code == 200
    return client, csrf, _fields(page.text), page.text


def _answer(data: dict[str, list[str]], csrf: str) -> dict[str, list[str]]:
    data = {**data, "csrf_token": [csrf], "screening_choice": ["screen"], "follow_up_choice": ["none"],
            "exercise_delivered": ["yes"], "m-0-pre": ["5"], "m-0-post": ["3"],
            "tolerance": ["well_tolerated"]}
    return data


def test_tolerance_is_never_preselected_and_is_asked_for_after_iastm(world: World) -> None:
    client, csrf, carried, _ = _carry(world)
    blank = client.get(f"/episodes/{_episode(world)}/sessions/new")  # type: ignore[attr-defined]
    assert _fields(blank.text)["tolerance"] == [""] and carried["tolerance"] == [""]
    answered = {**_answer(carried, csrf), "step-0-confirmed": ["yes"], "step-1-confirmed": ["yes"]}
    answered["tolerance"] = [""]
    page = client.post(f"/episodes/{_episode(world)}/sessions", data=answered)  # type: ignore[attr-defined]
    assert page.status_code == 422
    assert 'href="#tolerance"' in page.text and 'id="tolerance-error"' in page.text
    assert "choose how the patient tolerated" in page.text


def test_a_new_session_from_the_last_one_brings_the_dose_steps_as_a_draft(world: World) -> None:
    client, csrf, data, html = _carry(world)
    # the last session's two steps, marked as carried forward, and no measure values or notes
    assert data["step-0-instrument"] == ["graston_set"] and data["step-0-stroke"] == ["sweep"]
    assert data["step-1-stroke"] == ["strum"] and data["step-1-duration_s"] == ["60"]
    assert html.count("carried forward from session 1") == 2 and data["step-0-carried"][0]
    assert all(not v[0] for k, v in data.items() if k.startswith("m-") and k.endswith(("-pre", "-post")))
    assert data["notes"] == [""] and all(data[f"a-{i}-kind"] == [""] for i in range(3))
    # the condition's measures are offered, with their source (lateral elbow: PRTEE first, JOSPT CPG 2022)
    assert data["m-0-measure"] == ["nprs"] and "prtee" in [data[f"m-{i}-measure"][0] for i in range(4)]
    assert "10.2519/jospt.2022.0302" in html
    unconfirmed = client.post(f"/episodes/{_episode(world)}/sessions", data=_answer(data, csrf))  # type: ignore[attr-defined]
    assert unconfirmed.status_code == 422
    assert 'id="step-0-confirmed-error"' in unconfirmed.text
    assert 'id="step-1-confirmed-error"' in unconfirmed.text
    answered = _answer(data, csrf)
    answered["step-0-confirmed"] = ["yes"]
    answered["step-1-duration_s"] = ["75"]  # changed: counts as confirmed
    saved = client.post(f"/episodes/{_episode(world)}/sessions", data=answered)  # type: ignore[attr-defined]
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("?recorded=2#saved")
    episode = client.get(saved.headers["location"].split("#")[0])  # type: ignore[attr-defined]
    assert 'id="saved"' in episode.text and "Session 2 saved." in episode.text


def test_every_error_of_the_form_shows_at_once_and_the_form_keeps_what_was_typed(world: World) -> None:
    client, csrf, data, _ = _carry(world)
    data = {**data, "csrf_token": [csrf], "date": [(dt.date.today() + dt.timedelta(days=3)).isoformat()],
            "step-0-duration_s": [""], "step-1-angle_deg": ["120"], "m-0-pre": ["5"], "m-0-post": ["11"],
            "notes": ["felt easier on the stairs"]}
    page = client.post(f"/episodes/{_episode(world)}/sessions", data=data)  # type: ignore[attr-defined]
    assert page.status_code == 422
    text = page.text
    for field in ("screening_choice", "follow_up_choice", "date", "step-0-duration_s", "step-1-angle_deg",
                  "m-0-post"):
        assert f'href="#{field}"' in text, field  # in the summary, linked to the field
    assert 'href="#step-0-confirmed"' not in text  # both carried steps were changed: that confirms them
    assert "must not be in the future" in text and "less than or equal to 90" in text
    assert 'id="error-summary"' in text and "Step 1, duration" in text
    kept = _fields(text)
    assert kept["notes"] == ["felt easier on the stairs"] and kept["step-1-angle_deg"] == ["120"]


def test_a_note_identical_to_the_last_one_asks_for_confirmation(world: World) -> None:
    client, csrf, data, _ = _carry(world)
    first = _answer(data, csrf)
    first.update({"step-0-confirmed": ["yes"], "step-1-confirmed": ["yes"], "notes": ["Grip pain eased."]})
    assert client.post(f"/episodes/{_episode(world)}/sessions", data=first).status_code == 303  # type: ignore[attr-defined]
    page = client.get(f"/episodes/{_episode(world)}/sessions/new?from=last")  # type: ignore[attr-defined]
    assert 'id="same-day"' in page.text  # session 2 is today: a second one today is flagged
    again = {**_answer(_fields(page.text), csrf), "notes": ["Grip pain eased. "], "step-0-confirmed": ["yes"],
             "step-1-confirmed": ["yes"]}
    refused = client.post(f"/episodes/{_episode(world)}/sessions", data=again)  # type: ignore[attr-defined]
    assert refused.status_code == 422 and "identical to the note of session 2" in refused.text
    again["notes_confirmed"] = ["yes"]
    assert client.post(f"/episodes/{_episode(world)}/sessions", data=again).status_code == 303  # type: ignore[attr-defined]


def test_a_range_of_motion_needs_its_joint_and_motion_and_is_charted_by_them(world: World) -> None:
    client, csrf, data, _ = _carry(world)
    answered = {**_answer(data, csrf), "step-0-confirmed": ["yes"], "step-1-confirmed": ["yes"],
                "m-3-measure": ["rom_deg"], "m-3-pre": ["120"], "m-3-post": ["128"]}
    missing = client.post(f"/episodes/{_episode(world)}/sessions", data=answered)  # type: ignore[attr-defined]
    assert missing.status_code == 422 and 'id="m-3-joint-error"' in missing.text
    kept = _fields(missing.text)
    assert kept["m-3-side"] == ["right"]  # the episode's side, offered once the measure is a range of motion
    kept.update({"m-3-joint": ["elbow"], "m-3-motion": ["extension"], "csrf_token": [csrf]})
    kept = {k: v for k, v in kept.items() if k != "notes_confirmed"}
    assert client.post(f"/episodes/{_episode(world)}/sessions", data=kept).status_code == 303  # type: ignore[attr-defined]
    with world.db() as db:
        view = episode_service.show_episode(db, 1, int(world.records[1]["episode_row"]))
    rom = [s for s in progress(view) if s.measure == "rom_deg"]
    assert [s.key for s in rom] == ["rom_deg-elbow-extension-right"]
    assert "Extension" in rom[0].label and rom[0].label.endswith("Right")
    # judged by change_bar for that joint and motion: none is listed for the elbow, so the largest listed
    # range-of-motion error applies (the fallback the one threshold rule names)
    from strigil.clinical.response import change_bar

    bar = change_bar("rom_deg", condition=view.condition, joint="elbow", motion="extension")
    assert bar is not None and rom[0].threshold == bar.units(120.0)
    assert any("fallback" in note for note in bar.notes)


def test_a_sourced_template_fills_only_what_its_source_says(world: World) -> None:
    _link(world)
    client, _ = world.client("clinician")
    page = client.get(f"/episodes/{_episode(world)}/sessions/new?template=stow_2011")
    data = _fields(page.text)
    assert data["warm_up_kind"] == ["cardiovascular"]
    assert sorted(data["followed_by"]) == ["cryotherapy", "strengthening", "stretching"]
    assert data["step-0-stroke"] == [""] and data["step-0-duration_s"] == [""]  # Stow gives no dose
    assert "Stow R" in page.text and 'id="template-source"' in page.text
    trial = client.get(f"/episodes/{_episode(world)}/sessions/new?template=pfp_bfr_2023")
    fields = _fields(trial.text)
    assert fields["step-0-stroke"] == ["scanning"] and fields["step-0-angle_deg"] == ["45"]
    assert fields["step-0-duration_s"] == ["60"] and "10.1186/s12891-023-06701-6" in trial.text


def test_a_clinic_template_is_saved_from_the_form_and_labelled_as_not_evidence(world: World) -> None:
    client, csrf, data, _ = _carry(world)
    data = {**data, "csrf_token": [csrf], "template_name": ["Elbow, two strokes"]}
    saved = client.post(f"/episodes/{_episode(world)}/sessions/template", data=data)  # type: ignore[attr-defined]
    assert saved.status_code == 200 and "a clinic template, not an evidence-based dose" in saved.text
    again = client.post(f"/episodes/{_episode(world)}/sessions/template", data=data)  # type: ignore[attr-defined]
    assert again.status_code == 422 and 'id="template_name-error"' in again.text
    episode = client.get(f"/episodes/{_episode(world)}")  # type: ignore[attr-defined]
    assert "Elbow, two strokes" in episode.text
    assert "clinic template — not an evidence-based dose" in episode.text
    assert "Stow R" in episode.text  # the sourced templates, cited
    start = re.search(
        r'href="(/episodes/[0-9a-f]{32}/sessions/new\?template=clinic-[0-9a-f]{32})"', episode.text
    )
    assert start is not None
    form = client.get(start.group(1))  # type: ignore[attr-defined]
    fields = _fields(form.text)
    assert fields["step-0-stroke"] == ["sweep"] and fields["step-1-stroke"] == ["strum"]
    assert "carried forward from the clinic template" in form.text


def test_each_screening_finding_is_listed_once_with_where_it_is(world: World) -> None:
    from starlette.datastructures import FormData

    from strigil.services.screening import finding_choices
    from strigil.web.session_form import parse_form, read_form

    client, _ = world.client("clinician")
    page = client.get(f"/episodes/{_episode(world)}/sessions/new").text
    for f in finding_choices():
        assert page.count(f'name="finding" value="{f.code}"') == 1, f.code
        assert page.count(f">{f.name}<") + page.count(f"> {f.name} <") <= 1, f.name
    first, second = (f.code for f in finding_choices()[:2])
    raw = FormData([("finding", first), ("finding", second), (f"finding-{second}-region", "ankle"),
                    ("screening_choice", "screen")])
    doc, _ = parse_form(read_form(raw, []), 1)
    assert doc["screening"]["findings"] == [{"code": first}, {"code": second, "region": "ankle"}]


def test_any_number_of_measures_can_be_added(world: World) -> None:
    client, csrf, data, _ = _carry(world)
    rows = sum(1 for k in data if k.endswith("-measure"))
    data = {**data, "csrf_token": [csrf], "m-0-pre": ["5"]}
    url = f"/episodes/{_episode(world)}/sessions/measures?op=add"
    more = client.post(url, data=data)  # type: ignore[attr-defined]
    assert more.status_code == 200 and 'id="measures"' in more.text
    fields = _fields('<form method="post" action="/episodes/x">' + more.text + "</form>")
    assert sum(1 for k in fields if k.endswith("-measure")) == rows + 1
    assert fields["m-0-pre"] == ["5"]  # what was typed stays
