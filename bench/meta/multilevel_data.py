"""Seeded three-level data for bench_multilevel.py: effects within trials, as in an IASTM review where
each trial reports several outcomes and time points (simulated, not real trials).

Run from the repository root:  .venv/bin/python bench/meta/multilevel_data.py OUT.csv [--trials 1000]
[--effects 5000] [--seed 20261202]. Columns: trial, effect, yi, vi.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

# generating values (simulation settings of this benchmark, not estimates from any literature)
MU, SIGMA2_TRIAL, SIGMA2_EFFECT = 0.3, 0.05, 0.02
VI_RANGE = (0.01, 0.2)


def simulate(trials: int, effects: int, seed: int) -> dict[str, np.ndarray]:
    """`effects` effects in `trials` trials (each at least one): yi = μ + u_trial + u_effect + e."""
    if effects < trials:
        raise ValueError("need at least one effect per trial")
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.multinomial(effects - trials, np.full(trials, 1.0 / trials))
    trial = np.repeat(np.arange(1, trials + 1), sizes)
    effect = np.arange(1, effects + 1)
    vi = rng.uniform(*VI_RANGE, effects)
    u_trial = rng.normal(0.0, np.sqrt(SIGMA2_TRIAL), trials)[trial - 1]
    u_effect = rng.normal(0.0, np.sqrt(SIGMA2_EFFECT), effects)
    yi = MU + u_trial + u_effect + rng.normal(0.0, np.sqrt(vi))
    return {"trial": trial, "effect": effect, "yi": yi, "vi": vi}


def write(path: Path, data: dict[str, np.ndarray]) -> None:
    """Full-precision CSV (repr of each float), so R and Python read identical numbers."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(data))
        for row in zip(*data.values(), strict=True):
            w.writerow([repr(float(x)) if isinstance(x, np.floating) else int(x) for x in row])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--effects", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    write(args.out, simulate(args.trials, args.effects, args.seed))


if __name__ == "__main__":
    main()
