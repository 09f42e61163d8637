"""Benchmark: one large FHIR Bundle imported in parts (streamed) beside the same Bundle planned in one part.

A demo clinic is exported as one Bundle (`strigil fhir export --all --no-validate`, about 75 KB a patient: 800
patients come near the 64 MiB cap). Each import runs as its own process, timed from outside, its resident
memory sampled every 50 ms (peak) and its CPU time read last (`bench_fhir_clinic._phase`):

- the Bundle import service (`services.bundle_import`) reading entry by entry and planning and writing a part
  at a time (the default), through the record's services and with `--bulk` (new patients, bulk inserts);
- the reference in the same run: the same service with one part as large as the bundle, which plans the whole
  bundle at once, as every Bundle import did before it streamed. Both run in this script's own process, so
  they load the same modules; ratios are streamed ÷ reference;
- `strigil fhir import FILE` as a clinic runs it (streamed; the CLI loads more modules).

After the first run: every table's row count equal across the targets and the source, and every
measurement's values equal. The load average (`/proc/loadavg`) is recorded after each phase.

    .venv/bin/python bench/interop/bench_fhir_bundle.py --patients 800 --runs 3 [--out results.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_fhir_bulk import _load, _summary
from bench_fhir_clinic import _counts, _phase


def _measurements(url: str) -> list[tuple[Any, ...]]:
    """Every measurement's values (not its ids or the time it was written), sorted."""
    from sqlalchemy import select

    from strigil.store.database import open_database
    from strigil.store.record import MeasurementRow

    database = open_database(url)
    columns = [
        MeasurementRow.measure,
        MeasurementRow.value,
        MeasurementRow.timing,
        MeasurementRow.taken_on,
        MeasurementRow.joint,
        MeasurementRow.motion,
        MeasurementRow.side,
        MeasurementRow.activity,
    ]
    with database.unit_of_work() as db:
        rows = sorted(tuple(row) for row in db.execute(select(*columns)))
    database.dispose()
    return rows


def _import(file: Path, url: str, part_bytes: int | None, bulk: bool) -> None:
    """One import through the Bundle import service, in this script's own process (so the reference and the
    streamed imports load the same modules)."""
    from strigil.services.bundle_import import import_bundle
    from strigil.store.database import open_database

    database = open_database(url)
    with database.unit_of_work() as db, file.open("rb") as source:
        done = import_bundle(db, source, part_bytes=part_bytes, bulk=bulk)
    database.dispose()
    print(json.dumps({"parts": done.parts, "patients": done.report.patients_created}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=800)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="Write the raw results here (JSON).")
    parser.add_argument("--import", dest="one", nargs=4, help=argparse.SUPPRESS)  # FILE URL PART_BYTES BULK
    options = parser.parse_args()
    if options.one:
        file, url, part_bytes, bulk = options.one
        _import(Path(file), url, None if part_bytes == "default" else int(part_bytes), bulk == "bulk")
        return
    work = Path(tempfile.mkdtemp(prefix="strigil-bundle-bench-"))
    source = f"sqlite:///{work / 'source.sqlite'}"
    demo = ["demo", "--patients", str(options.patients), "--seed", str(options.seed), "--database", source]
    build = _phase(demo, f"sqlite:///{work / 'clinic-default.sqlite'}")  # demo refuses the clinic's own
    bundle = work / "clinic.json"
    _phase(["fhir", "export", "--all", "--no-validate", "-o", str(bundle)], source)
    # name -> (part bytes, bulk) through this script, or None: the CLI as a clinic runs it
    variants: dict[str, tuple[str, str] | None] = {
        "import, planned in one part (reference)": (str(2**62), "services"),
        "import, streamed in parts": ("default", "services"),
        "import --bulk, planned in one part (reference)": (str(2**62), "bulk"),
        "import --bulk, streamed in parts": ("default", "bulk"),
        "strigil fhir import FILE (the CLI, streamed)": None,
    }
    phases: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    verdict: dict[str, Any] = {}
    for run in range(options.runs):
        targets = {name: f"sqlite:///{work / f'target-{run}-{i}.sqlite'}" for i, name in enumerate(phases)}
        for name, url in targets.items():
            variant = variants[name]
            if variant is None:
                measured = _phase(["fhir", "import", str(bundle), "--json"], url)
            else:
                program = (sys.executable, __file__, "--import")
                measured = _phase([str(bundle), url, *variant], url, program)
            phases[name].append({**measured, "load": _load()})
            print(f"run {run}: {name}: {phases[name][-1]}", flush=True)
        if run == 0:
            counts = {name: _counts(url) for name, url in targets.items()}
            values = {name: _measurements(url) for name, url in targets.items()}
            first = next(iter(targets))
            verdict = {
                "bundle_mib": bundle.stat().st_size / 2**20,
                "counts": counts[first],
                "counts_equal_to_source": all(c == _counts(source) for c in counts.values()),
                "measurements_equal": all(v == values[first] for v in values.values()),
            }
            print(json.dumps(verdict, indent=2), flush=True)
    medians = {name: _summary(runs) for name, runs in phases.items()}
    ratios = {}
    for streamed, reference in [
        ("import, streamed in parts", "import, planned in one part (reference)"),
        ("import --bulk, streamed in parts", "import --bulk, planned in one part (reference)"),
    ]:
        ratios[streamed] = {k: medians[streamed][k] / medians[reference][k] for k in medians[streamed]}
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "database": "sqlite",
        "patients": options.patients,
        "build": build,
        "phases": phases,
        "medians": medians,
        "ratio_to_reference": ratios,
        "verdict": verdict,
    }
    print(json.dumps({"medians": medians, "ratio_to_reference": ratios}, indent=2))
    if options.out:
        options.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
