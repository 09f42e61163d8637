"""The session form: a blank session, a new session from the last one (its dose steps as a draft), or from a
sourced template; dose steps and measure rows re-rendered in place (HTMX); recording with every error of the
form shown at once beside its field."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from strigil.catalog import CLINIC_TEMPLATE_LABEL, load_catalog, load_session_templates
from strigil.services import audit as audit_service
from strigil.services import clinic_templates, clinics, record_ids, sessions
from strigil.services import episodes as episode_service
from strigil.services.charting import measure_choices
from strigil.services.errors import InvalidInput, RecordError
from strigil.services.follow_up import questions_for_next_session
from strigil.services.screening import finding_choices, screen_episode
from strigil.services.views import EpisodeView, SessionView
from strigil.web.api_errors import EpisodeRef
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.routes.record_pages import Clinician, choices
from strigil.web.security import Principal
from strigil.web.session_form import (
    ADVERSE_FIELDS,
    ADVERSE_ROWS,
    ELSEWHERE_ROWS,
    MEASURE_FIELDS,
    MEASURE_ROWS,
    REACTION_FIELDS,
    REACTION_ROWS,
    SessionForm,
    carried_steps,
    do_not_treat,
    draft_problems,
    form_errors,
    gate_messages,
    missing_choices,
    parse_form,
    problems_at,
    read_form,
    reorder_steps,
    still_carried,
)

__all__ = [
    "new_session_page",
    "record_session_page",
    "router",
    "save_template_page",
    "session_measures",
    "session_screening",
    "session_steps",
]

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


def _form_choices() -> dict[str, Any]:
    return {**choices(), **measure_choices()}


def _blank_step(view: EpisodeView) -> dict[str, str]:
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
        "carried": "",
        "confirmed": "",
    }


def _blank_measure(measure: str = "", **what: str) -> dict[str, str]:
    return {**dict.fromkeys(MEASURE_FIELDS, ""), "measure": measure, **what}


def _measure_rows(view: EpisodeView, last: SessionView | None) -> list[dict[str, str]]:
    """The measures the form offers: the condition's defaults (catalogue), then what the last session measured
    (each range of motion's joint, motion and side, each PSFS activity) — never their values."""
    condition = load_catalog().conditions.get(view.condition)
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, ...]] = set()
    earlier = [] if last is None else list(last.measurements)
    for m in earlier:
        what = (m.measure, m.joint or "", m.motion or "", m.side or "", m.activity or "")
        if what not in seen:
            seen.add(what)
            rows.append(
                _blank_measure(m.measure, joint=what[1], motion=what[2], side=what[3], activity=what[4])
            )
    measured = {m.measure for m in earlier}
    for code in condition.measures if condition else ("nprs",):
        if code not in measured:
            side = view.side if load_catalog().measures[code].kind == "rom" else ""
            rows.append(_blank_measure(code, side=side))
    return rows + [_blank_measure() for _ in range(MEASURE_ROWS)]


def _offer_side(form: SessionForm, view: EpisodeView) -> None:
    """A range of motion without a side is offered the episode's side."""
    measures = load_catalog().measures
    for m in form.measures:
        if m["measure"] in measures and measures[m["measure"]].kind == "rom" and not m["side"]:
            m["side"] = view.side


def _own_clinician(db: DB, principal: Principal) -> str:
    """The signed-in account's clinician record (its code), or "" for an account without one."""
    for c in clinics.list_clinicians(db, principal.clinic_id):
        if principal.clinician_id is not None and c.id == principal.clinician_id:
            return c.code
    return ""


def _screening_now(view: EpisodeView, form: SessionForm) -> dict[str, Any] | None:
    """What the screening says for the findings ticked on the form, at the regions its steps treat; with none
    ticked and no new screening chosen, the episode's latest screening (what the session will be gated on)."""
    ticked: list[str | dict[str, str]] = [*form.findings, *(e for e in form.elsewhere if e.get("code"))]
    if ticked or form.value("screening_choice") == "screen":
        regions = [s["region"] for s in form.steps if s.get("region")]
        try:
            result = screen_episode(
                view, ticked, intolerance=form.value("intolerance") == "yes", regions=regions
            )
        except ValueError:  # an unknown code or region: the form's own errors name it
            return None
        return result.to_json()
    return None if view.latest_screening is None else view.latest_screening.result


