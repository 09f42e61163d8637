"""Benchmark: a whole demo clinic out as FHIR Bulk Data (NDJSON) and into an empty database, lossless.

Each phase runs as its own `strigil` process, timed from outside, its resident memory sampled every 50 ms
(peak) and its CPU time read last (the helper `_phase` of `bench_fhir_clinic.py`). Phases per run:

- `strigil fhir export --bulk DIR` (a sample of every resource type validated against R4, the default),
- the same with `--validation all` (what full validation costs),
- `strigil fhir import DIR` into an empty database (sampled validation, the default),
- the same with `--validation all`.

After the first run: row counts of every table equal, and the analysis export (`export_rows`, the long
table of `strigil export csv`) of source and target identical, cell for cell. The load average
(`/proc/loadavg`) is recorded after each phase: the machine is shared, so wall time varies with it; CPU time
is the steadier figure.

    .venv/bin/python bench/interop/bench_fhir_bulk.py --patients 10000 --runs 3 [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_fhir_clinic import _counts, _phase

PG_SERVER = os.environ.get("STRIGIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _pg(sql: str) -> None:
    import psycopg

    dsn = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + "/test"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


class Databases:
    """Fresh databases for the bench: SQLite files, or PostgreSQL databases of its own (dropped after)."""

    def __init__(self, work: Path, postgres: bool) -> None:
        self.work, self.postgres = work, postgres
        self.made: list[str] = []

    def new(self, name: str) -> str:
        if not self.postgres:
            return f"sqlite:///{self.work / (name + '.sqlite')}"
        db = f"strigil_bulkbench_{name}_{uuid.uuid4().hex[:8]}"
        _pg(f'CREATE DATABASE "{db}"')
        self.made.append(db)
        return f"{PG_SERVER}/{db}"

    def drop(self) -> None:
        for db in self.made:
            _pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _analysis(url: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from strigil.services.export import export_rows
    from strigil.store.database import open_database
    from strigil.store.record import ClinicRow

    database = open_database(url)
    with database.unit_of_work() as db:
        clinic = db.scalar(select(ClinicRow.id).where(ClinicRow.code == "demo"))
        rows = list(export_rows(db, int(clinic or 0), key=b"the same pseudonym key, both sides"))
    database.dispose()
    return rows


def _summary(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in ("wall_s", "cpu_s", "peak_rss_mib")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="Source and targets on PostgreSQL.")
    parser.add_argument(
        "--full-runs", type=int, default=1, help="Runs that also time --validation all (the first N)."
    )
    parser.add_argument("--out", type=Path, help="Write the raw results here (JSON).")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="strigil-bulk-bench-"))
    databases = Databases(work, options.postgres)
    try:
        source = databases.new("source")
        build = _phase(
            [
                "demo",
                "--patients",
                str(options.patients),
                "--seed",
                str(options.seed),
                "--bulk",
                "--database",
                source,
            ],
            f"sqlite:///{work / 'clinic-default.sqlite'}",  # demo refuses the clinic's own database
        )
        phases: dict[str, list[dict[str, Any]]] = {
            "export (sampled validation)": [],
            "export (every resource validated)": [],
            "import (sampled validation)": [],
            "import (every resource validated)": [],
        }
        verdict: dict[str, Any] = {}
        for run in range(options.runs):
            out = work / f"bulk-{run}"
            phases["export (sampled validation)"].append(
                {**_phase(["fhir", "export", "--bulk", str(out)], source), "load": _load()}
            )
            if run < options.full_runs:
                phases["export (every resource validated)"].append(
                    {
                        **_phase(
                            ["fhir", "export", "--bulk", str(work / f"full-{run}"), "--validation", "all"],
                            source,
                        ),
                        "load": _load(),
                    }
                )
            target = databases.new(f"target{run}")
            phases["import (sampled validation)"].append(
                {**_phase(["fhir", "import", str(out), "--json"], target), "load": _load()}
            )
            if run < options.full_runs:
                full_target = databases.new(f"full{run}")
                phases["import (every resource validated)"].append(
                    {
                        **_phase(["fhir", "import", str(out), "--validation", "all", "--json"], full_target),
                        "load": _load(),
                    }
                )
            if run == 0:
                left, right = _analysis(source), _analysis(target)
                size = sum(p.stat().st_size for p in out.glob("*.ndjson"))
                verdict = {
                    "counts": _counts(target),
                    "counts_equal": _counts(source) == _counts(target),
                    "analysis_rows": len(left),
                    "analysis_identical": left == right,
                    "ndjson_mib": size / 2**20,
                    "resources": sum(1 for p in out.glob("*.ndjson") for _ in p.open("rb")),
                }
                print(json.dumps(verdict, indent=2), flush=True)
            for name, runs in phases.items():
                if runs:
                    print(f"run {run}: {name}: {runs[-1]}", flush=True)
        result = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
            "database": "postgresql" if options.postgres else "sqlite",
            "patients": options.patients,
            "build": build,
            "phases": phases,
            "medians": {name: _summary(runs) for name, runs in phases.items() if runs},
            "verdict": verdict,
        }
        print(json.dumps(result["medians"], indent=2))
        if options.out:
            options.out.write_text(json.dumps(result, indent=2))
    finally:
        databases.drop()


if __name__ == "__main__":
    main()
