"""The meta-analysis upload and the researcher's aggregates (groups of five or more patients only)."""

from __future__ import annotations

from web_schema import CONSENT
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
            "consent": {"given_on": "2026-02-01", "explained": CONSENT},
        },
        headers={"X-CSRF-Token": csrf},
    )
    researcher, _ = world.client("researcher")
    body = researcher.get("/api/v1/research/outcomes").json()
    assert body["withheld"] is True
    assert all(g["condition"] != "neck_pain" for g in body["groups"])


KONST = "study,district,yi,vi\n" + "\n".join(
    # dat.konstantopoulos2011 (metafor), districts 11, 12, 18 and 27
    f"S{i},{d},{y},{v}"
    for i, (d, y, v) in enumerate(
        [
            (11, -0.18, 0.118), (11, -0.22, 0.118), (11, 0.23, 0.144), (11, -0.30, 0.144),
            (12, 0.13, 0.014), (12, -0.26, 0.014), (12, 0.19, 0.015), (12, 0.32, 0.024),
            (18, 0.45, 0.023), (18, 0.38, 0.043), (18, 0.29, 0.012),
            (27, 0.16, 0.020), (27, 0.65, 0.004), (27, 0.36, 0.004), (27, 0.60, 0.007),
        ],
        start=1,
    )
)


def test_meta_fit_api_pools_several_effects_per_trial_with_robust_tests(world: World) -> None:
    from strigil.meta import rma_mv, robust

    client, csrf = world.client("researcher")
    response = client.post(
        "/api/v1/meta/fit",
        files={"file": ("k.csv", KONST, "text/csv")},
        data={"trial": "district", "robust": "true"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    rows = [line.split(",") for line in KONST.splitlines()[1:]]
    direct = rma_mv([float(r[2]) for r in rows], [float(r[3]) for r in rows], random="~ 1 | district/effect",
                    data={"district": [r[1] for r in rows], "effect": list(range(len(rows)))})
    assert body["model"] == "rma.mv" and body["k"] == 15 and body["forest_svg"] == ""
    assert [c["name"] for c in body["sigma2"]] == ["district", "district/effect"]
    assert body["sigma2"][0]["estimate"] == direct.sigma2[0].estimate
    rob = robust(direct, [r[1] for r in rows])
    assert body["robust"]["clusters"] == 4 and body["robust"]["beta"][0]["df"] == rob.df[0]


def test_meta_page_shows_the_multilevel_result_and_says_what_is_wrong(world: World) -> None:
    client, csrf = world.client("clinician")
    page = client.post(
        "/meta",
        files={"file": ("k.csv", KONST, "text/csv")},
        data={"trial": "district", "robust": "true", "csrf_token": csrf},
    )
    assert page.status_code == 200
    assert 'id="robust-result"' in page.text and "σ² between levels of district" in page.text
    bad = client.post(
        "/meta",
        files={"file": ("k.csv", KONST, "text/csv")},
        data={"trial": "hospital", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and "trial column &#39;hospital&#39;: no such column" in bad.text
    dl = client.post(
        "/meta",
        files={"file": ("k.csv", KONST, "text/csv")},
        data={"trial": "district", "method": "DL", "csrf_token": csrf},
    )
    assert dl.status_code == 422 and "fitted by REML or ML" in dl.text


def test_meta_fit_api_fits_outcomes_correlated_within_trials(world: World) -> None:
    from strigil.meta import rma_mv, vcalc

    # dat.berkey1998 (metafor): probing depth (PD) and attachment level (AL) in five trials
    rows = [(1, "PD", 0.47, 0.0075), (1, "AL", -0.32, 0.0077), (2, "PD", 0.20, 0.0057),
            (2, "AL", -0.60, 0.0008), (3, "PD", 0.40, 0.0021), (3, "AL", -0.12, 0.0014),
            (4, "PD", 0.26, 0.0029), (4, "AL", -0.31, 0.0015), (5, "PD", 0.56, 0.0148),
            (5, "AL", -0.39, 0.0304)]
    text = "trial,outcome,yi,vi\n" + "\n".join(",".join(str(x) for x in r) for r in rows)
    client, csrf = world.client("researcher")
    response = client.post(
        "/api/v1/meta/fit",
        files={"file": ("berkey.csv", text, "text/csv")},
        data={"trial": "trial", "outcome": "outcome", "struct": "CS", "rho": "0.4"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    V = vcalc([r[3] for r in rows], [r[0] for r in rows], obs=list(range(10)), rho=0.4)
    direct = rma_mv([r[2] for r in rows], V, random="~ outcome | trial", struct="CS",
                    data={"trial": [r[0] for r in rows], "outcome": [r[1] for r in rows]})
    assert body["struct"] == "CS" and body["sampling_covariance"] == "rho=0.4 within trial"
    assert body["tau2"][0]["estimate"] == direct.tau2[0].estimate
    assert body["rho"][0]["estimate"] == direct.rho[0].estimate


def test_meta_page_with_one_study_gives_its_result_and_says_why_there_is_no_pooling(world: World) -> None:
    client, csrf = world.client("clinician")
    for method, test in (("REML", "z"), ("DL", "knha"), ("FE", "z")):
        page = client.post(
            "/meta",
            files={"file": ("one.csv", "study,yi,vi\nA,0.5,0.04\n", "text/csv")},
            data={"method": method, "test": test, "measure": "given", "csrf_token": csrf},
        )
        assert page.status_code in (200, 422), (method, test, page.status_code)
        if page.status_code == 200:
            assert 'id="one-study"' in page.text and "0.500" in page.text
        else:
            assert 'id="meta-error"' in page.text


def test_meta_page_reads_a_semicolon_table_with_decimal_commas(world: World) -> None:
    client, csrf = world.client("clinician")
    text = BCG.replace(",", ";").replace(".", ",")
    page = client.post(
        "/meta",
        files={"file": ("bcg.csv", text, "text/csv")},
        data={"method": "REML", "test": "z", "measure": "given", "csrf_token": csrf},
    )
    assert page.status_code == 200, page.text
    assert "k = 13" in page.text and "-0.715" in page.text


def test_meta_page_names_a_one_column_header_as_the_problem(world: World) -> None:
    client, csrf = world.client("clinician")
    page = client.post(
        "/meta",
        files={"file": ("bad.csv", "study|yi|vi\nA|0.5|0.04\n", "text/csv")},
        data={"method": "REML", "csrf_token": csrf},
    )
    assert page.status_code == 422 and "separate the columns with commas, semicolons or tabs" in page.text
