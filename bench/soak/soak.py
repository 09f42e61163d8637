"""Soak: 50 concurrent clients, mixed reads and writes, 10 minutes, on PostgreSQL over loopback.

    .venv/bin/python bench/soak/soak.py [--clients 50] [--seconds 600] [--warmup 60] [--patients 20000]
        [--max-requests 3000000] [--workers 2] [--out bench/soak/results/soak-YYYY-MM-DD.json]

1. A database of its own (`strigil_soak`) on the PostgreSQL at 127.0.0.1:5432, dropped and rebuilt each
   run with the record's bulk demo generator, plus a clinician account and a read/write API token.
2. `uvicorn strigil.web.app:create_app` in its own process (loopback, `--workers` processes).
3. `--clients` concurrent clients for `--seconds` (bounded by `--max-requests` as well): pages and API
   reads of patients and episodes, the dashboard, and writes (whole sessions with two dose steps and pain
   before/after; measurements). Each client writes only to its own episodes, as one clinician would.
4. Every 5 s the server's resident memory (RSS, all its processes) is sampled.

Pass when: zero errors (any non-2xx/3xx answer or transport error), p95 after warm-up ≤ 100 ms for
reads and ≤ 150 ms for writes (the web targets of issue 5), and RSS growth from the first to the last
minute after warm-up < 10%. The figures are written as JSON for scripts/reliability_table.py.
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
import psutil

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "soak" / "results"
SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "strigil_soak"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
READ_P95_MS, WRITE_P95_MS, RSS_GROWTH_LIMIT = 100.0, 150.0, 0.10
# Mix of requests: mostly reads, as in a clinic day; writes are one in eight.
MIX = (
    ("page", 0.35),
    ("api_read", 0.45),
    ("dashboard", 0.05),
    ("session_write", 0.10),
    ("measure_write", 0.05),
)
WRITES = {"session_write", "measure_write"}
# Mean pause between one client's requests (exponential). A client is a clinician at a workstation; one
# click a second on average is already far busier than a treatment table. --think-ms 0 measures capacity.
THINK_MS = 1000.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database() -> None:
    """Drop and create the soak's own database (never another one)."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def build(patients: int, seed: int, clients: int) -> dict[str, Any]:
    """Demo clinic, a clinician account and token, and each client's own open episodes."""
    from sqlalchemy import func, select

    from strigil.services import accounts
    from strigil.services.demo import write_bulk
    from strigil.store.database import open_database
    from strigil.store.record import ClinicianRow, EpisodeRow, PatientRow

    database = open_database(URL)
    clinic_id = write_bulk(database, patients, seed)
    with database.unit_of_work() as db:
        account = accounts.create_account(
            db, username="soak-clinician", display_name="Soak", role="clinician", clinic_id=clinic_id,
            password="soak test passphrase only",
        )  # fmt: skip
        token = accounts.issue_api_token(db, account, "soak", ["read", "write"], 1).secret
        clinician = db.scalar(select(ClinicianRow.code).where(ClinicianRow.clinic_id == clinic_id).limit(1))
        codes = list(db.scalars(select(PatientRow.code).where(PatientRow.clinic_id == clinic_id).limit(5000)))
        episodes = list(
            db.execute(
                select(EpisodeRow.id, EpisodeRow.region, EpisodeRow.closed_on, EpisodeRow.opened_on)
                .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                .where(PatientRow.clinic_id == clinic_id)
                .order_by(func.random())
                .limit(6000)
            )
        )
    database.dispose()
    today = dt.date.today()
    open_ones = [(e, r) for e, r, closed, opened in episodes if closed is None and opened <= today]
    if len(open_ones) < clients * 4:
        raise SystemExit(f"only {len(open_ones)} open episodes; use more --patients")
    own = [open_ones[i::clients] for i in range(clients)]  # disjoint: no two clients write one episode
    return {
        "token": token,
        "clinician": clinician,
        "codes": codes,
        "episodes": [e for e, *_ in episodes],
        "own": own,
    }


def serve(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "STRIGIL_DATABASE_URL": URL}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "strigil.web.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 60 s")


