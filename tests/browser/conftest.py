"""A real server for browser tests: uvicorn in its own process on a free loopback port, temporary SQLite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(url: str) -> None:
    """Migrate, add two clinics with patients (helpers shared with tests/web) and one clinician account."""
    from web_schema import seed_clinic

    from strigil.services import accounts
    from strigil.store.database import open_database

    database = open_database(url)
    with database.unit_of_work() as db:
        for clinic in (1, 2):
            seed_clinic(db, clinic)
        accounts.create_account(
            db,
            username="therapist1",
            display_name="Therapist One",
            role="clinician",
            clinic_id=1,
            password=PASSWORD,
            clinician="c1",  # the account treats as clinician record c1
        )
    database.dispose()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base address of a running Strigil server; stopped after the session."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'clinic.sqlite'}"
    _seed(url)
    port = _free_port()
    env = {**os.environ, "STRIGIL_DATABASE_URL": url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "strigil.web.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the Strigil server did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


# Module scope, not session: Playwright's sync API allows one instance per thread at a time, and other
# browser checks (tests/hardening) start their own after this module has finished.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, with background networking off."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture()
def shots() -> Path:
    """Where screenshots go (gitignored test artifacts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture()
def password() -> str:
    """The seeded clinician's password."""
    return PASSWORD
