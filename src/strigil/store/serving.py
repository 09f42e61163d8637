"""Who holds a SQLite clinic file: servers say so with a lock that a restore must be able to take alone.

A running server keeps a shared `flock` on `<database>-server.lock` for as long as it serves; several
server processes can share it. A restore takes the same lock exclusively, without waiting: if a server
holds the file the restore is refused (replacing the file under a running server silently reverted
deactivated accounts and revoked tokens, and lost the audit rows written since the backup), and while the
restore runs no server can start. The operating system drops the lock when its process ends, even on
SIGKILL, so a crashed server never leaves a stale lock behind. `flock` is POSIX (Linux, macOS); where it
does not exist the lock is not taken and `docs/deployment.md` says to stop the server before a restore.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

__all__ = ["DatabaseInUse", "lock_path", "serving", "sqlite_file", "without_servers"]


class DatabaseInUse(RuntimeError):
    """A server holds the database file, so it cannot be replaced now."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser()


def lock_path(database: Path) -> Path:
    """The lock file beside the database."""
    return database.with_name(database.name + "-server.lock")


@contextmanager
def _locked(database: Path, exclusive: bool) -> Iterator[None]:
    if _fcntl is None:  # pragma: no cover - Windows
        yield
        return
    mode = _fcntl.LOCK_EX | _fcntl.LOCK_NB if exclusive else _fcntl.LOCK_SH
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            _fcntl.flock(descriptor, mode)
        except BlockingIOError:
            raise DatabaseInUse(
                f"a Strigil server is using {database}; stop the server (strigil serve), then restore"
            ) from None
        yield
    finally:
        os.close(descriptor)  # closing drops the lock


@contextmanager
def serving(url: str) -> Iterator[None]:
    """Hold the database for a server while the block runs (shared: other servers may hold it too)."""
    database = sqlite_file(url)
    if database is None:
        yield
        return
    with _locked(database, exclusive=False):
        yield


@contextmanager
def without_servers(database: Path) -> Iterator[None]:
    """Hold the database alone while the block runs; DatabaseInUse at once if a server holds it."""
    with _locked(database, exclusive=True):
        yield
