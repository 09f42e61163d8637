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
from strigil.clinical.limits import REASON_CHARS
from strigil.clinical.response import recommend_document
from strigil.clinical.screening import load_findings

__all__ = [
    "exercise_first_problem",
    "recommendation_for",
    "respond_history",
    "standing_contraindications",
]


def exercise_first_problem(
    planned_iastm: bool, co_interventions: Iterable[str], reason: str | None
) -> str | None:
    """Why a plan breaks the exercise-first rule, or None when it is acceptable."""
    check = check_exercise_first(list(co_interventions), reason, includes_iastm=planned_iastm)
    return None if check.allowed else check.message


def recommendation_for(history: dict[str, Any]) -> dict[str, Any] | None:
    """The decision aid's recommendation for an episode history, as JSON-ready data.

    `history` is the `strigil respond` document (measures with session numbers and pre/post timing, adverse
    responses, session dates, the contraindications standing at the latest screening). None when there is
    nothing to judge yet; if the aid cannot judge the history, the stored recommendation says why instead of
    blocking the record — except that a standing contraindication still says refer.
    """
    standing = history.get("contraindications")
    if not history.get("measures") and not standing:
        return None
    try:
        result = recommend_document(history)
    except ValueError as exc:
        if not standing:
            return {"recommendation": None, "unavailable": str(exc)}
        # the measures cannot be judged, but the screening's contraindication decides on its own
        judged = recommend_document({**history, "measures": [], "adverse_responses": [], "goal": None})
        return {**judged.to_json(), "unavailable": str(exc)}
    return result.to_json()


def standing_contraindications(
    result: Mapping[str, Any] | None, screened_on: dt.date | None
) -> list[dict[str, Any]]:
    """The contraindications of a screening's result (`ScreeningResult.to_json()`, as stored), as the
    `contraindications` of a `strigil respond` document: each finding named, with its source and whether the
    catalogue asks for a same-day referral. Empty for a screening that found none (it clears earlier ones)."""
    findings = load_findings().findings
    out = []
    for reason in (result or {}).get("reasons", []):
        if reason.get("kind") != "contraindication":
            continue
        code = str(reason.get("code", ""))
        entry = findings.get(code)
        detail = str(reason.get("detail") or "")
        out.append(
            {
                "code": code,
                "name": str(reason.get("name") or code),
                "source": str(reason.get("source") or ""),
                "screened_on": None if screened_on is None else screened_on.isoformat(),
                "urgent": entry is not None and entry.referral == "urgent",
                "detail": detail if len(detail) <= REASON_CHARS else detail[: REASON_CHARS - 1] + "…",
            }
        )
    return out


def respond_history(
    condition: str,
    dates: Mapping[int, dt.date],
    measures: Iterable[tuple[Any, ...]],
    adverse: Iterable[tuple[int, str, str, dt.date, dt.date | None]],
    contraindications: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An episode's sessions as the `strigil respond` document the decision aid judges.

    `dates`: session number → date of the sessions that count (void ones left out by the caller);
    `measures`: (session number, measure, timing, value[, {joint, motion, side, activity}] — which series of
    the measure a value is, for a range of motion or a PSFS item); `adverse`: (session number, kind,
    severity, onset, resolved on or None); `contraindications`: those standing at the latest screening
    (`standing_contraindications`). The one builder behind the recommendation stored at recording and the one
    shown after the record changed (a resolution, a void, a later screening).
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
        "contraindications": [dict(c) for c in contraindications],
    }
