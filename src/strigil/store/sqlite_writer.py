"""One writer at a time per SQLite file inside this process, handed over at once instead of by polling.

SQLite allows a single writer. When a second connection wants to write, SQLite's busy handler makes it
sleep and retry with growing pauses (1, 2, 5, … up to 100 ms each), so under a web server's load a write
that had to wait once often waited 100-500 ms although the lock was free after 2 ms. Every web request
writes (its audit row), so that polling made the tail latency.

Here each connection of one file takes a process-wide lock before its first write statement and gives it
back when its transaction ends: a waiting thread wakes the moment the writer commits. Reads do not take it
(WAL lets them run beside the writer). Other processes (a CLI beside the server) still meet SQLite's own
lock and busy timeout, which stays the safety net.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["WriterLockedConnection"]

# Statements that only read: everything else may write and so takes the writer lock first.
_READ_ONLY_PREFIXES = ("SELECT", "PRAGMA", "EXPLAIN", "VALUES")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _writes(sql: str) -> bool:
    return not sql.lstrip().upper().startswith(_READ_ONLY_PREFIXES)


class _Cursor(sqlite3.Cursor):
    """A cursor whose writes first take the connection's writer lock."""

    connection: WriterLockedConnection

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        """Run one statement, holding the writer lock if it writes."""
        owner = self.connection
        took = _writes(sql) and owner._take_writer_lock()
        try:
            super().execute(sql, parameters)
        finally:
            if took:
                owner._release_unless_in_transaction()
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        """Run one statement for many rows, holding the writer lock."""
        owner = self.connection
        took = _writes(sql) and owner._take_writer_lock()
        try:
            super().executemany(sql, seq_of_parameters)
        finally:
            if took:
                owner._release_unless_in_transaction()
        return self


class WriterLockedConnection(sqlite3.Connection):
    """An SQLite connection holding its file's process-wide writer lock while a write transaction is open."""

    _writer_lock: threading.Lock
    _holds: bool
    _wait_s: float

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._writer_lock = _lock_for(str(Path(database).resolve()))
        self._holds = False
        # Wait as long as SQLite's own busy timeout would, then fail the same way it does.
        self._wait_s = float(kwargs.get("timeout", 5.0))

    def cursor(self, factory: Any = None) -> _Cursor:  # type: ignore[override]
        """A cursor that takes the writer lock for writing statements."""
        return super().cursor(factory or _Cursor)

    def _take_writer_lock(self) -> bool:
        """Take the lock unless this connection already holds it; True if taken now."""
        if self._holds:
            return False
        if not self._writer_lock.acquire(timeout=self._wait_s):
            raise sqlite3.OperationalError("database is locked")
        self._holds = True
        return True

    def _release_unless_in_transaction(self) -> None:
        # A statement that failed before its implicit BEGIN, or ran outside a transaction, leaves none open.
        if self._holds and not self.in_transaction:
            self._release()

    def _release(self) -> None:
        if self._holds:
            self._holds = False
            self._writer_lock.release()

    def commit(self) -> None:
        """Commit, then hand the writer lock on."""
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._release()

    def rollback(self) -> None:
        """Roll back, then hand the writer lock on."""
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        """Close (SQLite rolls back what was open), then hand the writer lock on."""
        try:
            super().close()
        finally:
            self._release()
