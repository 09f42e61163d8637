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
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import free_port

from strigil.services import accounts as account_service
from strigil.store.database import make_engine

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
        episodes = [row[0] for row in conn.execute(
            "SELECT e.id FROM episodes e JOIN patients p ON p.id = e.patient_id "
                "WHERE p.clinic_id = 1 ORDER BY e.id"
        )]  # fmt: skip
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
                        else:  # 409: two sessions of one episode raced for the same number; nothing written
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
    assert len(acknowledged["patients"]) >= 8 and len(acknowledged["sessions"]) >= 3, (acknowledged, answers)
    assert set(answers) <= {409}, f"refused writes other than a clear 409 conflict: {set(answers)}"
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
