"""HTML pages over the clinical record: dashboard, patients, episode, screening, session form, summary."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from strigil.services import audit as audit_service
from strigil.services import clinics, patients, sessions
from strigil.services import dashboard as dashboard_service
from strigil.services import episodes as episode_service
from strigil.services.choices import record_choices
from strigil.services.errors import InvalidInput, RecordError
from strigil.services.follow_up import questions_for_next_session
from strigil.services.patient_summary import patient_summary
from strigil.services.progress import latest_recommendation, progress
from strigil.services.screening import finding_choices, screen_before_session, screen_episode
from strigil.web.api_errors import Id, Page
from strigil.web.charts import progress_svg
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render, render_measured
from strigil.web.routes.record_api import ALERT_WINDOW
from strigil.web.security import Principal, allow
from strigil.web.session_form import (
    ADVERSE_FIELDS,
    ADVERSE_ROWS,
    ELSEWHERE_ROWS,
    REACTION_FIELDS,
    REACTION_ROWS,
    SessionForm,
    form_errors,
    missing_choices,
    parse_form,
    read_form,
    reorder_steps,
)

__all__ = [
    "Clinician",
    "add_patient_page",
    "dashboard_page",
    "episode_page",
    "new_session_page",
    "open_episode_page",
    "patient_page",
    "patients_page",
    "record_session_page",
    "router",
    "screening_panel",
    "session_steps",
    "summary_page",
]

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
Clinician = Annotated[Principal, allow("clinician")]


def _choices() -> dict[str, Any]:
    return record_choices()


def dashboard_page(request: Request, db: DB, principal: Principal) -> Response:
    """Today's patients with a pre-session screening, and the clinic's alerts."""
    today = dt.date.today()
    rows = dashboard_service.today_patients(db, principal.clinic_id, today)
    alerts = dashboard_service.clinic_alerts(db, principal.clinic_id, since=today - ALERT_WINDOW)
    safety = dashboard_service.safety_counts(db, principal.clinic_id, since=today - ALERT_WINDOW)
    adverse = dashboard_service.prior_adverse(db, [row.episode_id for row in rows])
    screenings = []
    for row in rows:
        if adverse.get(row.episode_id):
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
def patients_page(request: Request, db: DB, principal: Clinician, q: str = "", page: Page = 1) -> Response:
    """Find a patient by code; paged list."""
    found = patients.search_patients(db, principal.clinic_id, q, page=page, per_page=25)
    audit_service.record(db, principal.actor, "read", "patient_list", "", detail=f"q={q[:40]} page={page}")
    return render(
        request,
        "patients.html",
        principal,
        found=found,
        q=q,
        result=found,
        pages_total=found.pages,
        error=None,
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
        found = patients.search_patients(db, principal.clinic_id, "", page=1)
        return render(
            request,
            "patients.html",
            principal,
            status_code=422,
            found=found,
            q="",
            result=found,
            pages_total=found.pages,
            error=str(exc),
            form={"code": code, "birth_year": birth_year, "sex": sex},
        )
    audit_service.record(db, principal.actor, "create", "patient", view.id, patient_id=view.id)
    return RedirectResponse(f"/patients/{view.code}", status_code=303)


@router.get("/patients/{patient_code}")
def patient_page(request: Request, patient_code: str, db: DB, principal: Clinician) -> Response:
    """A patient with their episodes, and a form to open a new one."""
    view = patients.show_patient(db, principal.clinic_id, patient_code)
    audit_service.record(db, principal.actor, "read", "patient", view.id, patient_id=view.id)
    return render(
        request, "patient.html", principal, patient=view, today=dt.date.today(), error=None, **_choices()
    )


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
        "onset_date": onset_date or today,
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
        return render(
            request,
            "patient.html",
            principal,
            status_code=422,
            patient=view,
            today=dt.date.today(),
            error=str(exc),
            **_choices(),
        )
    audit_service.record(db, principal.actor, "create", "episode", episode.id, patient_id=view.id)
    return RedirectResponse(f"/episodes/{episode.id}", status_code=303)


@router.get("/episodes/{episode_id}")
def episode_page(request: Request, episode_id: Id, db: DB, principal: Clinician) -> Response:
    """The episode: progress charts with MCID bands, the recommendation with reasons, sessions, screening."""
    view = episode_service.show_episode(db, principal.clinic_id, episode_id)
    audit_service.record(db, principal.actor, "read", "episode", view.id, patient_id=view.patient_id)
    charts = [(s, progress_svg(s)) for s in progress(view)]
    return render(
        request,
        "episode.html",
        principal,
        episode=view,
        charts=charts,
        recommendation=latest_recommendation(view),
        findings=finding_choices(),
        today=dt.date.today(),
        **_choices(),
    )


@router.post("/episodes/{episode_id}/screening")
def screening_panel(
    request: Request,
    episode_id: Id,
    db: DB,
    principal: Clinician,
    findings: Annotated[list[str] | None, Form()] = None,
    intolerance: Annotated[str, Form()] = "",
) -> Response:
    """The screening panel's result (an HTML fragment for HTMX, or a page without JavaScript)."""
    view = episode_service.show_episode(db, principal.clinic_id, episode_id)
    try:
        result = screen_episode(view, findings or [], intolerance=intolerance == "yes")
        error = None
    except ValueError as exc:
        result, error = None, str(exc)
    audit_service.record(db, principal.actor, "read", "screening", view.id, patient_id=view.patient_id)
    return render(request, "_screening_result.html", principal, result=result, error=error)


