"""Disclosure control: the smallest group of patients any number shared outside the clinic may describe.

Small-cell suppression at 5 is a common disclosure-control rule; here it is a configurable heuristic, not a
legal standard for any jurisdiction. The researcher's web view, the research exports and the federated
summaries all use this one value.

A sum over a group of patients describes that group. A clinic's sums over all its patients describe them
all, but a fixed-effect column splits them: the entries of Xᵀ[X y] for an indicator describe the patients
with a one, and (by subtracting them from the totals) those with a zero. So every column's group of patients
with a nonzero value, and its group with a zero value, must each be empty or at least the minimum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MIN_PATIENTS", "count_allowed", "small_column_groups"]

MIN_PATIENTS = 5


def count_allowed(n: int, min_patients: int) -> bool:
    """A count may be shared when it is zero or at least `min_patients`."""
    return n == 0 or n >= min_patients


def small_column_groups(
    X: np.ndarray, names: Sequence[str], groups: np.ndarray, min_patients: int
) -> list[str]:
    """Columns whose patients with a nonzero value, or with a zero value, number 1 to `min_patients` − 1."""
    g = np.asarray(groups, dtype=np.intp)
    n_groups = int(g.max()) + 1 if len(g) else 0
    small = []
    for j, name in enumerate(names):
        nonzero = X[:, j] != 0
        with_nonzero = int((np.bincount(g, nonzero, minlength=n_groups) > 0).sum())
        with_zero = int((np.bincount(g, ~nonzero, minlength=n_groups) > 0).sum())
        if not (count_allowed(with_nonzero, min_patients) and count_allowed(with_zero, min_patients)):
            small.append(name)
    return small
