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

from collections.abc import Callable
from typing import Any

from strigil.clinical.session import DOSE_STEP_FIELDS, MEASURED_FORCE_FIELDS
from strigil.services.demo_plan import (
    ADVERSE,
    CLINICIANS,
    DECISIONS,
    DIRECTIONS,
    EDGES,
    EMOLLIENTS,
    INSTRUMENTS,
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
from strigil.store.public_ids import public_id_sql

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
                ep = episodes.open_episode(
                    s, clinic.id, chunk.code(i), chunk.episode_document(i), by="demo", at_the_table=False
                )
                for doc in chunk.session_documents(i, ep.id):
                    # a generated history, recorded as it "happened" (gates kept with each session)
                    sessions.record_session(s, clinic.id, doc, by="demo", at_the_table=False)
            if progress:
                progress(1)
    return clinic.id


# The dose step's measured-force summary (none in the demo: its steps record pressure in words).
_MEASURED_COLUMNS = tuple(f"measured_{f}" for f in MEASURED_FORCE_FIELDS)
# Columns written by the bulk path, per table (every column of the table, in the migration's order).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("id", "public_id", "clinic_id", "code", "birth_year", "sex", "version", "created_at"),
    "episodes": (
        "id",
        "public_id",
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
        "consent_note",
        "version",
        "created_at",
        "created_by",
        "discharge_reason",
        "referrer",
        "voided_at",
        "voided_by",
        "void_reason",
        "exercise_prescription",
        "changed_at",
    ),
    "treatment_sessions": (
        "id",
        "public_id",
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
        "recommended",
        "clinician_decision",
        "decision_reason",
        "notes",
        "screening_id",
        "screening",
        "override_reason",
        "dose_confirmed",
        "follow_up",
        "follow_up_asked",
        "exercise_delivered",
        "exercise_not_delivered_reason",
        "version",
        "created_at",
        "created_by",
        "signed_at",
        "signed_by",
        "addenda",
        "voided_at",
        "voided_by",
        "void_reason",
    ),
    "dose_steps": ("id", "session_id", "position", *DOSE_STEP_FIELDS, *_MEASURED_COLUMNS),
    "measurements": (
        "id",
        "public_id",
        "episode_id",
        "session_id",
        "measure",
        "value",
        "timing",
        "taken_on",
        "version",
        "joint",
        "motion",
        "side",
        "activity",
        "recorded_at",
        "source",
    ),
    "adverse_responses": (
        "id",
        "public_id",
        "episode_id",
        "session_id",
        "kind",
        "severity",
        "onset_on",
        "resolved_on",
        "region",
        "note",
        "version",
        "resolved_where",
        "resolution_note",
        "recorded_at",
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
    from sqlalchemy import column, select, table

    from strigil.services import clinics
    from strigil.services.decision_support import exercise_first_problem
    from strigil.store.ids import advance_sequence, first_unused_id
    from strigil.store.types import now_utc

    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, CLINIC_CODE, CLINIC_NAME)
        known = {c.code: c.id for c in clinics.list_clinicians(s, clinic.id)}
        for c in demo_clinicians():
            if c["code"] not in known:
                known[c["code"]] = clinics.add_clinician(s, clinic.id, c).id
        next_id = {name: first_unused_id(s, name) for name in _COLUMNS}  # never an erased record's id
        taken = set(s.scalars(select(table("patients", column("code")).c.code)))
    sqlite = db.engine.dialect.name == "sqlite"
    stamp = now_utc()
    stamp_text = stamp.replace(tzinfo=None).isoformat(sep=" ") if sqlite else stamp.isoformat()
    # One INSERT per table, compiled once by Core for this database; rows go to executemany as plain tuples.
    constants = _constants(int(clinic.id), stamp_text)
    statements = {
        name: _insert_sql(db.engine.dialect, name, cols, constants[name]) for name, cols in _COLUMNS.items()
    }
    clinician_ids = [known[c["code"]] for c in CLINICIANS]
    pending: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _COLUMNS}
    care_checked: dict[tuple[str, ...], str | None] = {}
    written = 0

    with db.engine.connect() as conn:
        fresh = sqlite and not taken and _sqlite_file(db)
        indexes = _begin_sqlite_load(conn, fresh=fresh) if sqlite else []
        try:
            for chunk in plan_chunks(n_patients, seed):
                clash = {chunk.code(i) for i in range(chunk.size)} & taken
                if clash:
                    raise ValueError(
                        f"the demo clinic already has patients {sorted(clash)[:3]}…; "
                        "use a new demo database (or remove demo.sqlite)"
                    )
                for i in range(chunk.size):
                    # The rule depends on the planned care alone, and the plan uses few combinations.
                    care = chunk.care[i]
                    if care not in care_checked:
                        care_checked[care] = exercise_first_problem(True, list(care), None)
                    if care_checked[care]:  # the plan never does this; refuse loudly if it ever does
                        raise ValueError(f"demo patient {chunk.code(i)}: {care_checked[care]}")
                _rows(chunk, clinician_ids, next_id, pending)
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
                _end_sqlite_load(conn, indexes, fresh=fresh)
    if not sqlite:
        # Explicit ids bypass PostgreSQL's sequences: move each sequence past the rows just written.
        with db.engine.begin() as conn:
            for name in _COLUMNS:
                advance_sequence(conn, name)
                # Fresh planner statistics, or PostgreSQL may scan whole tables until autovacuum runs.
                conn.exec_driver_sql(f"ANALYZE {name}")
    assert written == n_patients
    return int(clinic.id)


