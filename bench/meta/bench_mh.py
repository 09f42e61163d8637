"""Mantel–Haenszel meta-analyses: strigil against metafor's rma.mh, on the same data, in one run.

Target: 1,000 Mantel–Haenszel analyses of k = 20 trials (odds ratio, with the CMH, Breslow–Day and
Tarone tests and Cochran's Q) at least 20× faster than `rma.mh`, with equal results.

Data (seeded): per trial, arm sizes n ~ U{20, …, 200}, control risk p₂ ~ U(0.02, 0.20) (sparse: zero
cells and the odd trial without events occur), true log odds ratio θᵢ ~ N(−0.3, 0.3²), events binomial.
strigil fits all 1,000 analyses in one vectorised pass (`rma_mh_batch`); its one-by-one `rma_mh` loop is
timed too. metafor loops `rma.mh` in one R process (`bench/meta/metafor_mh_bench.R`), timed in-process.

Run from the repository root:  .venv/bin/python bench/meta/bench_mh.py [--quick]
Prints medians of several runs, the ratios, and the largest relative difference from metafor.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20261202


def simulate(n_sets: int, k: int, seed: int = SEED) -> tuple[np.ndarray, ...]:
    """(k × n_sets) cells ai, bi, ci, di of sparse two-arm trials."""
    rng = np.random.default_rng(seed)
    n1 = rng.integers(20, 201, size=(k, n_sets))
    n2 = rng.integers(20, 201, size=(k, n_sets))
    p2 = rng.uniform(0.02, 0.20, size=(k, n_sets))
    theta = rng.normal(-0.3, 0.3, size=(k, n_sets))
    p1 = 1 / (1 + np.exp(-(np.log(p2 / (1 - p2)) + theta)))
    a = rng.binomial(n1, p1)
    c = rng.binomial(n2, p2)
    return tuple(x.astype(float) for x in (a, n1 - a, c, n2 - c))


def median_time(fn: Callable[[], Any], reps: int) -> tuple[float, float, list[float]]:
    walls, cpus = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), walls


def run_metafor(cells: tuple[np.ndarray, ...], reps: int, tmp: Path) -> dict[str, Any] | None:
    sets = tmp / "sets.csv"
    a, b, c, d = cells
    with sets.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", "ai", "bi", "ci", "di"])
        for j in range(a.shape[1]):
            for i in range(a.shape[0]):
                w.writerow([j, int(a[i, j]), int(b[i, j]), int(c[i, j]), int(d[i, j])])
    out = tmp / "metafor.json"
    try:
        subprocess.run(["Rscript", str(HERE / "metafor_mh_bench.R"), str(sets), str(out), str(reps)],
                       check=True, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"metafor not run: {exc}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(out.read_text())
    for key in ("seconds", "cpu"):
        if not isinstance(result[key], list):
            result[key] = [result[key]]
    return result


def main() -> None:
    from strigil.meta import rma_mh, rma_mh_batch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke test)")
    args = parser.parse_args()
    reps = 3 if args.quick else 7
    n_sets, k = 1000, 20
    print(f"# Mantel–Haenszel benchmark — {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
          f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    cells = simulate(n_sets, k)
    a, b, c, d = cells
    zero_tables = int((((a == 0) & (c == 0)) | ((b == 0) & (d == 0))).sum())
    empty_arms = int((a == 0).sum() + (c == 0).sum())
    print(f"{n_sets:,} analyses of k = {k} trials (seed {SEED}); {empty_arms:,} arms without events, "
          f"{zero_tables} trials without events in either arm")

    def batch() -> Any:
        return rma_mh_batch(*cells, measure="OR")

    def loop() -> list[Any]:
        return [rma_mh(a[:, j], b[:, j], c[:, j], d[:, j], measure="OR") for j in range(n_sets)]

    t_batch, c_batch, runs = median_time(batch, reps)
    t_loop, c_loop, _ = median_time(loop, 3)
    ours = batch()
    print(f"\nstrigil rma_mh_batch  {t_batch * 1e3:8.1f} ms wall, CPU {c_batch * 1e3:8.1f} ms "
          f"(median of {reps}; runs {[round(r * 1e3, 1) for r in runs]})")
    print(f"strigil rma_mh loop   {t_loop * 1e3:8.1f} ms wall, CPU {c_loop * 1e3:8.1f} ms (median of 3)")
    with tempfile.TemporaryDirectory() as tmp:
        mf = run_metafor(cells, 3 if args.quick else 5, Path(tmp))
    if mf is None:
        return
    t_mf, c_mf = statistics.median(mf["seconds"]), statistics.median(mf["cpu"])
    print(f"metafor {mf['metafor']} rma.mh loop {t_mf * 1e3:8.1f} ms wall, CPU {c_mf * 1e3:8.1f} ms "
          f"(median of {len(mf['seconds'])}; runs {mf['seconds']})")
    print(f"  → batch is {t_mf / t_batch:6.1f}× faster (wall), {c_mf / c_batch:6.1f}× (CPU); "
          f"the one-by-one loop {t_mf / t_loop:5.1f}× (wall)")
    names = ("estimate", "se", "ci_lb", "Q", "I2", "cmh", "breslow_day", "tarone")
    worst = 0.0
    for name, theirs in zip(names, mf["estimates"], strict=True):
        theirs = np.array([np.nan if x is None else x for x in theirs], dtype=float)
        mine = np.asarray(getattr(ours, name), dtype=float)
        both = np.isfinite(theirs) & np.isfinite(mine)
        assert (np.isfinite(theirs) == np.isfinite(mine)).all(), f"{name}: NA pattern differs"
        rel = np.abs(mine[both] - theirs[both]) / np.maximum(np.abs(theirs[both]), 1e-300)
        worst = max(worst, float(rel.max()))
        print(f"  {name:12} max relative difference from metafor {rel.max():.2e}")
    print(f"equal results: largest relative difference {worst:.2e} "
          f"(over {n_sets:,} analyses × {len(names)} numbers)")


if __name__ == "__main__":
    main()
