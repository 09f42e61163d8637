"""Public identifiers in the database: which tables carry one, and how the database makes one per row.

What a public id is (128 random bits as 32 hex digits) and how Python makes one:
`strigil.clinical.public_ids`.
Every insert path sets the column: the ORM's default (`new_public_id`), and the SQL expression below in bulk
loads and the migration that filled existing rows.
"""

from __future__ import annotations

from strigil.clinical.public_ids import PUBLIC_ID_LENGTH, is_public_id, new_public_id

__all__ = [
    "PUBLIC_ID_LENGTH",
    "PUBLIC_ID_TABLES",
    "is_public_id",
    "new_public_id",
    "public_id_sql",
]

# The tables whose rows are reachable from outside (dose steps are parts of their session). The first seven
# got their column in migration 0132, the rest (sign-in accounts, API tokens, clinicians, clinic templates:
# reachable by URL or named in answers) in 0201.
PUBLIC_ID_TABLES = (
    "clinics",  # scopes the identifier systems of what a clinic names itself (patient and clinician codes)
    "patients",
    "episodes",
    "treatment_sessions",
    "screenings",
    "measurements",
    "adverse_responses",
    "web_accounts",
    "web_api_tokens",
    "clinicians",
    "clinic_templates",
)


def public_id_sql(dialect: str) -> str:
    """An SQL expression that makes a fresh public id per row, for bulk inserts and backfills.

    SQLite: 16 bytes of `randomblob` (SQLite's own generator, seeded from the operating system). PostgreSQL:
    `gen_random_uuid()` (built in since 13; 122 of its 128 bits are random) without its dashes.
    """
    if dialect == "sqlite":
        return "lower(hex(randomblob(16)))"
    if dialect == "postgresql":
        return "replace(gen_random_uuid()::text, '-', '')"
    raise ValueError(f"no public-id expression for database {dialect!r}; known: sqlite, postgresql")
