"""Backup and restore of a SQLite clinic database (online, consistent copies via SQLite's backup API).

PostgreSQL servers are backed up with the server's own tools (pg_dump / pg_restore); Strigil says so.

A restore replaces the clinic's file with an older copy, so it is refused while a server holds the file
(`strigil.store.serving`), and it carries forward what must never go back in time: the audit rows written
since the backup, the security changes made since (deactivated accounts, changed passwords, revoked
tokens), and the highest id each table ever gave (ids are never reused). Every sign-in session ends, and
the restore itself is recorded in each clinic's audit trail.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from strigil.services.errors import Refused, invalid
from strigil.store.files import private_file
from strigil.store.serving import DatabaseInUse, without_servers

__all__ = ["RestoreReport", "backup", "restore"]


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


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did besides copying: what it carried forward from the database it replaced."""

    target: Path
    audit_rows_kept: int = 0
    accounts_kept_deactivated: list[str] = field(default_factory=list)
    passwords_kept: list[str] = field(default_factory=list)
    tokens_kept_revoked: int = 0
    accounts_lost: list[str] = field(default_factory=list)


@dataclass
class _Since:
    """What the replaced database knew that the backup may not: read before the copy."""

    audit: list[dict[str, Any]]
    accounts: dict[str, dict[str, Any]]
    revoked: dict[str, str]
    highest: dict[str, int]


def _rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, args)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _highest_ids(conn: sqlite3.Connection) -> dict[str, int]:
    tables = _tables(conn)
    highest = {
        name: int(conn.execute(f'SELECT coalesce(max(id), 0) FROM "{name}"').fetchone()[0])
        for name in tables
        if not name.startswith("sqlite_") and name != "alembic_version"
    }
    if "sqlite_sequence" in tables:
        for name, seq in conn.execute("SELECT name, seq FROM sqlite_sequence"):
            highest[name] = max(highest.get(name, 0), int(seq))
    return highest


def _read_since(current: Path, backup_file: Path) -> _Since | None:
    with closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as conn:
        backed_up = 0
        if "web_audit_events" in _tables(conn):
            backed_up = int(conn.execute("SELECT coalesce(max(id), 0) FROM web_audit_events").fetchone()[0])
    with closing(sqlite3.connect(current)) as conn:
        tables = _tables(conn)
        if "web_audit_events" not in tables:
            return None
        return _Since(
            audit=_rows(conn, "SELECT * FROM web_audit_events WHERE id > ? ORDER BY id", backed_up),
            accounts={
                r["username"]: r
                for r in _rows(
                    conn,
                    "SELECT username, active, password_hash, password_changed_at, must_change_password "
                    "FROM web_accounts",
                )
            },
            revoked=dict(
                conn.execute("SELECT token_hash, revoked_at FROM web_api_tokens WHERE revoked_at IS NOT NULL")
            ),
            highest=_highest_ids(conn),
        )


