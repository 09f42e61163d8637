"""Benchmark: an hour of 1 kHz force recording (3.6 million samples) cleaned, segmented and summarised.

Target: ≤ 1 s on one core, excluding file parsing. The process is pinned to one core and numpy's thread
pools are limited to one thread before numpy loads. The recording is synthetic with stated faults (noise,
drift, hum, tare, overlapping two-handed strokes), so the run also checks detection against the truth.
Timed: `strigil.force.analyse` (cleaning, segmentation, per-stroke dose, per-set and session summaries),
split into its steps; medians of --runs runs, with CPU time (process time) beside wall time.

No open software analyses IASTM force recordings (domain reference §1.2), so there is no peer for the
segmentation. The reliability statistics have one: R's psych::ICC, timed side by side on the same table of
scores (--icc-subjects × --icc-sessions), each in its own loop inside its own process, with a ratio.

    .venv/bin/python bench/force/bench_force.py --runs 5
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

SAMPLES = 3_600_000

R_ICC = r"""
suppressPackageStartupMessages(library(psych))
args <- commandArgs(trailingOnly = TRUE)
x <- as.matrix(read.csv(args[1], header = FALSE))
reps <- as.integer(args[2])
invisible(ICC(x, lmer = FALSE))
t0 <- proc.time()
for (i in seq_len(reps)) r <- ICC(x, lmer = FALSE)
el <- proc.time() - t0
cat(sprintf('{"per_call_s": %.9f, "icc2": %.15g, "icc3": %.15g}\n', el[["elapsed"]] / reps,
            r$results$ICC[2], r$results$ICC[3]))
"""


def _hour(seed: int) -> tuple[object, object]:
    """One hour at 1 kHz (the first 3.6 million samples of a longer synthetic recording) and its truth."""
    from strigil.force import Recording, SyntheticSpec, generate_recording

    spec = SyntheticSpec(
        sampling_hz=1000.0,
        n_strokes=1950,
        n_sets=30,
        set_rest_s=30.0,
        overlap=0.3,
        noise_sd_n=0.1,
        drift_n_per_min=0.3,
        hum_n=0.2,
        offset_n=2.0,
    )
    made = generate_recording(spec, seed)
    rec = made.recording
    if rec.n_samples < SAMPLES:
        raise SystemExit(f"the synthetic recording has {rec.n_samples} samples; raise n_strokes")
    hour = Recording.from_arrays(
        rec.time_s[:SAMPLES], rec.normal_n[:SAMPLES], time_unit="s", force_unit="N", source=spec.describe()
    )
    return hour, made


def _steps(recording: object) -> dict[str, float]:
    from strigil.force import ForceSettings, clean, segment_strokes, stroke_doses, summarise

    settings = ForceSettings()
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    cleaned = clean(recording, settings)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    segments = segment_strokes(cleaned.time_s, cleaned.normal_n, settings)
    t2 = time.perf_counter()
    strokes = stroke_doses(cleaned, segments, settings.set_gap_s)
    for k in range(int(strokes.set_index.max()) + 1):
        summarise(strokes, strokes.set_index == k, f"set {k + 1}")
    summarise(strokes)
    t3 = time.perf_counter()
    out["clean"], out["segment"], out["dose_and_summaries"] = t1 - t0, t2 - t1, t3 - t2
    return out


def bench_analyse(runs: int, seed: int) -> dict[str, object]:
    """Median wall and CPU seconds of `analyse` on one hour at 1 kHz, its steps, and the detection check."""
    from strigil.force import analyse, match_strokes

    hour, made = _hour(seed)
    analyse(hour)  # warm-up: imports, first-touch of memory
    walls, cpus, steps = [], [], []
    result = None
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        result = analyse(hour)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        steps.append(_steps(hour))
    assert result is not None
    truth = made.truth  # type: ignore[attr-defined]
    inside = truth.offset_s < hour.time_s[-1]  # type: ignore[attr-defined]
    match = match_strokes(
        result.strokes.onset_s, result.strokes.offset_s, truth.onset_s[inside], truth.offset_s[inside]
    )
    return {
        "samples": hour.n_samples,  # type: ignore[attr-defined]
        "recording": hour.source,  # type: ignore[attr-defined]
        "strokes": len(result.strokes),
        "sets": len(result.sets),
        "detection_f1": round(match.f1, 4),
        "wall_s": sorted(walls),
        "wall_median_s": statistics.median(walls),
        "cpu_median_s": statistics.median(cpus),
        "steps_median_s": {k: statistics.median(s[k] for s in steps) for k in steps[0]},
    }


def bench_icc(subjects: int, sessions: int, reps: int, seed: int) -> dict[str, object]:
    """Strigil's ICC and R's psych::ICC on the same table, per call, with the ratio."""
    import numpy as np

    from strigil.force import reliability

    rng = np.random.default_rng(seed)
    scores = (
        rng.normal(8, 2, (subjects, 1))
        + rng.normal(0, 0.5, (1, sessions))
        + rng.normal(0, 1, (subjects, sessions))
    )
    reliability(scores)
    t0 = time.perf_counter()
    for _ in range(reps):
        ours = reliability(scores)
    per_call = (time.perf_counter() - t0) / reps
    out: dict[str, object] = {"table": f"{subjects} x {sessions}", "strigil_per_call_s": per_call}
    if shutil.which("Rscript") is None:
        out["psych"] = "Rscript not found"
        return out
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "scores.csv"
        np.savetxt(table, scores, delimiter=",", fmt="%.17g")
        script = Path(tmp) / "icc.R"
        script.write_text(R_ICC)
        p = subprocess.run(
            ["Rscript", str(script), str(table), str(reps)], capture_output=True, text=True, check=True
        )
    r = json.loads(p.stdout.strip().splitlines()[-1])
    out["psych_per_call_s"] = r["per_call_s"]
    out["psych_over_strigil"] = r["per_call_s"] / per_call
    out["agree_icc2"] = abs(r["icc2"] - ours.get("ICC(2,1)").value)
    out["agree_icc3"] = abs(r["icc3"] - ours.get("ICC(3,1)").value)
    return out


def main() -> None:
    """Run both benchmarks and print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--icc-subjects", type=int, default=200)
    parser.add_argument("--icc-sessions", type=int, default=5)
    parser.add_argument("--icc-reps", type=int, default=50)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    load = os.getloadavg()
    out = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores".strip(),
        "python": platform.python_version(),
        "load_before": [round(v, 2) for v in load],
        "one_core": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "analyse_one_hour_1khz": bench_analyse(args.runs, args.seed),
        "icc_vs_psych": bench_icc(args.icc_subjects, args.icc_sessions, args.icc_reps, args.seed),
        "load_after": [round(v, 2) for v in os.getloadavg()],
    }
    median = out["analyse_one_hour_1khz"]["wall_median_s"]  # type: ignore[index]
    out["target_1s_met"] = median <= 1.0
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
