"""HTML pages over the clinical record: dashboard, patients, episode, screening, session form, summary."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from strigil.catalog import CLINIC_TEMPLATE_LABEL, load_session_templates
from strigil.services import audit as audit_service
from strigil.services import clinic_templates, patients, record_ids
from strigil.services import dashboard as dashboard_service
from strigil.services import episodes as episode_service
from strigil.services.charting import MAX_EXERCISES
from strigil.services.choices import record_choices
from strigil.services.errors import RecordError
from strigil.services.patient_summary import patient_summary
from strigil.services.progress import latest_recommendation, progress
from strigil.services.screening import finding_choices, screen_before_session, screen_episode
from strigil.web.api_errors import EpisodeRef, Page, Search
from strigil.web.charts import progress_rows, progress_svg
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render, render_measured
from strigil.web.routes.record_api import ALERT_WINDOW
from strigil.web.security import Principal, allow
from strigil.web.session_form import (
    problems_at,
)

__all__ = [
    "Clinician",
    "add_patient_page",
    "choices",
    "dashboard_page",
    "episode_page",
    "open_episode_page",
    "patient_page",
    "patients_page",
    "render_episode",
    "router",
    "screening_panel",
    "summary_page",
]

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
Clinician = Annotated[Principal, allow("clinician")]


def choices() -> dict[str, Any]:
    """The catalogues and vocabularies the record's forms choose from."""
    return record_choices()


def dashboard_page(request: Request, db: DB, principal: Principal) -> Response:
    """Today's patients with a pre-session screening, and the clinic's alerts."""
    today = dt.date.today()
    rows = dashboard_service.today_patients(db, principal.clinic_id, today)
    alerts = dashboard_service.clinic_alerts(db, principal.clinic_id, since=today - ALERT_WINDOW)
    safety = dashboard_service.safety_counts(db, principal.clinic_id, since=today - ALERT_WINDOW)
    adverse = dashboard_service.prior_adverse(db, [row.episode_id for row in rows])
    screenings = []
    alerted = {a.episode_id for a in alerts if a.kind == "screening"}  # each screening listed once
    for row in rows:
        if adverse.get(row.episode_id) and row.episode_id not in alerted:
            result = screen_before_session(row.region, adverse[row.episode_id], today)
            if result.verdict != "clear":
                screenings.append((row, result))
    audit_service.record(db, principal.actor, "read", "dashboard", "")
    return render(
        request,
        "dashboard.html",
        principal,
        today=today,
        rows=rows,
        alerts=alerts,
        screenings=screenings,
        safety=safety,
    )


@router.get("/patients")
def patients_page(request: Request, db: DB, principal: Clinician, q: Search = "", page: Page = 1) -> Response:
    """Find a patient by code; paged list."""
    found = patients.search_patients(db, principal.clinic_id, q, page=page, per_page=25)
    audit_service.record(db, principal.actor, "read", "patient_list", "", detail=f"q={q[:40]} page={page}")
    return render(
        request,
        "patients.html",
        principal,
        found=found,
        overview=patients.overview(db, [p.id for p in found.patients]),
        q=q,
        result=found,
        pages_total=found.pages,
        errors={},
        general=[],
        form={},
    )


@router.post("/patients")
def add_patient_page(
    request: Request,
    db: DB,
    principal: Clinician,
    code: Annotated[str, Form()] = "",
    birth_year: Annotated[str, Form()] = "",
    sex: Annotated[str, Form()] = "",
) -> Response:
    """Register a patient from the patients page."""
    try:
        year: Any = int(birth_year) if birth_year.strip().isdigit() else birth_year
        view = patients.add_patient(db, principal.clinic_id, {"code": code, "birth_year": year, "sex": sex})
    except RecordError as exc:
        errors, general = problems_at(exc, {"code": "new-code", "birth_year": "new-year", "sex": "new-sex"})
        found = patients.search_patients(db, principal.clinic_id, "", page=1)
        return render(
            request,
            "patients.html",
            principal,
            status_code=422,
            found=found,
            overview=patients.overview(db, [p.id for p in found.patients]),
            q="",
            result=found,
            pages_total=found.pages,
            errors=errors,
            general=general,
            form={"code": code, "birth_year": birth_year, "sex": sex},
        )
    audit_service.record(db, principal.actor, "create", "patient", view.id, patient_id=view.id)
    return RedirectResponse(f"/patients/{view.code}?added=1", status_code=303)