def _session_form_page(
    request: Request,
    db: DB,
    principal: Principal,
    view: EpisodeView,
    form: SessionForm,
    *,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    lead: list[str] | None = None,
    status: int = 200,
    template: Any = None,
) -> Response:
    same_day = [s for s in view.sessions if s.date.isoformat() == form.value("date")]
    return render(
        request,
        "session_form.html",
        principal,
        status_code=status,
        episode=view,
        form=form,
        errors=errors or {},
        general=general or [],
        lead=lead or [],
        do_not_treat=do_not_treat(_screening_now(view, form)),
        clinicians=clinics.list_clinicians(db, principal.clinic_id),
        own_clinician=_own_clinician(db, principal),
        latest_screening=view.latest_screening,
        questions=questions_for_next_session(view),
        findings=finding_choices(),
        same_day=same_day,
        previous=view.sessions[-1] if view.sessions else None,
        template=template,
        condition=load_catalog().conditions.get(view.condition),
        still_carried=still_carried,
        **_form_choices(),
    )


@router.get("/episodes/{episode_id}/sessions/new")
def new_session_page(
    request: Request,
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    carry: Annotated[str, Query(alias="from", pattern="^(last)?$")] = "",
    template: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The session form: blank with one dose step, from the last session (its dose steps as a draft to
    confirm), or from a sourced template; the signed-in clinician treats; the condition's measures offered."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    audit_service.record(
        db, principal.actor, "read", "episode", view.id, patient_id=view.patient_id, detail="session form"
    )
    last = view.sessions[-1] if view.sessions else None
    steps = [_blank_step(view)]
    # tolerance is the clinician's observation of today's session: never preselected, never carried forward
    values = {"date": dt.date.today().isoformat(), "clinician": _own_clinician(db, principal)}
    followed: list[str] = []
    chosen = load_session_templates().get(template) if template else None
    if carry == "last" and last is not None and last.steps:
        steps = carried_steps([dataclasses.asdict(s) for s in last.steps])
        values["carried_from"] = f"session {last.number} ({last.date})"
    elif chosen is not None:
        steps = [{**_blank_step(view), **{k: str(v) for k, v in step.values}} for step in chosen.steps]
        steps = [{**s, "carried": c["carried"]} for s, c in zip(steps, carried_steps(steps), strict=True)]
        values["carried_from"] = f"the template “{chosen.name}”"
        if chosen.warm_up_kind:
            values["warm_up_kind"] = chosen.warm_up_kind
        followed = list(chosen.followed_by)
    elif template.startswith("clinic-"):
        own = clinic_templates.clinic_template(
            db,
            principal.clinic_id,
            record_ids.resolve(db, principal.clinic_id, "clinic_template", template[7:]),
        )
        steps = [{**_blank_step(view), **{k: v for k, v in s.items() if v}} for s in own.steps]
        steps = [{**s, "carried": c["carried"]} for s, c in zip(steps, carried_steps(steps), strict=True)]
        values["carried_from"] = f"the clinic template “{own.name}” ({CLINIC_TEMPLATE_LABEL})"
    form = SessionForm(
        values=values,
        steps=steps,
        measures=_measure_rows(view, last),
        followed_by=followed,
        elsewhere=[{"code": "", "region": ""} for _ in range(ELSEWHERE_ROWS)],
        adverse=[dict.fromkeys(ADVERSE_FIELDS, "") for _ in range(ADVERSE_ROWS)],
        reactions=[dict.fromkeys(REACTION_FIELDS, "") for _ in range(REACTION_ROWS)],
    )
    return _session_form_page(request, db, principal, view, form, template=chosen)


@router.post("/episodes/{episode_id}/sessions/steps")
async def session_steps(
    request: Request,
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    op: Annotated[str, Query(pattern="^(add|remove|up|down)$")] = "add",
    index: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Re-render the dose steps after adding, removing or moving one (HTMX swaps this block in place)."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
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
        still_carried=still_carried,
        **_form_choices(),
    )


