"""Tissue phase (acute / subacute / chronic) from the time since onset."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_PHASE_CUTOFFS", "PhaseCutoffs", "TissuePhase", "tissue_phase"]

TissuePhase = Literal["acute", "subacute", "chronic"]


@dataclass(frozen=True)
class PhaseCutoffs:
    """Day limits of the acute and subacute phases.

    No source in the domain reference fixes these cut-offs (Baker & Baker 2017 only note that the best
    timing, e.g. during the acute inflammatory phase, is unknown), so the defaults are a
    configurable heuristic.
    """

    acute_max_days: int = 42
    subacute_max_days: int = 84
    label: str = "configurable heuristic"

    def __post_init__(self) -> None:
        if not 0 < self.acute_max_days < self.subacute_max_days:
            raise ValueError(
                f"phase cut-offs: acute_max_days={self.acute_max_days} must be > 0 and below "
                f"subacute_max_days={self.subacute_max_days}"
            )


DEFAULT_PHASE_CUTOFFS = PhaseCutoffs()


def tissue_phase(onset: dt.date, on: dt.date, cutoffs: PhaseCutoffs = DEFAULT_PHASE_CUTOFFS) -> TissuePhase:
    """The tissue phase on `on` of a problem that began on `onset` (cut-offs: configurable heuristic)."""
    days = (on - onset).days
    if days < 0:
        raise ValueError(f"onset date {onset.isoformat()} is after {on.isoformat()}")
    if days <= cutoffs.acute_max_days:
        return "acute"
    if days <= cutoffs.subacute_max_days:
        return "subacute"
    return "chronic"