@router.get("/patients/{patient_code}")
def patient_page(
    request: Request, patient_code: str, db: DB, principal: Clinician, added: bool = False
) -> Response:
    """A patient with their episodes, and a form to open a new one."""
    view = patients.show_patient(db, principal.clinic_id, patient_code)
    audit_service.record(db, principal.actor, "read", "patient", view.id, patient_id=view.id)
    form = {"co": ["strengthening"], "planned_iastm": True, "explained": [], "side": "left"}
    return render(
        request,
        "patient.html",
        principal,
        patient=view,
        today=dt.date.today(),
        errors={},
        general=[],
        labels=_EPISODE_LABELS,
        form=form,
        saved="Patient added." if added else None,
        **choices(),
    )


# where each field of an episode's plan sits in the open-episode form, and what the form calls it
_EPISODE_FIELDS = {
    "condition": "ep-condition",
    "region": "ep-region",
    "side": "ep-side",
    "target_tissue": "ep-tissue",
    "onset_date": "ep-onset",
    "opened_on": "ep-onset",
    "goals": "ep-goal",
    "planned_co_interventions": "ep-co",
    "exercise_first_reason": "ep-reason",
    "consent": "consent",
    "consent.explained": "consent",
    "referrer": "ep-referrer",
}
_EPISODE_LABELS = {
    "ep-condition": "Condition",
    "ep-region": "Region",
    "ep-side": "Side",
    "ep-tissue": "Target tissue",
    "ep-onset": "Onset date",
    "ep-goal": "Goal",
    "ep-co": "Planned alongside IASTM",
    "ep-reason": "Reason, if no active exercise is planned",
    "consent": "Informed consent",
    "ep-referrer": "Referring clinician",
}


@router.post("/patients/{patient_code}/episodes")
def open_episode_page(
    request: Request,
    patient_code: str,
    db: DB,
    principal: Clinician,
    condition: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "",
    side: Annotated[str, Form()] = "",
    target_tissue: Annotated[str, Form()] = "",
    onset_date: Annotated[str, Form()] = "",
    co: Annotated[list[str] | None, Form()] = None,
    exercise_first_reason: Annotated[str, Form()] = "",
    goal: Annotated[str, Form()] = "",
    planned_iastm: Annotated[str, Form()] = "",
    explained: Annotated[list[str] | None, Form()] = None,
    referrer: Annotated[str, Form()] = "",
) -> Response:
    """Open an episode from the patient page (consent given today, with what was explained as choices)."""
    view = patients.show_patient(db, principal.clinic_id, patient_code)
    today = dt.date.today().isoformat()
    plan = {
        "condition": condition,
        "region": region,
        "side": side,
        "target_tissue": target_tissue,
        "onset_date": onset_date,  # never assumed: a blank date is asked for (it sets the tissue phase)
        "opened_on": today,
        "goals": [goal] if goal else [],
        "planned_iastm": planned_iastm == "yes",
        "planned_co_interventions": co or [],
        "exercise_first_reason": exercise_first_reason or None,
        "consent": {"given_on": today, "explained": explained} if explained else None,
    }
    try:
        episode = episode_service.open_episode(
            db, principal.clinic_id, patient_code, plan, by=principal.username, referrer=referrer
        )
    except RecordError as exc:
        errors, general = problems_at(exc, _EPISODE_FIELDS)
        if not onset_date:
            errors["ep-onset"] = (
                "enter when the symptoms began (an estimate will do): it sets the tissue phase, and no date "
                "is assumed"
            )
        if general and "exercise first" in general[0]:
            errors, general = {"ep-reason": general[0].removeprefix("exercise first: ")}, []
        form = {
            "condition": condition,
            "region": region,
            "side": side,
            "target_tissue": target_tissue,
            "onset_date": onset_date,
            "co": co or [],
            "goal": goal,
            "exercise_first_reason": exercise_first_reason,
            "planned_iastm": planned_iastm == "yes",
            "explained": explained or [],
            "referrer": referrer,
        }
        return render(
            request,
            "patient.html",
            principal,
            status_code=422,
            patient=view,
            today=dt.date.today(),
            errors=errors,
            general=general,
            labels=_EPISODE_LABELS,
            form=form,
            saved=None,
            **choices(),
        )
    audit_service.record(db, principal.actor, "create", "episode", episode.id, patient_id=view.id)
    return RedirectResponse(f"/episodes/{episode.public_id}", status_code=303)


