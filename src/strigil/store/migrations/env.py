"""Alembic environment: Strigil runs migrations programmatically on a connection it passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

connection = context.config.attributes.get("connection")


def _run(conn: object) -> None:
    # render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table instead.
    context.configure(connection=conn, target_metadata=None, render_as_batch=True)  # type: ignore[arg-type]
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic -x url=...` from a shell, for developers
    x_args = context.get_x_argument(as_dictionary=True)
    url = x_args.get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database with: alembic -x url=sqlite:///path upgrade head")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
