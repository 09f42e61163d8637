"""Web load benchmark: a Strigil server in one process, 50 concurrent clients in another, on loopback.

    .venv/bin/python bench/web/bench_web.py [--patients 100000] [--clients 50] [--seconds 60]
        [--max-requests 200000] [--backends sqlite,postgresql] [--workers N] [--runs 3] [--think-ms 1000]

1. Build (or reuse) the demo clinic with the record's bulk generator (`strigil demo --bulk`), on SQLite
   (a file under bench/out/web/) and on PostgreSQL (a database of its own, `strigil_bench_web`).
2. Add a clinician account, a sign-in session (cookie) and a read/write API token.
3. Start `uvicorn strigil.web.app:create_app` as a separate process on a free loopback port: one worker
   process on SQLite (as `strigil serve` runs; SQLite has one writer), two on PostgreSQL, unless --workers.
4. Drive it from this process: `--clients` concurrent clients for `--seconds` (stopping earlier at
   `--max-requests`). Each client is a clinician at a workstation: it pauses between requests
   (exponential, mean `--think-ms`, default 1 s, already far busier than a treatment table) and picks
   a request from a fixed mix — pages (dashboard, patient search, patient,
   episode), API reads (patient search, patient, episode) and session writes (a whole session with two dose
   steps and pain before/after, through the API). Every request is audited by the server, as in production.
5. Print p50/p95/p99 per kind (as the client saw it, and inside the server from its Server-Timing header),
   the errors (any status other than 2xx/3xx, or a transport error) and the slowest request of each
   second, as JSON. `--think-ms 0` sends requests back to back: that measures capacity (throughput at
   saturation), where latency is the queue, 50 / throughput.

Targets (issue 5): p95 ≤ 100 ms for pages and API reads, ≤ 150 ms for session writes, zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "web"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DATABASE = "strigil_bench_web"
PASSWORD = "benchmark passphrase only"
# Share of each kind of request in the mix (clinic-like: mostly reads, one write in ten).
# The dashboard is its own kind: it scans the last four weeks' sessions (no index on session date yet).
MIX = (("page", 0.40), ("dashboard", 0.05), ("api_read", 0.45), ("session_write", 0.10))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_url(create: bool) -> str:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone()
        if create and not exists:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")
    return f"{PG_SERVER}/{PG_DATABASE}"


def build(url: str, patients: int, seed: int) -> dict[str, Any]:
    """The demo clinic (built once per database, reused later), a clinician account, cookie and token."""
    from sqlalchemy import func, select

    from strigil.services import accounts
    from strigil.services.demo import CLINIC_CODE, write_bulk
    from strigil.store.accounts import Account
    from strigil.store.database import open_database
    from strigil.store.record import ClinicianRow, ClinicRow, EpisodeRow, PatientRow

    database = open_database(url)
    with database.unit_of_work() as db:
        clinic_id = db.scalar(select(ClinicRow.id).where(ClinicRow.code == CLINIC_CODE))
        have = (
            0
            if clinic_id is None
            else db.scalar(select(func.count(PatientRow.id)).where(PatientRow.clinic_id == clinic_id))
        )
    build_seconds = None
    if have != patients:
        if have:
            raise SystemExit(
                f"{url} holds a demo clinic of {have} patients; remove it or use --patients {have}"
            )
        start = time.perf_counter()
        clinic_id = write_bulk(database, patients, seed)
        build_seconds = round(time.perf_counter() - start, 1)
    with database.unit_of_work() as db:
        account = db.scalar(select(Account).where(Account.username == "bench-clinician"))
        if account is None:
            account = accounts.create_account(
                db,
                username="bench-clinician",
                display_name="Bench",
                role="clinician",
                clinic_id=clinic_id,
                password=PASSWORD,
            )
        cookie, _ = accounts.start_login_session(db, account, "127.0.0.1")
        login = accounts.resolve_login_session(db, cookie)
        assert login is not None
        token = accounts.issue_api_token(db, account, "bench", ["read", "write"], 1).secret
        clinician = db.scalar(select(ClinicianRow.code).where(ClinicianRow.clinic_id == clinic_id).limit(1))
        codes = list(
            db.scalars(
                select(PatientRow.code)
                .where(PatientRow.clinic_id == clinic_id)
                .order_by(func.random())
                .limit(2000)
            )
        )
        episodes = [
            (e, r)
            for e, r in db.execute(
                select(EpisodeRow.id, EpisodeRow.region)
                .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                .where(PatientRow.clinic_id == clinic_id)
                .order_by(func.random())
                .limit(2000)
            )
        ]
        open_episodes = [
            (e, r)
            for e, r in db.execute(
                select(EpisodeRow.id, EpisodeRow.region)
                .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                .where(
                    PatientRow.clinic_id == clinic_id,
                    EpisodeRow.closed_on.is_(None),
                    EpisodeRow.opened_on <= dt.date.today(),
                )
                .order_by(func.random())
                .limit(2000)
            )
        ]
    database.dispose()
    return {
        "cookie": cookie,
        "csrf": login[1].csrf_token,
        "token": token,
        "clinician": clinician,
        "codes": codes,
        "episodes": episodes,
        "open_episodes": open_episodes,
        "build_seconds": build_seconds,
    }


def _session(episode_id: int, region: str, clinician: str) -> dict[str, Any]:
    step = {
        "region": region,
        "side": "left",
        "instrument": "graston_set",
        "stroke": "sweep",
        "angle_deg": 45,
        "direction": "along",
        "pressure": "moderate",
        "duration_s": 90,
    }
    return {
        "clinician": clinician,
        "date": dt.date.today().isoformat(),
        "steps": [step, {**step, "stroke": "strum", "direction": "across", "duration_s": 60}],
        "measurements": [
            {"measure": "nprs", "timing": "pre", "value": 6},
            {"measure": "nprs", "timing": "post", "value": 4},
        ],
        "tolerance": "well_tolerated",
    }


def _request(kind: str, rng: random.Random, data: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    code = rng.choice(data["codes"])
    episode, _ = rng.choice(data["episodes"])
    if kind == "page":
        path = rng.choice([f"/patients?q={code[:-1]}", f"/patients/{code}", f"/episodes/{episode}"])
        return "GET", path, {}
    if kind == "dashboard":
        return "GET", "/", {}
    if kind == "api_read":
        path = rng.choice(
            [f"/api/v1/patients?q={code[:-1]}", f"/api/v1/patients/{code}", f"/api/v1/episodes/{episode}"]
        )
        return "GET", path, {}
    open_episode, region = rng.choice(data["open_episodes"])
    return (
        "POST",
        f"/api/v1/episodes/{open_episode}/sessions",
        {"json": _session(open_episode, region, data["clinician"])},
    )


async def drive(
    base: str,
    data: dict[str, Any],
    clients: int,
    seconds: float,
    max_requests: int,
    seed: int,
    think_ms: float = 0.0,
) -> dict[str, Any]:
    """Run the clients; latencies in ms per kind, errors with their first messages."""
    latencies: dict[str, list[float]] = {k: [] for k, _ in MIX}
    server_ms: dict[str, list[float]] = {k: [] for k, _ in MIX}
    timeline: list[tuple[float, float]] = []  # (seconds since start, latency ms) of every request
    errors: dict[str, int] = {k: 0 for k, _ in MIX}
    samples: list[str] = []
    issued = 0
    kinds, weights = zip(*MIX, strict=True)
    # Every client is built before the clock starts: an httpx client loads its TLS trust store when made
    # (tens of ms each), and fifty of them inside the measured window stalled the first second.
    https = [
        httpx.AsyncClient(
            base_url=base, cookies={"strigil_session": data["cookie"]}, timeout=30, follow_redirects=False
        )
        for _ in range(clients)
    ]
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal issued
        rng = random.Random(seed * 1000 + n)
        async with https[n] as http:
            while time.perf_counter() < deadline and issued < max_requests:
                if think_ms:
                    # A person reads the page before the next click: exponential pauses, mean think_ms.
                    await asyncio.sleep(rng.expovariate(1000.0 / think_ms))
                    if time.perf_counter() >= deadline:
                        break
                issued += 1
                kind = rng.choices(kinds, weights)[0]
                method, path, extra = _request(kind, rng, data)
                headers = (
                    {"Authorization": f"Bearer {data['token']}"}
                    if path.startswith("/api/")
                    else {"X-CSRF-Token": data["csrf"]}
                )
                start = time.perf_counter()
                try:
                    response = await http.request(method, path, headers=headers, **extra)
                    ok = response.status_code < 400
                    timing = response.headers.get("server-timing", "")
                    if timing.startswith("app;dur="):
                        server_ms[kind].append(float(timing[8:]))
                    note = f"{method} {path}: {response.status_code} {response.text[:120]}"
                except httpx.HTTPError as exc:
                    ok, note = False, f"{method} {path}: {type(exc).__name__} {exc}"
                latencies[kind].append((time.perf_counter() - start) * 1000)
                timeline.append((start - started, latencies[kind][-1]))
                if not ok:
                    errors[kind] += 1
                    if len(samples) < 5:
                        samples.append(note)

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.perf_counter() - started

    def pct(values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "wall_s": round(wall, 1),
        "requests": sum(len(v) for v in latencies.values()),
        "throughput_rps": round(sum(len(v) for v in latencies.values()) / wall, 1),
        "kinds": {
            k: {
                "n": len(v),
                "p50_ms": pct(v, 0.50),
                "p95_ms": pct(v, 0.95),
                "p99_ms": pct(v, 0.99),
                "mean_ms": round(statistics.fmean(v), 1) if v else None,
                "errors": errors[k],
                # time inside the server (arrival to first byte, from its Server-Timing header)
                "server_p50_ms": pct(server_ms[k], 0.50),
                "server_p95_ms": pct(server_ms[k], 0.95),
            }
            for k, v in latencies.items()
        },
        "error_samples": samples,
        # the slowest request of each second, to show stalls and warm-up
        "worst_ms_per_second": [
            round(max((ms for t, ms in timeline if int(t) == second), default=0.0), 1)
            for second in range(int(wall) + 1)
        ],
    }


def serve(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server as its own process; returns it and its base address once it answers."""
    port = _free_port()
    env = {**os.environ, "STRIGIL_DATABASE_URL": url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "strigil.web.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--workers", type=int, default=0, help="server processes (0: 1 on SQLite, 2 on PostgreSQL)"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--think-ms", type=float, default=1000.0)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), {platform.python_version()}",
        "patients": args.patients,
        "clients": args.clients,
        "seconds": args.seconds,
        "workers": args.workers or "1 on SQLite, 2 on PostgreSQL",
        "think_ms": args.think_ms,
        "backends": {},
    }
    for backend in args.backends.split(","):
        url = (
            f"sqlite:///{OUT / f'demo-{args.patients}.sqlite'}"
            if backend == "sqlite"
            else _pg_url(create=True)
        )
        data = build(url, args.patients, args.seed)
        runs = []
        for run in range(args.runs):
            process, base = serve(url, args.workers or (1 if backend == "sqlite" else 2))
            try:
                result = asyncio.run(
                    drive(
                        base,
                        data,
                        args.clients,
                        args.seconds,
                        args.max_requests,
                        args.seed + run,
                        args.think_ms,
                    )
                )
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            runs.append(result)
            print(json.dumps({"backend": backend, "run": run, **result}), file=sys.stderr, flush=True)
        report["backends"][backend] = {"build_s": data["build_seconds"], "runs": runs}
        print(json.dumps({backend: report["backends"][backend]}, indent=1), file=sys.stderr)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
