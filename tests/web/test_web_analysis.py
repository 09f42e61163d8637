"""The meta-analysis upload and the researcher's aggregates (groups of five or more patients only)."""

from __future__ import annotations

from web_world import World

BCG = "study,yi,vi\n" + "\n".join(
    f"S{i},{y},{v}"
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
            (-0.4694, 0.0564),
            (-1.3713, 0.0730),
            (-0.3394, 0.0124),
            (0.4459, 0.5325),
            (-0.0173, 0.0714),
        ],
        start=1,
    )
)


def test_meta_fit_api_matches_metafors_bcg_example(world: World) -> None:
    client, csrf = world.client("researcher")
    response = client.post(
        "/api/v1/meta/fit",
        files={"file": ("bcg.csv", BCG, "text/csv")},
        data={"method": "REML"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # metafor: rma(yi, vi, data=dat.bcg) gives estimate -0.7145, tau^2 0.3132 (metafor documentation example)
    assert abs(body["beta"][0]["estimate"] - (-0.7145)) < 1e-3 and abs(body["tau2"] - 0.3132) < 1e-3
    assert body["k"] == 13 and body["forest_svg"].startswith("<svg")


def test_meta_page_shows_forest_and_numbers(world: World) -> None:
    client, csrf = world.client("clinician")
    page = client.post(
        "/meta",
        files={"file": ("bcg.csv", BCG, "text/csv")},
        data={"method": "DL", "test": "knha", "measure": "given", "csrf_token": csrf},
    )
    assert page.status_code == 200
    assert (
        'id="forest"' in page.text
        and "<svg" in page.text
        and "k = 13" in page.text
        and "DL model" in page.text
    )


def test_meta_page_names_the_bad_column(world: World) -> None:
    client, csrf = world.client("clinician")
    page = client.post(
        "/meta", files={"file": ("x.csv", "study,yi,vi\nA,0.1,oops\n", "text/csv")}, data={"csrf_token": csrf}
    )
    assert page.status_code == 422 and "column &#39;vi&#39;: line 2 has &#39;oops&#39;" in page.text
    wrong = client.post(
        "/meta",
        files={"file": ("x.csv", "a,b\n1,2\n", "text/csv")},
        data={"csrf_token": csrf, "measure": "SMD"},
    )
    assert wrong.status_code == 422 and "m1i" in wrong.text


def test_research_aggregates_show_groups_of_five_or_more_only(world: World) -> None:
    client, _ = world.client("researcher")
    body = client.get("/api/v1/research/outcomes").json()
    groups = body["groups"]
    assert groups and all(g["patients"] >= 5 for g in groups)
    assert groups[0]["patients"] == 6  # clinic 1 only: clinic 2's six patients are not added in
    page = client.get("/research")
    assert page.status_code == 200 and "A00" not in page.text


def test_small_groups_are_withheld_without_a_count(world: World) -> None:
    clinician, csrf = world.client("clinician")
    clinician.post(
        "/api/v1/patients",
        json={"code": "Z1", "birth_year": 1970, "sex": "female"},
        headers={"X-CSRF-Token": csrf},
    )
    clinician.post(
        "/api/v1/patients/Z1/episodes",
        json={
            "condition": "neck_pain",
            "region": "neck",
            "side": "midline",
            "target_tissue": "muscle",
            "onset_date": "2026-01-01",
            "opened_on": "2026-02-01",
            "planned_iastm": True,
            "planned_co_interventions": ["strengthening"],
            "consent": {"given_on": "2026-02-01", "explained": ["x"]},
        },
        headers={"X-CSRF-Token": csrf},
    )
    researcher, _ = world.client("researcher")
    body = researcher.get("/api/v1/research/outcomes").json()
    assert body["withheld"] is True
    assert all(g["condition"] != "neck_pain" for g in body["groups"])
