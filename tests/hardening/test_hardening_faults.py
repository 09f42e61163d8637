"""Faults, each bounded in time: the server SIGKILLed under write load, PostgreSQL restarted under load
(in a private cluster), a full disk, a read-only database file, and a backup taken while others write.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import free_port
from sqlalchemy import event

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.database import make_engine
from strigil.web.app import create_app

TODAY = dt.date.today().isoformat()
STEP = {"region": "elbow", "side": "right", "instrument": "graston_set", "stroke": "sweep", "angle_deg": 45,
        "direction": "along", "pressure": "moderate", "duration_s": 90}  # fmt: skip


def session_doc() -> dict[str, Any]:
    return {
        "clinician": "c1",
        "date": TODAY,
        "steps": [STEP, {**STEP, "stroke": "strum"}],
        "measurements": [{"measure": "nprs", "timing": "pre", "value": 5}],
        "tolerance": "well_tolerated",
        "exercise_delivered": True,
    }


def _token(url: str, username: str = "clinician1") -> str:
    engine = make_engine(url)
    from sqlalchemy.orm import sessionmaker

    with sessionmaker(engine)() as db:
        secret = account_service.issue_api_token(
            db, account_service.get_account(db, username), "t", ["read", "write"]
        )
        db.commit()
    engine.dispose()
    return secret.secret


def _integrity(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


# --- the server killed with SIGKILL during a write load ----------------------------------------------


@contextmanager
def _server(url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "STRIGIL_DATABASE_URL": url}
    with log.open("ab") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "strigil.web.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.mark.timeout(120)
def test_server_killed_mid_write_loses_no_acknowledged_write(tmp_path: Path, template_db: Any) -> None:
    db_file = tmp_path / "clinic.sqlite"
    shutil.copyfile(template_db[0], db_file)
    url = f"sqlite:///{db_file}"
    token = _token(url)
    with closing(sqlite3.connect(db_file)) as conn:
        episodes = [
            row[0]
            for row in conn.execute(
                "SELECT e.public_id FROM episodes e JOIN patients p ON p.id = e.patient_id "
                "WHERE p.clinic_id = 1 ORDER BY e.id"
            )
        ]  # fmt: skip  (URLs name episodes by their public ids)
    port = free_port()
    acknowledged: dict[str, list[Any]] = {"patients": [], "sessions": []}
    stop = threading.Event()
    answers: list[int] = []

    def writer(n: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                          timeout=10) as client:  # fmt: skip
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if n % 2:
                        r = client.post(
                            "/api/v1/patients", json={"code": f"K{n}-{i}", "birth_year": 1980, "sex": "male"}
                        )
                        if r.status_code == 201:
                            acknowledged["patients"].append(f"K{n}-{i}")
                        else:
                            answers.append(r.status_code)
                    else:
                        r = client.post(f"/api/v1/episodes/{episodes[n // 2]}/sessions", json=session_doc())
                        if r.status_code == 201:
                            acknowledged["sessions"].append(r.json()["id"])
                        else:  # none expected: recordings to one episode wait for each other
                            answers.append(r.status_code)
                except httpx.HTTPError:
                    return  # the server is gone: this request was never acknowledged

    with _server(url, port, tmp_path / "server.log") as server:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        # Kill once enough writes were acknowledged (the machine is shared: throughput varies), at most 30 s.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            len(acknowledged["patients"]) < 8 or len(acknowledged["sessions"]) < 3
        ):
            time.sleep(0.1)
        time.sleep(0.3)  # mid-write: requests are in flight
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=20)
    # At least a few of each kind were acknowledged before the kill (the machine is shared; 30 s at most).
    assert len(acknowledged["patients"]) >= 3 and len(acknowledged["sessions"]) >= 1, (acknowledged, answers)
    # Sessions of one episode no longer race for a number (the episode is locked): nothing is refused.
    assert answers == [], f"refused writes: {Counter(answers)}"
    assert _integrity(db_file) == "ok"
    # Restarted, the server answers again and every acknowledged write is there, whole.
    with _server(url, port, tmp_path / "server.log"):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as client:
            for code in acknowledged["patients"]:
                assert client.get(f"/api/v1/patients/{code}").status_code == 200, code
            sessions = {
                s["id"] for e in episodes[:3] for s in client.get(f"/api/v1/episodes/{e}").json()["sessions"]
            }
    assert set(acknowledged["sessions"]) <= set(sessions)
    with closing(sqlite3.connect(db_file)) as conn:
        partial = conn.execute(
            "SELECT s.id, count(d.id) FROM treatment_sessions s "
            "LEFT JOIN dose_steps d ON d.session_id = s.id "
            "GROUP BY s.id HAVING count(d.id) <> 2"
        ).fetchall()
    assert partial == [], f"sessions without their two dose steps: {partial}"


# --- PostgreSQL restarted during load (a private cluster) ---------------------------------------------


def _seed(url: str) -> dict[str, Any]:
    """Migrated database with the web tests' clinic 1 and a clinician token."""
    from sqlalchemy.orm import sessionmaker
    from web_schema import create_schema, seed_clinic

    engine = make_engine(url)
    create_schema(engine)
    with sessionmaker(engine, expire_on_commit=False)() as db:
        records = seed_clinic(db, 1)
        account = account_service.create_account(
            db,
            username="clinician1",
            display_name="C",
            role="clinician",
            clinic_id=1,
            password="correct horse battery staple",
        )
        token = account_service.issue_api_token(db, account, "load", ["read", "write"]).secret
        db.commit()
    engine.dispose()
    return {"token": token, **records}


