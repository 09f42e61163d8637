"""Strigil's meta-analysis engine against metafor, PyMARE and statsmodels, on the same data, in one run.

Targets of issue 3:
  (a) 2,000 separate REML fits at k=20 with what rma prints by default — ≥ 20× faster than metafor;
  (b) 100,000 meta-analyses at k=20 as one batch — ≤ 2 s;
  (c) one REML fit at k=1,000,000 — ≤ 1 s, memory linear in k;
  (d) convergence failures on the simulated sets — 0 where metafor has some.

Run from the repository root:  .venv/bin/python bench/meta/bench_meta.py [--quick]
Needs Rscript with metafor and jsonlite for the metafor column; PyMARE and statsmodels (the
`bench` extra). Prints medians of several runs and the ratios.
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

# one BLAS thread: the machine has 2 shared cores, and every peer gets the same
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent


def simulate(n_sets: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k × n_sets effects: vi ~ U(0.01, 0.5), τ² ∈ {0, 0.05, 0.2}, true mean 0.3."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.5, size=(k, n_sets))
    tau2 = rng.choice([0.0, 0.05, 0.2], size=n_sets)
    yi = rng.normal(0.3, np.sqrt(vi + tau2))
    return yi, vi


_CPU: dict[int, float] = {}  # id of the last timed call -> median CPU seconds


def median_time(fn: Callable[[], Any], reps: int) -> tuple[float, list[float]]:
    """Median wall time of `reps` calls (the median process CPU time is kept in `last_cpu()`)."""
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    _CPU[0] = statistics.median(cpu)
    return statistics.median(times), times


def last_cpu() -> float:
    """Median CPU seconds of the last `median_time` (this process; BLAS kept to one thread)."""
    return _CPU[0]


def _reml_ll(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """Restricted log-likelihood of the intercept-only model (up to a constant)."""
    w = 1 / (v + tau2)
    mu = float(w @ y) / float(w.sum())
    return float(-0.5 * (np.log(v + tau2).sum() + np.log(w.sum()) + w @ (y - mu) ** 2))


def _rounded(xs: list[float]) -> list[float]:
    return [round(x, 3) for x in xs]


# ---- (a) separate fits -----------------------------------------------------------------------

def strigil_loop(Y: np.ndarray, V: np.ndarray) -> list[tuple[float, ...]]:
    from strigil.meta import rma

    out = []
    for j in range(Y.shape[1]):
        r = rma(Y[:, j], V[:, j], method="REML")
        b = r.beta[0]
        out.append((b.estimate, b.se, b.stat, b.p, b.ci_lb, b.ci_ub, r.tau2, r.Q, r.I2, r.H2, r.converged))
    return out


def pymare_loop(Y: np.ndarray, V: np.ndarray) -> int:
    from pymare import Dataset
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    failures = 0
    for j in range(Y.shape[1]):
        est = VarianceBasedLikelihoodEstimator(method="REML")
        try:
            est.fit_dataset(Dataset(y=Y[:, j], v=V[:, j]))
            s = est.summary()
            s.get_fe_stats()
            s.get_heterogeneity_stats()
        except Exception:
            failures += 1
    return failures


def statsmodels_loop(Y: np.ndarray, V: np.ndarray) -> None:
    from statsmodels.stats.meta_analysis import combine_effects

    for j in range(Y.shape[1]):
        # statsmodels has no REML: "iterated" is Paule–Mandel, the closest iterative estimator
        combine_effects(Y[:, j], V[:, j], method_re="iterated").summary_frame()


def run_metafor(Y: np.ndarray, V: np.ndarray, reps: int, tmp: Path) -> dict[str, Any] | None:
    sets = tmp / "sets.csv"
    with sets.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", "yi", "vi"])
        for j in range(Y.shape[1]):
            for i in range(Y.shape[0]):
                w.writerow([j, repr(float(Y[i, j])), repr(float(V[i, j]))])
    out = tmp / "metafor.json"
    try:
        subprocess.run(["Rscript", str(HERE / "metafor_bench.R"), str(sets), str(out), str(reps)],
                       check=True, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"metafor not run: {exc}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(out.read_text())
    if not isinstance(result["seconds"], list):  # jsonlite unboxes a single run
        result["seconds"] = [result["seconds"]]
    return result


# ---- (c) one large fit, in a child process so that its peak memory is its own ----------------

_CHILD = """
import resource, sys, time, numpy as np
k, what = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(3)
vi = rng.uniform(0.01, 0.5, k); yi = rng.normal(0.3, np.sqrt(vi + 0.1))
import tracemalloc
tracemalloc.start()
t0 = time.perf_counter(); c0 = time.process_time()
if what == "strigil":
    from strigil.meta import rma
    t0, c0 = time.perf_counter(), time.process_time()
    r = rma(yi, vi, method="REML"); est = (r.tau2, r.beta[0].estimate, r.I2)