# Secondary indexes of the bulk-loaded tables, dropped during a fresh load and rebuilt from their own SQL.
_LOADED_TABLES = tuple(_COLUMNS)


def _sqlite_file(db: Any) -> bool:
    """Whether the database is an SQLite file (not in memory), so a fresh one may be loaded unjournaled."""
    name = db.engine.url.database
    return bool(name) and name != ":memory:"


def _begin_sqlite_load(conn: Any, *, fresh: bool) -> list[str]:
    """Bulk-load settings on this connection; for a fresh demo file also drop secondary indexes.

    Returns the `CREATE INDEX` statements to run after the load. Always: no fsync, a large page cache.
    Fresh demo file only (no patient rows yet): no rollback journal and no foreign-key checks. This is a new
    synthetic demo database, never clinic data: if the build is killed, the file is thrown away and built
    again from its seed. Ids are assigned by construction, so every reference points at a row of this load.
    """
    conn.exec_driver_sql("PRAGMA synchronous=OFF")
    conn.exec_driver_sql("PRAGMA cache_size=-400000")
    if not fresh:
        conn.commit()
        return []
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.exec_driver_sql("PRAGMA journal_mode=OFF")
    placeholders = ", ".join("?" * len(_LOADED_TABLES))
    indexes = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({placeholders})",
        _LOADED_TABLES,
    ).all()
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    conn.commit()
    return [sql for _, sql in indexes]


def _end_sqlite_load(conn: Any, indexes: list[str], *, fresh: bool) -> None:
    """Rebuild the dropped indexes and restore the clinic's usual settings (WAL, foreign keys, NORMAL)."""
    conn.rollback()
    for sql in indexes:
        conn.exec_driver_sql(sql)
    conn.commit()
    if fresh:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
    conn.exec_driver_sql("PRAGMA cache_size=-2000")
    conn.commit()


# Marks the public-id column among the constants: not one value, but the database's expression for a new id.
_PUBLIC_ID = object()
_GOALS = json_text(["reduce pain with daily activity", "return to usual activity"])
_EXPLAINED = json_text(["bruising", "petechiae", "soreness", "alternatives", "exercise_programme"])
_NO_ADDENDA = json_text([])
_ASKED = json_text({"asked": True})  # the demo asks the follow-up questions at every follow-up session


