"""Benchmark: exact federated growth model (vantage6 MockAlgorithmClient, messages as JSON) against the
single-database fit of the same rows, in one run. 10 clinics, about 1 million rows in all. Wall and CPU
time (the process's, steadier on a shared machine) are both reported.

Single database: design + fit of all rows (clinic as a fixed effect). Federated: each clinic's preprocessing
step (checks and per-patient cross-products, kept on its node), then the central function's rounds through
the mock client (which JSON-encodes every answer). Medians of --runs runs; prints the ratio.

    .venv/bin/python bench/registry/bench_exact_pooling.py --patients-per-clinic 17000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd

FORMULA = "pain ~ session + session:minutes + session:exercise + phase + clinic"
PATIENT = "1 + session | patient"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=10)
    parser.add_argument("--patients-per-clinic", type=int, default=17000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from vantage6.algorithm.decorator import algorithm_client  # noqa: F401  (vantage6's import order)
    from vantage6.algorithm.tools.mock_client import MockAlgorithmClient

    from strigil.network import prepare_growth_model
    from strigil.registry.exact_growth import GrowthModelSpec, prepare_clinic
    from strigil.registry.generator import RegistryTruth, generate_registry
    from strigil.registry.growth_model import fit_growth_model

    reg = generate_registry(
        RegistryTruth(n_clinics=args.clinics, patients_per_clinic=args.patients_per_clinic, max_sessions=7),
        seed=1,
    ).columns
    names = sorted(set(reg["clinic"].tolist()))
    model = {
        "formula": FORMULA,
        "random": PATIENT,
        "levels": {"phase": ["acute", "chronic"], "clinic": names},
    }
    frames = [pd.DataFrame({k: v[reg["clinic"] == c] for k, v in reg.items()}) for c in names]
    print(f"{len(reg['pain'])} rows, {args.clinics} clinics")
    # The exact exchange shares only patients in visit patterns that are disclosable cells; the
    # single-database fit it must equal is the fit of those rows (the preprocessing's selection, untimed).
    spec = GrowthModelSpec.from_json(model)
    shared_parts = []
    for c in names:
        rows = np.flatnonzero(reg["clinic"] == c)
        shared_parts.append(rows[prepare_clinic({k: v[rows] for k, v in reg.items()}, spec).shared_rows])
    shared = np.concatenate(shared_parts)
    print(f"{len(reg['pain']) - len(shared)} rows withheld (patients in visit patterns of fewer than 5)")
    reg = {k: v[shared] for k, v in reg.items()}
    single, federated, single_cpu, federated_cpu = [], [], [], []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        one = fit_growth_model(reg, FORMULA, [PATIENT])
        single.append(time.perf_counter() - t0)
        single_cpu.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        os.environ["FUNCTION_ACTION"] = "preprocessing"
        prepared = [prepare_growth_model(mock_data=[f], model=model).to_pandas() for f in frames]
        t_prep = time.perf_counter() - t0
        client = MockAlgorithmClient(datasets=[[{"database": p}] for p in prepared], module="strigil.network")
        # The mock runs every task in this process; the node would set the action per container.
        os.environ["FUNCTION_ACTION"] = "federated_compute"
        import vantage6.algorithm.decorator.action as action

        check = action._exit_if_action_mismatch
        action._exit_if_action_mismatch = lambda _step: None  # type: ignore[assignment]
        try:
            task = client.task.create(
                method="exact_growth_model", organizations=[0], arguments={"model": model}
            )
            out = client.result.from_task(task["id"])[0]
        finally:
            action._exit_if_action_mismatch = check
        federated.append(time.perf_counter() - t0)
        federated_cpu.append(time.process_time() - c0)
        diff = max(abs(out["fixed"][n] - b) for n, b in zip(one.fixed_names, one.beta, strict=True))
        print(
            f"single {single[-1]:.2f} s; federated {federated[-1]:.2f} s (preprocessing {t_prep:.2f} s, then "
            f"{out['rounds']} rounds, "
            f"{out['n_messages']} messages); max |difference| of fixed effects {diff:.1e}"
        )
    s, f = statistics.median(single), statistics.median(federated)
    sc, fc = statistics.median(single_cpu), statistics.median(federated_cpu)
    print(f"median wall: single {s:.2f} s, federated {f:.2f} s, ratio {f / s:.2f}")
    print(f"median CPU:  single {sc:.2f} s, federated {fc:.2f} s, ratio {fc / sc:.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
