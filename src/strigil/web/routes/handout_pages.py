"""The episode's home-exercise programme: the clinician writes it on the episode page, and the patient gets a
printable handout that says exactly that in plain words, with what to expect and when to call."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from strigil.services import audit as audit_service
from strigil.services import episodes as episode_service
from strigil.services import record_ids
from strigil.services.charting import MAX_EXERCISES, handout
from strigil.services.errors import RecordError
from strigil.web.api_errors import EpisodeRef
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render_measured
from strigil.web.routes.record_pages import Clinician, render_episode
from strigil.web.session_form import problems_at

__all__ = ["EXERCISE_FIELDS", "handout_page", "prescribe_page", "router"]

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
EXERCISE_FIELDS = ("exercise", "sets", "repetitions", "frequency")


@router.post("/episodes/{episode_id}/exercises")
async def prescribe_page(request: Request, episode: EpisodeRef, db: DB, principal: Clinician) -> Response:
    """Save the home-exercise programme (rows with an exercise named); errors come back beside the rows."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    raw = await request.form()
    rows = [
        {f: str(raw.get(f"ex-{i}-{f}", "")).strip() for f in EXERCISE_FIELDS} for i in range(MAX_EXERCISES)
    ]
    filled = [r for r in rows if any(r.values())]  # shown again in this order, so errors name these rows
    where: dict[str, str] = {}
    for n in range(len(filled)):
        where.update({f"exercises[{n}].{f}": f"ex-{n}-{f}" for f in EXERCISE_FIELDS})
        where[f"exercises[{n}]"] = f"ex-{n}-exercise"
    items = [
        {k: (int(v) if k in ("sets", "repetitions") and v.isdigit() else v) for k, v in r.items()}
        for r in filled
    ]
    try:
        view = episode_service.prescribe_exercises(
            db, principal.clinic_id, episode_id, items, by=principal.username
        )
    except RecordError as exc:
        errors, general = problems_at(exc, where)
        return render_episode(
            request, db, principal, episode_id, exercise_rows=filled, exercise_errors=errors,
            exercise_general=general, status=422,
        )
    audit_service.record(
        db, principal.actor, "update", "episode", view.id, patient_id=view.patient_id,
        detail="home-exercise programme",
    )
    return RedirectResponse(f"/episodes/{episode}?programme=saved#programme", status_code=303)


@router.get("/episodes/{episode_id}/handout")
def handout_page(request: Request, episode: EpisodeRef, db: DB, principal: Clinician) -> Response:
    """The printable home-exercise handout: exactly the prescribed programme, what to expect, when to call."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    audit_service.record(
        db, principal.actor, "export", "home_exercise_handout", view.id, patient_id=view.patient_id
    )
    sheet = handout(view)
    return render_measured(
        request,
        "handout.html",
        principal,
        episode=view,
        lines=sheet.lines,
        expect=sheet.expect,
        call=sheet.call,
    )