def _constants(clinic_id: int, stamp: str) -> dict[str, dict[str, Any]]:
    """Columns with one value for every row of a bulk load, per table: written into the INSERT as literals.

    Binding a parameter costs SQLite more than inserting the value itself, and a third of the columns are the
    same on every row (version 1, the load's timestamp, NULLs); `_rows` leaves them out of the row tuples.
    """
    stamped = {"version": 1, "created_at": stamp, "public_id": _PUBLIC_ID}
    return {
        "patients": {"clinic_id": clinic_id, **stamped},
        "episodes": {
            "closed_on": None,
            "close_reason": None,
            "goals": _GOALS,
            "planned_iastm": True,
            "exercise_first_reason": None,
            "consent_explained": _EXPLAINED,
            "consent_note": None,
            **stamped,
            "created_by": "demo",
            **dict.fromkeys(("discharge_reason", "referrer", "voided_at", "voided_by", "void_reason")),
            "exercise_prescription": None,
            "changed_at": stamp,
        },
        "treatment_sessions": {
            "recommendation": None,
            "recommended": None,
            "decision_reason": None,
            "notes": None,
            "screening_id": None,
            "screening": None,
            "override_reason": None,
            "dose_confirmed": False,
            "exercise_delivered": True,  # the demo's plans always hold exercise, delivered after the IASTM
            "exercise_not_delivered_reason": None,
            **stamped,
            "created_by": "demo",
            **dict.fromkeys(("signed_at", "signed_by", "voided_at", "voided_by", "void_reason")),
            "addenda": _NO_ADDENDA,
        },
        "dose_steps": {"force_n": None, "stroke_count": None, **dict.fromkeys(_MEASURED_COLUMNS)},
        "measurements": {
            "version": 1,
            "joint": None,
            "motion": None,
            "side": None,
            "activity": None,
            "public_id": _PUBLIC_ID,
            "recorded_at": stamp,
            "source": None,
        },
        "adverse_responses": {
            "note": None,
            "version": 1,
            "resolved_where": None,
            "resolution_note": None,
            "public_id": _PUBLIC_ID,
            "recorded_at": stamp,
        },
    }