@router.get("/episodes/{episode_id}")
def episode_page(
    request: Request,
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    recorded: Annotated[int | None, Query(ge=1)] = None,
    programme: Annotated[str, Query(pattern="^(saved)?$")] = "",
) -> Response:
    """The episode: progress charts with MCID bands, the recommendation with reasons, sessions, screening,
    the home-exercise programme; `recorded`/`programme` say what was just saved."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    return render_episode(
        request, db, principal, episode_id, recorded=recorded, programme_saved=programme == "saved"
    )


def render_episode(
    request: Request,
    db: DB,
    principal: Principal,
    episode_id: int,
    *,
    recorded: int | None = None,
    programme_saved: bool = False,
    exercise_rows: list[dict[str, str]] | None = None,
    exercise_errors: dict[str, str] | None = None,
    exercise_general: list[str] | None = None,
    status: int = 200,
) -> Response:
    """The episode page (also with the home-exercise form as it came back with errors)."""
    view = episode_service.show_episode(db, principal.clinic_id, episode_id)
    audit_service.record(db, principal.actor, "read", "episode", view.id, patient_id=view.patient_id)
    charts = [(s, progress_svg(s), progress_rows(s)) for s in progress(view)]
    rows = exercise_rows or [
        {k: str(e.get(k, "")) for k in ("exercise", "sets", "repetitions", "frequency")}
        for e in view.exercise_prescription
    ]
    blank = dict.fromkeys(("exercise", "sets", "repetitions", "frequency"), "")
    rows = [r for r in rows if any(r.values())] + [dict(blank) for _ in range(2)]
    return render(
        request,
        "episode.html",
        principal,
        status_code=status,
        episode=view,
        charts=charts,
        recorded=recorded,
        programme_saved=programme_saved,
        sourced_templates=load_session_templates().values(),
        own_templates=clinic_templates.clinic_templates(db, principal.clinic_id),
        clinic_label=CLINIC_TEMPLATE_LABEL,
        exercise_rows=rows[:MAX_EXERCISES],
        errors=exercise_errors or {},
        general=exercise_general or [],
        recommendation=latest_recommendation(view),
        findings=finding_choices(),
        today=dt.date.today(),
        **choices(),
    )


@router.post("/episodes/{episode_id}/screening")
def screening_panel(
    request: Request,
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    findings: Annotated[list[str] | None, Form()] = None,
    intolerance: Annotated[str, Form()] = "",
) -> Response:
    """The screening panel's result (an HTML fragment for HTMX, or a page without JavaScript)."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    try:
        result = screen_episode(view, findings or [], intolerance=intolerance == "yes")
        error = None
    except ValueError as exc:
        result, error = None, str(exc)
    audit_service.record(db, principal.actor, "read", "screening", view.id, patient_id=view.patient_id)
    return render(request, "_screening_result.html", principal, result=result, error=error)


@router.get("/patients/{patient_code}/summary", response_class=HTMLResponse)
def summary_page(request: Request, patient_code: str, db: DB, principal: Clinician) -> Response:
    """A printable summary for the patient: the evidence for their condition and their own progress."""
    summary = patient_summary(db, principal.clinic_id, patient_code)
    audit_service.record(
        db, principal.actor, "export", "patient_summary", summary.patient.id, patient_id=summary.patient.id
    )
    charts = [[(s, progress_svg(s), progress_rows(s)) for s in part.progress] for part in summary.episodes]
    return render_measured(request, "summary.html", principal, summary=summary, charts=charts)