def _now_text() -> str:
    # The format Strigil's UTC timestamp column stores on SQLite (naive UTC).
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def _carry_forward(conn: sqlite3.Connection, since: _Since, report: dict[str, Any]) -> None:
    """Write into the restored file what must not go back in time (one transaction, foreign keys on)."""
    now = _now_text()
    restored = {r["username"]: r for r in _rows(conn, "SELECT * FROM web_accounts")}
    for name, was in since.accounts.items():
        now_row = restored.get(name)
        if now_row is None:
            report["accounts_lost"].append(name)
            continue
        if not was["active"] and now_row["active"]:
            conn.execute("UPDATE web_accounts SET active = 0 WHERE id = ?", (now_row["id"],))
            report["tokens_kept_revoked"] += conn.execute(
                "UPDATE web_api_tokens SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
                (now, now_row["id"]),
            ).rowcount
            report["accounts_kept_deactivated"].append(name)
        if str(was["password_changed_at"]) > str(now_row["password_changed_at"]):
            conn.execute(
                "UPDATE web_accounts SET password_hash = ?, password_changed_at = ?, "
                "must_change_password = ? WHERE id = ?",
                (
                    was["password_hash"],
                    was["password_changed_at"],
                    was["must_change_password"],
                    now_row["id"],
                ),
            )
            report["passwords_kept"].append(name)
    for token_hash, revoked_at in since.revoked.items():
        report["tokens_kept_revoked"] += conn.execute(
            "UPDATE web_api_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            (revoked_at, token_hash),
        ).rowcount
    # Everyone signs in again: no session of before the restore goes on.
    conn.execute("UPDATE web_login_sessions SET ended_at = ? WHERE ended_at IS NULL", (now,))
    accounts = {r[0] for r in conn.execute("SELECT id FROM web_accounts")}
    columns = [c[1] for c in conn.execute("PRAGMA table_info(web_audit_events)")]
    for row in since.audit:
        kept = {c: row.get(c) for c in columns if c in row}
        if kept.get("account_id") not in accounts:
            kept["account_id"] = None  # an account created after the backup: its name stays on the row
        names = ", ".join(kept)
        conn.execute(
            f"INSERT INTO web_audit_events ({names}) VALUES ({', '.join('?' for _ in kept)})",
            tuple(kept.values()),
        )
    report["audit_rows_kept"] = len(since.audit)
    # Ids are never reused: each table goes on from the highest id the replaced database ever gave.
    for name, highest in since.highest.items():
        if conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = ?", (name,)).fetchone():
            conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (highest, name))
        elif name in _tables(conn):
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, highest))


def _record_restore(conn: sqlite3.Connection, source: Path, by: str, report: dict[str, Any]) -> None:
    detail = (
        f"database restored from {source.name}; kept {report['audit_rows_kept']} newer audit rows, "
        f"{len(report['accounts_kept_deactivated'])} deactivations, {len(report['passwords_kept'])} "
        f"password changes, {report['tokens_kept_revoked']} token revocations; all sessions ended"
    )[:255]
    for (clinic_id,) in conn.execute("SELECT id FROM clinics").fetchall():
        conn.execute(
            "INSERT INTO web_audit_events (at, account_id, username, role, clinic_id, action, resource, "
            "resource_id, patient_id, ip, channel, detail) VALUES (?, NULL, ?, 'admin', ?, 'update', "
            "'database', '', NULL, '', 'cli', ?)",
            (_now_text(), by[:64], clinic_id, detail),
        )


def restore(url: str, source: Path, *, replace: bool = False, by: str = "cli") -> RestoreReport:
    """Replace the database with a backup; refuses to replace existing records unless `replace` is set.

    Refused while a server holds the database. The audit rows written since the backup, the security
    changes made since and the ids given since are carried forward; the restore is audited (`by`).
    """
    from strigil.store.database import current_revision, head_revision, make_engine, migrate

    target = _sqlite_path(url)
    _check_backup_file(source)
    try:
        with without_servers(target):
            if target.exists() and not replace:
                with closing(sqlite3.connect(target)) as conn:
                    has_records = (
                        conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'patients'").fetchone()[
                            0
                        ]
                        and conn.execute("SELECT count(*) FROM patients").fetchone()[0]
                    )
                if has_records:
                    raise Refused(
                        f"{target} already holds patients; restoring would replace them. "
                        "Back it up first, then restore with --replace"
                    )
            since = _read_since(target, source) if target.exists() else None
            private_file(target)
            with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
                src.backup(dst)
            # An older backup is brought to this version's schema first (ids, audit columns) ...
            engine = make_engine(f"sqlite:///{target}")
            try:
                if current_revision(engine) != head_revision():
                    migrate(engine)
            finally:
                engine.dispose()
            # ... then what must not go back in time is written into it, and the restore itself.
            report: dict[str, Any] = {
                "audit_rows_kept": 0,
                "accounts_kept_deactivated": [],
                "passwords_kept": [],
                "tokens_kept_revoked": 0,
                "accounts_lost": [],
            }
            with closing(sqlite3.connect(target)) as conn:
                conn.execute("PRAGMA foreign_keys = ON")
                with conn:
                    if since is not None:
                        _carry_forward(conn, since, report)
                    _record_restore(conn, source, by, report)
    except DatabaseInUse as exc:
        raise Refused(str(exc)) from None
    return RestoreReport(target=target, **report)
