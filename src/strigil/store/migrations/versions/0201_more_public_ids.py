"""More public identifiers: sign-in accounts, API tokens, clinicians and clinic templates.

Accounts (`/admin/accounts/{id}/…`), API tokens (`/account/tokens/{id}/revoke`) and clinic templates (the
session form's `template=` choice) are reachable by URL, and clinicians are named in API answers; like the
clinical record in 0132 they get a `public_id` column (32 hex digits), filled for existing rows by the
database itself (`strigil.store.public_ids.public_id_sql`) and unique. The column is added in place, which
keeps every SQLite table's AUTOINCREMENT key (0200) as it is, and stays nullable in the schema (as in 0132):
every insert path sets it through the ORM's default.

Revision ID: 0201_more_public_ids
Revises: 0200_ids_never_reused
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strigil.store.public_ids import PUBLIC_ID_LENGTH, public_id_sql

revision = "0201_more_public_ids"
down_revision = "0200_ids_never_reused"
branch_labels = None
depends_on = None

# The tables as of this revision (the whole list: strigil.store.public_ids.PUBLIC_ID_TABLES).
_TABLES = ("web_accounts", "web_api_tokens", "clinicians", "clinic_templates")


def upgrade() -> None:
    expression = public_id_sql(op.get_bind().dialect.name)
    for table in _TABLES:
        op.add_column(table, sa.Column("public_id", sa.String(PUBLIC_ID_LENGTH), nullable=True))
        op.execute(f"UPDATE {table} SET public_id = {expression} WHERE public_id IS NULL")
        op.create_index(f"ux_{table}_public_id", table, ["public_id"], unique=True)


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_index(f"ux_{table}_public_id", table_name=table)
        op.execute(f"ALTER TABLE {table} DROP COLUMN public_id")
