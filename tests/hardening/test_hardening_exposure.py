"""What the server gives away without meaning to: a forged client address, cached pages, readable files,
answers under a stranger's host name.

- `X-Forwarded-For` is believed only from a configured proxy (STRIGIL_TRUSTED_PROXIES); `strigil serve`
  with its defaults believes nobody, so the audit trail and the per-address sign-in limit see the real peer.
- Every answer but a static file carries `Cache-Control: no-store` (pages with patient data or secrets).
- Database files (with their -wal and -shm) and backups are created 0600, in folders Strigil makes 0700.
- Only the configured host names are answered (STRIGIL_ALLOWED_HOSTS); `strigil serve` answers to the
  local names and its --host unless told otherwise (DNS rebinding).
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from live import strigil_serve
from sqlalchemy import create_engine
from starlette.requests import Request

from strigil.services.backup import backup
from strigil.settings import Settings
from strigil.store.database import make_engine, open_database
from strigil.web.app import create_app, iter_routes
from strigil.web.security import client_address, trusted_proxies


def _failed_sign_in(base: str, forwarded_for: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text[:500]
        answer = client.post(
            "/login",
            data={"username": "nobody", "password": "wrong", "csrf_token": token.group(1)},
            headers={"x-forwarded-for": forwarded_for},
        )
        assert answer.status_code == 401, answer.text[:300]


def test_strigil_serve_ignores_x_forwarded_for_from_an_unconfigured_peer(tmp_path: Path) -> None:
    """`strigil serve` defaults: a forged X-Forwarded-For is ignored; the sign-in record keeps the real peer.

    So a guesser can neither hide nor take a fresh address for each guess to dodge the per-address limit.
    """
    with strigil_serve(tmp_path) as base:
        _failed_sign_in(base, "203.0.113.9")
    with closing(sqlite3.connect(tmp_path / "clinic.sqlite")) as db:
        addresses = {row[0] for row in db.execute("SELECT ip FROM web_login_attempts")}
    assert addresses == {"127.0.0.1"}


def _request(peer: str, forwarded: list[str], proxies: str) -> Request:
    app = type("App", (), {"state": type("State", (), {"trusted_proxies": trusted_proxies(proxies)})()})()
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {"type": "http", "headers": headers, "client": (peer, 5000), "app": app}
    return Request(scope)


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("127.0.0.1", ["203.0.113.9"], "", "127.0.0.1"),  # no proxy configured: the peer
        ("198.51.100.7", ["203.0.113.9"], "10.0.0.5", "198.51.100.7"),  # not from the proxy: the peer
        ("10.0.0.5", ["203.0.113.9"], "10.0.0.5", "203.0.113.9"),  # from the proxy: the client it saw
        # A client's own forged entry sits left of what the proxy appended: the proxy's entry wins.
        ("10.0.0.5", ["192.0.2.66, 203.0.113.9"], "10.0.0.5", "203.0.113.9"),
        # Two proxies in a row, both trusted: the first address neither of them holds.
        ("10.0.0.5", ["203.0.113.9, 10.0.0.6"], "10.0.0.0/24", "203.0.113.9"),
        ("10.0.0.5", ["203.0.113.9", "10.0.0.6"], "10.0.0.0/24", "203.0.113.9"),  # header given twice
        ("10.0.0.5", [], "10.0.0.5", "10.0.0.5"),  # a proxy that forwarded nothing
        ("::1", ["2001:db8::7"], "::1", "2001:db8::7"),
    ],
)
def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(
    peer: str, forwarded: list[str], proxies: str, expected: str
) -> None:
    assert client_address(_request(peer, forwarded, proxies)) == expected


def test_a_bad_trusted_proxy_setting_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not an address"):
        create_app(Settings(trusted_proxies="proxy.example"), engine=create_engine("sqlite://"))


# The pages the test of the running app named, each with the role that sees it.
SENSITIVE_PAGES = [
    ("clinician", "/"),
    ("admin", "/admin/privacy"),
    ("admin", "/admin/audit"),
    ("admin", "/account"),
]


@pytest.mark.parametrize(("role", "path"), SENSITIVE_PAGES)
def test_pages_with_patient_data_or_secrets_are_never_cached(world: Any, role: str, path: str) -> None:
    client, _ = world.client(role)
    answer = client.get(path)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers.get("cache-control") == "no-store"


def test_every_answer_but_static_files_says_no_store(world: Any) -> None:
    """Every GET route without parameters answers `no-store` (as admin and clinician); static files do not."""
    paths = sorted({p for m, p, _ in iter_routes(world.app) if m == "GET" and "{" not in p})
    assert "/" in paths and "/account" in paths
    for role in ("admin", "clinician"):
        client, _ = world.client(role)
        for path in paths:
            answer = client.get(path)
            assert answer.headers.get("cache-control") == "no-store", (role, path, answer.status_code)
    static = TestClient(world.app).get("/static/strigil.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture()
def open_umask() -> Iterator[None]:
    """The usual umask (022), under which files are created world-readable unless made otherwise."""
    saved = os.umask(0o022)
    yield
    os.umask(saved)


def test_database_files_and_backups_are_created_private(tmp_path: Path, open_umask: None) -> None:
    home = tmp_path / "home" / "strigil"
    url = f"sqlite:///{home / 'clinic.sqlite'}"
    database = open_database(url)
    with database.unit_of_work() as db:  # a write: the -wal and -shm files exist while it is open
        from sqlalchemy import text

        db.execute(text("CREATE TABLE scratch (x INTEGER)"))
        files = [home / "clinic.sqlite", home / "clinic.sqlite-wal", home / "clinic.sqlite-shm"]
        modes = {f.name: oct(_mode(f)) for f in files}
    database.engine.dispose()
    assert modes == {f.name: "0o600" for f in files}
    assert oct(_mode(home)) == "0o700" and oct(_mode(home.parent)) == "0o700"

    target = tmp_path / "backups" / "monday" / "clinic.sqlite"
    backup(url, target)
    assert oct(_mode(target)) == "0o600"
    assert oct(_mode(target.parent)) == "0o700" and oct(_mode(target.parent.parent)) == "0o700"


def test_an_existing_shared_folder_is_left_alone(tmp_path: Path, open_umask: None) -> None:
    shared = tmp_path / "srv"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    engine = make_engine(f"sqlite:///{shared / 'clinic.sqlite'}")
    with engine.connect():
        pass
    engine.dispose()
    assert oct(_mode(shared)) == "0o755"
    assert oct(_mode(shared / "clinic.sqlite")) == "0o600"


def test_only_the_configured_host_names_are_answered() -> None:
    settings = Settings(allowed_hosts="clinic.example, *.ward.example")
    app = create_app(settings, engine=create_engine("sqlite://"))
    for host, status in [
        ("clinic.example", 200),
        ("clinic.example:8443", 200),
        ("a.ward.example", 200),
        ("evil.example", 400),
        ("clinic.example.evil.example", 400),
        ("ward.example", 400),
        ("127.0.0.1", 400),
    ]:
        answer = TestClient(app, base_url=f"http://{host}").get("/login")
        assert answer.status_code == status, (host, answer.status_code)


def test_strigil_serve_answers_only_to_local_names_by_default(tmp_path: Path) -> None:
    """A page elsewhere whose name an attacker points at 127.0.0.1 (DNS rebinding) gets no answer."""
    with strigil_serve(tmp_path) as base:
        port = base.rsplit(":", 1)[1]
        assert httpx.get(f"{base}/api/v1/health").status_code == 200
        for host in (f"localhost:{port}", "localhost"):
            assert httpx.get(f"{base}/api/v1/health", headers={"host": host}).status_code == 200
        rebound = httpx.get(f"{base}/api/v1/health", headers={"host": f"attacker.example:{port}"})
        assert rebound.status_code == 400