def _blank_step(view: Any) -> dict[str, str]:
    return {
        "region": view.region,
        "side": view.side,
        "instrument": "",
        "edge": "",
        "stroke": "",
        "angle_deg": "",
        "direction": "",
        "pressure": "",
        "force_n": "",
        "duration_s": "",
        "stroke_count": "",
        "patient_position": "",
        "active_movement": "",
    }


def _session_form_page(
    request: Request,
    db: DB,
    principal: Principal,
    view: Any,
    form: SessionForm,
    *,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    clinicians = clinics.list_clinicians(db, principal.clinic_id)
    return render(
        request,
        "session_form.html",
        principal,
        status_code=status,
        episode=view,
        form=form,
        errors=errors or {},
        general=general or [],
        clinicians=clinicians,
        latest_screening=view.latest_screening,
        questions=questions_for_next_session(view),
        findings=finding_choices(),
        **_choices(),
    )


@router.get("/episodes/{episode_id}/sessions/new")
def new_session_page(request: Request, episode_id: Id, db: DB, principal: Clinician) -> Response:
    """The session form, with one dose step ready and the episode's region filled in."""
    view = episode_service.show_episode(db, principal.clinic_id, episode_id)
    audit_service.record(
        db, principal.actor, "read", "episode", view.id, patient_id=view.patient_id, detail="session form"
    )
    known = [c.code for c in clinics.list_clinicians(db, principal.clinic_id)]
    # The account's own clinician record if its user name is a clinician code, else the first clinician.
    clinician = principal.username if principal.username in known else (known[0] if known else "")
    form = SessionForm(
        values={"date": dt.date.today().isoformat(), "clinician": clinician, "tolerance": "well_tolerated"},
        steps=[_blank_step(view)],
        measures=[{"measure": "nprs", "pre": "", "post": ""}] + [{"measure": "", "pre": "", "post": ""}] * 2,
        elsewhere=[{"code": "", "region": ""} for _ in range(ELSEWHERE_ROWS)],
        adverse=[dict.fromkeys(ADVERSE_FIELDS, "") for _ in range(ADVERSE_ROWS)],
        reactions=[dict.fromkeys(REACTION_FIELDS, "") for _ in range(REACTION_ROWS)],
    )
    return _session_form_page(request, db, principal, view, form)


@router.post("/episodes/{episode_id}/sessions/steps")
async def session_steps(
    request: Request,
    episode_id: Id,
    db: DB,
    principal: Clinician,
    op: Annotated[str, Query(pattern="^(add|remove|up|down)$")] = "add",
    index: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Re-render the dose steps after adding, removing or moving one (HTMX swaps this block in place)."""
    view = episode_service.show_episode(db, principal.clinic_id, episode_id)
    audit_service.record(
        db,
        principal.actor,
        "read",
        "episode",
        view.id,
        patient_id=view.patient_id,
        detail=f"session form: step {op}",
    )
    raw = await request.form()
    form = read_form(raw, [])
    form.steps = reorder_steps(form.steps, op, index, _blank_step(view))
    return render(
        request,
        "_steps.html",
        principal,
        episode=view,
        form=form,
        errors={},
        focus=op,
        focus_index=len(form.steps) - 1 if op == "add" else index,
        **_choices(),
    )


@router.post("/episodes/{episode_id}/sessions")
async def record_session_page(request: Request, episode_id: Id, db: DB, principal: Clinician) -> Response:
    """Record the session; on a mistake the form comes back with a message beside each bad field."""
    view = episode_service.show_episode(db, principal.clinic_id, episode_id)
    raw = await request.form()
    followed = [str(v) for v in raw.getlist("followed_by")]
    form = read_form(raw, followed)
    missing = missing_choices(form, follow_up_session=bool(view.sessions))
    if missing:
        return _session_form_page(request, db, principal, view, form, errors=missing, status=422)
    doc, where = parse_form(form, episode_id)
    try:
        recorded = sessions.record_session(db, principal.clinic_id, doc, by=principal.username)
    except InvalidInput as exc:
        errors, general = form_errors(exc.problems, where)
        return _session_form_page(
            request, db, principal, view, form, errors=errors, general=general, status=422
        )
    except RecordError as exc:
        return _session_form_page(request, db, principal, view, form, general=[str(exc)], status=422)
    audit_service.record(db, principal.actor, "create", "session", recorded.id, patient_id=view.patient_id)
    return RedirectResponse(
        f"/episodes/{episode_id}?recorded={recorded.number}#recommendation", status_code=303
    )


@router.get("/patients/{patient_code}/summary", response_class=HTMLResponse)
def summary_page(request: Request, patient_code: str, db: DB, principal: Clinician) -> Response:
    """A printable summary for the patient: the evidence for their condition and their own progress."""
    summary = patient_summary(db, principal.clinic_id, patient_code)
    audit_service.record(
        db, principal.actor, "export", "patient_summary", summary.patient.id, patient_id=summary.patient.id
    )
    charts = [[(s, progress_svg(s)) for s in part.progress] for part in summary.episodes]
    return render_measured(request, "summary.html", principal, summary=summary, charts=charts)
