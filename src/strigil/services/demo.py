"""`strigil demo`: a realistic, reproducible synthetic clinic (in the demo database, never the clinic's).

The plan comes from `demo_plan` (numpy, from a seed alone: same seed → same clinic). Small clinics are
written through the services, one user action at a time, so every rule applies (exercise first, validation,
the decision aid's recommendation per session). Large clinics (the 100,000-patient benchmark) use a bulk path:
SQLAlchemy Core `insert()` executemany of plain dicts, one transaction per batch, no ORM and no per-session
recommendation; the plan is valid by construction and a test validates samples of it against the record model.

The synthetic numbers (baselines, response rates, adverse-response rates) are invented for the demo — they
are not clinical estimates and must not be read as such.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from strigil.services.demo_plan import (
    ADVERSE,
    CLINICIANS,
    DECISIONS,
    DIRECTIONS,
    EDGES,
    EMOLLIENTS,
    POSITIONS,
    PRESSURES,
    SEVERITIES,
    SIDES,
    STROKES,
    TIMINGS,
    TOLERANCES,
    DemoChunk,
    day,
    json_text,
    plan_chunks,
)

__all__ = ["CLINIC_CODE", "CLINIC_NAME", "build_demo", "demo_clinicians", "write_bulk"]

CLINIC_CODE = "demo"
CLINIC_NAME = "Strigil demo clinic (synthetic data)"


def demo_clinicians() -> list[dict[str, Any]]:
    """The demo clinic's clinicians (professions and training routes as Baker et al. 2018 describe)."""
    return [dict(c) for c in CLINICIANS]


def build_demo(db: Any, n_patients: int, seed: int, *, progress: Callable[[int], None] | None = None) -> int:
    """Write a demo clinic through the services (every rule applies); returns the clinic id."""
    from strigil.services import clinics, episodes, patients, sessions

    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, CLINIC_CODE, CLINIC_NAME)
        known = {c.code for c in clinics.list_clinicians(s, clinic.id)}
        for c in demo_clinicians():
            if c["code"] not in known:
                clinics.add_clinician(s, clinic.id, c)
    for chunk in plan_chunks(n_patients, seed):
        for i in range(chunk.size):
            with db.unit_of_work() as s:
                patients.add_patient(
                    s,
                    clinic.id,
                    {
                        "code": chunk.code(i),
                        "birth_year": int(chunk.birth_year[i]),
                        "sex": ("female", "male")[chunk.sex[i]],
                    },
                )
                ep = episodes.open_episode(s, clinic.id, chunk.code(i), chunk.episode_document(i), by="demo")
                for doc in chunk.session_documents(i, ep.id):
                    sessions.record_session(s, clinic.id, doc, by="demo")
            if progress:
                progress(1)
    return clinic.id


# Columns written by the bulk path, per table (every column of the table, in the migration's order).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("id", "clinic_id", "code", "birth_year", "sex", "version", "created_at"),
    "episodes": (
        "id",
        "patient_id",
        "condition",
        "region",
        "side",
        "target_tissue",
        "onset_date",
        "opened_on",
        "closed_on",
        "close_reason",
        "goals",
        "planned_iastm",
        "planned_co_interventions",
        "exercise_first_reason",
        "consent_on",
        "consent_explained",
        "version",
        "created_at",
        "created_by",
    ),
    "treatment_sessions": (
        "id",
        "episode_id",
        "clinician_id",
        "number",
        "date",
        "warm_up_kind",
        "warm_up_minutes",
        "emollient",
        "followed_by",
        "tolerance",
        "recommendation",
        "clinician_decision",
        "decision_reason",
        "notes",
        "version",
        "created_at",
        "created_by",
    ),
    "dose_steps": (
        "id",
        "session_id",
        "position",
        "region",
        "side",
        "instrument",
        "edge",
        "stroke",
        "angle_deg",
        "direction",
        "pressure",
        "force_n",
        "duration_s",
        "stroke_count",
        "patient_position",
        "active_movement",
    ),
    "measurements": ("id", "episode_id", "session_id", "measure", "value", "timing", "taken_on", "version"),
    "adverse_responses": (
        "id",
        "episode_id",
        "session_id",
        "kind",
        "severity",
        "onset_on",
        "resolved_on",
        "region",
        "note",
        "version",
    ),
}


