"""Web accounts, sign-in sessions, API tokens, sign-in attempts and the append-only audit trail.

Revision ID: 0100_web_accounts_audit
Revises: 0001_clinical_record
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strigil.store.audit import APPEND_ONLY_DDL
from strigil.store.types import UTCTimestamp

revision = "0100_web_accounts_audit"
down_revision = "0001_clinical_record"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        sa.Column("password_changed_at", UTCTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_accounts"),
        sa.UniqueConstraint("username", name="uq_web_accounts_username"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_web_accounts_clinic_id_clinics"),
    )
    op.create_index("ix_web_accounts_clinic_id", "web_accounts", ["clinic_id"])
    for table in ("web_login_sessions", "web_api_tokens"):
        extra = (
            [
                sa.Column("csrf_token", sa.String(64), nullable=False),
                sa.Column("created_at", UTCTimestamp(), nullable=False),
                sa.Column("expires_at", UTCTimestamp(), nullable=False),
                sa.Column("ended_at", UTCTimestamp(), nullable=True),
                sa.Column("ip", sa.String(64), nullable=False),
            ]
            if table == "web_login_sessions"
            else [
                sa.Column("prefix", sa.String(16), nullable=False),
                sa.Column("name", sa.String(128), nullable=False),
                sa.Column("scopes", sa.String(128), nullable=False),
                sa.Column("created_at", UTCTimestamp(), nullable=False),
                sa.Column("expires_at", UTCTimestamp(), nullable=True),
                sa.Column("revoked_at", UTCTimestamp(), nullable=True),
            ]
        )
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("token_hash", sa.String(64), nullable=False),
            sa.Column("account_id", sa.Integer(), nullable=False),
            *extra,
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sa.UniqueConstraint("token_hash", name=f"uq_{table}_token_hash"),
            sa.ForeignKeyConstraint(
                ["account_id"], ["web_accounts.id"], name=f"fk_{table}_account_id_web_accounts"
            ),
        )
        op.create_index(f"ix_{table}_account_id", table, ["account_id"])
    op.create_table(
        "web_login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", UTCTimestamp(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_login_attempts"),
    )
    op.create_index("ix_web_login_attempts_username_at", "web_login_attempts", ["username", "at"])
    op.create_index("ix_web_login_attempts_ip_at", "web_login_attempts", ["ip", "at"])
    op.create_table(
        "web_audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCTimestamp(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("detail", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_audit_events"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["web_accounts.id"], name="fk_web_audit_events_account_id_web_accounts"
        ),
    )
    op.create_index("ix_web_audit_events_clinic_at", "web_audit_events", ["clinic_id", "at"])
    op.create_index("ix_web_audit_events_patient", "web_audit_events", ["patient_id"])
    for statement in APPEND_ONLY_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS web_audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS web_audit_events_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS web_audit_events_append_only ON web_audit_events")
        op.execute("DROP FUNCTION IF EXISTS web_audit_events_refuse()")
    for table in (
        "web_audit_events",
        "web_login_attempts",
        "web_api_tokens",
        "web_login_sessions",
        "web_accounts",
    ):
        op.drop_table(table)
