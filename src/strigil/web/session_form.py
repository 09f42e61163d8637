"""The session form: HTML form fields <-> the session document the record's service takes.

Pure functions. Field names are flat (`step-0-stroke`, `m-1-post`, `a-0-severity`) so the form works without
JavaScript; HTMX only re-renders the dose-step block when a step is added, removed or moved. The form opens
with the screening step (confirm "no change" or screen now) and, at a follow-up session, the follow-up
questions; several adverse responses each carry their own onset, resolution and severity (no default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strigil.clinical.session import DOSE_STEP_FIELDS

__all__ = [
    "ADVERSE_FIELDS",
    "ADVERSE_ROWS",
    "ELSEWHERE_ROWS",
    "MEASURE_ROWS",
    "REACTION_FIELDS",
    "REACTION_ROWS",
    "STEP_FIELDS",
    "SessionForm",
    "form_errors",
    "missing_choices",
    "parse_form",
    "read_form",
    "reorder_steps",
]

STEP_FIELDS = DOSE_STEP_FIELDS
_NUMBERS = {"angle_deg": float, "force_n": float, "duration_s": int, "stroke_count": int}
MEASURE_ROWS = 3
ADVERSE_ROWS = 3  # adverse responses after this session
REACTION_ROWS = 3  # reactions reported at the follow-up questions, after an earlier session
ELSEWHERE_ROWS = 2  # findings recorded at another region
ADVERSE_FIELDS = ("kind", "severity", "onset_on", "resolved_on", "region")
REACTION_FIELDS = ("session", *ADVERSE_FIELDS)


@dataclass
class SessionForm:
    """What the person typed, kept as text so a form with errors comes back exactly as entered."""

    values: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, str]] = field(default_factory=list)
    measures: list[dict[str, str]] = field(default_factory=list)
    followed_by: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # at the treated region
    elsewhere: list[dict[str, str]] = field(default_factory=list)  # {code, region}
    adverse: list[dict[str, str]] = field(default_factory=list)
    reactions: list[dict[str, str]] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)  # adverse id -> resolution date

    def value(self, name: str, default: str = "") -> str:
        """A top-level field's text."""
        return self.values.get(name, default)


def _number(text: str, kind: type) -> Any:
    text = text.strip()
    if text == "":
        return None
    try:
        return kind(text) if kind is int else float(text)
    except ValueError:
        return text  # the record's validation names the field and what is allowed


