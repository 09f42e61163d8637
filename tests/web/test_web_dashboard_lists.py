"""The dashboard's lists are chosen by the database: today's patients, and the attention alerts.

`clinic_alerts` keeps only an episode's latest session (a later "continue" clears an earlier "switch"),
only sessions inside the window, only open episodes, and never another clinic's rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from web_world import World

from strigil.services import dashboard
from strigil.store.record import EpisodeRow, SessionRow

TODAY = dt.date(2026, 11, 22)
SINCE = TODAY - dt.timedelta(days=28)


def _add_session(world: World, episode_id: int, date: dt.date, word: str | None) -> None:
    with world.db() as db:
        episode = db.get(EpisodeRow, episode_id)
        assert episode is not None
        template = db.scalar(select(SessionRow).where(SessionRow.episode_id == episode_id).limit(1))
        assert template is not None
        number = db.scalar(select(func.max(SessionRow.number)).where(SessionRow.episode_id == episode_id))
        recommendation: dict[str, Any] | None = (
            None
            if word is None
            else {"recommendation": word, "reasons": [{"text": f"because {word}"}, {"text": "and more"}]}
        )
        db.add(
            SessionRow(
                episode_id=episode_id,
                clinician_id=template.clinician_id,
                number=(number or 0) + 1,
                date=date,
                recommendation=recommendation,
                recommended=word,
            )
        )
        db.commit()


def _episodes(world: World, clinic: int) -> list[int]:
    with world.db() as db:
        from strigil.store.record import PatientRow

        return list(
            db.scalars(
                select(EpisodeRow.id)
                .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                .where(PatientRow.clinic_id == clinic, EpisodeRow.closed_on.is_(None))
                .order_by(EpisodeRow.id)
            )
        )


def _attention(world: World, clinic: int) -> dict[int, str]:
    with world.db() as db:
        alerts = dashboard.clinic_alerts(db, clinic, since=SINCE)
    return {a.episode_id: a.severity for a in alerts if a.kind == "recommendation"}


def test_only_the_latest_session_of_an_episode_raises_an_attention_alert(world: World) -> None:
    first, second, third = _episodes(world, 1)[:3]
    _add_session(world, first, TODAY - dt.timedelta(days=3), "switch")
    _add_session(world, second, TODAY - dt.timedelta(days=5), "refer")
    _add_session(world, second, TODAY - dt.timedelta(days=1), "continue")  # clears the refer
    _add_session(world, third, TODAY - dt.timedelta(days=60), "refer")  # outside the window
    assert _attention(world, 1) == {first: "switch"}
    with world.db() as db:
        alerts = dashboard.clinic_alerts(db, 1, since=SINCE)
        texts = [a.text for a in alerts if a.episode_id == first and a.kind == "recommendation"]
    assert texts == ["decision aid says switch: because switch; and more"]


def test_attention_alerts_never_show_another_clinics_episodes(world: World) -> None:
    other = _episodes(world, 2)[0]
    _add_session(world, other, TODAY - dt.timedelta(days=2), "refer")
    assert _attention(world, 1) == {}
    assert _attention(world, 2) == {other: "refer"}


def test_todays_patients_are_the_sessions_dated_today_of_the_clinic(world: World) -> None:
    mine, other = _episodes(world, 1)[0], _episodes(world, 2)[0]
    _add_session(world, mine, TODAY, None)
    _add_session(world, other, TODAY, None)
    _add_session(world, mine, TODAY - dt.timedelta(days=1), None)  # yesterday: not today's
    with world.db() as db:
        rows = dashboard.today_patients(db, 1, TODAY)
        region = db.get(EpisodeRow, mine).region  # type: ignore[union-attr]
    assert [(r.episode_id, r.region) for r in rows] == [(mine, region)]


def test_the_dashboard_queries_start_from_the_narrow_index_on_sqlite(world: World) -> None:
    # The clinic filter is written so SQLite cannot drive the query from it (all of a clinic's patients);
    # it must start from the session-date index. EXPLAIN shows which index leads.
    with world.db() as db, world.engine.connect() as conn:
        from sqlalchemy.dialects import sqlite

        statement = (
            select(SessionRow.id)
            .join(EpisodeRow, EpisodeRow.id == SessionRow.episode_id)
            .join(dashboard.PatientRow, dashboard.PatientRow.id == EpisodeRow.patient_id)
            .where(dashboard._in_clinic_unindexed(db, 1), SessionRow.date >= SINCE)
        )
        sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
        plan = " | ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert plan.startswith("SEARCH treatment_sessions USING INDEX ix_treatment_sessions_date"), plan


def test_postgresql_sees_the_plain_clinic_column(world: World) -> None:
    # PostgreSQL has statistics for the column but none for an expression, which it would guess selective
    # and start from (0.35 s at 100,000 patients); only SQLite gets the unindexable form.
    from unittest.mock import MagicMock

    pg = MagicMock()
    pg.get_bind.return_value.dialect.name = "postgresql"
    assert str(dashboard._in_clinic_unindexed(pg, 1)) == "patients.clinic_id = :clinic_id_1"
    with world.db() as db:
        assert "+" in str(dashboard._in_clinic_unindexed(db, 1))
