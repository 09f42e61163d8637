"""The decision aid as the record's services use it: the exercise-first rule on a plan of care, and the
recommendation stored with each session.

Both rules live in the core (`strigil.clinical.exercise_first`, `strigil.clinical.response`); this module only
adapts them to what a service has in hand (plan fields; the episode history as a `strigil respond` document).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strigil.clinical.exercise_first import check_exercise_first
from strigil.clinical.response import recommend_document

__all__ = ["exercise_first_problem", "recommendation_for"]


def exercise_first_problem(
    planned_iastm: bool, co_interventions: Iterable[str], reason: str | None
) -> str | None:
    """Why a plan breaks the exercise-first rule, or None when it is acceptable."""
    check = check_exercise_first(list(co_interventions), reason, includes_iastm=planned_iastm)
    return None if check.allowed else check.message


def recommendation_for(history: dict[str, Any]) -> dict[str, Any] | None:
    """The decision aid's recommendation for an episode history, as JSON-ready data.

    `history` is the `strigil respond` document (measures with session numbers and pre/post timing, adverse
    responses, session dates). None when there is nothing to judge yet; if the aid cannot judge the history,
    the stored recommendation says why instead of blocking the record.
    """
    if not history.get("measures"):
        return None
    try:
        result = recommend_document(history)
    except ValueError as exc:
        return {"recommendation": None, "unavailable": str(exc)}
    return result.to_json()
