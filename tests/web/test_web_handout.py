"""The home-exercise programme: written by the clinician, printed for the patient exactly as written, with
what to expect and when to call (each marked research or practitioner advice)."""

from __future__ import annotations

from web_world import World


def _episode(world: World) -> str:
    return str(world.records[1]["episode_id"])


def test_the_handout_shows_exactly_the_prescribed_programme(world: World) -> None:
    client, csrf = world.client("clinician")
    data = {
        "csrf_token": csrf,
        "ex-0-exercise": "Wrist extension with a water bottle",
        "ex-0-sets": "3",
        "ex-0-repetitions": "15",
        "ex-0-frequency": "every day",
    }
    saved = client.post(f"/episodes/{_episode(world)}/exercises", data=data)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"].split("#")[0])
    assert "Programme saved." in page.text and 'id="handout-link"' in page.text
    handout = client.get(f"/episodes/{_episode(world)}/handout")
    assert handout.status_code == 200
    assert "Wrist extension with a water bottle: 3 sets of 15, every day" in handout.text
    assert handout.text.count("<li>") >= 1 + 3 + 2  # the exercise, what to expect, when to call
    assert "not research evidence" in handout.text and "from research" in handout.text
    assert "10 of 46 trials" in handout.text


def test_strigil_proposes_no_exercise_and_a_bad_row_comes_back_beside_its_fields(world: World) -> None:
    client, csrf = world.client("clinician")
    empty = client.get(f"/episodes/{_episode(world)}/handout")
    assert "has not written a home programme yet" in empty.text
    data = {"csrf_token": csrf, "ex-1-exercise": "Grip squeeze", "ex-1-sets": "0", "ex-1-repetitions": "ten",
            "ex-1-frequency": "daily"}
    page = client.post(f"/episodes/{_episode(world)}/exercises", data=data)
    assert page.status_code == 422
    assert 'id="ex-0-sets-error"' in page.text and 'id="ex-0-repetitions-error"' in page.text
    assert 'value="Grip squeeze"' in page.text and 'value="ten"' in page.text
