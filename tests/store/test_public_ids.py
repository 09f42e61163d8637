"""Public identifiers: every record reachable from outside has a random 128-bit id, old rows included."""

from __future__ import annotations

from sqlalchemy import func, select, text

from strigil.store.database import Database, make_engine, migrate
from strigil.store.public_ids import PUBLIC_ID_TABLES, is_public_id, new_public_id


def test_a_new_public_id_is_128_random_bits_as_hex() -> None:
    ids = {new_public_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_public_id(i) for i in ids)
    assert not is_public_id("12") and not is_public_id("G" * 32) and not is_public_id(7)


def test_the_migration_fills_existing_rows_with_distinct_ids(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, "0131_charting")  # the record before public ids
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO clinics (id, code, name, created_at) VALUES (1, 'c', 'C', '2026-01-01')")
            )
            conn.execute(
                text(
                    "INSERT INTO clinicians (id, clinic_id, code, name, profession, training,"
                    " years_experience, created_at)"
                    " VALUES (1, 1, 'k', 'K', 'physiotherapist', '[]', 3, '2026-01-01')"
                )
            )
            for i in (1, 2, 3):
                conn.execute(
                    text(
                        "INSERT INTO patients (id, clinic_id, code, birth_year, sex, version, created_at) "
                        f"VALUES ({i}, 1, 'P{i}', 1980, 'female', 1, '2026-01-01')"
                    )
                )
        migrate(engine)
        with engine.connect() as conn:
            ids = list(conn.execute(text("SELECT public_id FROM patients")).scalars())
            assert len(ids) == 3 and len(set(ids)) == 3 and all(is_public_id(i) for i in ids)
            for table in PUBLIC_ID_TABLES:  # every table has the column, unique
                conn.execute(text(f"SELECT public_id FROM {table}")).all()
    finally:
        engine.dispose()


def _all_distinct_public_ids(db: Database) -> None:
    from strigil.store.record import AdverseResponseRow, EpisodeRow, MeasurementRow, PatientRow, SessionRow

    with db.unit_of_work() as s:
        for row in (PatientRow, EpisodeRow, SessionRow, MeasurementRow, AdverseResponseRow):
            total = s.scalar(select(func.count()).select_from(row))
            distinct = s.scalar(select(func.count(func.distinct(row.public_id))))
            assert total and distinct == total, row.__tablename__
            assert all(is_public_id(p) for p in s.scalars(select(row.public_id).limit(50)))


def test_the_services_give_every_record_a_public_id(db: Database) -> None:
    from strigil.services.demo import build_demo

    build_demo(db, 30, seed=3)  # patients, episodes, sessions, measurements, adverse responses by service
    _all_distinct_public_ids(db)


def test_the_bulk_load_gives_every_record_a_public_id(db: Database) -> None:
    from strigil.services.demo import write_bulk

    write_bulk(db, 40, seed=4)  # made by the database itself, one per row
    _all_distinct_public_ids(db)
