"""Re-deriving the per-arm confidence intervals that Seffrin et al. 2019 print in Table 3.

Seffrin's intervals are reproduced by d ± z·√(2/n + d²/(4n)), the large-sample variance of a standardized
mean difference between two independent groups of size n each (Hedges & Olkin 1985; metafor's SMD variance
with n1 = n2 = n): Seffrin treated the pre and post measurements of one arm as independent samples
(iastm_trials.md §2, a *derived* check). This checks each printed interval, not a pooled result.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from strigil.evidence.library import Library
from strigil.evidence.records import PrintedRow, Study, number

__all__ = [
    "SEFFRIN_REVIEW",
    "Z95",
    "SeffrinCheck",
    "seffrin_checks",
    "seffrin_interval",
]

SEFFRIN_REVIEW = "review:Seffrin 2019 J Athl Train (per-study ES, no pooling)"
Z95 = 1.959963984540054


def seffrin_interval(d: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The 95% interval d ± z·√(2/n + d²/(4n)) for a within-arm effect size d over an arm of n people."""
    if n < 1:
        raise ValueError(f"arm size n must be >= 1; got {n}")
    se = math.sqrt(2 / n + d * d / (4 * n))
    return d - z * se, d + z * se


@dataclass(frozen=True)
class SeffrinCheck:
    """One Table 3 row: the printed interval, the arm size used, and whether the row is tested."""

    row: int
    study: str
    arm: str
    outcome: str
    d: str
    ci: tuple[str, str]
    n: int | None
    status: Literal["tested", "inferred_size", "printed_error"]
    why: str
    recomputed: tuple[float, float] | None

    @property
    def max_error(self) -> float | None:
        """The larger distance between a printed and a recomputed bound (None when not recomputed)."""
        if self.recomputed is None:
            return None
        lo, hi = (number(self.ci[0]), number(self.ci[1]))
        assert lo is not None and hi is not None
        return max(abs(lo - self.recomputed[0]), abs(hi - self.recomputed[1]))


def _arm_of(row: PrintedRow, study: Study) -> tuple[str, int | None, str]:
    label = re.search(r"\[(.*)\]$", row.study)
    role = "comparison" if label and label.group(1).startswith("comparison") else "iastm"
    arm = next(a for a in study.arms if a.role == role)
    printed = row.n_t if role == "iastm" else row.n_c
    n = int(printed) if printed else arm.n
    return (label.group(1) if label else role), n, arm.n_note


def seffrin_checks(library: Library) -> list[SeffrinCheck]:
    """Every Seffrin Table 3 row with its status: tested (arm size known), inferred size, or printed error."""
    out = []
    for study in library.studies.values():
        for row in study.rows:
            if row.review_or_trial != SEFFRIN_REVIEW:
                continue
            arm, n, n_note = _arm_of(row, study)
            flags = [f for f in study.flags if row.row in f.rows and f.field.startswith("ci")]
            d = number(row.yi)
            assert d is not None
            status: Literal["tested", "inferred_size", "printed_error"]
            if flags:
                status, why = "printed_error", flags[0].explanation
            elif n is None:
                status, why = "inferred_size", n_note or "arm size not printed"
            else:
                status, why = "tested", n_note or "arm size printed in iastm_trials.csv"
            size = n if n is not None else _inferred_size(n_note)
            recomputed = seffrin_interval(d, size) if size else None
            out.append(
                SeffrinCheck(
                    row.row,
                    study.id,
                    arm,
                    row.outcome,
                    row.yi,
                    (row.ci_low, row.ci_high),
                    n,
                    status,
                    why,
                    recomputed,
                )
            )
    return sorted(out, key=lambda c: c.row)


def _inferred_size(note: str) -> int | None:
    # "the CI widths imply n≈7" -> 7: shown beside the row, never tested
    found = re.search(r"n≈(\d+)", note)
    return int(found.group(1)) if found else None