def rss_mb(pid: int) -> float:
    """Resident memory of the server and all its worker processes, in MB."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 1e6


def _session(region: str, clinician: str) -> dict[str, Any]:
    step = {"region": region, "side": "left", "instrument": "graston_set", "stroke": "sweep", "angle_deg": 45,
            "direction": "along", "pressure": "moderate", "duration_s": 90}  # fmt: skip
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


def _pick(
    kind: str, rng: random.Random, data: dict[str, Any], client: int
) -> tuple[str, str, dict[str, Any]]:
    code, episode = rng.choice(data["codes"]), rng.choice(data["episodes"])
    if kind == "page":
        return (
            "GET",
            rng.choice([f"/patients?q={code[:-1]}", f"/patients/{code}", f"/episodes/{episode}"]),
            {},
        )
    if kind == "api_read":
        paths = [f"/api/v1/patients?q={code[:-1]}", f"/api/v1/patients/{code}", f"/api/v1/episodes/{episode}"]
        return "GET", rng.choice(paths), {}
    if kind == "dashboard":
        return "GET", "/api/v1/dashboard", {}
    own, region = rng.choice(data["own"][client])
    if kind == "session_write":
        return "POST", f"/api/v1/episodes/{own}/sessions", {"json": _session(region, data["clinician"])}
    body = {"measure": "nprs", "value": rng.randint(0, 10), "taken_on": dt.date.today().isoformat()}
    return "POST", f"/api/v1/episodes/{own}/measurements", {"json": body}


async def drive(base: str, pid: int, data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Run the clients and the memory sampler; returns raw samples."""
    samples: list[tuple[float, str, float]] = []  # (seconds since start, kind, latency ms)
    errors: list[str] = []
    rss: list[tuple[float, float]] = []
    count = 0
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]

    headers = {"Authorization": f"Bearer {data['token']}"}
    # Clients are made before the clock runs (each loads a TLS trust store, tens of ms).
    https = [
        httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=httpx.Limits(max_connections=1))
        for _ in range(args.clients)
    ]

    async def client(n: int) -> None:
        nonlocal count
        rng = random.Random(args.seed * 1000 + n)
        async with https[n] as http:
            while time.monotonic() < end and count < args.max_requests:
                if args.think_ms:
                    # A clinician reads the answer before the next click: exponential pause, mean think_ms.
                    await asyncio.sleep(rng.expovariate(1000.0 / args.think_ms))
                    if time.monotonic() >= end:
                        break
                count += 1
                kind = rng.choices(kinds, weights)[0]
                method, path, extra = _pick(kind, rng, data, n)
                t0 = time.monotonic()
                try:
                    response = await http.request(method, path, **extra)
                    ok = response.status_code < 400
                    problem = "" if ok else f"{method} {path}: {response.status_code} {response.text[:160]}"
                except httpx.HTTPError as exc:
                    problem = f"{method} {path}: {type(exc).__name__} {exc}"
                t1 = time.monotonic()
                if problem:
                    errors.append(problem)
                samples.append((t0 - start, kind, (t1 - t0) * 1000))

    async def sampler() -> None:
        while time.monotonic() < end and count < args.max_requests:
            rss.append((time.monotonic() - start, rss_mb(pid)))
            await asyncio.sleep(5)

    start = time.monotonic()
    end = start + args.seconds
    await asyncio.gather(sampler(), *(client(n) for n in range(args.clients)))
    return {"samples": samples, "errors": errors, "rss": rss, "elapsed": time.monotonic() - start}


def _pct(values: list[float], q: int) -> float:
    return (
        round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1) if len(values) > 1 else 0.0
    )


def summarise(raw: dict[str, Any], args: argparse.Namespace, build_s: float) -> dict[str, Any]:
    after = [(k, ms) for t, k, ms in raw["samples"] if t >= args.warmup]
    per_kind = {}
    for kind, _ in MIX:
        values = [ms for k, ms in after if k == kind]
        per_kind[kind] = {"n": len(values), "p50_ms": _pct(values, 50), "p95_ms": _pct(values, 95),
                          "p99_ms": _pct(values, 99)}  # fmt: skip
    reads = [ms for k, ms in after if k not in WRITES]
    writes = [ms for k, ms in after if k in WRITES]
    rss_after = [(t, mb) for t, mb in raw["rss"] if t >= args.warmup]
    first = [mb for t, mb in rss_after if t < args.warmup + 60]
    last = [mb for t, mb in rss_after if t >= raw["elapsed"] - 60]
    growth = (
        (statistics.median(last) - statistics.median(first)) / statistics.median(first)
        if first and last
        else None
    )
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()}: {os.cpu_count()} cores (shared), {platform.machine()}, "
        f"{round(psutil.virtual_memory().total / 2**30)} GiB, Python {platform.python_version()}",
        "backend": "postgresql (loopback, own database)",
        "clients": args.clients,
        "think_ms": args.think_ms,
        "seconds": round(raw["elapsed"], 1),
        "warmup_s": args.warmup,
        "workers": args.workers,
        "patients": args.patients,
        "build_s": round(build_s, 1),
        "requests": len(raw["samples"]),
        "throughput_rps": round(len(raw["samples"]) / raw["elapsed"], 1),
        "errors": len(raw["errors"]),
        "first_errors": raw["errors"][:10],
        "per_kind": per_kind,
        "reads_p95_ms": _pct(reads, 95),
        "writes_p95_ms": _pct(writes, 95),
        "rss_mb_first_minute": round(statistics.median(first), 1) if first else None,
        "rss_mb_last_minute": round(statistics.median(last), 1) if last else None,
        "rss_growth": None if growth is None else round(growth, 4),
        "rss_samples": [(round(t), round(mb, 1)) for t, mb in raw["rss"]],
    }
    result["pass"] = {
        "zero_errors": result["errors"] == 0,
        "reads_p95": result["reads_p95_ms"] <= READ_P95_MS,
        "writes_p95": result["writes_p95_ms"] <= WRITE_P95_MS,
        "rss_flat": growth is not None and growth < RSS_GROWTH_LIMIT,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--max-requests", type=int, default=3_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--think-ms", type=float, default=THINK_MS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    fresh_database()
    t0 = time.monotonic()
    data = build(args.patients, args.seed, args.clients)
    build_s = time.monotonic() - t0
    process, base = serve(args.workers)
    try:
        raw = asyncio.run(drive(base, process.pid, data, args))
    finally:
        process.terminate()
        process.wait(timeout=30)
    result = summarise(raw, args, build_s)
    out = args.out or RESULTS / f"soak-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rss_samples"}, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    sys.exit(0 if all(result["pass"].values()) else 1)


if __name__ == "__main__":
    main()
