"""Feedback for training: the clinician's strokes against a target the clinician chose.

The target is the clinician's own: a value they set, or their own earlier sessions. Published forces are
shown beside it as context, with their sources and the warning that they come from laboratory simulations;
they are never the target and never called a correct dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from strigil.force.dose import StrokeTable
from strigil.force.published import PublishedStudy, published_studies, simulant_warning
from strigil.force.settings import HEURISTIC

__all__ = [
    "DEFAULT_TOLERANCE_PCT",
    "Feedback",
    "Metric",
    "Target",
    "TargetError",
    "give_feedback",
    "target_from_earlier",
]

Metric = Literal["peak", "mean"]

# Width of a target band around a chosen force when the clinician gives only its centre: ± this percent.
# No study fixes it (a configurable heuristic).
DEFAULT_TOLERANCE_PCT = 15.0


class TargetError(ValueError):
    """A target that cannot be used; the message says what is allowed."""


@dataclass(frozen=True)
class Target:
    """A band of per-stroke force (peak or mean, N) that the clinician aims for, and how it was chosen."""

    metric: Metric
    low_n: float
    high_n: float
    basis: str

    def __post_init__(self) -> None:
        if self.metric not in ("peak", "mean"):
            raise TargetError(f"target metric {self.metric!r}: allowed 'peak' or 'mean'")
        if not 0 < self.low_n <= self.high_n:
            raise TargetError(f"target {self.low_n:g}–{self.high_n:g} N: need 0 < low ≤ high")

    @classmethod
    def between(cls, low_n: float, high_n: float, metric: Metric = "peak") -> Target:
        """A band the clinician set, from `low_n` to `high_n`."""
        return cls(metric, low_n, high_n, f"set by the clinician: {low_n:g}–{high_n:g} N")

    @classmethod
    def around(
        cls, centre_n: float, tolerance_pct: float = DEFAULT_TOLERANCE_PCT, metric: Metric = "peak"
    ) -> Target:
        """A band of ± `tolerance_pct` around a force the clinician chose."""
        if not 0 <= tolerance_pct < 100:
            raise TargetError(f"tolerance {tolerance_pct:g} %: allowed 0 to below 100")
        low, high = centre_n * (1 - tolerance_pct / 100), centre_n * (1 + tolerance_pct / 100)
        basis = f"set by the clinician: {centre_n:g} N ± {tolerance_pct:g} %"
        if tolerance_pct == DEFAULT_TOLERANCE_PCT:
            basis += f" (the ± {DEFAULT_TOLERANCE_PCT:g} % band is a {HEURISTIC})"
        return cls(metric, low, high, basis)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {"metric": self.metric, "low_n": self.low_n, "high_n": self.high_n, "basis": self.basis}


def target_from_earlier(
    earlier: NDArray[np.float64] | list[float],
    metric: Metric = "peak",
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT,
) -> Target:
    """A band around the average of the clinician's own earlier strokes (their peak or mean forces, N)."""
    values = np.asarray(earlier, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        raise TargetError("earlier strokes: none to build a target from")
    centre = float(values.mean())
    base = Target.around(centre, tolerance_pct, metric)
    basis = (
        f"your earlier sessions: average {metric} force {centre:.2f} N over {len(values)} strokes, "
        f"± {tolerance_pct:g} %"
    )
    if tolerance_pct == DEFAULT_TOLERANCE_PCT:
        basis += f" (a {HEURISTIC})"
    return Target(metric, base.low_n, base.high_n, basis)


@dataclass(frozen=True)
class Feedback:
    """Strokes below, within and above the target, a plain summary, and the published context."""

    target: Target
    values_n: NDArray[np.float64]
    below: int
    within: int
    above: int
    cv_pct: float | None
    summary: str
    context: tuple[PublishedStudy, ...]
    warning: str

    @property
    def n_strokes(self) -> int:
        """Number of strokes judged."""
        return len(self.values_n)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict: target, counts, summary, per-stroke verdicts, published context and warning."""
        verdicts = np.where(
            self.values_n < self.target.low_n,
            "below",
            np.where(self.values_n > self.target.high_n, "above", "within"),
        )
        return {
            "target": self.target.to_json(),
            "n_strokes": self.n_strokes,
            "below": self.below,
            "within": self.within,
            "above": self.above,
            "cv_pct": None if self.cv_pct is None else round(self.cv_pct, 3),
            "summary": self.summary,
            "strokes": [str(v) for v in verdicts],
            "context": [s.to_json() for s in self.context],
            "warning": self.warning,
        }


def _count(n: int, word: str = "stroke") -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def give_feedback(strokes: StrokeTable, target: Target) -> Feedback:
    """Judge each stroke's peak or mean force against the target and say so in plain words."""
    values = strokes.column(target.metric)
    below = int((values < target.low_n).sum())
    above = int((values > target.high_n).sum())
    within = len(values) - below - above
    cv = float(100 * values.std(ddof=1) / values.mean()) if len(values) > 1 and values.mean() > 0 else None
    band = f"{target.metric} force {target.low_n:.1f}–{target.high_n:.1f} N"
    n = len(values)
    if n == 0:
        summary = f"No strokes were found, so none could be compared with your target ({band})."
    else:
        parts = [f"{above} of {_count(n)} above your target ({band})", f"{within} within", f"{below} below"]
        summary = "; ".join(parts) + "."
        if cv is not None:
            summary += f" Your {target.metric} force varied by {cv:.0f} % (coefficient of variation)."
    context = tuple(
        s for s in published_studies() if s.figures_for(target.metric) or s.figures_for(f"{target.metric}_cv")
    )
    return Feedback(
        target=target,
        values_n=values,
        below=below,
        within=within,
        above=above,
        cv_pct=cv,
        summary=summary,
        context=context,
        warning=simulant_warning(),
    )