def _drop_connections(url: str) -> int:
    """Terminate every other connection to the cluster's database (the server stays up); how many."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_postgres_restart_under_load_gives_clear_errors_then_recovers(tmp_path: Path) -> None:
    from live import serving
    from pg_private import pg_bin, private_cluster

    from strigil.web.retry import RETRY_DELAYS_S

    if pg_bin() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries are required on CI")
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    with private_cluster() as cluster:
        seeded = _seed(cluster.url)
        engine = make_engine(cluster.url, pool_size=8, max_overflow=4)
        app = create_app(Settings(database_url=cluster.url), engine=engine)
        codes = [f"A{i:03d}" for i in range(6)]
        # (issued, answered, kind, status, problem)
        results: list[tuple[float, float, str, int, str]] = []
        written: list[str] = []
        stop = threading.Event()
        auth = {"Authorization": f"Bearer {seeded['token']}"}

        def reader(n: int, base: str, truth: dict[str, Any]) -> None:
            with httpx.Client(base_url=base, headers=auth, timeout=15) as c:
                i = 0
                while not stop.is_set():
                    code = codes[(n + i) % len(codes)]
                    i += 1
                    issued = time.monotonic()
                    r = c.get(f"/api/v1/patients/{code}")
                    answered = time.monotonic()
                    problem = ""
                    if r.status_code == 200 and r.json() != truth[code]:
                        problem = f"asked {code}, got {r.text[:200]}"  # wrong data
                    elif r.status_code == 503 and (
                        "database" not in r.json()["detail"] or "retry-after" not in r.headers
                    ):
                        problem = f"503 without a clear message and Retry-After: {r.text}"
                    results.append((issued, answered, "read", r.status_code, problem))
                    time.sleep(0.02)

        def writer(n: int, base: str) -> None:
            with httpx.Client(base_url=base, headers=auth, timeout=15) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    code = f"W{n}-{i}"
                    issued = time.monotonic()
                    r = c.post("/api/v1/patients", json={"code": code, "birth_year": 1970, "sex": "female"})
                    if r.status_code == 201:
                        written.append(code)
                    results.append((issued, time.monotonic(), "write", r.status_code, ""))
                    time.sleep(0.05)

        with serving(app) as base:
            # What each patient is before any fault: every later successful read must be exactly this.
            with httpx.Client(base_url=base, headers=auth, timeout=15) as c:
                truth = {code: c.get(f"/api/v1/patients/{code}").json() for code in codes}
            threads = [threading.Thread(target=reader, args=(n, base, truth)) for n in range(4)]
            threads += [threading.Thread(target=writer, args=(n, base)) for n in range(2)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            # Connections dropped under the app while the server stays up (what a restart does to requests
            # in flight): the reads they carried are retried on a fresh connection, so none fails. Drops are
            # 1 s apart, longer than the retry pauses, so a retry never meets the next drop.
            drops_from = time.monotonic()
            dropped = 0
            for _ in range(4):
                dropped += _drop_connections(cluster.url)
                time.sleep(1.0)
            down_at = time.monotonic()
            cluster.stop()
            time.sleep(2.0)
            cluster.start()
            up_at = time.monotonic()
            time.sleep(4.0)
            stop.set()
            for t in threads:
                t.join(timeout=30)
        engine.dispose()
        check = make_engine(cluster.url)
        with check.connect() as conn:
            from sqlalchemy import text

            stored = set(conn.execute(text("SELECT code FROM patients")).scalars())
        check.dispose()

    reads = [(issued, answered, status) for issued, answered, kind, status, _ in results if kind == "read"]
    statuses = {status for *_, status, _ in results}
    assert not [p for *_, p in results if p], [p for *_, p in results if p][:5]
    assert statuses <= {200, 201, 503}, f"answers other than success or a clear 503: {statuses}"
    assert dropped > 0, "no connection was dropped"
    # Dropped connections, server up: every read answered before the outage succeeded, none needed the
    # client to retry.
    during_drops = [
        status for issued, answered, status in reads if drops_from <= issued and answered < down_at
    ]
    assert during_drops and set(during_drops) == {200}, (
        f"reads failed on dropped connections: {Counter(during_drops)}"
    )
    # Server down: the outage is seen, and a read answers 503 only after its retries were spent.
    during = [status for issued, answered, _, status, _ in results if answered >= down_at and issued <= up_at]
    assert 503 in during, f"the outage was never seen: {sorted(set(during))}"
    hasty = [answered - issued for issued, answered, status in reads if status == 503]
    hasty = [took for took in hasty if took < sum(RETRY_DELAYS_S)]
    assert hasty == [], f"reads answered 503 without being retried first (took {hasty} s)"
    # Recovered by itself: reads issued after the restart succeed at once (no grace, no client retry);
    # writes, which are never retried, within 3 s.
    late_reads = [status for issued, _, status in reads if issued > up_at]
    assert late_reads and set(late_reads) == {200}, f"reads failed after the restart: {Counter(late_reads)}"
    late = [s for issued, _, _, s, _ in results if issued > up_at + 3.0]
    assert late and set(late) <= {200, 201}, f"not recovered after the restart: {sorted(set(late))}"
    assert set(written) <= stored, "an acknowledged write is missing after the restart"


# --- full disk and read-only file (SQLite) ------------------------------------------------------------


def _app_over(engine: Any) -> Any:
    return create_app(Settings(database_url=str(engine.url)), engine=engine)


def _bearer(app: Any, username: str = "clinician1") -> dict[str, str]:
    with app.state.sessionmaker() as db:
        account = account_service.get_account(db, username)
        secret = account_service.issue_api_token(db, account, "t", ["read", "write"]).secret
        db.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.timeout(120)
def test_full_disk_gives_a_clear_error_and_no_corruption(tmp_path: Path, template_db: Any) -> None:
    from fastapi.testclient import TestClient

    db_file = tmp_path / "clinic.sqlite"
    shutil.copyfile(template_db[0], db_file)
    engine = make_engine(f"sqlite:///{db_file}")
    app = _app_over(engine)
    headers = _bearer(app)
    with closing(sqlite3.connect(db_file)) as conn:
        limit = conn.execute("PRAGMA page_count").fetchone()[0] + 4  # a few pages of room, then "disk full"

    @event.listens_for(engine, "connect")
    def _small_disk(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {limit}")

    engine.dispose()  # reconnect with the limit
    client = TestClient(app)
    acknowledged, refused = [], None
    for i in range(3000):
        code = f"FULL{i:04d}"
        r = client.post(
            "/api/v1/patients", json={"code": code[:60], "birth_year": 1990, "sex": "male"}, headers=headers
        )
        if r.status_code == 201:
            acknowledged.append(code[:60])
            continue
        refused = r
        break
    assert refused is not None, "the database never filled up"
    assert refused.status_code == 503 and "full" in refused.json()["detail"], refused.text
    assert len(acknowledged) > 3
    engine.dispose()
    assert _integrity(db_file) == "ok"
    with closing(sqlite3.connect(db_file)) as conn:
        stored = {row[0] for row in conn.execute("SELECT code FROM patients")}
    assert set(acknowledged) <= stored
    # Once there is room again, writing works again (no restart needed).
    limit += 200
    engine.dispose()
    again = client.post(
        "/api/v1/patients", json={"code": "ROOM1", "birth_year": 1990, "sex": "male"}, headers=headers
    )
    assert again.status_code == 201, again.text


@pytest.mark.timeout(60)
def test_read_only_database_gives_a_clear_error_and_no_corruption(tmp_path: Path, template_db: Any) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine

    db_file = tmp_path / "clinic.sqlite"
    shutil.copyfile(template_db[0], db_file)
    writable = _app_over(make_engine(f"sqlite:///{db_file}"))
    headers = _bearer(writable)  # the token exists before the file becomes read-only
    writable.state.engine.dispose()
    before = db_file.read_bytes()
    # Opened read-only by SQLite itself (root ignores file modes, so chmod would prove nothing here).
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, check_same_thread=False),
    )
    client = TestClient(_app_over(engine))
    code = template_db[2][1]["patient_code"]
    # Reading patient data writes its audit row, so reads fail closed too: no unaudited access.
    read = client.get(f"/api/v1/patients/{code}", headers=headers)
    assert read.status_code == 503 and "read-only" in read.json()["detail"], read.text
    assert client.get("/api/v1/health").status_code == 200
    r = client.post(
        "/api/v1/patients", json={"code": "RO1", "birth_year": 1990, "sex": "male"}, headers=headers
    )
    assert r.status_code == 503 and "read-only" in r.json()["detail"], r.text
    engine.dispose()
    assert db_file.read_bytes() == before
    assert _integrity(db_file) == "ok"


# --- a backup taken while others write restores to a consistent database ------------------------------


@pytest.mark.timeout(120)
def test_backup_during_writes_restores_consistently(
    tmp_path: Path, template_db: Any, monkeypatch: Any
) -> None:
    from typer.testing import CliRunner

    from strigil.cli import app as cli
    from strigil.services import sessions
    from strigil.store.database import Database

    db_file = tmp_path / "clinic.sqlite"
    shutil.copyfile(template_db[0], db_file)
    url = f"sqlite:///{db_file}"
    database = Database(make_engine(url))
    episode = template_db[2][1]["episode_row"]  # the services take the database's id
    stop = threading.Event()
    done: list[int] = []

    def writer() -> None:
        while not stop.is_set():
            with database.unit_of_work() as db:
                done.append(sessions.record_session(db, 1, {**session_doc(), "episode_id": episode}).id)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(done) < 3:
            time.sleep(0.05)
        monkeypatch.setenv("STRIGIL_DATABASE_URL", url)
        result = CliRunner().invoke(cli, ["backup", str(tmp_path / "copy.sqlite")])
        assert result.exit_code == 0, result.output
        during = len(done)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=30)
        database.dispose()
    assert len(done) > during or len(done) >= 3
    copy = tmp_path / "copy.sqlite"
    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        uneven = conn.execute(
            "SELECT s.id FROM treatment_sessions s LEFT JOIN dose_steps d ON d.session_id = s.id "
            "WHERE s.episode_id = ? AND s.id IN (" + ",".join(map(str, done)) + ") "
            "GROUP BY s.id HAVING count(d.id) <> 2",
            (episode,),
        ).fetchall()
        sessions_in_copy = conn.execute("SELECT count(*) FROM treatment_sessions").fetchone()[0]
    assert uneven == [], f"sessions cut in half in the backup: {uneven}"
    # Restored into a fresh file, the copy opens as the same record.
    restored = tmp_path / "restored.sqlite"
    monkeypatch.setenv("STRIGIL_DATABASE_URL", f"sqlite:///{restored}")
    result = CliRunner().invoke(cli, ["restore", str(copy)])
    assert result.exit_code == 0, result.output
    with closing(sqlite3.connect(restored)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM treatment_sessions").fetchone()[0] == sessions_in_copy


# --- two writers racing on one episode ------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_concurrent_sessions_on_one_episode_are_all_recorded_whole_and_numbered_in_order(
    tmp_path: Path, template_db: Any
) -> None:
    from live import serving

    db_file = tmp_path / "clinic.sqlite"
    shutil.copyfile(template_db[0], db_file)
    engine = make_engine(f"sqlite:///{db_file}", pool_size=10)
    app = _app_over(engine)
    headers = _bearer(app)
    episode = template_db[2][1]["episode_id"]  # in URLs
    row = template_db[2][1]["episode_row"]  # in the database
    answers: list[int] = []

    def writer(base: str) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(6):
                answers.append(
                    client.post(f"/api/v1/episodes/{episode}/sessions", json=session_doc()).status_code
                )

    with serving(app) as base:
        threads = [threading.Thread(target=writer, args=(base,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=100)
    engine.dispose()
    assert answers == [201] * 24, Counter(answers)
    with closing(sqlite3.connect(db_file)) as conn:
        numbers = [
            n for (n,) in conn.execute("SELECT number FROM treatment_sessions WHERE episode_id = ?", (row,))
        ]
        steps = conn.execute(
            "SELECT count(*) FROM dose_steps d JOIN treatment_sessions s ON s.id = d.session_id "
            "WHERE s.episode_id = ?",
            (row,),
        ).fetchone()[0]
    assert sorted(numbers) == list(range(1, 26))  # the seeded session, then each 201 without a gap
    assert steps == 2 * len(numbers)