def write_bulk(
    db: Any,
    n_patients: int,
    seed: int,
    *,
    batch_patients: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write a (large) demo clinic with Core bulk inserts, one transaction per batch; returns the clinic id.

    Rows get explicit ids (continuing after the current maximum), so children need no round trip. Values are
    passed as the database stores them (ISO dates, JSON text) through untyped Core tables, which skips
    per-value type processing. The exercise-first rule is checked per episode; no recommendations here.
    """
    from sqlalchemy import column, func, select, table

    from strigil.services import clinics
    from strigil.services.decision_support import exercise_first_problem
    from strigil.store.types import now_utc

    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, CLINIC_CODE, CLINIC_NAME)
        known = {c.code: c.id for c in clinics.list_clinicians(s, clinic.id)}
        for c in demo_clinicians():
            if c["code"] not in known:
                known[c["code"]] = clinics.add_clinician(s, clinic.id, c).id
        next_id = {
            name: (s.scalar(select(func.max(table(name, column("id")).c.id))) or 0) + 1 for name in _COLUMNS
        }
        taken = set(s.scalars(select(table("patients", column("code")).c.code)))
    sqlite = db.engine.dialect.name == "sqlite"
    stamp = now_utc()
    stamp_text = stamp.replace(tzinfo=None).isoformat(sep=" ") if sqlite else stamp.isoformat()
    # One INSERT per table, compiled once by Core for this database; rows go to executemany as plain tuples.
    statements = {name: _insert_sql(db.engine.dialect, name, cols) for name, cols in _COLUMNS.items()}
    clinician_ids = [known[c["code"]] for c in CLINICIANS]
    pending: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _COLUMNS}
    written = 0

    with db.engine.connect() as conn:
        if sqlite:
            # Bulk-load settings on this one connection, outside any transaction; WAL stays on, and the usual
            # durability is restored before the connection goes back to the pool.
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA cache_size=-200000")
            conn.commit()
        try:
            for chunk in plan_chunks(n_patients, seed):
                clash = {chunk.code(i) for i in range(chunk.size)} & taken
                if clash:
                    raise ValueError(
                        f"the demo clinic already has patients {sorted(clash)[:3]}…; "
                        "use a new demo database (or remove demo.sqlite)"
                    )
                for i in range(chunk.size):
                    problem = exercise_first_problem(True, list(chunk.care[i]), None)
                    if problem:  # the plan never does this; refuse loudly if it ever does
                        raise ValueError(f"demo patient {chunk.code(i)}: {problem}")
                _rows(chunk, clinic.id, clinician_ids, next_id, stamp_text, pending)
                if len(pending["patients"]) >= batch_patients or chunk.first + chunk.size > n_patients:
                    with conn.begin():
                        for name, rows in pending.items():
                            if rows:
                                conn.exec_driver_sql(statements[name], rows)
                    written += len(pending["patients"])
                    if progress:
                        progress(len(pending["patients"]))
                    pending = {name: [] for name in _COLUMNS}
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.commit()
    if not sqlite:
        # Explicit ids bypass PostgreSQL's sequences: move each sequence past the rows just written.
        with db.engine.begin() as conn:
            for name in _COLUMNS:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
                # Fresh planner statistics, or PostgreSQL may scan whole tables until autovacuum runs.
                conn.exec_driver_sql(f"ANALYZE {name}")
    assert written == n_patients
    return int(clinic.id)


def _insert_sql(dialect: Any, name: str, columns: tuple[str, ...]) -> str:
    """`INSERT INTO name (...) VALUES (...)` compiled by Core for `dialect`, with positional parameters."""
    from sqlalchemy import column, insert, table

    compiled = insert(table(name, *(column(c) for c in columns))).compile(
        dialect=dialect, column_keys=list(columns)
    )
    sql = str(compiled)
    if not dialect.positional:  # named style (psycopg: %(x)s) → positional %s, in column order
        for c in columns:
            sql = sql.replace(f"%({c})s", "%s")
    return sql


def _rows(
    chunk: DemoChunk,
    clinic_id: int,
    clinician_ids: list[int],
    next_id: dict[str, int],
    stamp: str,
    out: dict[str, list[tuple[Any, ...]]],
) -> None:
    """Append the chunk's rows (tuples of stored values in `_COLUMNS` order) to `out`, assigning ids."""
    from strigil.catalog import load_catalog

    tissue = {c.code: c.tissue for c in load_catalog().conditions.values()}
    text = {k: day(k).isoformat() for k in range(int(chunk.onset_day.min()), int(chunk.s_day.max()) + 10)}
    pid0, eid0, sid0 = next_id["patients"], next_id["episodes"], next_id["treatment_sessions"]
    n = chunk.size
    sex = ("female", "male")
    explained = json_text(["bruising", "petechiae", "soreness"])
    goals = json_text(["reduce pain with daily activity", "return to usual activity"])
    out["patients"] += [
        (pid0 + i, clinic_id, chunk.code(i), by, sex[sx], 1, stamp)
        for i, (by, sx) in enumerate(zip(chunk.birth_year.tolist(), chunk.sex.tolist(), strict=True))
    ]
    out["episodes"] += [
        (
            eid0 + i,
            pid0 + i,
            chunk.condition[i],
            chunk.region[i],
            SIDES[chunk.side[i]],
            tissue[chunk.condition[i]],
            text[int(chunk.onset_day[i])],
            text[int(chunk.opened_day[i])],
            None,
            None,
            goals,
            True,
            json_text(list(chunk.care[i])),
            None,
            text[int(chunk.opened_day[i])],
            explained,
            1,
            stamp,
            "demo",
        )
        for i in range(n)
    ]
    followed = [json_text(chunk.followed_by(i)) for i in range(n)]
    s_patient = chunk.s_patient.tolist()
    clinician = [clinician_ids[c] for c in chunk.clinician.tolist()]
    out["treatment_sessions"] += [
        (
            sid0 + k,
            eid0 + p,
            clinician[p],
            num,
            text[d],
            "cardiovascular" if warm else None,
            warm or None,
            EMOLLIENTS[emo],
            followed[p],
            TOLERANCES[tol],
            None,
            DECISIONS[dec],
            None,
            None,
            1,
            stamp,
            "demo",
        )
        for k, (p, num, d, warm, emo, tol, dec) in enumerate(
            zip(
                s_patient,
                chunk.s_number.tolist(),
                chunk.s_day.tolist(),
                chunk.s_warm_minutes.tolist(),
                chunk.s_emollient.tolist(),
                chunk.s_tolerance.tolist(),
                chunk.s_decision.tolist(),
                strict=True,
            )
        )
    ]
    tid0 = next_id["dose_steps"]
    out["dose_steps"] += [
        (
            tid0 + t,
            sid0 + sess,
            pos,
            chunk.region[s_patient[sess]],
            SIDES[chunk.side[s_patient[sess]]],
            chunk.instrument(t),
            EDGES[edge],
            STROKES[stroke],
            None if angle != angle else angle,
            DIRECTIONS[direction],
            PRESSURES[pressure],
            None,
            duration,
            None,
            POSITIONS[posture],
            "active range of motion" if active else None,
        )
        for t, (sess, pos, edge, stroke, angle, direction, pressure, duration, posture, active) in enumerate(
            zip(
                chunk.t_session.tolist(),
                chunk.t_position.tolist(),
                chunk.t_edge.tolist(),
                chunk.t_stroke.tolist(),
                chunk.t_angle.tolist(),
                chunk.t_direction.tolist(),
                chunk.t_pressure.tolist(),
                chunk.t_duration.tolist(),
                chunk.t_posture.tolist(),
                chunk.t_active.tolist(),
                strict=True,
            )
        )
    ]
    mid0 = next_id["measurements"]
    s_day = chunk.s_day.tolist()
    out["measurements"] += [
        (
            mid0 + m,
            eid0 + s_patient[sess],
            sid0 + sess,
            measure,
            value,
            TIMINGS[timing],
            text[s_day[sess]],
            1,
        )
        for m, (sess, measure, value, timing) in enumerate(
            zip(
                chunk.m_session.tolist(),
                chunk.m_measure,
                chunk.m_value.tolist(),
                chunk.m_timing.tolist(),
                strict=True,
            )
        )
    ]
    aid0 = next_id["adverse_responses"]
    out["adverse_responses"] += [
        (
            aid0 + a,
            eid0 + s_patient[sess],
            sid0 + sess,
            ADVERSE[kind],
            SEVERITIES[sev],
            text[s_day[sess]],
            None if res < 0 else (day(s_day[sess]) + dt.timedelta(days=res)).isoformat(),
            chunk.region[s_patient[sess]],
            None,
            1,
        )
        for a, (sess, kind, sev, res) in enumerate(
            zip(
                chunk.a_session.tolist(),
                chunk.a_kind.tolist(),
                chunk.a_severity.tolist(),
                chunk.a_resolved_days.tolist(),
                strict=True,
            )
        )
    ]
    next_id["patients"] += n
    next_id["episodes"] += n
    next_id["treatment_sessions"] += len(s_patient)
    next_id["dose_steps"] += len(chunk.t_session)
    next_id["measurements"] += len(chunk.m_session)
    next_id["adverse_responses"] += len(chunk.a_session)
