"""SQL injection: hostile text in every filter and search parameter changes nothing and leaks nothing.

The routes with query parameters are found from the app itself, so a new filter is covered (or this test
says what to add). Each parameter gets each injection string, one at a time, as the role that may use the
route in clinic 1; the answer must be a normal one (200, or 422 for a number), name nobody of clinic 2,
match nothing, and leave every table's rows as they were.
"""

from __future__ import annotations

from typing import Any

import pytest
from hostile import SQLI, row_counts, without_audit
from sqlalchemy import create_engine

from strigil.settings import Settings
from strigil.web.app import create_app, iter_routes

# Text that only clinic 2's records hold (patient codes B000..B005, its accounts and clinician).
OTHER_CLINIC = ("B00", "clinician2", "admin2", "researcher2", "spare2", "Therapist 2")
WILDCARDS = ("%", "_", "*", "\\", "A%", "%' --")
ROLE_FOR = {
    "/admin/audit": "admin",
    "/admin/privacy": "admin",
    "/api/v1/audit": "admin",
    "/patients": "clinician",
    "/api/v1/patients": "clinician",
    "/evidence": "clinician",
}
NOT_FILTERS = {
    ("GET", "/login"),
    ("GET", "/account"),
    ("POST", "/episodes/{episode_id}/sessions/steps"),
    # flags of a page and HTMX operations, each a closed choice checked by its pattern: no query of the record
    ("GET", "/patients/{patient_code}"),
    ("GET", "/episodes/{episode_id}"),
    ("GET", "/episodes/{episode_id}/sessions/new"),
    ("POST", "/episodes/{episode_id}/sessions/measures"),
    # the FHIR import's target patient is not a search filter: the test at the end of this file covers it
    ("POST", "/api/v1/fhir"),
    # a Bulk Data kick-off's _type/_since are checked against FHIR's names and instants before anything runs
    # (400 OperationOutcome otherwise): tests/interop/test_fhir_api.py::test_a_bad_kick_off_answers_...
    ("GET", "/api/v1/fhir/$export"),
    ("GET", "/api/v1/fhir/Patient/$export"),
}


def _filter_routes() -> list[tuple[str, str, str]]:
    app = create_app(Settings(database_url="sqlite://"), engine=create_engine("sqlite://"))
    return [
        (method, path, q.name)
        for method, path, route in iter_routes(app)
        for q in route.dependant.query_params
        if (method, path) not in NOT_FILTERS
    ]


FILTERS = _filter_routes()


def test_every_filter_route_has_a_role_here() -> None:
    missing = sorted({path for _, path, _ in FILTERS} - set(ROLE_FOR))
    assert not missing, f"add these filter routes to ROLE_FOR: {missing}"
    assert len(FILTERS) >= 9


@pytest.mark.parametrize(("method", "path", "param"), FILTERS, ids=lambda v: str(v))
def test_injection_in_a_filter_changes_nothing(world: Any, method: str, path: str, param: str) -> None:
    client, _ = world.client(ROLE_FOR[path])
    before = without_audit(row_counts(world.engine))
    for attempt in (*SQLI, *WILDCARDS):
        response = client.get(path, params={param: attempt}, headers={"Accept": "application/json"})
        where = f"GET {path}?{param}={attempt!r}"
        assert response.status_code in (200, 422), f"{where}: {response.status_code} {response.text[:200]}"
        leaked = [m for m in OTHER_CLINIC if m in response.text]
        assert not leaked, f"{where}: answer holds clinic 2's {leaked}"
        if response.status_code == 200 and path.startswith("/api/") and param in ("q", "username", "action"):
            body = response.json()
            assert body["total"] == 0, f"{where}: matched {body['total']} rows"
    assert without_audit(row_counts(world.engine)) == before


def test_a_plain_search_still_finds_own_patients(world: Any) -> None:
    """The control for the test above: the same route does find rows when asked normally."""
    client, _ = world.client("clinician")
    found = client.get("/api/v1/patients", params={"q": "A00"}).json()
    assert found["total"] == 6


def test_injection_in_the_fhir_import_target_changes_nothing(world: Any) -> None:
    """POST /api/v1/fhir?patient=...: hostile text as the import's target patient writes and leaks nothing."""
    client, csrf = world.client("clinician")
    empty = {"resourceType": "Bundle", "type": "collection", "entry": []}
    before = without_audit(row_counts(world.engine))
    for attempt in (*SQLI, *WILDCARDS):
        response = client.post(
            "/api/v1/fhir", params={"patient": attempt}, json=empty, headers={"X-CSRF-Token": csrf}
        )
        where = f"POST /api/v1/fhir?patient={attempt!r}"
        assert response.status_code in (200, 422), f"{where}: {response.status_code} {response.text[:200]}"
        leaked = [m for m in OTHER_CLINIC if m in response.text]
        assert not leaked, f"{where}: answer holds clinic 2's {leaked}"
    assert without_audit(row_counts(world.engine)) == before
