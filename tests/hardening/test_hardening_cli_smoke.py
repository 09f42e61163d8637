"""Every `strigil` command group, run as its own process (the installed console script) on a fresh database.

In-process tests load every module of Strigil, so a table that one command path forgets to load stays hidden
there (the privacy commands once ended in a traceback for that reason). Here each group runs in a new
process that loads only what its command loads. `test_every_command_group_has_a_smoke_test` fails for a
group without one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from live import free_port
from record_cli import Clinic, make_clinic, session_doc
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from strigil.store.audit import AuditEvent

STRIGIL = Path(sys.executable).with_name("strigil")
PASSWORD = "a long enough passphrase"


class Shell:
    """Runs the `strigil` console script in a new process against one clinic home (or database URL)."""

    def __init__(self, home: Path, url: str = "") -> None:
        self.home = home
        self.url = url

    def env(self) -> dict[str, str]:
        env = {**os.environ, "STRIGIL_HOME": str(self.home)}
        env.pop("STRIGIL_DATABASE_URL", None)
        if self.url:
            env["STRIGIL_DATABASE_URL"] = self.url
        return env

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        if not STRIGIL.exists():
            pytest.fail(f"no `strigil` console script beside {sys.executable}; run pip install -e .")
        return subprocess.run(
            [str(STRIGIL), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=300,
            check=False,
        )

    def ok(self, *args: str, stdin: str = "") -> str:
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-4000:])
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout

    def write(self, name: str, doc: object) -> str:
        """A document for the CLI, episodes named by their number in this clinic (as `Clinic.write_json`)."""
        return Clinic(self.home, self.url).write_json(name, doc)

    def id(self, kind: str, n: int = 1) -> str:
        """The public id of the clinic's `n`th record of `kind` (as `Clinic.id`)."""
        return Clinic(self.home, self.url).id(kind, n)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clinic made in-process once (clinician 'ana', patient P001, episode 1 with one session)."""
    home = tmp_path_factory.mktemp("template")
    clinic = make_clinic(home)
    clinic.ok("session", "record", clinic.write_json("s1.json", session_doc()))
    return home / "clinic.sqlite"


@pytest.fixture
def shell(tmp_path: Path, template: Path) -> Shell:
    """A fresh copy of the template clinic in its own home."""
    shutil.copy(template, tmp_path / "clinic.sqlite")
    return Shell(tmp_path)


def _schema(sh: Shell) -> None:
    assert "steps" in json.loads(sh.ok("schema", "session"))["properties"]


def _init(sh: Shell) -> None:
    empty = Shell(sh.home / "empty")
    assert "clinic 'main' ready" in empty.ok("init")
    assert (sh.home / "empty" / "clinic.sqlite").exists()


def _backup(sh: Shell) -> None:
    assert "backup written" in sh.ok("backup", str(sh.home / "b.sqlite"))


def _restore(sh: Shell) -> None:
    sh.ok("backup", str(sh.home / "b.sqlite"))
    fresh = Shell(sh.home / "restored")
    assert "restored" in fresh.ok("restore", str(sh.home / "b.sqlite"))
    assert "P001" in fresh.ok("patient", "list")


def _screen(sh: Shell) -> None:
    doc = sh.write("screen.json", {"region": "elbow", "findings": []})
    assert json.loads(sh.ok("screen", doc, "--episode", sh.id("episode", 1), "--by", "ana", "--json"))[
        "screening_id"
    ]


def _respond(sh: Shell) -> None:
    doc = sh.write(
        "respond.json",
        {
            "measures": [
                {"measure": "nprs", "session": 1, "timing": "pre", "value": 6},
                {"measure": "nprs", "session": 1, "timing": "post", "value": 3},
            ]
        },
    )
    assert json.loads(sh.ok("respond", doc, "--json"))["recommendation"]


def _demo(sh: Shell) -> None:
    assert "demo clinic with 3 patients" in sh.ok("demo", "--patients", "3")


def _main(sh: Shell) -> None:
    assert "episode" in sh.ok("main", "--patients", "3")


def _serve(sh: Shell) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(STRIGIL), "serve", "--port", str(port)],
        env=sh.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as answer:
                    assert json.loads(answer.read()) == {"status": "ok"}
                    break
            except OSError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.communicate(timeout=30)


def _clinician(sh: Shell) -> None:
    assert "ana" in sh.ok("clinician", "list")


def _patient(sh: Shell) -> None:
    assert "patient P001" in sh.ok("patient", "show", "P001")


def _episode(sh: Shell) -> None:
    assert f"Patient P001 — episode {sh.id('episode', 1)}: Lateral elbow tendinopathy" in sh.ok(
        "episode", "show", sh.id("episode", 1)
    )


def _session(sh: Shell) -> None:
    assert "session" in sh.ok("session", "record", sh.write("s2.json", session_doc(date="2026-03-05")))


def _measure(sh: Shell) -> None:
    sh.ok(
        "measure",
        "add",
        "--episode",
        sh.id("episode", 1),
        "--measure",
        "nprs",
        "--value",
        "3",
        "--on",
        "2026-03-06",
    )


def _adverse(sh: Shell) -> None:
    sh.ok(
        "adverse",
        "add",
        "--episode",
        sh.id("episode", 1),
        "--kind",
        "soreness",
        "--severity",
        "mild",
        "--onset",
        "2026-03-03",
    )


def _export(sh: Shell) -> None:
    table = sh.ok("export", "csv").splitlines()
    assert table[0].startswith("patient,birth_year,sex") and len(table) == 3  # header, pre and post pain


def _meta(sh: Shell) -> None:
    effects = sh.home / "effects.csv"
    effects.write_text("study,yi,vi\na,0.2,0.04\nb,0.5,0.09\nc,-0.1,0.05\nd,0.3,0.02\n", encoding="utf-8")
    assert json.loads(sh.ok("meta", "fit", str(effects), "--json"))["k"] == 4


def _evidence(sh: Shell) -> None:
    assert json.loads(sh.ok("evidence", "list", "--json"))


def _registry(sh: Shell) -> None:
    data = sh.home / "registry.csv"
    sh.ok(
        "registry", "generate", str(data), "--clinics", "2", "--patients-per-clinic", "8", "--sessions", "4"
    )
    fit = json.loads(
        sh.ok(
            "registry", "fit", str(data), "--formula", "pain ~ session", "--random", "1 | patient", "--json"
        )
    )
    assert fit["converged"] and set(fit["fixed"]) == {"Intercept", "session"}


def _force(sh: Shell) -> None:
    recording = sh.home / "rec.csv"
    sh.ok("force", "simulate", str(recording), "--strokes", "6", "--seed", "2")
    assert "6 strokes" in sh.ok("force", "analyse", str(recording))


def _fhir(sh: Shell) -> None:
    bundle = sh.home / "bundle.json"
    assert "resources" in sh.ok("fhir", "export", "-o", str(bundle), "--all")
    assert json.loads(sh.ok("fhir", "import", str(bundle), "--dry-run", "--json"))["dry_run"] is True


def _user(sh: Shell) -> None:
    sh.ok("user", "add", "boss", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert sh.ok("user", "token", "boss").startswith("stg_")
    sh.ok("user", "deactivate", "boss")
    assert "reactivated 'boss'" in sh.ok("user", "reactivate", "boss")


def _privacy(sh: Shell) -> None:
    assert json.loads(sh.ok("privacy", "export", "P001"))["patient"]["code"] == "P001"
    assert "erased patient P001" in sh.ok(
        "privacy", "erase", "P001", "--confirm", "P001", "--reason", "request"
    )


SMOKE: dict[str, Callable[[Shell], None]] = {
    "schema": _schema,
    "init": _init,
    "backup": _backup,
    "restore": _restore,
    "screen": _screen,
    "respond": _respond,
    "demo": _demo,
    "main": _main,
    "serve": _serve,
    "clinician": _clinician,
    "patient": _patient,
    "episode": _episode,
    "session": _session,
    "measure": _measure,
    "adverse": _adverse,
    "export": _export,
    "meta": _meta,
    "evidence": _evidence,
    "registry": _registry,
    "force": _force,
    "fhir": _fhir,
    "user": _user,
    "privacy": _privacy,
}


def test_every_command_group_has_a_smoke_test() -> None:
    from test_hardening_cli_failures import command_paths

    assert sorted({path.split()[0] for path in command_paths()}) == sorted(SMOKE)


@pytest.mark.parametrize("group", list(SMOKE))
def test_command_group_runs_as_its_own_process(shell: Shell, group: str) -> None:
    SMOKE[group](shell)


def _audit(url: str) -> list[tuple[str, str, str, int | None, str, str]]:
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            events = db.scalars(select(AuditEvent).order_by(AuditEvent.id))
            return [(e.action, e.resource, e.resource_id, e.patient_id, e.channel, e.detail) for e in events]
    finally:
        engine.dispose()


def test_privacy_export_and_erase_from_a_fresh_process(tmp_path: Path, database_url: str) -> None:
    """On a fresh database (SQLite and PostgreSQL): the export and the erasure work and are audited."""
    url = "" if database_url.startswith("sqlite") else database_url
    sh = Shell(tmp_path, url)
    sh.ok("init")
    sh.ok("patient", "add", "P1", "--birth-year", "1980", "--sex", "female")
    record = json.loads(sh.ok("privacy", "export", "P1"))
    patient_id = record["patient"]["id"]
    assert record["format"] == "strigil-patient-export/2" and record["episodes"] == []
    erased = sh.ok("privacy", "erase", "P1", "--confirm", "P1", "--reason", "patient request")
    assert f"erased patient P1 ({patient_id}): patients 1" in erased  # by its public id
    assert "no patient with code 'P1'" in sh.run("privacy", "export", "P1").stderr
    rows = [
        r for r in _audit(url or f"sqlite:///{tmp_path / 'clinic.sqlite'}") if r[0] in ("export", "delete")
    ]
    # the same rows as the web routes write (strigil.services.privacy), from the "cli" channel
    row = rows[0][3]  # the audit trail keeps the database's id inside the server
    assert [r[:5] for r in rows] == [
        ("export", "patient", str(row), row, "cli"),
        ("delete", "patient", str(row), row, "cli"),
    ]
    assert rows[0][5] == "whole record" and rows[1][5].startswith("erased on request (patient request)")


def test_privacy_export_on_the_demo_clinic(tmp_path: Path) -> None:
    """`strigil privacy export D000003 --clinic demo` on the demo clinic's own database."""
    sh = Shell(tmp_path)
    sh.ok("demo", "--patients", "4")
    demo = Shell(tmp_path, f"sqlite:///{tmp_path / 'demo.sqlite'}")
    record = json.loads(demo.ok("privacy", "export", "D000003", "--clinic", "demo"))
    assert record["patient"]["code"] == "D000003" and record["episodes"]
