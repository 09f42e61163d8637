"""The decision aid as the record's services use it: the exercise-first rule on a plan of care, and the
recommendation stored with each session.

Both rules live in the core (`strigil.clinical.exercise_first`, `strigil.clinical.response`); this module only
adapts them to what a service has in hand (plan fields; the episode history as a `strigil respond` document).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from strigil.clinical.exercise_first import check_exercise_first
from strigil.clinical.response import recommend_document

__all__ = ["exercise_first_problem", "recommendation_for", "respond_history"]


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


def respond_history(
    condition: str,
    dates: Mapping[int, dt.date],
    measures: Iterable[tuple[Any, ...]],
    adverse: Iterable[tuple[int, str, str, dt.date, dt.date | None]],
) -> dict[str, Any]:
    """An episode's sessions as the `strigil respond` document the decision aid judges.

    `dates`: session number → date of the sessions that count (void ones left out by the caller);
    `measures`: (session number, measure, timing, value[, {joint, motion, side, activity}] — which series of
    the measure a value is, for a range of motion or a PSFS item); `adverse`: (session number, kind,
    severity, onset, resolved on or None). The one builder behind the recommendation stored at recording
    and the one shown after the record changed (a resolution, a void).
    """
    measured = [
        {
            "measure": item[1],
            "session": item[0],
            "timing": item[2],
            "value": item[3],
            **{k: w for k, w in (item[4] if len(item) > 4 else {}).items() if w is not None},
        }
        for item in measures
        if item[2] in ("pre", "post")
    ]
    numbers = {m["session"] for m in measured}
    return {
        "condition": condition,
        "measures": measured,
        "sessions": [{"session": n, "date": d.isoformat()} for n, d in sorted(dates.items()) if n in numbers],
        "adverse_responses": [
            {
                "session": n,
                "type": kind,
                "severity": severity,
                "resolved_days": None if resolved is None else float((resolved - onset).days),
            }
            for n, kind, severity, onset, resolved in adverse
        ],
    }
