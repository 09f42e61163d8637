"""The seam to the decision aid (issue 4): exercise-first check and recommendations, when they exist.

The decision-support engineer writes `strigil.clinical.exercise_first` and `strigil.clinical.response`;
this module calls them if they are installed, so the record works before they land.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from strigil.clinical.vocabulary import ACTIVE_COMPONENTS

__all__ = ["exercise_first_problem", "recommendation_for"]

_EXERCISE_FIRST_WHY = (
    "IASTM is at best an adjunct: reviews find insufficient evidence for it as a standalone treatment and "
    "most trials combine it with exercise (Cheatham SW et al. J Can Chiropr Assoc 2016;60(3):200 — "
    "https://pmc.ncbi.nlm.nih.gov/articles/PMC5039777; Nazari G et al. Arch Phys Med Rehabil 2019 — "
    "https://ir.lib.uwo.ca/boneandjointpub/1344)"
)


def _module(name: str) -> Any | None:
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def exercise_first_problem(
    planned_iastm: bool, co_interventions: list[str], reason: str | None
) -> str | None:
    """Why a plan breaks the exercise-first rule (issue 4), or None when it is acceptable."""
    module = _module("strigil.clinical.exercise_first")
    if module is not None and hasattr(module, "check_exercise_first"):
        check = module.check_exercise_first(list(co_interventions), reason, includes_iastm=planned_iastm)
        return None if check.allowed else str(check.message)
    # Fallback until the decision aid is installed: the same rule as issue 4 states it.
    if not planned_iastm or set(co_interventions) & ACTIVE_COMPONENTS or (reason and reason.strip()):
        return None
    return (
        "planned care has IASTM but no active exercise component (strengthening, functional_exercise or "
        "motor_control; stretching alone is not enough). Add one to planned_co_interventions, or record why "
        f"with exercise_first_reason. Why: {_EXERCISE_FIRST_WHY}"
    )


def recommendation_for(history: dict[str, Any]) -> dict[str, Any] | None:
    """The decision aid's recommendation for an episode history, as JSON-ready data.

    `history` is the `strigil respond` document (measures with session numbers and pre/post timing, adverse
    responses, session dates). None when the decision aid is not installed or there is nothing to judge yet;
    if the aid cannot judge the history, the stored recommendation says why instead of blocking the record.
    """
    module = _module("strigil.clinical.response")
    if module is None or not hasattr(module, "recommend_document") or not history.get("measures"):
        return None
    try:
        result = module.recommend_document(history)
    except ValueError as exc:
        return {"recommendation": None, "unavailable": str(exc)}
    return dict(result.as_dict())
