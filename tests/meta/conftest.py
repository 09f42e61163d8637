"""Shared data for the meta-analysis tests: the BCG vaccine trials (Colditz et al., 1994)."""

from __future__ import annotations

import numpy as np
import pytest

# BCG vaccine trials as bundled with metafor (dat.bcg): TB cases / non-cases in the vaccinated
# (tpos, tneg) and control (cpos, cneg) arms, and absolute latitude of the trial site.
BCG = {
    "tpos": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
    "tneg": [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
    "cpos": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
    "cneg": [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
    "ablat": [44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33],
}


@pytest.fixture
def bcg() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log risk ratios, their variances (computed by hand here) and latitude of the BCG trials."""
    a, b, c, d = (np.array(BCG[n], dtype=float) for n in ("tpos", "tneg", "cpos", "cneg"))
    yi = np.log(a / (a + b)) - np.log(c / (c + d))
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    return yi, vi, np.array(BCG["ablat"], dtype=float)


@pytest.fixture
def bcg_counts() -> dict[str, list[int]]:
    """The raw BCG 2×2 tables and latitude."""
    return BCG