elif what == "statsmodels":
    from statsmodels.stats.meta_analysis import combine_effects
    t0, c0 = time.perf_counter(), time.process_time(); r = combine_effects(yi, vi, method_re="iterated")
    est = (r.tau2, r.mean_effect_re, 0)
elif what == "pymare":
    from pymare import Dataset
    from pymare.estimators import VarianceBasedLikelihoodEstimator
    t0, c0 = time.perf_counter(), time.process_time(); e = VarianceBasedLikelihoodEstimator(method="REML")
    e.fit_dataset(Dataset(y=yi, v=vi)); est = (float(e.params_["tau2"].ravel()[0]), 0, 0)
dt, dc = time.perf_counter() - t0, time.process_time() - c0
fit_peak = tracemalloc.get_traced_memory()[1]  # numpy allocations during the fit
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(dt, dc, fit_peak / 2**20, peak / 1024, *est)
"""


def large_fit(k: int, what: str, timeout: float = 600) -> dict[str, Any]:
    """Seconds and extra peak memory (MiB) of one fit at size k, in a fresh process (≤ 8 GiB)."""
    cmd = [sys.executable, "-c", _CHILD, str(k), what]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        return {"ok": False, "why": f"timeout after {timeout:.0f} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"ok": False, "why": last[:120]}
    dt, dc, extra, peak, *est = (float(x) for x in proc.stdout.split())
    return {"ok": True, "seconds": dt, "cpu": dc, "extra_mib": extra, "peak_mib": peak, "estimate": est}


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


# ---- the run ---------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke test)")
    args = parser.parse_args()
    reps = 2 if args.quick else 5
    print(f"# strigil.meta benchmark — {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
          f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}")

    # (a) + (d): 2,000 data sets at k = 20
    Y, V = simulate(2000, 20, seed=20261121)
    t_strigil, runs = median_time(lambda: strigil_loop(Y, V), reps)
    c_strigil = last_cpu()
    ours = strigil_loop(Y, V)
    print(f"\n(a) 2,000 REML fits at k=20 (median of {reps} runs)")
    print("  wall time (load-dependent) and CPU time of the process (user+sys), medians")
    print(f"  strigil      {t_strigil:8.3f} s  {t_strigil / 2:8.3f} ms/fit   CPU {c_strigil:8.3f} s"
          f"   runs {_rounded(runs)}")
    sub = 200
    t_pymare, _ = median_time(lambda: pymare_loop(Y[:, :sub], V[:, :sub]), 3)
    t_pymare *= 2000 / sub
    c_pymare = last_cpu() * 2000 / sub
    t_sm, _ = median_time(lambda: statsmodels_loop(Y[:, :sub * 2], V[:, :sub * 2]), 3)
    t_sm *= 2000 / (sub * 2)
    c_sm = last_cpu() * 2000 / (sub * 2)
    with tempfile.TemporaryDirectory() as tmp:
        mf = run_metafor(Y, V, 3 if not args.quick else 1, Path(tmp))
    if mf:
        t_mf = statistics.median(mf["seconds"])
        c_mf = statistics.median(mf["cpu"])
        print(f"  metafor {mf['metafor']} {t_mf:8.3f} s  {t_mf / 2:8.3f} ms/fit   CPU {c_mf:8.3f} s"
              f"   runs {mf['seconds']}")
        print(f"     → strigil is {t_mf / t_strigil:5.1f}× faster (wall), {c_mf / c_strigil:5.1f}× (CPU)")
    print(f"  PyMARE       {t_pymare:8.3f} s  {t_pymare / 2:8.3f} ms/fit   CPU {c_pymare:8.3f} s"
          f"   (timed on {sub} sets, scaled)")
    print(f"     → strigil is {t_pymare / t_strigil:5.1f}× faster (wall), {c_pymare / c_strigil:5.1f}× (CPU)")
    print(f"  statsmodels  {t_sm:8.3f} s  {t_sm / 2:8.3f} ms/fit   CPU {c_sm:8.3f} s"
          f"   (PM, it has no REML; {sub * 2} sets, scaled)")
    print(f"     → strigil is {t_sm / t_strigil:5.1f}× faster (wall), {c_sm / c_strigil:5.1f}× (CPU)")

    print("\n(d) convergence failures on the same 2,000 sets")
    ours_fail = sum(1 for r in ours if not r[-1])
    print(f"  strigil {ours_fail}")
    pym_fail = pymare_loop(Y, V)
    print(f"  PyMARE  {pym_fail} (exceptions)")
    if mf:
        print(f"  metafor {mf['failures']}  {mf['failure_messages']}")
        both = np.flatnonzero([m is not None for m in mf["tau2"]])
        t_ours = np.array([r[6] for r in ours])[both]
        t_theirs = np.array([m for m in mf["tau2"] if m is not None], dtype=float)
        gap = np.abs(t_ours - t_theirs)
        far = np.flatnonzero(gap > 1e-4)
        higher = sum(_reml_ll(Y[:, both[i]], V[:, both[i]], t_ours[i])
                     >= _reml_ll(Y[:, both[i]], V[:, both[i]], t_theirs[i]) for i in far)
        print(f"  where metafor converged: median |Δτ²| = {np.median(gap):.1e} (its threshold: 1e-5)")
        print(f"  {far.size} set(s) differ by > 1e-4; strigil's REML likelihood is the higher in {higher}")

    # (b) one batch of 100,000
    from strigil.meta import rma_batch

    Yb, Vb = simulate(100_000, 20, seed=7)
    t_batch, runs = median_time(lambda: rma_batch(Yb, Vb, method="REML"), reps)
    c_batch = last_cpu()
    b = rma_batch(Yb, Vb, method="REML")
    print(f"\n(b) 100,000 REML meta-analyses at k=20 as one batch (median of {reps})")
    print(f"  strigil rma_batch {t_batch:7.3f} s wall, CPU {c_batch:7.3f} s (target ≤ 2 s), "
          f"not converged: {int((~b.converged).sum())}, runs {_rounded(runs)}")
    if mf:
        print(f"  metafor (loop, extrapolated from (a)) {t_mf / 2000 * 100_000:9.1f} s")
    try:
        from pymare.estimators import VarianceBasedLikelihoodEstimator

        t_pb, _ = median_time(lambda: VarianceBasedLikelihoodEstimator(method="REML").fit(
            y=Yb[:, :10_000], v=Vb[:, :10_000], X=np.ones((20, 1))), 1)
        print(f"  PyMARE batch (10,000 timed, scaled ×10) {t_pb * 10:9.1f} s"
              f" → strigil {t_pb * 10 / t_batch:5.1f}× faster")
    except Exception as exc:
        print(f"  PyMARE batch failed: {exc}")

    # (c) one fit at k = 1,000,000 (and 100,000 to show memory grows linearly)
    print("\n(c) one REML fit at large k (fresh process each)")
    for k in (100_000, 1_000_000):
        for what in ("strigil", "statsmodels", "pymare"):
            r = [large_fit(k, what) for _ in range(3 if what == "strigil" else 1)]
            if all(x["ok"] for x in r):
                sec = statistics.median(x["seconds"] for x in r)
                cpu = statistics.median(x["cpu"] for x in r)
                print(f"  k={k:>9,} {what:11} {sec:8.3f} s wall  CPU {cpu:8.3f} s  "
                      f"fit allocated at peak {r[0]['extra_mib']:7.1f} MiB (data: {k * 16 / 2**20:.1f} MiB), "
                      f"process peak RSS {r[0]['peak_mib']:7.1f} MiB")
            else:
                print(f"  k={k:>9,} {what:11} failed: {r[0].get('why')}")
    print("  metafor: not run — rma() builds k × k matrices (8 TB at k = 10⁶)")


if __name__ == "__main__":
    main()
