"""The measured-dose page and API: upload a recording, see strokes, target feedback and published context."""

from __future__ import annotations

import io

import numpy as np
from page_checks import page_problems
from web_world import World

from strigil.force import SyntheticSpec, generate_recording

MADE = generate_recording(SyntheticSpec(n_strokes=12, n_sets=2, set_rest_s=10.0, noise_sd_n=0.05), seed=11)


def _csv(header: str = "time [s],normal [N]") -> bytes:
    rec = MADE.recording
    buffer = io.StringIO()
    np.savetxt(
        buffer,
        np.column_stack([rec.time_s, rec.normal_n]),
        delimiter=",",
        fmt="%.5f",
        header=header,
        comments="",
    )
    return buffer.getvalue().encode()


def test_the_page_shows_strokes_feedback_pictures_and_context(world: World) -> None:
    client, csrf = world.client("clinician")
    assert 'href="/force"' in client.get("/force").text
    page = client.post(
        "/force",
        files={"file": ("session.csv", _csv(), "text/csv")},
        data={"csrf_token": csrf, "target": "band", "low": "7", "high": "9", "metric": "peak"},
    )
    assert page.status_code == 200, page.text
    text = page.text
    peaks = MADE.truth.peak_n
    assert "12 strokes in 2 set(s)" in text
    assert f"{int((peaks > 9).sum())} of 12 strokes above your target (peak force 7.0–9.0 N)" in text
    assert 'id="force-trace"' in text and 'id="force-chart"' in text and text.count("<svg") == 2
    assert 'id="force-sets"' in text
    assert "skin simulant" in text and "J Sport Rehabil 2024;33(8):687-694" in text
    assert "Butterworth low-pass 10 Hz" in text
    assert 'id="force-record"' in text and "&#34;stroke_count&#34;: 12" in text
    # The citing rules of every page with sources: allowed hosts only, no reading notes.
    assert page_problems(text, patient=False) == []


def test_the_page_keeps_the_form_and_names_the_problem(world: World) -> None:
    client, csrf = world.client("researcher")
    page = client.post(
        "/force",
        files={"file": ("bare.csv", _csv("time,Fz"), "text/csv")},
        data={"csrf_token": csrf, "time_unit": "s", "set-onset_n": "1.5"},
    )
    assert page.status_code == 422
    assert "column &#39;Fz&#39;: no unit in the file and no --unit" in page.text
    assert 'value="1.5"' in page.text and "<option selected>s</option>" in page.text
    fixed = client.post(
        "/force",
        files={"file": ("bare.csv", _csv("time,Fz"), "text/csv")},
        data={"csrf_token": csrf, "time_unit": "s", "unit": "N", "set-onset_n": "1.5"},
    )
    assert fixed.status_code == 200 and "12 strokes" in fixed.text


def test_the_api_answers_like_the_cli_with_pictures(world: World) -> None:
    client, csrf = world.client("clinician")
    response = client.post(
        "/api/v1/force/analyse",
        files={"file": ("s.csv", _csv(), "text/csv")},
        data={
            "target": "around",
            "around": "8",
            "tolerance": "10",
            "metric": "mean",
            "set-min_duration_s": "0.2",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session"]["n_strokes"] == 12 and len(body["strokes"]) == 12
    assert body["feedback"]["target"] == {
        "metric": "mean", "low_n": 7.2, "high_n": 8.8, "basis": "set by the clinician: 8 N ± 10 %"
    }  # fmt: skip
    assert {s["name"]: s["value"] for s in body["settings"]}["min_duration_s"] == 0.2
    assert body["trace_svg"].startswith("<?xml") and body["chart_svg"].startswith("<?xml")
    bad = client.post(
        "/api/v1/force/analyse",
        files={"file": ("s.csv", b"time [s],normal [N]\n0,1\n", "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422 and "at least 10 are needed" in bad.json()["detail"]


def test_admins_do_not_analyse_force(world: World) -> None:
    client, _ = world.client("admin")
    assert client.get("/force").status_code == 403
