"""Public identifiers: a random 128-bit `public_id` on every record reachable from outside the server.

Patients, episodes, sessions, screenings, measurements and adverse responses get a `public_id` column (32
hex digits), filled for every existing row by the database itself (`strigil.store.public_ids.public_id_sql`)
and unique. The column is added in place and stays nullable in the schema (making it NOT NULL would rebuild
tables on SQLite, which it refuses for referenced tables with foreign keys on; see 0116_safety_gates): every
insert path sets it — the ORM's default, the bulk demo and bulk import loads.

For bulk exports `_since` (what changed after a time): episodes get `changed_at` (set on every write to the
episode, which recording a session makes too), measurements and adverse responses `recorded_at`. Existing
rows keep NULL there (their patients' and sessions' `created_at` still count).

Revision ID: 0132_public_ids
Revises: 0131_charting
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strigil.store.public_ids import PUBLIC_ID_LENGTH, public_id_sql
from strigil.store.types import UTCTimestamp

revision = "0132_public_ids"
down_revision = "0131_charting"
branch_labels = None
depends_on = None


# The tables as of this revision (0201 added more to strigil.store.public_ids.PUBLIC_ID_TABLES).
PUBLIC_ID_TABLES = (
    "clinics",
    "patients",
    "episodes",
    "treatment_sessions",
    "screenings",
    "measurements",
    "adverse_responses",
)
_STAMPS = (("episodes", "changed_at"), ("measurements", "recorded_at"), ("adverse_responses", "recorded_at"))


def upgrade() -> None:
    expression = public_id_sql(op.get_bind().dialect.name)
    for table in PUBLIC_ID_TABLES:
        op.add_column(table, sa.Column("public_id", sa.String(PUBLIC_ID_LENGTH), nullable=True))
        op.execute(f"UPDATE {table} SET public_id = {expression} WHERE public_id IS NULL")
        op.create_index(f"ux_{table}_public_id", table, ["public_id"], unique=True)
    for table, column in _STAMPS:
        op.add_column(table, sa.Column(column, UTCTimestamp(), nullable=True))


def downgrade() -> None:
    for table, column in reversed(_STAMPS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    for table in reversed(PUBLIC_ID_TABLES):
        op.drop_index(f"ux_{table}_public_id", table_name=table)
        op.execute(f"ALTER TABLE {table} DROP COLUMN public_id")
