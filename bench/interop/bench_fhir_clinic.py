"""Benchmark: a whole demo clinic exported as a FHIR R4 Bundle and imported into an empty database, lossless.

Each phase runs as its own process (`strigil ...`), timed from outside, its resident memory sampled every
50 ms (peak) and its CPU time read last before it ends. The reference in the same run is record's
`strigil export csv` of the same clinic (no other FHIR implementation is installed here to compare with).
Loss is checked after the timed phases: every table's row count, and the whole record read back from both
databases compared field by field (database ids aside).

    .venv/bin/python bench/interop/bench_fhir_clinic.py --patients 10000 --runs 1 --compare-every 10 \
        [--source sqlite:///...] [--validate-export]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STRIGIL = str(Path(sys.executable).with_name("strigil"))


def _phase(args: list[str], url: str, program: tuple[str, ...] = (STRIGIL,)) -> dict[str, float]:
    """Run one `strigil` command (or `program` with `args`); its wall seconds, CPU seconds and peak RSS (MiB,
    sampled every 50 ms)."""
    import psutil

    start = time.perf_counter()
    child = subprocess.Popen(
        [*program, *args],
        env={**os.environ, "STRIGIL_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched = psutil.Process(child.pid)
    peak, cpu = 0, 0.0
    while child.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
            times = watched.cpu_times()
            cpu = times.user + times.system
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    _, stderr = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join([*program, *args])} failed: {stderr[-2000:]}")
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak / 2**20}


def _counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from strigil.store.database import open_database
    from strigil.store.record import (
        AdverseResponseRow,
        ClinicianRow,
        DoseStepRow,
        EpisodeRow,
        MeasurementRow,
        PatientRow,
        SessionRow,
    )

    database = open_database(url)
    with database.unit_of_work() as db:
        counts = {
            t.__tablename__: db.scalar(select(func.count()).select_from(t)) or 0
            for t in (
                ClinicianRow,
                PatientRow,
                EpisodeRow,
                SessionRow,
                DoseStepRow,
                MeasurementRow,
                AdverseResponseRow,
            )
        }
    database.dispose()
    return counts


def _same_record(source: str, target: str, clinic: str, every: int) -> tuple[bool, int]:
    """Compare every `every`-th patient (by code) field by field, ids aside; returns (all equal, compared)."""
    from strigil.services.exchange import clinic_header, patient_dossiers
    from strigil.store.database import open_database

    def unkeyed(p: Any) -> Any:
        return dataclasses.replace(
            p,
            episodes=tuple(
                dataclasses.replace(
                    e,
                    key="",
                    sessions=tuple(
                        dataclasses.replace(s, record=s.record.model_copy(update={"episode_id": 1}))
                        for s in e.sessions
                    ),
                )
                for e in p.episodes
            ),
        )

    a, b = open_database(source), open_database(target)
    equal, n = True, 0
    with a.unit_of_work() as da, b.unit_of_work() as dbb:
        ida, clinic_a, clinicians_a = clinic_header(da, clinic)
        idb, clinic_b, clinicians_b = clinic_header(dbb, clinic)
        equal = clinic_a == clinic_b and clinicians_a == clinicians_b
        from sqlalchemy import select

        from strigil.store.record import PatientRow

        codes = sorted(da.scalars(select(PatientRow.code).where(PatientRow.clinic_id == ida)))[::every]
        left = {p.patient.code: unkeyed(p) for p in patient_dossiers(da, ida, patient_codes=codes)}
        for p in patient_dossiers(dbb, idb, patient_codes=codes):
            n += 1
            equal = equal and left.pop(p.patient.code, None) == unkeyed(p)
        equal = equal and not left and n == len(codes)
    a.dispose()
    b.dispose()
    return equal, n


def _lines(path: Path) -> int:
    with path.open(encoding="utf-8") as fp:
        return sum(1 for _ in fp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", help="An existing demo database URL (else one is built, untimed).")
    parser.add_argument(
        "--validate-export", action="store_true", help="Also validate every resource while exporting."
    )
    parser.add_argument(
        "--compare-every", type=int, default=1, help="Compare every n-th patient field by field."
    )
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="strigil-interop-bench-"))
    source = options.source or f"sqlite:///{work / 'source.sqlite'}"
    if not options.source:
        _phase(
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
    results: dict[str, list[dict[str, float]]] = {
        "export csv (reference)": [],
        "fhir export": [],
        "fhir import --bulk": [],
    }
    bundle = work / "clinic.json"
    verdict: dict[str, Any] = {}
    for run in range(options.runs):
        csv = work / f"clinic-{run}.csv"
        results["export csv (reference)"].append(
            _phase(["export", "csv", "--clinic", "demo", "-o", str(csv)], source)
        )
        bundle.unlink(missing_ok=True)
        validate = "--validate" if options.validate_export else "--no-validate"
        results["fhir export"].append(
            _phase(["fhir", "export", "--all", validate, "-o", str(bundle)], source)
        )
        target = f"sqlite:///{work / f'target-{run}.sqlite'}"
        # the import always checks every resource against the R4 models (its default): that is the gate
        results["fhir import --bulk"].append(
            _phase(["fhir", "import", str(bundle), "--bulk", "--json"], target)
        )
        if run == 0:
            same_counts = _counts(source) == _counts(target)
            same, compared = _same_record(source, target, "demo", options.compare_every)
            verdict = {
                "counts": _counts(target),
                "counts_equal": same_counts,
                "record_equal": same,
                "patients_compared": compared,
                "bundle_mib": bundle.stat().st_size / 2**20,
                "resources": _lines(bundle) - 2,
            }
    reference = statistics.median(r["wall_s"] for r in results["export csv (reference)"])
    machine = f"{platform.machine()}, {os.cpu_count()} cores (shared)"
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{machine}, Python {platform.python_version()}",
        "load_average_1min": os.getloadavg()[0],
        "patients": options.patients,
        "runs": options.runs,
        "export_validates_every_resource": options.validate_export,
        "import_validates_every_resource": True,
        "patients_compared_every": options.compare_every,
        "phases": {
            name: {
                "median_wall_s": statistics.median(r["wall_s"] for r in rows),
                "median_cpu_s": statistics.median(r["cpu_s"] for r in rows),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in rows),
                "wall_ratio_to_csv_export": statistics.median(r["wall_s"] for r in rows) / reference,
            }
            for name, rows in results.items()
        },
        **verdict,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
