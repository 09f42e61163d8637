"""Benchmark: Strigil's mixed-model fit against lme4 (Rscript) and statsmodels MixedLM, on the same registry.

Whole process against whole process: each tool is started as its own process that reads the same CSV file,
fits `pain ~ session + session:minutes + session:exercise + phase` with a random intercept and slope per
patient by REML, and prints the estimates. Wall time and peak RSS come from /usr/bin/time. Medians of --runs
runs (statsmodels once by default: it is slow). Also checks that the three agree on the fixed effects.

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


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, dict[str, object]]:
    """Run a command under /usr/bin/time; wall seconds, peak RSS in MB and its JSON output."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        start = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd], capture_output=True, text=True, env=env
        )
        wall = time.perf_counter() - start
        if p.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {p.stderr[-2000:]}")
        rss_mb = int(tf.read().strip().splitlines()[-1]) / 1024
    out = json.loads(p.stdout.strip().splitlines()[-1])
    return wall, rss_mb, out


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
        walls, rsss = [], []
        out: dict[str, object] = {}
        for _ in range(runs):
            wall, rss, out = timed(cmd)
            walls.append(wall)
            rsss.append(rss)
        results[name] = {"walls": walls, "median": statistics.median(walls), "rss": max(rsss), "out": out}
        print(
            f"  {name:<12} median {statistics.median(walls):8.2f} s  (runs: "
            f"{', '.join(f'{w:.2f}' for w in walls)})  peak RSS {max(rsss):7.0f} MB"
        )

    base = results["strigil"]
    fixed = base["out"]["fixed"]  # type: ignore[index]
    for name, res in results.items():
        if name == "strigil":
            continue
        ratio = float(res["median"]) / float(base["median"])  # type: ignore[arg-type]
        other = res["out"]["fixed"]  # type: ignore[index]
        diff = max(abs(fixed[k] - other[k]) / max(abs(other[k]), 1e-12) for k in other)  # type: ignore[index]
        print(
            f"  {name} / strigil time ratio: {ratio:.1f}x   fixed effects differ by <= {diff:.1e} (relative)"
        )
    print(json.dumps({k: {"median_s": v["median"], "peak_rss_mb": v["rss"]} for k, v in results.items()}))


if __name__ == "__main__":
    main()
