"""Plain words and forms that keep what was typed: display names, error summaries, the patient list."""

from __future__ import annotations

import re

from web_world import World

from strigil.clinical.vocabulary import display_name


def test_codes_are_said_by_their_catalogue_names_or_words() -> None:
    assert display_name("j_stroke") == "J-stroke"
    assert display_name("moist_heat") == "Moist heat"
    assert display_name("well_tolerated") == "Well tolerated"
    assert display_name("hawkgrips") == "HawkGrips instruments"
    assert display_name("rom_deg").startswith("Range of motion")
    assert display_name("some_new_code") == "some new code"


def test_patient_search_ignores_case_and_lists_open_episode_and_last_visit(world: World) -> None:
    client, _ = world.client("clinician")
    lower = client.get("/patients?q=a00")
    assert lower.status_code == 200
    assert ">A000</a>" in lower.text and ">A005</a>" in lower.text and "6 patients" in lower.text
    pattern = r"<tr><td data-label=\"Code\"><a href=\"/patients/A000\">A000</a></td>(.*?)</tr>"
    row = re.search(pattern, lower.text, re.S)
    assert row is not None
    assert "Lateral elbow tendinopathy" in row.group(1)  # the open episode's condition in words
    assert re.search(r"\d{4}-\d{2}-\d{2}", row.group(1))  # the last visit's date


def test_a_code_differing_only_in_case_is_refused_next_to_the_field(world: World) -> None:
    client, csrf = world.client("clinician")
    data = {"code": "a000", "birth_year": "1990", "sex": "male", "csrf_token": csrf}
    page = client.post("/patients", data=data)
    assert page.status_code == 422
    assert 'id="error-summary"' in page.text and 'href="#new-code"' in page.text
    assert 'id="new-code-error"' in page.text and "already used" in page.text
    assert 'value="a000"' in page.text and 'value="1990"' in page.text  # kept as typed
    assert re.search(r'<option value="male"\s+selected', page.text)


def test_the_new_patient_form_preselects_no_sex_and_asks_for_one(world: World) -> None:
    client, csrf = world.client("clinician")
    form = client.get("/patients").text
    chosen = re.search(r'<select id="new-sex"[^>]*>(.*?)</select>', form, re.S)
    assert chosen is not None and "selected" not in chosen.group(1)
    assert re.search(r'<select id="new-sex"[^>]*><option value="">', form)  # the blank choice comes first
    page = client.post("/patients", data={"code": "A900", "birth_year": "1990", "csrf_token": csrf})
    assert page.status_code == 422 and 'id="new-sex-error"' in page.text and 'href="#new-sex"' in page.text


def test_a_bad_patient_code_is_said_in_words_not_a_pattern(world: World) -> None:
    client, csrf = world.client("clinician")
    page = client.post("/patients", data={"code": "Jane Doe", "birth_year": "1990", "sex": "female",
                                          "csrf_token": csrf})
    assert page.status_code == 422
    assert "should match pattern" not in page.text and "no spaces, no names" in page.text


def test_the_open_episode_form_keeps_every_choice_after_an_error(world: World) -> None:
    client, csrf = world.client("clinician")
    data = {
        "csrf_token": csrf,
        "condition": "plantar_heel_pain",
        "region": "foot_plantar",
        "side": "left",
        "target_tissue": "fascia",
        "onset_date": "2099-01-01",  # in the future
        "goal": "walk 30 minutes without pain",
        "co": ["strengthening", "stretching"],
        "planned_iastm": "yes",
        "explained": ["bruising"],  # not enough: alternatives and exercise are missing
    }
    page = client.post("/patients/A001/episodes", data=data)
    assert page.status_code == 422
    text = page.text
    assert 'id="error-summary"' in text
    assert re.search(r'<option value="plantar_heel_pain"\s+selected', text)
    assert re.search(r'<option value="fascia"\s+selected', text)
    assert 'value="walk 30 minutes without pain"' in text and 'value="2099-01-01"' in text
    assert re.search(r'value="stretching"\s+checked', text) and re.search(r'value="bruising"\s+checked', text)


def test_adverse_tags_are_never_green() -> None:
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "src/strigil/web/static/strigil.css").read_text()
    green = re.search(r"([^{}]*)\{[^}]*var\(--ok\)", css)
    assert green is not None
    for severity in ("mild", "moderate", "severe"):
        assert f".tag.{severity}" not in green.group(1)


def test_todays_patients_lists_a_patient_with_two_sessions_today_once(world: World) -> None:
    import datetime as dt

    from sqlalchemy import func, select

    from strigil.services import dashboard
    from strigil.store.record import EpisodeRow, PatientRow, SessionRow

    today = dt.date(2030, 1, 2)
    with world.db() as db:
        episode = db.scalar(
            select(EpisodeRow).join(PatientRow).where(PatientRow.clinic_id == 1).order_by(EpisodeRow.id)
        )
        assert episode is not None
        template = db.scalar(select(SessionRow).where(SessionRow.episode_id == episode.id))
        assert template is not None
        top = db.scalar(select(func.max(SessionRow.number)).where(SessionRow.episode_id == episode.id)) or 0
        for n in (1, 2):
            db.add(SessionRow(episode_id=episode.id, clinician_id=template.clinician_id, number=top + n,
                              date=today))
        db.commit()
        rows = dashboard.today_patients(db, 1, today)
    assert [r.session_number for r in rows] == [top + 2]
