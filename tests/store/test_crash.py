"""Crash safety: a writer killed by SIGKILL mid-batch loses no acknowledged session; the file stays whole."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

from record_factories import clinic_with_episode, session_doc

from strigil.store.database import open_database

WRITER = textwrap.dedent(
    """
    import datetime as dt, json, sys
    from strigil.services import sessions
    from strigil.store.database import open_database

    db = open_database(sys.argv[1])
    clinic_id, doc = int(sys.argv[2]), json.loads(sys.argv[3])
    for i in range(100000):
        with db.unit_of_work() as s:
            saved = sessions.record_session(s, clinic_id, doc, today=dt.date(2026, 6, 1))
        print(saved.id, flush=True)  # acknowledged only after the commit returned
    """
)


def test_sigkill_during_session_writes_keeps_every_acknowledged_session(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    db = open_database(url)
    clinic_id, episode_id = clinic_with_episode(db)
    db.dispose()
    doc = session_doc(episode_id)
    acknowledged: list[int] = []
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(clinic_id), json.dumps(doc)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as writer:
        assert writer.stdout is not None and writer.stderr is not None
        try:
            for line in writer.stdout:
                acknowledged.append(int(line))
                if len(acknowledged) >= 40:
                    break
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
        errors = writer.stderr.read()
    assert writer.returncode == -signal.SIGKILL, errors
    assert len(acknowledged) >= 40, errors

    path = tmp_path / "crash.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        stored = {row[0] for row in conn.execute("SELECT id FROM treatment_sessions")}
        assert set(acknowledged) <= stored
        # every stored session is whole: its steps, measurements and adverse responses all made it
        for table, expected in (
            ("dose_steps", len(doc["steps"])),
            ("measurements", len(doc["measurements"])),
            ("adverse_responses", len(doc["adverse_responses"])),
        ):
            counts = dict(conn.execute(f"SELECT session_id, count(*) FROM {table} GROUP BY session_id"))
            assert {sid: counts.get(sid, 0) for sid in stored} == {sid: expected for sid in stored}, table
        numbers = [row[0] for row in conn.execute("SELECT number FROM treatment_sessions ORDER BY number")]
        assert numbers == list(range(1, len(numbers) + 1))
