"""Opening the database: engine (SQLite WAL + foreign keys, or PostgreSQL), migrations, units of work."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from strigil.store.files import private_file
from strigil.store.sqlite_writer import WriterLockedConnection

__all__ = [
    "MIGRATIONS",
    "SQLITE_BUSY_TIMEOUT_MS",
    "Database",
    "DatabaseFileProblem",
    "check_database_files",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "open_database",
]

# A writer waits this long for another writer's lock before giving up (SQLite allows one writer at a time).
SQLITE_BUSY_TIMEOUT_MS = 15_000
MIGRATIONS = Path(__file__).with_name("migrations")
_migrated: set[str] = set()
_lock = threading.Lock()


# SQLite's shared-memory index (-shm) of a database in use is at least one 32 kB region long.
_SHM_REGION = 32 * 1024
# The largest -shm size seen per database file: a file in use only grows until the last connection closes.
_shm_seen: dict[Path, int] = {}


class DatabaseFileProblem(Exception):
    """The database's files are in a state that makes touching them unsafe; the message says which and why.

    Nothing was read or written. Raised before a unit of work starts, so that a truncated -shm file — which
    SQLite reads through shared memory, where a missing page kills the process with SIGBUS — is never
    touched, and a read-only file is named instead of failing later as "unavailable".
    """


def _sqlite_file(engine: Engine) -> Path | None:
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _holds_connections(engine: Engine) -> bool:
    pool: Any = engine.pool
    try:
        return int(pool.checkedin()) + int(pool.checkedout()) > 0
    except AttributeError:  # a pool that does not count (e.g. NullPool): assume it may
        return True


def check_database_files(engine: Engine) -> None:
    """Raise DatabaseFileProblem when a SQLite database's files are read-only or its -shm shrank.

    A cheap check (a few stat calls) made before each unit of work; nothing for PostgreSQL. It cannot close
    the window between the check and the use: a file truncated in that very moment still crashes the process.
    """
    path = _sqlite_file(engine)
    if path is None or not path.exists():
        return
    readonly = [p for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm")))
                if p.exists() and not os.access(p, os.W_OK)]
    if readonly:
        names = ", ".join(p.name for p in readonly)
        raise DatabaseFileProblem(
            f"the database is read-only: the server may not write {names} (file permissions or a read-only "
            "disk); nothing was read or written — pages with patient data are refused too, because every "
            "read is recorded in the audit trail. Ask the administrator to make the files writable."
        )
    shm = path.with_name(path.name + "-shm")
    try:
        size = shm.stat().st_size
    except FileNotFoundError:
        _shm_seen.pop(path, None)
        return
    if not _holds_connections(engine):  # nothing of ours maps it: another process may be starting it anew
        _shm_seen.pop(path, None)
        return
    seen = _shm_seen.get(path, 0)
    if seen >= _SHM_REGION and size < _SHM_REGION:
        raise DatabaseFileProblem(
            f"the database's shared-memory file {shm.name} was emptied or cut short while the server was "
            "running; nothing was read or written (touching it would crash the server). Restart the server, "
            "and find out what changed the file."
        )
    _shm_seen[path] = max(seen, size)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`. SQLite: WAL journal, foreign keys on, busy timeout, full fsync on commit."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            private_file(Path(parsed.database).expanduser())  # 0600 in a 0700 folder, before SQLite opens it
            # Writers of this file inside the process queue on a lock instead of SQLite's sleep-and-retry.
            connect_args["factory"] = WriterLockedConnection
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # NORMAL in WAL mode: a committed transaction survives a process crash (SIGKILL); FULL would
            # also survive power loss at the cost of one fsync per commit. Clinic servers use PostgreSQL.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this version of Strigil."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads ({', '.join(heads)}); expected exactly one")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to `revision` (default: the newest) with Alembic."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)


class Database:
    """An open database: the engine and a factory of units of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: commits when the block succeeds, rolls everything back on any error."""
        check_database_files(self.engine)
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()


def open_database(url: str | None = None, *, upgrade: bool = True) -> Database:
    """Open the clinic database (STRIGIL_DATABASE_URL, else the default SQLite file); migrate if needed."""
    from strigil.settings import get_settings

    url = url or get_settings().resolved_database_url()
    engine = make_engine(url)
    if upgrade:
        with _lock:
            if url not in _migrated or current_revision(engine) is None:
                if current_revision(engine) != head_revision():
                    migrate(engine)
                _migrated.add(url)
    return Database(engine)
