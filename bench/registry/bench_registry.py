"""Benchmark: Strigil's mixed-model fit against lme4 (Rscript) and statsmodels MixedLM, on the same registry.

Whole process against whole process: each tool is started as its own process that reads the same CSV file,
fits `pain ~ session + session:minutes + session:exercise + phase` with a random intercept and slope per
patient by REML, and prints the estimates. Wall time, CPU time (user + system) and peak RSS come from
/usr/bin/time; on a shared machine the CPU time is the steadier of the two. Medians of --runs runs
(statsmodels once by default: it is slow). Also checks that the three agree on the fixed effects.

    .venv/bin/python bench/registry/bench_registry.py --patients 20000 --runs 5
    .venv/bin/python bench/registry/bench_registry.py --patients 1000000 --runs 3 --no-lme4 --no-statsmodels
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMULA = "pain ~ session + session:minutes + session:exercise + phase"
RANDOM = "1 + session | patient"
HERE = Path(__file__).parent

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
fit <- lmer(pain ~ session + session:minutes + session:exercise + phase + (1 + session | patient), data = d,
            REML = TRUE)
fe <- fixef(fit)
names(fe) <- sub("^\\(Intercept\\)$", "Intercept", sub("^phasechronic$", "phase[T.chronic]", names(fe)))
cat(toJSON(list(fixed = as.list(fe), objective = REMLcrit(fit)), auto_unbox = TRUE, digits = NA), "\n")
"""

STATSMODELS_SCRIPT = r"""
import json, sys, warnings
import pandas as pd
import statsmodels.formula.api as smf
warnings.simplefilter("ignore")
d = pd.read_csv(sys.argv[1])
m = smf.mixedlm("pain ~ session + session:minutes + session:exercise + phase", d, groups=d["patient"],
                re_formula="~session")
r = m.fit(reml=True)
fe = {k.replace("phase[T.chronic]", "phase[T.chronic]"): float(v) for k, v in r.fe_params.items()}
print(json.dumps({"fixed": fe, "converged": bool(r.converged)}))
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, dict[str, object]]:
    """Run a command under /usr/bin/time; wall seconds, CPU seconds, peak RSS in MB and its JSON output."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        start = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", tf.name, *cmd], capture_output=True, text=True, env=env
        )
        wall = time.perf_counter() - start
        if p.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {p.stderr[-2000:]}")
        rss_kb, user, system = tf.read().strip().splitlines()[-1].split()
    out = json.loads(p.stdout.strip().splitlines()[-1])
    return wall, float(user) + float(system), int(rss_kb) / 1024, out


def generate(path: Path, patients: int, seed: int) -> int:
    """Write the generated registry (not timed)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from strigil.registry.generator import RegistryTruth, generate_registry

    clinics = max(1, patients // 400)
    reg = generate_registry(
        RegistryTruth(n_clinics=clinics, patients_per_clinic=patients // clinics, max_sessions=7), seed=seed
    )
    pacsv.write_csv(pa.table({k: pa.array(np.asarray(v)) for k, v in reg.columns.items()}), path)
    return reg.n_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--statsmodels-runs", type=int, default=1)
    ap.add_argument("--no-lme4", action="store_true")
    ap.add_argument("--no-statsmodels", action="store_true")
    ap.add_argument("--csv", type=Path, help="Reuse this registry CSV instead of generating one.")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--target-seconds", type=float, help="Report whether Strigil's median wall time is within this."
    )
    ap.add_argument("--target-rss-mb", type=float, help="Report whether Strigil's peak RSS is within this.")
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="strigil-bench-registry-"))
    csv = args.csv or workdir / f"registry_{args.patients}.csv"
    rows = generate(csv, args.patients, args.seed) if not csv.exists() else None
    print(f"registry: {csv} ({rows or 'given'} rows, {csv.stat().st_size / 1e6:.0f} MB)")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores (shared), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )

    strigil = str(Path(sys.executable).with_name("strigil"))
    tools: dict[str, list[str]] = {
        "strigil": [strigil, "registry", "fit", str(csv), "--formula", FORMULA, "--random", RANDOM, "--json"]
    }
    if not args.no_lme4:
        (workdir / "fit.R").write_text(R_SCRIPT)
        tools["lme4"] = ["Rscript", str(workdir / "fit.R"), str(csv)]
    if not args.no_statsmodels:
        (workdir / "fit_sm.py").write_text(STATSMODELS_SCRIPT)
        tools["statsmodels"] = [sys.executable, str(workdir / "fit_sm.py"), str(csv)]

    results: dict[str, dict[str, object]] = {}
    for name, cmd in tools.items():
        runs = args.statsmodels_runs if name == "statsmodels" else args.runs
        walls, cpus, rsss = [], [], []
        out: dict[str, object] = {}
        for _ in range(runs):
            wall, cpu, rss, out = timed(cmd)
            walls.append(wall)
            cpus.append(cpu)
            rsss.append(rss)
        results[name] = {
            "walls": walls,
            "median": statistics.median(walls),
            "cpu": statistics.median(cpus),
            "rss": max(rsss),
            "out": out,
        }
        print(
            f"  {name:<12} wall median {statistics.median(walls):8.2f} s  (runs: "
            f"{', '.join(f'{w:.2f}' for w in walls)})  CPU median {statistics.median(cpus):7.2f} s  "
            f"peak RSS {max(rsss):7.0f} MB"
        )

    base = results["strigil"]
    if args.target_seconds is not None:
        ok = float(base["median"]) <= args.target_seconds  # type: ignore[arg-type]
        print(f"  target wall <= {args.target_seconds:g} s: {'met' if ok else 'NOT met'}")
    if args.target_rss_mb is not None:
        ok = float(base["rss"]) <= args.target_rss_mb  # type: ignore[arg-type]
        print(f"  target peak RSS <= {args.target_rss_mb:g} MB: {'met' if ok else 'NOT met'}")
    fixed = base["out"]["fixed"]  # type: ignore[index]
    for name, res in results.items():
        if name == "strigil":
            continue
        ratio = float(res["median"]) / float(base["median"])  # type: ignore[arg-type]
        cpu_ratio = float(res["cpu"]) / float(base["cpu"])  # type: ignore[arg-type]
        other = res["out"]["fixed"]  # type: ignore[index]
        diff = max(abs(fixed[k] - other[k]) / max(abs(other[k]), 1e-12) for k in other)  # type: ignore[index]
        print(
            f"  {name} / strigil: wall {ratio:.1f}x, CPU {cpu_ratio:.1f}x; fixed effects agree to {diff:.0e}"
        )
    print(
        json.dumps(
            {
                k: {"wall_s": v["median"], "cpu_s": v["cpu"], "peak_rss_mb": v["rss"]}
                for k, v in results.items()
            }
        )
    )


if __name__ == "__main__":
    main()
