"""Backup and restore of a SQLite clinic database (online, consistent copies via SQLite's backup API).

PostgreSQL servers are backed up with the server's own tools (pg_dump / pg_restore); Strigil says so.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from strigil.services.errors import Refused, invalid
from strigil.store.files import private_file

__all__ = ["backup", "restore"]


def _sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        raise Refused(
            f"backup/restore work on a SQLite file; this database is {parsed.get_backend_name()} "
            "— use pg_dump/pg_restore on the PostgreSQL server"
        )
    return Path(parsed.database)


def _check_backup_file(path: Path) -> None:
    if not path.is_file():
        raise invalid("PATH", str(path), "no such file; give a file written by `strigil backup`")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            has_version = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'"
            ).fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise invalid("PATH", str(path), f"not a Strigil backup (SQLite says: {exc})") from None
    if ok != "ok" or not has_version:
        raise invalid(
            "PATH", str(path), "not a consistent Strigil backup (integrity check or schema missing)"
        )


def backup(url: str, target: Path) -> Path:
    """Copy the live database to `target` (a new file) while others may keep writing."""
    source = _sqlite_path(url)
    if not source.exists():
        raise Refused(f"no database at {source}; run `strigil init` first")
    if target.exists():
        raise invalid(
            "PATH", str(target), "already exists; backups never overwrite a file — choose a new name"
        )
    private_file(target, exclusive=True)  # 0600; a folder it makes is 0700
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    _check_backup_file(target)
    return target


def restore(url: str, source: Path, *, replace: bool = False) -> Path:
    """Replace the database with a backup; refuses to replace existing records unless `replace` is set."""
    target = _sqlite_path(url)
    _check_backup_file(source)
    if target.exists() and not replace:
        with closing(sqlite3.connect(target)) as conn:
            has_records = (
                conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'patients'").fetchone()[0]
                and conn.execute("SELECT count(*) FROM patients").fetchone()[0]
            )
        if has_records:
            raise Refused(
                f"{target} already holds patients; restoring would replace them. "
                "Back it up first, then restore with --replace"
            )
    private_file(target)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return target