@router.post("/episodes/{episode_id}/sessions/measures")
async def session_measures(
    request: Request,
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    op: Annotated[str, Query(pattern="^(add|refresh)$")] = "refresh",
) -> Response:
    """Re-render the measure rows: one more row, or the fields a chosen measure needs (a range of motion's
    joint, motion and side; a PSFS item's activity). HTMX swaps this block in place."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    audit_service.record(
        db,
        principal.actor,
        "read",
        "episode",
        view.id,
        patient_id=view.patient_id,
        detail=f"session form: measures {op}",
    )
    form = read_form(await request.form(), [])
    if op == "add":
        form.measures.append(_blank_measure())
    _offer_side(form, view)
    return render(
        request,
        "_measures.html",
        principal,
        episode=view,
        form=form,
        errors={},
        focus=op,
        **_form_choices(),
    )


@router.post("/episodes/{episode_id}/sessions/screening")
async def session_screening(request: Request, episode: EpisodeRef, db: DB, principal: Clinician) -> Response:
    """Re-render the screening step's verdict after a finding is ticked: "Do not treat" in plain words for a
    contraindication (HTMX swaps this block in place; the page itself renders it too)."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    audit_service.record(
        db, principal.actor, "read", "screening", view.id, patient_id=view.patient_id, detail="session form"
    )
    form = read_form(await request.form(), [])
    return render(
        request, "_session_screening.html", principal, do_not_treat=do_not_treat(_screening_now(view, form))
    )


@router.post("/episodes/{episode_id}/sessions/template")
async def save_template_page(request: Request, episode: EpisodeRef, db: DB, principal: Clinician) -> Response:
    """Save the form's dose steps as a clinic template; the form comes back as it was, with the outcome."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    audit_service.record(
        db, principal.actor, "read", "episode", view.id, patient_id=view.patient_id, detail="session form"
    )
    raw = await request.form()
    form = read_form(raw, [str(v) for v in raw.getlist("followed_by")])
    name = str(raw.get("template_name", ""))
    try:
        saved = clinic_templates.save_clinic_template(
            db, principal.clinic_id, name, form.steps, by=principal.username
        )
    except RecordError as exc:
        errors, general = problems_at(exc, {"name": "template_name", "steps": "template_name"})
        return _session_form_page(
            request, db, principal, view, form, errors=errors, general=general, status=422
        )
    audit_service.record(db, principal.actor, "create", "clinic_template", saved.id)
    form.values["template_saved"] = saved.name
    return _session_form_page(request, db, principal, view, form)


@router.post("/episodes/{episode_id}/sessions")
async def record_session_page(
    request: Request, episode: EpisodeRef, db: DB, principal: Clinician
) -> Response:
    """Record the session; on a mistake the form comes back as entered, every error beside its field and
    listed in a summary at the top."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    raw = await request.form()
    followed = [str(v) for v in raw.getlist("followed_by")]
    form = read_form(raw, followed)
    previous = view.sessions[-1] if view.sessions else None
    kinds = {code: m.kind for code, m in load_catalog().measures.items()}
    errors = {
        **missing_choices(form, follow_up_session=bool(view.sessions)),
        **draft_problems(
            form,
            previous_notes=previous.notes if previous else None,
            previous_number=previous.number if previous else None,
            kinds=kinds,
        ),
    }
    given, where = parse_form(form, episode)  # public ids, as the form names records
    doc = record_ids.inward_document(db, principal.clinic_id, given)
    try:
        found, general = form_errors(sessions.session_problems(db, principal.clinic_id, doc), where)
    except RecordError as exc:
        found, general = {}, [str(exc)]
    for name, message in found.items():
        errors.setdefault(name, message)
    if errors or general:
        _offer_side(form, view)
        return _session_form_page(
            request, db, principal, view, form, errors=errors, general=general, status=422
        )
    try:
        recorded = sessions.record_session(db, principal.clinic_id, doc, by=principal.username)
    except InvalidInput as exc:
        errors, general = form_errors(exc.problems, where)
        lead: list[str] = []
        if isinstance(exc, sessions.GateRefused):  # the gates' refusals in plain words, "do not treat" first
            lead, errors = gate_messages(exc.gates.refusals, exc.screening, errors)
        return _session_form_page(
            request, db, principal, view, form, errors=errors, general=general, lead=lead, status=422
        )
    except RecordError as exc:
        return _session_form_page(request, db, principal, view, form, general=[str(exc)], status=422)
    audit_service.record(db, principal.actor, "create", "session", recorded.id, patient_id=view.patient_id)
    return RedirectResponse(f"/episodes/{episode}?recorded={recorded.number}#saved", status_code=303)
