"""Every route × every role × own or other clinic, enumerated from the app itself.

A new route cannot escape: it must either be listed as public here or declare its roles with
`allow(...)`, and every path parameter it takes must have an own-clinic and an other-clinic value
below — otherwise this test fails and says what to add.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import create_engine
from web_world import ROLES, World

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.database import make_engine
from strigil.web.app import create_app, iter_routes
from strigil.web.security import RoleGuard

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/api/v1/health")}

# Text that only the other clinic's records contain; none of it may appear in an answer to clinic 1.
OTHER_CLINIC_MARKERS = ("admin2", "clinician2", "researcher2", "spare2", "Clinician 2")


def _guard(dependant: Dependant) -> RoleGuard | None:
    for sub in dependant.dependencies:
        if isinstance(sub.call, RoleGuard):
            return sub.call
        found = _guard(sub)
        if found is not None:
            return found
    return None


def _all_routes() -> list[tuple[str, str, APIRoute]]:
    return iter_routes(create_app(Settings(database_url="sqlite://"), engine=create_engine("sqlite://")))


ROUTES = _all_routes()


def _token_ids(world: World) -> dict[tuple[int, str], str]:
    cached = getattr(world, "_matrix_tokens", None)
    if cached is not None:
        return cached
    ids = {}
    with world.db() as db:
        for clinic in (1, 2):
            for role in ROLES:
                account = account_service.get_account(db, f"{role}{clinic}")
                ids[(clinic, role)] = account_service.issue_api_token(
                    db, account, "m", ["read"]
                ).token.public_id
        db.commit()
    world._matrix_tokens = ids  # type: ignore[attr-defined]
    return ids


def _bulk_job(world: World, role: str, clinic: int) -> str:
    """A finished Bulk Data export of the account of `role` in `clinic`, written anew (DELETE removes it)."""
    import dataclasses
    import json

    from strigil.interop.bulk import file_name
    from strigil.services.bulk_jobs import JOB_FILE, BulkJob

    job_id = f"{clinic:016x}{len(role):016x}"
    folder = world.app.state.settings.resolved_bulk_folder() / job_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name("Patient")).write_text("{}\n", encoding="utf-8")
    job = BulkJob(
        id=job_id,
        clinic_id=clinic,
        account_id=world.account_rows[(clinic, role)],
        username=f"{role}{clinic}",
        request="matrix",
        status="complete",
        manifest={"output": [{"type": "Patient", "url": "matrix"}], "error": []},
    )
    (folder / JOB_FILE).write_text(json.dumps(dataclasses.asdict(job)), encoding="utf-8")
    return job_id


# path parameter -> function(world, role, clinic) giving the id of a record of that clinic.
PARAMETERS: dict[str, Callable[[World, str, int], Any]] = {
    "account_id": lambda w, role, clinic: w.ids[(clinic, "spare")],
    "token_id": lambda w, role, clinic: _token_ids(w)[(clinic, role)],
    "patient_code": lambda w, role, clinic: w.records[clinic]["patient_code"],
    # the FHIR Patient id: Strigil's export writes "patient-<code>", and the bare code is accepted too
    "patient_id": lambda w, role, clinic: w.records[clinic]["patient_code"],
    "episode_id": lambda w, role, clinic: w.records[clinic]["episode_id"],
    "adverse_id": lambda w, role, clinic: w.records[clinic]["adverse_id"],
    "session_id": lambda w, role, clinic: w.records[clinic]["session_id"],
    "job_id": _bulk_job,
    "name": lambda w, role, clinic: "Patient.ndjson",
}


def test_every_route_is_public_or_declares_its_roles() -> None:
    undeclared = [
        f"{method} {path}"
        for method, path, route in ROUTES
        if (method, path) not in PUBLIC and _guard(route.dependant) is None
    ]
    assert not undeclared, f"routes without allow(...): {undeclared}"


def test_every_path_parameter_has_own_and_other_clinic_values() -> None:
    missing = sorted(
        {p.alias for _, _, route in ROUTES for p in route.dependant.path_params} - set(PARAMETERS)
    )
    assert not missing, f"add these path parameters to PARAMETERS in this test: {missing}"


# Routes with these parameters touch one patient's data: every successful call must leave an audit event.
PATIENT_PARAMETERS = {"patient_code", "patient_id", "episode_id", "adverse_id", "session_id"}


def guard_params(route: APIRoute) -> list[str]:
    return [p.alias for p in route.dependant.path_params]  # the URL's name (a route may call it otherwise)


def _audit_count(world: World) -> int:
    from sqlalchemy import func, select

    from strigil.store.audit import AuditEvent

    with world.db() as db:
        return int(db.scalar(select(func.count(AuditEvent.id))) or 0)


# A well-formed body where a route needs one, so that only authorization decides the answer.
TODAY = dt.date.today().isoformat()
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/accounts/{account_id}/reset-password"): {"password": "another fine passphrase"},
    ("POST", "/api/v1/episodes/{episode_id}/close"): {"closed_on": TODAY, "reason": "discharged"},
    ("POST", "/api/v1/episodes/{episode_id}/measurements"): {
        "measure": "nprs",
        "value": 3,
        "taken_on": TODAY,
    },
    ("POST", "/api/v1/adverse-responses/{adverse_id}/resolve"): {"resolved_on": TODAY},
    ("POST", "/api/v1/sessions/{session_id}/amendments"): {"changes": {"notes": "m"}, "reason": "matrix"},
    ("POST", "/api/v1/sessions/{session_id}/addenda"): {"on": TODAY, "text": "matrix"},
    ("POST", "/api/v1/sessions/{session_id}/void"): {"reason": "the matrix voids this session"},
    ("POST", "/api/v1/episodes/{episode_id}/discharge"): {"on": TODAY, "reason": "goals_met"},
    ("POST", "/api/v1/episodes/{episode_id}/reopen"): {"reason": "the matrix reopens this episode"},
    ("POST", "/api/v1/episodes/{episode_id}/void"): {"reason": "the matrix voids this episode"},
    # Erasure gets a confirmation that does not repeat the code: the admin's answer is 422 and nothing is
    # erased, so the routes that run after it still find clinic 1's patient (the page form posts no fields).
    ("POST", "/api/v1/patients/{patient_code}/erase"): {"confirm": "not-the-code", "reason": "matrix"},
}


def _request(world: World, role: str, method: str, path: str, target_clinic: int) -> Any:
    clients = world.__dict__.setdefault("_matrix_clients", {})
    if role not in clients:
        clients[role] = world.client(role, 1)
    client, csrf = clients[role]
    url = path
    for param in PARAMETERS:
        if "{" + param + "}" in url:
            url = url.replace("{" + param + "}", str(PARAMETERS[param](world, role, target_clinic)))
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.request(method, url, headers=headers, json=BODIES.get((method, path), {}))


@pytest.fixture(scope="module")
def matrix_world(tmp_path_factory: pytest.TempPathFactory, template_db: tuple[Path, dict, dict]) -> World:
    """One database for the whole matrix (each route runs once; writes cannot hide a leak)."""
    target = tmp_path_factory.mktemp("matrix") / "web.sqlite"
    shutil.copyfile(template_db[0], target)
    engine = make_engine(f"sqlite:///{target}")
    settings = Settings(database_url=str(engine.url), bulk_folder=str(target.parent / "bulk"))
    app = create_app(settings, engine=engine)
    return World(
        app=app, engine=engine, ids=dict(template_db[1]), records=template_db[2], account_rows=template_db[3]
    )


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, _ in ROUTES if (m, p) not in PUBLIC], ids=lambda v: str(v)
)
def test_route_by_role_and_clinic(matrix_world: World, method: str, path: str) -> None:
    world = matrix_world
    route = next(r for m, p, r in ROUTES if (m, p) == (method, path))
    guard = _guard(route.dependant)
    assert guard is not None
    scoped = bool(route.dependant.path_params)
    for role in ROLES:
        for target in (1, 2):
            before = _audit_count(world)
            response = _request(world, role, method, path, target)
            where = f"{method} {path} as {role} of clinic 1 on clinic {target}'s record"
            if role not in guard.roles:
                assert response.status_code == 403, where
                continue
            if scoped and target == 2:
                assert response.status_code == 404, f"{where}: got {response.status_code}"
            else:
                assert response.status_code not in (401, 403, 404, 500), (
                    f"{where}: got {response.status_code}"
                )
                touches_patient = PATIENT_PARAMETERS & set(guard_params(route))
                if touches_patient and response.status_code < 400:
                    assert _audit_count(world) > before, f"{where}: patient data without an audit event"
            leaked = [m for m in OTHER_CLINIC_MARKERS if m in response.text]
            assert not leaked, f"{where}: answer contains the other clinic's {leaked}"
