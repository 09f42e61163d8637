"""The meta-analysis page for 2×2 and count data: the models, the plots, the downloads, and errors that
name the row."""

from __future__ import annotations

import base64
import json
import re

from web_world import World

# metafor's dat.nielweise2007 (catheter-related bloodstream infections), with a made-up design column
ROWS = [
    ("Bach", 0, 116, 3, 117), ("George", 1, 44, 3, 35), ("Maki", 2, 208, 9, 195), ("Raad", 0, 130, 7, 136),
    ("Heard", 5, 151, 6, 157), ("Collin", 1, 98, 4, 139), ("Hannan", 1, 174, 3, 177), ("Marik", 1, 74, 2, 39),
    ("Pierce", 1, 97, 19, 103), ("Sheng", 1, 113, 2, 122), ("Chatzinikolaou", 0, 66, 7, 64),
    ("Corral", 0, 70, 1, 58), ("Brun-Buisson", 3, 188, 5, 175), ("Leon", 6, 187, 11, 180),
    ("Yucel", 0, 118, 0, 105), ("Moretti", 0, 252, 1, 262), ("Rupp", 1, 345, 3, 362), ("Osma", 4, 64, 1, 69),
]
CSV = "study,ai,n1i,ci,n2i,year,design\n" + "\n".join(
    f"{s},{a},{n1},{c},{n2},{1996 + i % 10},{'a' if i % 3 else 'b'}"
    for i, (s, a, n1, c, n2) in enumerate(ROWS)
)


def test_counts_api_pools_by_mantel_haenszel(world: World) -> None:
    client, csrf = world.client("researcher")
    response = client.post("/api/v1/meta/counts", files={"file": ("crbsi.csv", CSV, "text/csv")},
                           data={"model": "MH", "measure": "OR"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    body = response.json()
    # metafor: rma.mh(measure="OR", ai, n1i, ci, n2i, data=dat.nielweise2007) (binary.json)
    assert abs(body["estimate"] - (-1.2087048327)) < 1e-9 and body["k_double_zero"] == 1
    assert body["forest_svg"].startswith("<svg") and body["labbe_svg"].startswith("<svg")
    assert body["studies_csv"].splitlines()[0] == "study,ai,bi,ci,di,yi,vi,weight_percent"


def test_counts_page_shows_plots_numbers_and_downloads(world: World) -> None:
    client, csrf = world.client("clinician")
    page = client.post("/meta/counts", files={"file": ("crbsi.csv", CSV, "text/csv")},
                       data={"model": "GLMM", "measure": "OR", "subgroup": "design", "moderator": "year",
                             "group1": "Catheter", "group2": "Standard", "csrf_token": csrf})
    assert page.status_code == 200, page.text
    text = page.text
    for figure in ('id="forest"', 'id="funnel"', 'id="labbe"', 'id="bubble"'):
        assert figure in text
    assert "Catheter" in text and "Subtotal" in text and "1 without events in either arm" in text
    pattern = r'id="download-json" download="result.json" href="data:application/json;base64,([^"]+)"'
    href = re.search(pattern, text)
    assert href is not None
    doc = json.loads(base64.b64decode(href.group(1)))
    assert doc["model"] == "UM.RS" and doc["k"] == 17 and "regression" in doc


def test_counts_page_names_the_bad_row(world: World) -> None:
    client, csrf = world.client("clinician")
    bad = "study,ai,n1i,ci,n2i\nA,2,10,3,10\nB,-1,10,1,10\n"
    page = client.post("/meta/counts", files={"file": ("x.csv", bad, "text/csv")}, data={"csrf_token": csrf})
    assert page.status_code == 422 and "row 2 (B): ai is negative" in page.text
    page = client.get("/meta/counts")
    assert page.status_code == 200 and "Mantel–Haenszel" in page.text
    assert 'href="/meta/counts"' in client.get("/meta").text
