"""CLI test helpers: a clinic in a temporary STRIGIL_HOME with one clinician, patient and open episode."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from strigil.cli import app

RECORD_TABLES = (
    "clinics",
    "clinicians",
    "patients",
    "episodes",
    "treatment_sessions",
    "dose_steps",
    "measurements",
    "adverse_responses",
    "amendments",
    "screenings",
)


_TABLES = {"episode": "episodes", "session": "treatment_sessions", "adverse": "adverse_responses"}


class Clinic:
    """Runs `strigil` in-process against a temporary clinic database (SQLite in `home`, or `url`)."""

    def __init__(self, home: Path, url: str = "") -> None:
        self.home = home
        self.url = url
        self.runner = CliRunner()
        self.db_path = home / "clinic.sqlite"

    def run(self, *args: str) -> Result:
        return self.runner.invoke(
            app, list(args), env={"STRIGIL_HOME": str(self.home), "STRIGIL_DATABASE_URL": self.url}
        )

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (args, result.output, result.stderr)
        return result

    def id(self, kind: str, n: int = 1) -> str:
        """The public id of the clinic's `n`th record of `kind` (episode, session, adverse), in the order
        they were made: what the CLI prints and takes; a number past the last gives a 32-digit id of none."""
        table = _TABLES[kind]
        query = f"SELECT public_id FROM {table} ORDER BY id LIMIT 1 OFFSET {int(n) - 1}"
        if self.url:
            from sqlalchemy import create_engine, text

            engine = create_engine(self.url)
            try:
                with engine.connect() as conn:
                    found = conn.execute(text(query)).scalar()
            finally:
                engine.dispose()
        else:
            with closing(sqlite3.connect(self.db_path)) as conn:
                row = conn.execute(query).fetchone()
                found = row[0] if row else None
        return str(found) if found else "f" * 32

    def write_json(self, name: str, doc: Any) -> str:
        """Write a document for the CLI; tests name episodes and adverse responses in it by their number in
        this clinic (1, 2, ...), written out as the public ids the CLI takes."""
        path = self.home / name
        path.write_text(json.dumps(self._named(doc)), encoding="utf-8")
        return str(path)

    def _named(self, doc: Any) -> Any:
        if not isinstance(doc, dict):
            return doc
        out = dict(doc)
        if isinstance(out.get("episode_id"), int) and not isinstance(out["episode_id"], bool):
            out["episode_id"] = self.id("episode", out["episode_id"])
        follow_up = out.get("follow_up")
        if isinstance(follow_up, dict) and isinstance(follow_up.get("resolved"), list):
            out["follow_up"] = {
                **follow_up,
                "resolved": [
                    {**r, "adverse_id": self.id("adverse", r["adverse_id"])}
                    if isinstance(r, dict) and isinstance(r.get("adverse_id"), int)
                    else r
                    for r in follow_up["resolved"]
                ],
            }
        return out

    def fingerprint(self) -> str:
        """A digest of every record table's rows: equal fingerprints mean nothing was written."""
        digest = hashlib.sha256()
        if self.url:
            from sqlalchemy import create_engine, text

            engine = create_engine(self.url)
            try:
                with engine.connect() as conn:
                    for table in RECORD_TABLES:
                        for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id")):
                            digest.update(repr(tuple(row)).encode())
            finally:
                engine.dispose()
            return digest.hexdigest()
        with closing(sqlite3.connect(self.db_path)) as conn:
            for table in RECORD_TABLES:
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY id"):
                    digest.update(repr(row).encode())
        return digest.hexdigest()


def session_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "episode_id": 1,
        "clinician": "ana",
        "date": "2026-03-02",
        "steps": [
            {
                "region": "elbow",
                "side": "right",
                "instrument": "astym",
                "stroke": "sweep",
                "angle_deg": 45,
                "direction": "along",
                "pressure": "light",
                "duration_s": 90,
            }
        ],
        "measurements": [
            {"measure": "nprs", "value": 6, "timing": "pre"},
            {"measure": "nprs", "value": 4, "timing": "post"},
        ],
        "tolerance": "well_tolerated",
        "exercise_delivered": True,
    }
    doc.update(changes)
    return doc


def make_clinic(home: Path, url: str = "") -> Clinic:
    """A clinic with clinician 'ana', patient 'P001' and open episode 1 (lateral elbow tendinopathy)."""
    c = Clinic(home, url)
    c.ok("init", "--name", "Test clinic")
    c.ok(
        "clinician",
        "add",
        "ana",
        "--name",
        "Ana",
        "--profession",
        "athletic_trainer",
        "--years",
        "6",
        "--course",
        "Graston M1",
    )
    c.ok("patient", "add", "P001", "--birth-year", "1980", "--sex", "female")
    c.ok(
        "episode",
        "open",
        "--patient",
        "P001",
        "--condition",
        "lateral_elbow_tendinopathy",
        "--region",
        "elbow",
        "--side",
        "right",
        "--tissue",
        "tendon",
        "--onset",
        "2026-01-10",
        "--opened",
        "2026-03-02",
        "--care",
        "strengthening",
        "--care",
        "stretching",
        "--consent-date",
        "2026-03-02",
        "--explained",
        "bruising",
        "--explained",
        "petechiae",
        "--explained",
        "alternatives",
        "--explained",
        "exercise_programme",
        "--goal",
        "grip without pain",
    )
    return c
