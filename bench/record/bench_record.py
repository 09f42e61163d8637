"""Clinical-record benchmark: build the 100,000-patient demo clinic, then time single session writes.

    .venv/bin/python bench/record/bench_record.py [--patients 100000] [--writes 300] [--runs 3]

1. Build: `strigil demo --bulk` (services.demo.write_bulk) into a fresh SQLite file; wall and CPU time.
2. Session writes: one whole session per unit of work (validation, catalogue checks, steps, measures, the
   decision aid's recommendation, commit) through `services.sessions.record_session`, into random episodes
   of the built clinic; p50/p95/p99 in ms. The same on PostgreSQL (fresh database, smaller bulk clinic).
3. Peer, in the same run: the same session's rows written with plain DBAPI INSERTs in one transaction
   (no validation, no ORM, no recommendation) — the floor a record layer cannot beat; reported as a ratio.

Prints a JSON summary (medians over runs) for bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from strigil.services.demo import write_bulk
from strigil.services.sessions import record_session
from strigil.store.database import Database, open_database
from strigil.store.record import ClinicRow, EpisodeRow

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
TODAY = dt.date(2026, 1, 15)  # after every demo session; fixed so runs compare
# This process's CPU time per service write (wall time also includes waiting for a core on a busy machine).
CPU_MS: list[float] = []


def session_doc(episode_id: int, rng: random.Random) -> dict[str, Any]:
    """A realistic session: two dose steps, NPRS before and after, one follow-up."""
    return {
        "episode_id": episode_id,
        "clinician": "c01",
        "date": TODAY.isoformat(),
        "warm_up": {"kind": "cardiovascular", "minutes": 5},
        "emollient": "lotion",
        "steps": [
            {
                "region": "knee",
                "side": "left",
                "instrument": "graston_set",
                "edge": "convex",
                "stroke": "sweep",
                "angle_deg": 45,
                "direction": "along",
                "pressure": "moderate",
                "duration_s": 90,
            },
            {
                "region": "knee",
                "side": "left",
                "instrument": "graston_set",
                "stroke": "strum",
                "angle_deg": 70,
                "direction": "across",
                "pressure": "light",
                "duration_s": 60,
            },
        ],
        "followed_by": [{"kind": "strengthening", "minutes": 15}],
        "measurements": [
            {"measure": "nprs", "value": rng.randrange(4, 8), "timing": "pre"},
            {"measure": "nprs", "value": rng.randrange(1, 4), "timing": "post"},
        ],
        "tolerance": "well_tolerated",
        "clinician_decision": "continue",
    }


def percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3)}


def time_service_writes(db: Database, writes: int, seed: int) -> list[float]:
    from sqlalchemy import func, select

    rng = random.Random(seed)
    with db.unit_of_work() as s:
        clinic_id = s.scalar(select(ClinicRow.id).where(ClinicRow.code == "demo"))
        n_episodes = s.scalar(select(func.count()).select_from(EpisodeRow)) or 0
        first = s.scalar(select(func.min(EpisodeRow.id))) or 1
    assert clinic_id is not None and n_episodes
    out = []
    for _ in range(writes):
        doc = session_doc(first + rng.randrange(n_episodes), rng)
        t, c = time.perf_counter(), time.process_time()
        with db.unit_of_work() as s:
            record_session(s, clinic_id, doc, today=TODAY)
        out.append((time.perf_counter() - t) * 1000)
        CPU_MS.append((time.process_time() - c) * 1000)
    return out


def time_raw_writes(db: Database, writes: int, seed: int) -> list[float]:
    """The peer: the same rows through plain DBAPI INSERTs, one transaction each."""
    rng = random.Random(seed)
    sqlite = db.engine.dialect.name == "sqlite"
    ph = "?" if sqlite else "%s"
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT min(id), count(*) FROM episodes")
        first, n_episodes = cur.fetchone()
        cur.execute("SELECT min(id) FROM clinicians")
        clinician = cur.fetchone()[0]
        raw.commit()
        out = []
        for _ in range(writes):
            episode = first + rng.randrange(n_episodes)
            t = time.perf_counter()
            cur.execute(
                f"SELECT coalesce(max(number), 0) + 1 FROM treatment_sessions WHERE episode_id = {ph}",
                (episode,),
            )
            number = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO treatment_sessions (episode_id, clinician_id, number, date, "
                "warm_up_kind, warm_up_minutes, emollient, followed_by, tolerance, clinician_decision, "
                f"version, created_at, created_by) VALUES ({', '.join([ph] * 13)})"
                + ("" if sqlite else " RETURNING id"),
                (
                    episode,
                    clinician,
                    number,
                    TODAY.isoformat(),
                    "cardiovascular",
                    5.0,
                    "lotion",
                    '[{"kind": "strengthening", "minutes": 15}]',
                    "well_tolerated",
                    "continue",
                    1,
                    dt.datetime.now(dt.UTC).isoformat(),
                    "",
                ),
            )
            sid = cur.lastrowid if sqlite else cur.fetchone()[0]
            for pos, (stroke, angle) in enumerate((("sweep", 45.0), ("strum", 70.0)), start=1):
                cur.execute(
                    "INSERT INTO dose_steps (session_id, position, region, side, instrument, stroke, "
                    f"angle_deg, direction, pressure, duration_s) VALUES ({', '.join([ph] * 10)})",
                    (sid, pos, "knee", "left", "graston_set", stroke, angle, "along", "moderate", 90),
                )
            for value, timing in ((rng.randrange(4, 8), "pre"), (rng.randrange(1, 4), "post")):
                cur.execute(
                    "INSERT INTO measurements (episode_id, session_id, measure, value, timing, taken_on, "
                    f"version) VALUES ({', '.join([ph] * 7)})",
                    (episode, sid, "nprs", float(value), timing, TODAY.isoformat(), 1),
                )
            raw.commit()
            out.append((time.perf_counter() - t) * 1000)
        return out
    finally:
        raw.close()


def pg_database() -> tuple[str, str] | None:
    import psycopg

    name = f"strigil_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/test", autocommit=True, connect_timeout=3
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL unreachable, skipped: {exc}", file=sys.stderr)
        return None
    return f"{PG_SERVER}/{name}", name


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--pg-patients", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--build-runs", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite-writes", action="store_true", help="only build on SQLite")
    parser.add_argument(
        "--reuse", type=Path, help="time writes on this existing clinic file instead of building"
    )
    args = parser.parse_args()

    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}",
        "patients": args.patients,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    tmp = Path(tempfile.mkdtemp(prefix="strigil-bench-"))
    builds, build_cpu, sizes = [], [], {}
    for run in range(0 if args.reuse else args.build_runs):
        path = tmp / f"clinic{run}.sqlite"
        db = open_database(f"sqlite:///{path}")
        t, c = time.perf_counter(), time.process_time()
        write_bulk(db, args.patients, seed=1)
        builds.append(time.perf_counter() - t)
        build_cpu.append(time.process_time() - c)
        with db.engine.connect() as conn:
            for table in (
                "patients",
                "treatment_sessions",
                "dose_steps",
                "measurements",
                "adverse_responses",
            ):
                sizes[table] = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
        print(f"build run {run + 1}: {builds[-1]:.1f} s", file=sys.stderr)
        if run + 1 < args.build_runs:
            db.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    if args.reuse:
        db = open_database(f"sqlite:///{args.reuse}")
        results["reused_clinic"] = str(args.reuse)
    if builds:
        results["sqlite_build_s"] = {
            "runs": [round(b, 1) for b in builds],
            "median": round(statistics.median(builds), 1),
            "cpu_s_of_this_process": [round(c, 1) for c in build_cpu],
        }
    results["rows"] = sizes

    def write_runs(database: Database, label: str) -> None:
        service, peer = [], []
        CPU_MS.clear()
        for run in range(args.runs):
            service.append(percentiles(time_service_writes(database, args.writes, seed=run)))
            peer.append(percentiles(time_raw_writes(database, args.writes, seed=100 + run)))
            print(f"{label} run {run + 1}: service {service[-1]}, raw DBAPI {peer[-1]}", file=sys.stderr)
        med = {k: round(statistics.median(r[k] for r in service), 3) for k in ("p50", "p95", "p99")}
        med_peer = {k: round(statistics.median(r[k] for r in peer), 3) for k in ("p50", "p95", "p99")}
        results[f"{label}_session_write_ms"] = {
            "service": med,
            "raw_dbapi_peer": med_peer,
            "ratio_service_over_peer": {k: round(med[k] / med_peer[k], 2) for k in med},
            "runs": args.runs,
            "writes_per_run": args.writes,
            "service_cpu_ms_all_runs": percentiles(CPU_MS),
        }

    if not args.no_sqlite_writes:
        write_runs(db, "sqlite")
    db.dispose()
    if not args.no_postgres:
        made = pg_database()
        if made is not None:
            url, name = made
            try:
                pg = open_database(url)
                t = time.perf_counter()
                write_bulk(pg, args.pg_patients, seed=1)
                results["postgres_build_s"] = {
                    "patients": args.pg_patients,
                    "seconds": round(time.perf_counter() - t, 1),
                }
                write_runs(pg, "postgres")
                pg.dispose()
            finally:
                drop_pg(name)
    shutil.rmtree(tmp, ignore_errors=True)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
