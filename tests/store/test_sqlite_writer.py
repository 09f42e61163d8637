"""The in-process SQLite writer lock: one writer at a time, handed on at commit, rollback or close."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from strigil.store.sqlite_writer import WriterLockedConnection


def _connect(path: Path, timeout: float = 5.0) -> WriterLockedConnection:
    conn = sqlite3.connect(path, timeout=timeout, factory=WriterLockedConnection, check_same_thread=False)
    assert isinstance(conn, WriterLockedConnection)
    return conn


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    target = tmp_path / "w.sqlite"
    with sqlite3.connect(target) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
    return target


def _write_in_thread(path: Path, value: int, log: list[tuple[str, float]]) -> threading.Thread:
    def run() -> None:
        conn = _connect(path)
        conn.execute("INSERT INTO t VALUES (?)", (value,))
        log.append(("wrote", time.perf_counter()))
        conn.commit()
        conn.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_second_writer_waits_until_the_first_transaction_ends(path: Path, end: str) -> None:
    first = _connect(path)
    first.execute("INSERT INTO t VALUES (1)")
    log: list[tuple[str, float]] = []
    waiter = _write_in_thread(path, 2, log)
    time.sleep(0.3)
    assert log == []  # still waiting for the lock held by `first`
    ended = time.perf_counter()
    getattr(first, end)()
    waiter.join(timeout=5)
    assert [what for what, _ in log] == ["wrote"]
    # handed on at once, not after one of SQLite's sleep-and-retry pauses
    assert log[0][1] - ended < 0.08
    with sqlite3.connect(path) as check:
        values = sorted(v for (v,) in check.execute("SELECT x FROM t"))
    assert values == ([1, 2] if end == "commit" else [2])
    if end != "close":
        first.close()


def test_readers_do_not_wait_for_the_writer(path: Path) -> None:
    writer = _connect(path)
    writer.execute("INSERT INTO t VALUES (1)")
    reader = _connect(path, timeout=0.2)
    start = time.perf_counter()
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)  # WAL: the committed state
    assert time.perf_counter() - start < 0.1
    writer.commit()
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    writer.close()
    reader.close()


def test_a_writer_that_waits_too_long_gets_sqlites_own_error(path: Path) -> None:
    holder = _connect(path)
    holder.execute("INSERT INTO t VALUES (1)")
    impatient = _connect(path, timeout=0.2)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        impatient.execute("INSERT INTO t VALUES (2)")
    holder.commit()
    impatient.execute("INSERT INTO t VALUES (2)")  # the failed attempt left no lock behind
    impatient.commit()
    holder.close()
    impatient.close()


def test_a_failed_write_outside_a_transaction_gives_the_lock_back(path: Path) -> None:
    conn = _connect(path, timeout=0.2)
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("INSERT INTO missing VALUES (1)")
    other = _connect(path, timeout=0.2)
    other.execute("INSERT INTO t VALUES (1)")
    other.commit()
    conn.close()
    other.close()
