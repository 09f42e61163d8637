"""Many clients at once on a small server: nobody waits for a lock that a waiting request holds.

Two circles deadlocked the server under load before, broken only by the 15 s busy timeout (503s):
a route that had written waited for a worker thread to serialise its answer while every worker waited
for its write lock; and requests holding pooled connections waited for workers while the workers waited
for a connection. The server below has 1 worker thread and 40 concurrent clients writing to the same
episodes and reading; every request must succeed, quickly, and the session numbers must have no gaps
(without the admission gate it fails). The first circle is hidden by the gate in this test, so the
commit-in-the-route's-thread rule has its own tests below.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy import select
from web_schema import session_doc
from web_world import World

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.record import EpisodeRow, PatientRow, SessionRow
from strigil.web.app import create_app, iter_routes
from strigil.web.database import UnitOfWorkRoute


def test_every_route_commits_in_its_own_worker_thread(world: World) -> None:
    plain = [f"{m} {p}" for m, p, route in iter_routes(world.app) if not isinstance(route, UnitOfWorkRoute)]
    assert plain == [], f"routers must use route_class=UnitOfWorkRoute: {plain}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(world: World, threads: int) -> Iterator[str]:
    """A real server with its lifespan (thread limit, warm-up) over the world's database."""
    app = create_app(Settings(database_url=str(world.engine.url), web_threads=threads))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()


def test_forty_clients_on_one_thread_all_succeed_without_waiting_for_a_timeout(world: World) -> None:
    with world.db() as db:
        account = account_service.get_account(db, "clinician1")
        secret = account_service.issue_api_token(db, account, "load", ["read", "write"]).secret
        episodes = list(
            db.scalars(
                select(EpisodeRow.id)
                .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                .where(PatientRow.clinic_id == 1)
                .order_by(EpisodeRow.id)
            )
        )[:2]
        public = dict(
            db.execute(select(EpisodeRow.id, EpisodeRow.public_id).where(EpisodeRow.id.in_(episodes))).all()
        )
        before = {
            e: len(db.scalars(select(SessionRow.id).where(SessionRow.episode_id == e)).all())
            for e in episodes
        }
        db.commit()
    clinician = str(world.records[1]["clinician"])
    today = dt.date.today()

    async def drive(base: str) -> list[tuple[str, int, float]]:
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:

            async def one(n: int) -> tuple[str, int, float]:
                start = time.perf_counter()
                if n % 2:
                    episode = episodes[(n // 2) % len(episodes)]
                    response = await http.post(
                        f"/api/v1/episodes/{public[episode]}/sessions",
                        json=session_doc(public[episode], clinician, today, 6, 4),
                    )
                else:
                    response = await http.get(f"/api/v1/episodes/{public[episodes[0]]}")
                return (
                    f"{response.request.method} {response.request.url.path}",
                    response.status_code,
                    time.perf_counter() - start,
                )

            return await asyncio.gather(*(one(n) for n in range(40)))

    with _serving(world, threads=1) as base:
        results = asyncio.run(drive(base))
    failed = [r for r in results if r[1] >= 300]
    assert failed == []
    assert max(seconds for *_, seconds in results) < 8  # far below the 15 s lock timeout
    with world.db() as db:
        for episode in episodes:
            numbers = sorted(db.scalars(select(SessionRow.number).where(SessionRow.episode_id == episode)))
            assert numbers == list(range(1, before[episode] + 11))


def test_a_sync_route_commits_before_its_answer_is_serialised(world: World) -> None:
    # The wrapped route returns with nothing left open: its writes (and SQLite's writer lock) are released
    # in the route's own worker thread, before FastAPI asks the pool for another thread to serialise.
    from sqlalchemy.orm import Session

    from strigil.store.audit import AuditEvent
    from strigil.web.database import _commit_in_worker_thread

    def route(db: Session) -> dict[str, bool]:
        db.add(
            AuditEvent(username="t", role="admin", clinic_id=1, action="read", resource="x", resource_id="1")
        )
        db.flush()
        return {"open": db.in_transaction()}

    with world.db() as db:
        assert route(db) == {"open": True}
        db.rollback()
        assert _commit_in_worker_thread(route)(db=db) == {"open": True}
        assert not db.in_transaction()
        assert db.scalars(select(AuditEvent).where(AuditEvent.resource == "x")).all()


def test_the_admission_gate_lets_at_most_its_limit_in_and_everyone_through() -> None:
    from strigil.web.app import AdmissionGate

    inside = 0
    most = 0

    async def app(scope: object, receive: object, send: object) -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.01)
        inside -= 1

    gate = AdmissionGate(app, limit=3)  # type: ignore[arg-type]

    async def many() -> None:
        await asyncio.gather(*(gate({"type": "http"}, None, None) for _ in range(20)))  # type: ignore[arg-type]

    asyncio.run(many())
    assert most == 3 and inside == 0
