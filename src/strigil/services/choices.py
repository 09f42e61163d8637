"""What the record's forms offer to choose from: the catalogues and the closed vocabularies, by name."""

from __future__ import annotations

from typing import Any

from strigil.catalog import load_catalog
from strigil.clinical.vocabulary import (
    AdverseKind,
    ClinicianDecision,
    ConsentItem,
    FibreDirection,
    FollowUpKind,
    PressureCategory,
    Severity,
    Tolerance,
    WarmUpKind,
    allowed,
)
from strigil.services.episodes import DISCHARGE_REASONS

__all__ = ["record_choices"]


def record_choices() -> dict[str, Any]:
    """The choices of the record's pages: catalogue entries by code, vocabularies as tuples of codes, and
    the discharge reasons with their words."""
    catalogue = load_catalog()
    return {
        "regions": catalogue.regions,
        "sides": catalogue.sides,
        "instruments": catalogue.instruments,
        "edges": catalogue.edge_types,
        "strokes": catalogue.strokes,
        "measures": catalogue.measures,
        "conditions": catalogue.conditions,
        "directions": allowed(FibreDirection),
        "pressures": allowed(PressureCategory),
        "warm_ups": allowed(WarmUpKind),
        "follow_ups": allowed(FollowUpKind),
        "adverse_kinds": allowed(AdverseKind),
        "severities": allowed(Severity),
        "tolerances": allowed(Tolerance),
        "decisions": allowed(ClinicianDecision),
        "consent_items": allowed(ConsentItem),
        "discharge_reasons": DISCHARGE_REASONS,
    }
