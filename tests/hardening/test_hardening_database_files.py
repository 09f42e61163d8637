"""Damaged or read-only database files: the server answers 503 naming the cause, and never dies.

SQLite reads its -shm file through shared memory: when the file is cut short under a running server, the
next read of the missing page kills the process with SIGBUS, silently. The server checks the files before
each unit of work and refuses instead. A read-only database file is named as such — and reads are refused
too, with the reason (each read writes its audit row) — instead of "unavailable, retry in a moment".

The server runs as an unprivileged user (nobody when the tests run as root, whom file modes do not stop).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live import strigil_serve

NOBODY = 65534


@pytest.fixture()
def home() -> Iterator[Path]:
    """A Strigil home the server's user owns (outside pytest's root-only temporary folders)."""
    folder = Path(tempfile.mkdtemp(prefix="strigil-files-"))
    os.chmod(folder, 0o755)
    if os.geteuid() == 0:
        os.chown(folder, NOBODY, NOBODY)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _user() -> int | None:
    return NOBODY if os.geteuid() == 0 else None


@pytest.mark.timeout(120)
def test_a_shm_file_cut_short_under_the_server_gives_503_and_no_crash(home: Path) -> None:
    with strigil_serve(home, user=_user()) as base:
        assert httpx.get(f"{base}/api/v1/health", timeout=10).status_code == 200
        shm = home / "clinic.sqlite-shm"
        assert shm.stat().st_size >= 32 * 1024
        shm.write_bytes(b"")  # emptied (as a careless copy or a full disk can leave it) and read-only
        os.chmod(shm, 0o444)
        for _ in range(2):
            try:
                answer = httpx.get(f"{base}/api/v1/health", timeout=10)
                # A sign-in reads the accounts: the read SQLite makes through the -shm file's memory.
                sign_in = httpx.post(
                    f"{base}/login",
                    data={"username": "nobody", "password": "wrong", "csrf_token": "x"},
                    cookies={"strigil_login_csrf": "x"},
                    timeout=10,
                )
            except httpx.HTTPError as exc:
                pytest.fail(f"the server died (exit status {base.process.poll()}): {exc!r}")
            assert answer.status_code == 503, answer.text
            assert "-shm" in answer.json()["detail"]
            assert sign_in.status_code == 503 and "-shm" in sign_in.text, sign_in.text[:300]
        assert base.process.poll() is None, "the server process ended"


@pytest.mark.timeout(120)
def test_a_read_only_database_says_so_and_why_reads_are_refused(home: Path) -> None:
    with strigil_serve(home, user=_user()) as base:
        assert httpx.get(f"{base}/api/v1/health", timeout=10).status_code == 200
        os.chmod(home / "clinic.sqlite", 0o444)
        answer = httpx.get(f"{base}/api/v1/health", timeout=10)
        assert answer.status_code == 503, answer.text
        detail = answer.json()["detail"]
        assert "read-only" in detail and "clinic.sqlite" in detail and "audit" in detail
        page = httpx.get(f"{base}/login", timeout=10)
        assert page.status_code == 503 and "read-only" in page.text
        assert base.process.poll() is None
        os.chmod(home / "clinic.sqlite", 0o600)  # made writable again: the server works again, no restart
        assert httpx.get(f"{base}/api/v1/health", timeout=10).status_code == 200


@pytest.mark.postgres
def test_a_read_only_postgresql_server_says_so(pg_server_url: str) -> None:
    """A standby or read-only PostgreSQL: 503 naming it (it was a 500), reads refused with the reason."""
    from fastapi.testclient import TestClient

    from strigil.settings import Settings
    from strigil.store.database import open_database
    from strigil.web.app import create_app

    open_database(pg_server_url).dispose()  # migrated while writable
    joiner = "&" if "?" in pg_server_url else "?"
    read_only = f"{pg_server_url}{joiner}options=-c%20default_transaction_read_only%3Don"
    app = create_app(Settings(database_url=read_only))
    try:
        client = TestClient(app, raise_server_exceptions=False)
        client.cookies.set("strigil_login_csrf", "x")
        answer = client.post(
            "/login", data={"username": "nobody", "password": "wrong", "csrf_token": "x"}
        )  # a sign-in attempt is written down, even a failed one
        assert answer.status_code == 503, answer.text[:300]
        assert "read-only" in answer.text and "audit" in answer.text
        api = client.get("/api/v1/patients", headers={"authorization": "Bearer unknown"})
        assert api.status_code in (401, 503)  # an unknown token is refused before anything is written
    finally:
        app.state.engine.dispose()
