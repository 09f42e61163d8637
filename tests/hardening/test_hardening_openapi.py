"""Hostile input against the JSON API: schemathesis over every operation in /api/v1/openapi.json.

Each generated request is sent as every role (admin, clinician, researcher, each with a read+write API
token) and must get an answer that is not a server error and that matches the published schema (status
code, content type, body). The app runs in-process through its ASGI interface on a copy of the web tests'
migrated, seeded two-clinic database. Schemathesis' own pytest plugin does not run under pytest 9, so each
operation is one pytest case driving a hypothesis test over the operation's strategy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.database import make_engine
from strigil.web.app import API_PREFIX, create_app

ROLES = ("admin", "clinician", "researcher")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8  # per operation and role: the whole file stays within a couple of minutes on 2 shared cores
SPEC = f"{API_PREFIX}/openapi.json"


def _labels() -> list[str]:
    app = create_app(Settings(database_url="sqlite://"), engine=create_engine("sqlite://"))
    return [result.ok().label for result in schemathesis.openapi.from_asgi(SPEC, app).get_all_operations()]


LABELS = _labels()


@pytest.fixture()
def api(tmp_path: Path, template_db: tuple[Path, dict, dict]) -> Iterator[tuple[Any, dict[str, str]]]:
    """A fresh copy of the seeded database, the app over it, and a bearer token per role of clinic 1."""
    target = tmp_path / "web.sqlite"
    shutil.copyfile(template_db[0], target)
    engine = make_engine(f"sqlite:///{target}")
    app = create_app(Settings(database_url=str(engine.url)), engine=engine)
    tokens = {}
    with app.state.sessionmaker() as db:
        for role in ROLES:
            account = account_service.get_account(db, f"{role}1")
            scopes = ["read", "write", "admin"] if role == "admin" else ["read", "write"]
            tokens[role] = account_service.issue_api_token(db, account, "fuzz", scopes).secret
        db.commit()
    yield app, tokens
    engine.dispose()


def test_the_spec_lists_every_api_route() -> None:
    assert len(LABELS) >= 20, LABELS
    assert "POST /api/v1/episodes/{episode_id}/sessions" in LABELS


@pytest.mark.parametrize("label", LABELS)
def test_operation_as_every_role(api: tuple[Any, dict[str, str]], label: str) -> None:
    app, tokens = api
    schema = schemathesis.openapi.from_asgi(SPEC, app)
    operation = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def hostile(case: Any) -> None:
        for role in ROLES:
            case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)

    hostile()
