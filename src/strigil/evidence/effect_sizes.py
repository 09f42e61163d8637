"""Between-group effect sizes for every comparison with usable printed numbers, computed with strigil.meta.

Convention: the effect is IASTM arm minus comparison arm on the printed scale (so for pain, where lower is
better, a negative effect favours IASTM). MD and SMD come from `escalc("MD"|"SMD", ...)` (metafor's
definitions: SMD is Hedges' g with the exact small-sample correction); a printed mean difference with its
95% CI enters as metafor's "GEN" measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strigil.evidence.library import Library
from strigil.evidence.records import Comparison, PrintedRow, number

__all__ = [
    "Z95",
    "StudyEffect",
    "effect_of",
    "study_effects",
]

Z95 = 1.959963984540054


@dataclass(frozen=True)
class StudyEffect:
    """One study's between-group effect on one outcome (or why it cannot be computed)."""

    study: str
    outcome: str
    label: str
    row: int
    higher_is_better: bool
    measure_code: str | None
    unit: str
    primary: bool
    usable: bool
    reason: str = ""
    n: int | None = None
    md: float | None = None
    md_vi: float | None = None
    smd: float | None = None
    smd_vi: float | None = None

    @property
    def md_ci(self) -> tuple[float, float] | None:
        """95% Wald interval of the mean difference."""
        return _ci(self.md, self.md_vi)

    @property
    def smd_ci(self) -> tuple[float, float] | None:
        """95% Wald interval of the standardized mean difference."""
        return _ci(self.smd, self.smd_vi)


def _ci(y: float | None, v: float | None) -> tuple[float, float] | None:
    if y is None or v is None:
        return None
    half = Z95 * v**0.5
    return (y - half, y + half)


def _missing(row: PrintedRow) -> list[str]:
    names = ("n_t", "mean_t", "sd_t", "n_c", "mean_c", "sd_c")
    return [name for name in names if number(getattr(row, name)) is None]


def effect_of(comparison: Comparison, row: PrintedRow) -> StudyEffect:
    """The effect sizes one comparison gives, from its printed row (pure; uses strigil.meta.escalc)."""
    from strigil.meta import escalc

    base: dict[str, Any] = dict(
        study=comparison.study,
        outcome=comparison.outcome,
        label=comparison.label,
        row=row.row,
        higher_is_better=comparison.higher_is_better,
        measure_code=comparison.measure_code,
        unit=comparison.unit,
        primary=comparison.primary,
    )
    if comparison.kind == "not_usable":
        return StudyEffect(usable=False, reason=comparison.reason, **base)
    if comparison.kind == "printed_md_ci":
        yi, lo, hi = number(row.yi), number(row.ci_low), number(row.ci_high)
        if yi is None or lo is None or hi is None:
            return StudyEffect(
                usable=False, reason="the printed estimate or its interval is incomplete", **base
            )
        gen = escalc("GEN", yi=[yi], ci_lb=[lo], ci_ub=[hi])
        n = _total(row)
        return StudyEffect(usable=True, n=n, md=float(gen.yi[0]), md_vi=float(gen.vi[0]), **base)
    missing = _missing(row)
    if missing:
        return StudyEffect(
            usable=False, reason=f"missing or incomplete printed values: {', '.join(missing)}", **base
        )
    columns: dict[str, Any] = {
        "m1i": [number(row.mean_t)],
        "sd1i": [number(row.sd_t)],
        "n1i": [number(row.n_t)],
        "m2i": [number(row.mean_c)],
        "sd2i": [number(row.sd_c)],
        "n2i": [number(row.n_c)],
    }
    md = escalc("MD", **columns)
    smd = escalc("SMD", **columns)
    return StudyEffect(
        usable=True,
        n=_total(row),
        md=float(md.yi[0]),
        md_vi=float(md.vi[0]),
        smd=float(smd.yi[0]),
        smd_vi=float(smd.vi[0]),
        **base,
    )


def _total(row: PrintedRow) -> int | None:
    n_t, n_c = number(row.n_t), number(row.n_c)
    if n_t is None or n_c is None:
        return None
    return int(n_t + n_c)


def study_effects(library: Library) -> list[StudyEffect]:
    """Effect sizes (or the reason there are none) for every comparison in the library."""
    return [effect_of(c, library.row(c.row)) for c in library.comparisons]