def _get(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def read_form(form: Mapping[str, Any], followed: list[str]) -> SessionForm:
    """Collect the form's text fields into a SessionForm (steps and measure rows in page order)."""
    indices = sorted({int(m.group(1)) for key in form if (m := re.fullmatch(r"step-(\d+)-stroke", key))})
    steps = [{f: _get(form, f"step-{i}-{f}") for f in STEP_FIELDS} for i in indices]
    measures = [
        {
            "measure": _get(form, f"m-{i}-measure"),
            "pre": _get(form, f"m-{i}-pre"),
            "post": _get(form, f"m-{i}-post"),
        }
        for i in range(MEASURE_ROWS)
    ]
    names = (
        "date",
        "clinician",
        "warm_up_kind",
        "warm_up_minutes",
        "emollient",
        "tolerance",
        "clinician_decision",
        "decision_reason",
        "notes",
        "screening_choice",
        "intolerance",
        "follow_up_choice",
        "exercise_delivered",
        "exercise_not_delivered_reason",
        "override_reason",
        "dose_confirmed",
    )
    getlist = getattr(form, "getlist", None)
    findings = [str(v) for v in getlist("finding")] if getlist else []
    return SessionForm(
        {n: _get(form, n) for n in names},
        steps,
        measures,
        followed,
        findings,
        [{k: _get(form, f"elsewhere-{i}-{k}") for k in ("code", "region")} for i in range(ELSEWHERE_ROWS)],
        [{k: _get(form, f"a-{i}-{k}") for k in ADVERSE_FIELDS} for i in range(ADVERSE_ROWS)],
        [{k: _get(form, f"fu-{i}-{k}") for k in REACTION_FIELDS} for i in range(REACTION_ROWS)],
        {m.group(1): _get(form, key) for key in form if (m := re.fullmatch(r"resolved-(\d+)", key))},
    )


def missing_choices(session_form: SessionForm, *, follow_up_session: bool) -> dict[str, str]:
    """The choices the form asks for before anything is sent: the screening step and, at a follow-up
    session, whether the follow-up questions were asked."""
    out = {}
    if session_form.value("screening_choice") not in ("no_change", "screen"):
        out["screening_choice"] = "screen first: confirm no change since the last screening, or screen now"
    if follow_up_session and session_form.value("follow_up_choice") not in ("none", "reported", "not_asked"):
        out["follow_up_choice"] = "say whether the follow-up questions were asked, and what was reported"
    return out


def parse_form(session_form: SessionForm, episode_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The session document for the record's service, and where each document field sits in the form."""
    where: dict[str, str] = {}
    v = session_form.value
    doc: dict[str, Any] = {"episode_id": episode_id, "clinician": v("clinician"), "date": v("date")}
    where.update(clinician="clinician", date="date")
    if v("warm_up_kind"):
        doc["warm_up"] = {"kind": v("warm_up_kind"), "minutes": _number(v("warm_up_minutes"), float)}
        where.update(
            {"warm_up.kind": "warm_up_kind", "warm_up.minutes": "warm_up_minutes", "warm_up": "warm_up_kind"}
        )
    if v("emollient"):
        doc["emollient"] = v("emollient")
    steps = []
    for i, step in enumerate(session_form.steps):
        parsed: dict[str, Any] = {}
        for name in STEP_FIELDS:
            text = step.get(name, "")
            if text == "":
                continue
            parsed[name] = _number(text, _NUMBERS[name]) if name in _NUMBERS else text
            where[f"steps[{i}].{name}"] = f"step-{i}-{name}"
        for required in ("region", "side", "instrument", "stroke", "direction", "pressure", "duration_s"):
            where[f"steps[{i}].{required}"] = f"step-{i}-{required}"
        where[f"steps[{i}]"] = f"step-{i}-stroke"
        steps.append(parsed)
    doc["steps"] = steps
    measurements: list[dict[str, Any]] = []
    for row, m in enumerate(session_form.measures):
        if not m["measure"]:
            continue
        for timing in ("pre", "post"):
            if m[timing] == "":
                continue
            where[f"measurements[{len(measurements)}].value"] = f"m-{row}-{timing}"
            where[f"measurements[{len(measurements)}].measure"] = f"m-{row}-measure"
            where[f"measurements[{len(measurements)}]"] = f"m-{row}-{timing}"
            measurements.append(
                {"measure": m["measure"], "timing": timing, "value": _number(m[timing], float)}
            )
    doc["measurements"] = measurements
    doc["followed_by"] = [{"kind": k} for k in session_form.followed_by]
    doc["adverse_responses"] = _rows(session_form.adverse, "a", "adverse_responses", ADVERSE_FIELDS, where)
    _screening(session_form, doc, where)
    _follow_up(session_form, doc, where)
    for name in ("tolerance", "clinician_decision", "decision_reason", "notes", "override_reason"):
        if v(name):
            doc[name] = v(name)
        where[name] = name
    if v("exercise_delivered") in ("yes", "no"):
        doc["exercise_delivered"] = v("exercise_delivered") == "yes"
    if v("exercise_not_delivered_reason"):
        doc["exercise_not_delivered_reason"] = v("exercise_not_delivered_reason")
    doc["dose_confirmed"] = v("dose_confirmed") == "yes"
    where.update(
        exercise_delivered="exercise_delivered",
        exercise_not_delivered_reason="exercise_not_delivered_reason",
        dose_confirmed="dose_confirmed",
        steps="step-0-stroke",
        screening="screening_choice",
        follow_up="follow_up_choice",
    )
    return doc, where


def _rows(
    rows: list[dict[str, str]], prefix: str, name: str, fields: tuple[str, ...], where: dict[str, str]
) -> list[dict[str, Any]]:
    """Filled rows (a kind chosen) as documents; each field's place in the form for the error messages."""
    out: list[dict[str, Any]] = []
    for row, values in enumerate(rows):
        if not values.get("kind"):
            continue
        i = len(out)
        out.append({k: (_int(values[k]) if k == "session" else values[k]) for k in fields if values.get(k)})
        where[f"{name}[{i}]"] = f"{prefix}-{row}-kind"
        for k in fields:
            where[f"{name}[{i}].{k}"] = f"{prefix}-{row}-{k}"
    return out


def _int(text: str) -> Any:
    return int(text) if text.isdigit() else text


def _screening(session_form: SessionForm, doc: dict[str, Any], where: dict[str, str]) -> None:
    choice = session_form.value("screening_choice")
    if choice == "no_change":
        doc["screening"] = {"no_change": True}
    elif choice == "screen":
        findings: list[dict[str, Any]] = [{"code": c} for c in session_form.findings]
        for row, e in enumerate(session_form.elsewhere):
            if e.get("code"):
                where[f"screening.findings[{len(findings)}].region"] = f"elsewhere-{row}-region"
                findings.append({"code": e["code"], "region": e.get("region") or None})
        doc["screening"] = {"findings": findings, "intolerance": session_form.value("intolerance") == "yes"}
    where["screening.findings"] = "screening_choice"


def _follow_up(session_form: SessionForm, doc: dict[str, Any], where: dict[str, str]) -> None:
    choice = session_form.value("follow_up_choice")
    if choice not in ("none", "reported", "not_asked"):
        return
    answers: dict[str, Any] = {"asked": choice != "not_asked"}
    if choice == "reported":
        answers["reactions"] = _rows(
            session_form.reactions, "fu", "follow_up.reactions", REACTION_FIELDS, where
        )
    if choice != "not_asked":
        resolved: list[dict[str, Any]] = []
        for adverse_id, date in session_form.resolved.items():
            if date:
                where[f"follow_up.resolved[{len(resolved)}].resolved_on"] = f"resolved-{adverse_id}"
                resolved.append({"adverse_id": int(adverse_id), "resolved_on": date})
        answers["resolved"] = resolved
    doc["follow_up"] = answers


def form_errors(problems: list[Any], where: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Problems of the record's validation placed next to their form fields; the rest for the top."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for p in problems:
        target = where.get(p.field)
        if target is None:
            # e.g. "steps[1].edge_fits_instrument" or a document rule: attach to the nearest known prefix
            prefix = p.field
            while prefix and target is None:
                prefix = prefix.rsplit(".", 1)[0] if "." in prefix else ""
                target = where.get(prefix)
        text = p.message + ("" if p.value is None else f" (got {p.value!r})")
        if target is None:
            general.append(f"{p.field + ': ' if p.field else ''}{text}")
        else:
            by_field[target] = f"{by_field[target]}; {text}" if target in by_field else text
    return by_field, general


def reorder_steps(
    steps: list[dict[str, str]], op: str, index: int, blank: dict[str, str]
) -> list[dict[str, str]]:
    """Add a step (a copy of the last, or `blank`), remove one, or move one up or down."""
    steps = [dict(s) for s in steps]
    if op == "add":
        steps.append(dict(steps[-1]) if steps else dict(blank))
    elif op == "remove" and 0 <= index < len(steps):
        steps.pop(index)
    elif op == "up" and 0 < index < len(steps):
        steps[index - 1], steps[index] = steps[index], steps[index - 1]
    elif op == "down" and 0 <= index < len(steps) - 1:
        steps[index + 1], steps[index] = steps[index], steps[index + 1]
    return steps
