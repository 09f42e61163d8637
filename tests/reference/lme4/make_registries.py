"""Write the generated registries that make_fixtures.R fits with lme4 (run from the project root).

    .venv/bin/python tests/reference/lme4/make_registries.py && Rscript tests/reference/lme4/make_fixtures.R

The CSV files are committed, so the fixtures and the Python tests see exactly the same rows.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from strigil.registry.generator import RegistryTruth, generate_registry

HERE = Path(__file__).parent

CASES = {
    # t-distributed noise, clinic variation, missing visits
    "registry_t": (RegistryTruth(n_clinics=8, patients_per_clinic=40, noise="t"), 11),
    # skewed noise, fewer sessions, more clinics; clinic crossed with patient (see write)
    "registry_skewed": (
        RegistryTruth(n_clinics=12, patients_per_clinic=25, max_sessions=5, noise="skewed"),
        12,
    ),
}


def write(name: str, truth: RegistryTruth, seed: int) -> None:
    reg = generate_registry(truth, seed=seed)
    cols = dict(reg.columns)
    if name == "registry_skewed":
        # Make the clinic factor crossed with patients: about one visit in five is seen at another clinic.
        rng = np.random.default_rng(seed + 1000)
        moved = rng.random(reg.n_rows) < 0.2
        other = np.char.add("C", np.char.zfill(rng.integers(0, truth.n_clinics, reg.n_rows).astype(str), 3))
        cols["clinic"] = np.where(moved, other, cols["clinic"])
        # Give the visited clinic its own real effect, so that the crossed clinic variance is not zero.
        code = np.unique(cols["clinic"], return_inverse=True)[1]
        cols["pain"] = cols["pain"] + rng.normal(0.0, 0.6, truth.n_clinics)[code]
    names = list(cols)
    with open(HERE / f"{name}.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for i in range(reg.n_rows):
            w.writerow(
                [repr(float(cols[c][i])) if cols[c].dtype.kind == "f" else str(cols[c][i]) for c in names]
            )


if __name__ == "__main__":
    for name, (truth, seed) in CASES.items():
        write(name, truth, seed)