def _insert_sql(dialect: Any, name: str, columns: tuple[str, ...], constants: dict[str, Any]) -> str:
    """`INSERT INTO name (...) VALUES (...)` compiled by Core for `dialect`: positional parameters for the
    varying columns, in column order, and SQL literals (rendered by the dialect) for `constants`."""
    from sqlalchemy import bindparam, column, insert, literal, literal_column, null, table

    def rendered(value: Any) -> Any:
        if value is None:
            return null()
        if value is _PUBLIC_ID:  # a fresh public id per row, made by the database
            return literal_column(public_id_sql(dialect.name))
        if isinstance(value, str) and "%" in value:  # would need escaping for psycopg's format style
            raise ValueError(f"bulk constant of {name} must not contain '%': {value!r}")
        return literal_column(
            str(literal(value).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        )

    values = {c: rendered(constants[c]) if c in constants else bindparam(c) for c in columns}
    sql = str(insert(table(name, *(column(c) for c in columns))).values(values).compile(dialect=dialect))
    if not dialect.positional:  # named style (psycopg: %(x)s) → positional %s, in column order
        for c in columns:
            sql = sql.replace(f"%({c})s", "%s")
    return sql


def _rows(
    chunk: DemoChunk,
    clinician_ids: list[int],
    next_id: dict[str, int],
    out: dict[str, list[tuple[Any, ...]]],
) -> None:
    """Append the chunk's rows to `out`, assigning ids: tuples of stored values in `_COLUMNS` order, without
    the columns `_constants` fixes for the whole load.

    Column-wise: each column is one list (codes looked up with numpy fancy indexing into object arrays), and
    `zip` makes the row tuples in C — no Python code runs per row.
    """
    import numpy as np

    from strigil.catalog import load_catalog

    def lookup(values: tuple[Any, ...] | list[Any], index: Any) -> list[Any]:
        table = np.empty(len(values), dtype=object)
        table[:] = list(values)
        return list(table[index].tolist())

    tissue = {c.code: c.tissue for c in load_catalog().conditions.values()}
    resolved = chunk.s_day[chunk.a_session] + np.maximum(chunk.a_resolved_days, 0)
    lo = int(chunk.onset_day.min())
    hi = max(int(chunk.s_day.max()), int(resolved.max(initial=0)), int(chunk.opened_day.max())) + 1
    text = np.array([day(k).isoformat() for k in range(lo, hi)], dtype=object)
    pid0, eid0, sid0 = next_id["patients"], next_id["episodes"], next_id["treatment_sessions"]
    n, n_s, n_t = chunk.size, len(chunk.s_patient), len(chunk.t_session)
    n_m, n_a = len(chunk.m_session), len(chunk.a_session)
    opened = text[chunk.opened_day - lo].tolist()
    # JSON text per distinct planned care (what follows the instrument work depends on it alone).
    care_text = {care: json_text(list(care)) for care in set(chunk.care)}
    first_with = {care: i for i, care in reversed(list(enumerate(chunk.care)))}
    followed_text = {care: json_text(chunk.followed_by(i)) for care, i in first_with.items()}
    out["patients"].extend(
        zip(
            range(pid0, pid0 + n),
            [chunk.code(i) for i in range(n)],
            chunk.birth_year.tolist(),
            lookup(("female", "male"), chunk.sex),
            strict=True,
        )
    )
    out["episodes"].extend(
        zip(
            range(eid0, eid0 + n),
            range(pid0, pid0 + n),
            chunk.condition,
            chunk.region,
            lookup(SIDES, chunk.side),
            [tissue[c] for c in chunk.condition],
            text[chunk.onset_day - lo].tolist(),
            opened,
            [care_text[care] for care in chunk.care],
            opened,
            strict=True,
        )
    )
    s_patient = chunk.s_patient
    warm = chunk.s_warm_minutes
    warm_minutes = warm.astype(object)
    warm_minutes[warm == 0] = None  # 0 = no warm-up
    session_ids = range(sid0, sid0 + n_s)
    out["treatment_sessions"].extend(
        zip(
            session_ids,
            (eid0 + s_patient).tolist(),
            lookup(clinician_ids, chunk.clinician[s_patient]),
            chunk.s_number.tolist(),
            text[chunk.s_day - lo].tolist(),
            lookup((None, "cardiovascular"), (warm != 0).astype(np.int64)),
            warm_minutes.tolist(),
            lookup(EMOLLIENTS, chunk.s_emollient),
            lookup([followed_text[care] for care in chunk.care], s_patient),
            lookup(TOLERANCES, chunk.s_tolerance),
            lookup(DECISIONS, chunk.s_decision),
            lookup((None, _ASKED), (chunk.s_number > 1).astype(np.int64)),  # follow_up
            lookup((None, True), (chunk.s_number > 1).astype(np.int64)),  # follow_up_asked
            strict=True,
        )
    )
    step_patient = s_patient[chunk.t_session]
    angle = chunk.t_angle.astype(object)
    angle[np.isnan(chunk.t_angle)] = None  # nan = not recorded
    instruments = np.empty((len(INSTRUMENTS), 3), dtype=object)
    instruments[:, :] = [list(row) for row in INSTRUMENTS]
    tid0 = next_id["dose_steps"]
    out["dose_steps"].extend(
        zip(
            range(tid0, tid0 + n_t),
            (sid0 + chunk.t_session).tolist(),
            chunk.t_position.tolist(),
            lookup(chunk.region, step_patient),
            lookup(SIDES, chunk.side[step_patient]),
            instruments[chunk.clinician[step_patient], (chunk.t_position - 1) % 3].tolist(),
            lookup(EDGES, chunk.t_edge),
            lookup(STROKES, chunk.t_stroke),
            angle.tolist(),
            lookup(DIRECTIONS, chunk.t_direction),
            lookup(PRESSURES, chunk.t_pressure),
            chunk.t_duration.tolist(),
            lookup(POSITIONS, chunk.t_posture),
            lookup((None, "active range of motion"), chunk.t_active.astype(np.int64)),
            strict=True,
        )
    )
    mid0 = next_id["measurements"]
    out["measurements"].extend(
        zip(
            range(mid0, mid0 + n_m),
            (eid0 + s_patient[chunk.m_session]).tolist(),
            (sid0 + chunk.m_session).tolist(),
            chunk.m_measure,
            chunk.m_value.tolist(),
            lookup(TIMINGS, chunk.m_timing),
            text[chunk.s_day[chunk.m_session] - lo].tolist(),
            strict=True,
        )
    )
    aid0 = next_id["adverse_responses"]
    a_day = chunk.s_day[chunk.a_session]
    resolved_text = text[resolved - lo].astype(object)
    resolved_text[chunk.a_resolved_days < 0] = None  # -1 = not resolved
    out["adverse_responses"].extend(
        zip(
            range(aid0, aid0 + n_a),
            (eid0 + s_patient[chunk.a_session]).tolist(),
            (sid0 + chunk.a_session).tolist(),
            lookup(ADVERSE, chunk.a_kind),
            lookup(SEVERITIES, chunk.a_severity),
            text[a_day - lo].tolist(),
            resolved_text.tolist(),
            lookup(chunk.region, s_patient[chunk.a_session]),
            strict=True,
        )
    )
    next_id["patients"] += n
    next_id["episodes"] += n
    next_id["treatment_sessions"] += n_s
    next_id["dose_steps"] += n_t
    next_id["measurements"] += n_m
    next_id["adverse_responses"] += n_a
