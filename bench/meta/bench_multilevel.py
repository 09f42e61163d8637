"""Strigil's multilevel model against metafor's rma.mv on the same data, in one run.

Target: a three-level model `~ 1 | trial/effect` by REML on 1,000 trials with 5,000 effects (seeded
generator `multilevel_data.py`) at least 50 times faster than `rma.mv(..., sparse = TRUE)`, with equal
results (every estimate within 1e-6 relative of metafor's). Also: strigil's peak allocation at 5,000
and 50,000 effects (memory linear in the number of effects).

Run from the repository root:  .venv/bin/python bench/meta/bench_multilevel.py [--quick]
Needs Rscript with metafor and jsonlite. Prints medians of several runs and the ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

# one BLAS thread: the machine has 2 shared cores, and both peers get the same
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from multilevel_data import simulate, write  # noqa: E402


def fit(data: dict[str, np.ndarray]) -> Any:
    """The model as metafor's rma.mv(yi, vi, random = ~ 1 | trial/effect) fits it."""
    from strigil.meta import rma_mv

    return rma_mv(data["yi"], data["vi"], random="~ 1 | trial/effect",
                  data={"trial": data["trial"], "effect": data["effect"]}, method="REML")


def time_strigil(data: dict[str, np.ndarray], reps: int) -> tuple[list[float], list[float], Any]:
    walls, cpus, res = [], [], None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fit(data)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, res


def peak_mib(data: dict[str, np.ndarray]) -> float:
    """Peak numpy/Python allocation during one fit (tracemalloc), MiB."""
    tracemalloc.start()
    fit(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run_metafor(csv_path: Path, reps: int, tmp: Path) -> dict[str, Any] | None:
    out = tmp / "metafor.json"
    try:
        subprocess.run(["Rscript", str(HERE / "metafor_multilevel.R"), str(csv_path), str(out), str(reps)],
                       check=True, capture_output=True, text=True, timeout=7200)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"metafor not run: {exc}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke test)")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    reps_s, reps_r = (3, 1) if args.quick else (7, 3)
    load = os.getloadavg()
    print(f"# multilevel benchmark — {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
          f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    data = simulate(1000, 5000, args.seed)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        csv_path = tmp / "multilevel.csv"
        write(csv_path, data)
        walls, cpus, res = time_strigil(data, reps_s)
        mf = run_metafor(csv_path, reps_r, tmp)
    s_wall, s_cpu = statistics.median(walls), statistics.median(cpus)
    print(f"strigil rma_mv: wall {s_wall:.3f} s (runs {', '.join(f'{w:.3f}' for w in walls)}), "
          f"CPU {s_cpu:.3f} s; {res.iterations} Newton iterations")
    ours = {
        "sigma2[trial]": res.sigma2[0].estimate, "sigma2[trial/effect]": res.sigma2[1].estimate,
        "b": res.beta[0].estimate, "se": res.beta[0].se, "ci_lb": res.beta[0].ci_lb,
        "ci_ub": res.beta[0].ci_ub, "QE": res.QE, "logLik": res.logLik,
    }
    if mf is not None:
        m_wall, m_cpu = statistics.median(mf["seconds"]), statistics.median(mf["cpu"])
        print(f"metafor {mf['metafor']} rma.mv(sparse = TRUE): wall {m_wall:.2f} s "
              f"(runs {', '.join(f'{w:.2f}' for w in mf['seconds'])}), CPU {m_cpu:.2f} s")
        theirs = {
            "sigma2[trial]": mf["sigma2"][0], "sigma2[trial/effect]": mf["sigma2"][1], "b": mf["b"][0],
            "se": mf["se"][0], "ci_lb": mf["ci_lb"][0], "ci_ub": mf["ci_ub"][0], "QE": mf["QE"],
            "logLik": mf["logLik"],
        }
        worst = 0.0
        for key, value in ours.items():
            d = rel(value, theirs[key])
            worst = max(worst, d)
            print(f"  {key:22} strigil {value:.12g}   metafor {theirs[key]:.12g}   rel. diff {d:.1e}")
        verdict = "yes" if worst <= 1e-6 else "NO"
        print(f"equal results (all within 1e-6 relative): {verdict} (max {worst:.1e})")
        print(f"ratio metafor / strigil: wall {m_wall / s_wall:.1f}x, CPU {m_cpu / s_cpu:.1f}x "
              "(target >= 50x)")
    else:
        for key, value in ours.items():
            print(f"  {key:22} strigil {value:.12g}")
    for n_trials, n_effects in ((1000, 5000), (10000, 50000)):
        print(f"strigil peak allocation, {n_effects:,} effects in {n_trials:,} trials: "
              f"{peak_mib(simulate(n_trials, n_effects, args.seed)):.1f} MiB")


if __name__ == "__main__":
    main()
