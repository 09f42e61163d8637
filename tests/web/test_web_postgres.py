"""The web app on PostgreSQL: the seeded two-clinic world, a few routes end to end."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from web_schema import TODAY, seed_clinic, session_doc
from web_world import PASSWORD, ROLES, World

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.database import migrate
from strigil.web.app import create_app

pytestmark = pytest.mark.postgres
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "strigil_web_api_test"


@pytest.fixture(scope="module")
def pg_world(fast_hasher: None) -> Iterator[World]:
    admin = create_engine(SERVER)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    except OperationalError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PostgreSQL server answers at {SERVER}")
    engine: Engine = create_engine(SERVER, connect_args={"options": f"-csearch_path={SCHEMA}"})
    migrate(engine)
    ids: dict[tuple[int, str], str] = {}
    rows: dict[tuple[int, str], int] = {}
    records = {}
    with sessionmaker(engine, expire_on_commit=False)() as db:
        for clinic in (1, 2):
            records[clinic] = seed_clinic(db, clinic)
            for role in ROLES:
                account = account_service.create_account(
                    db,
                    username=f"{role}{clinic}",
                    display_name=f"{role} {clinic}",
                    role=role,
                    clinic_id=int(records[clinic]["clinic_id"]),
                    password=PASSWORD,
                )
                ids[(clinic, role)] = account.public_id
                rows[(clinic, role)] = account.id
        db.commit()
    app = create_app(Settings(database_url=SERVER), engine=engine)
    yield World(app=app, engine=engine, ids=ids, records=records, account_rows=rows)
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def test_search_session_write_scoping_and_audit_on_postgresql(pg_world: World) -> None:
    client, csrf = pg_world.client("clinician")
    found = client.get("/api/v1/patients", params={"q": "A"}).json()
    assert found["total"] == 6 and all(p["code"].startswith("A") for p in found["patients"])
    own = str(pg_world.records[1]["episode_id"])
    recorded = client.post(
        f"/api/v1/episodes/{own}/sessions",
        json=session_doc(own, "c1", TODAY, 5, 2),
        headers={"X-CSRF-Token": csrf},
    )
    assert recorded.status_code == 201 and recorded.json()["recommendation"] is not None
    other = str(pg_world.records[2]["episode_id"])
    assert client.get(f"/api/v1/episodes/{other}").status_code == 404
    # an integer (even beyond int4) is no episode's name: the same 404 as an unknown public id, not a crash
    assert client.get("/api/v1/episodes/2147483648").status_code == 404
    admin, _ = pg_world.client("admin")
    trail = admin.get("/api/v1/audit", params={"username": "clinician1"}).json()
    assert {e["action"] for e in trail["events"]} >= {"read", "create"}
    with pg_world.engine.connect() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("DELETE FROM web_audit_events"))
