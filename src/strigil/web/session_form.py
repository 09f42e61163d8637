"""The session form: HTML form fields <-> the session document the record's service takes.

Pure functions. Field names are flat (`step-0-stroke`, `m-1-post`, `a-0-severity`) so the form works without
JavaScript; HTMX only re-renders the dose-step block when a step is added, removed or moved. The form opens
with the screening step (confirm "no change" or screen now) and, at a follow-up session, the follow-up
questions; several adverse responses each carry their own onset, resolution and severity (no default).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from strigil.catalog import load_catalog
from strigil.clinical.gates import OVERRIDE_MIN_CHARS, OVERRIDE_MIN_WORDS
from strigil.clinical.session import DOSE_STEP_FIELDS
from strigil.clinical.vocabulary import display_name

__all__ = [
    "ADVERSE_FIELDS",
    "ADVERSE_ROWS",
    "CARRIED_FIELDS",
    "ELSEWHERE_ROWS",
    "MEASURE_FIELDS",
    "MEASURE_ROWS",
    "REACTION_FIELDS",
    "REACTION_ROWS",
    "STEP_FIELDS",
    "SessionForm",
    "carried_steps",
    "do_not_treat",
    "draft_problems",
    "field_label",
    "form_errors",
    "gate_messages",
    "missing_choices",
    "parse_form",
    "problems_at",
    "read_form",
    "reorder_steps",
    "step_signature",
    "still_carried",
]

STEP_FIELDS = DOSE_STEP_FIELDS
_NUMBERS = {"angle_deg": float, "force_n": float, "duration_s": int, "stroke_count": int}
MEASURE_ROWS = 1  # blank measure rows the form adds after the filled ones ("Add a measure" adds more)
MEASURE_FIELDS = ("measure", "pre", "post", "joint", "motion", "side", "activity")
ADVERSE_ROWS = 3  # adverse responses after this session
REACTION_ROWS = 3  # reactions reported at the follow-up questions, after an earlier session
ELSEWHERE_ROWS = 0  # findings at another region: each finding has its own "where" (kept for callers)
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
    steps = [{f: _get(form, f"step-{i}-{f}") for f in (*STEP_FIELDS, *CARRIED_FIELDS)} for i in indices]
    rows = sorted({int(m.group(1)) for key in form if (m := re.fullmatch(r"m-(\d+)-measure", key))})
    measures = [{f: _get(form, f"m-{i}-{f}") for f in MEASURE_FIELDS} for i in rows]
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
        "notes_confirmed",
        "carried_from",
        "template_name",
    )
    getlist = getattr(form, "getlist", None)
    checked = list(dict.fromkeys(str(v) for v in getlist("finding"))) if getlist else []
    # each finding is listed once, with where it is when that is not the treated region
    where_of = {code: _get(form, f"finding-{code}-region") for code in checked}
    return SessionForm(
        {n: _get(form, n) for n in names},
        steps,
        measures,
        followed,
        [code for code in checked if not where_of[code]],
        [{"code": code, "region": where_of[code]} for code in checked if where_of[code]],
        [{k: _get(form, f"a-{i}-{k}") for k in ADVERSE_FIELDS} for i in range(ADVERSE_ROWS)],
        [{k: _get(form, f"fu-{i}-{k}") for k in REACTION_FIELDS} for i in range(REACTION_ROWS)],
        {m.group(1): _get(form, key) for key in form if (m := re.fullmatch(r"resolved-([0-9a-f]{32})", key))},
    )


def missing_choices(session_form: SessionForm, *, follow_up_session: bool) -> dict[str, str]:
    """The choices the form asks for before anything is sent: the screening step, at a follow-up session
    whether the follow-up questions were asked, and after IASTM how the patient tolerated it (never
    preselected: a default would record an observation nobody made)."""
    out = {}
    if session_form.value("screening_choice") not in ("no_change", "screen"):
        out["screening_choice"] = "screen first: confirm no change since the last screening, or screen now"
    iastm = any(s.get("stroke") or s.get("duration_s") for s in session_form.steps)
    if iastm and not session_form.value("tolerance"):
        out["tolerance"] = "choose how the patient tolerated today's IASTM"
    if follow_up_session and session_form.value("follow_up_choice") not in ("none", "reported", "not_asked"):
        out["follow_up_choice"] = "say whether the follow-up questions were asked, and what was reported"
    return out


def parse_form(session_form: SessionForm, episode_id: str) -> tuple[dict[str, Any], dict[str, str]]:
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
    kinds = {code: entry.kind for code, entry in load_catalog().measures.items()}
    for row, m in enumerate(session_form.measures):
        if not m["measure"]:
            continue
        for timing in ("pre", "post"):
            if m[timing] == "":
                continue
            i = len(measurements)
            where[f"measurements[{i}].value"] = f"m-{row}-{timing}"
            where[f"measurements[{i}].measure"] = f"m-{row}-measure"
            where[f"measurements[{i}]"] = f"m-{row}-{timing}"
            for q in ("joint", "motion", "side", "activity"):
                where[f"measurements[{i}].{q}"] = f"m-{row}-{q}"
            # only the fields the measure has a use for (a range of motion's, a PSFS item's)
            applies: tuple[str, ...] = ("joint", "motion", "side") if kinds.get(m["measure"]) == "rom" else ()
            applies += ("activity",) if m["measure"] == "psfs" else ()
            qualifiers = {q: m[q] for q in applies if m.get(q)}
            measurements.append(
                {"measure": m["measure"], "timing": timing, "value": _number(m[timing], float), **qualifiers}
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
        for e in session_form.elsewhere:
            if e.get("code"):
                where[f"screening.findings[{len(findings)}].region"] = f"finding-{e['code']}-region"
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
                resolved.append({"adverse_id": adverse_id, "resolved_on": date})  # a public id
        answers["resolved"] = resolved
    doc["follow_up"] = answers


_FIELD_WORDS = {
    "date": "Date",
    "clinician": "Treating clinician",
    "warm_up_kind": "Warm-up",
    "warm_up_minutes": "Warm-up minutes",
    "tolerance": "Tolerance",
    "clinician_decision": "Your decision",
    "decision_reason": "Reason for your decision",
    "override_reason": "Override reason",
    "dose_confirmed": "Dose confirmation",
    "exercise_delivered": "Exercise programme",
    "exercise_not_delivered_reason": "Why the exercise was not delivered",
    "screening_choice": "Screening",
    "follow_up_choice": "Follow-up questions",
    "notes": "Notes",
    "template_name": "Template name",
    "instrument": "instrument",
    "stroke": "stroke",
    "angle_deg": "angle",
    "direction": "direction",
    "pressure": "pressure",
    "duration_s": "duration",
    "force_n": "force",
    "stroke_count": "stroke count",
    "edge": "edge",
    "region": "region",
    "side": "side",
    "severity": "severity",
    "kind": "kind",
    "onset_on": "began on",
    "resolved_on": "resolved on",
    "measure": "measure",
    "pre": "before",
    "post": "after",
    "joint": "joint",
    "motion": "motion",
    "activity": "activity",
    "confirmed": "carried forward",
    "session": "after session",
    "code": "finding",
}
_ROW_WORDS = {
    "step": "Step",
    "m": "Measure",
    "a": "Adverse response",
    "fu": "Reaction",
    "elsewhere": "Finding",
}


def field_label(name: str) -> str:
    """What the session form calls a field, for the error summary: "step-1-duration_s" -> "Step 2,
    duration"."""
    if m := re.fullmatch(r"([a-z]+)-(\d+)-(\w+)", name):
        row = _ROW_WORDS.get(m.group(1), m.group(1))
        return f"{row} {int(m.group(2)) + 1}, {_FIELD_WORDS.get(m.group(3), m.group(3).replace('_', ' '))}"
    if m := re.fullmatch(r"resolved-([0-9a-f]{32})", name):
        return "Resolved on"
    return _FIELD_WORDS.get(name, name.replace("_", " ").replace("-", " "))


def problems_at(exc: Exception, where: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """A service's error placed next to the form's fields (`where`: document field -> form field id):
    every problem of an InvalidInput beside its field, any other error for the top of the form."""
    problems = getattr(exc, "problems", None)
    if problems is None:
        return {}, [str(exc)]
    return form_errors(problems, where)


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
    if op == "add":  # a copy of the last step is a new step: not carried forward
        steps.append({**(steps[-1] if steps else blank), "carried": "", "confirmed": ""})
    elif op == "remove" and 0 <= index < len(steps):
        steps.pop(index)
    elif op == "up" and 0 < index < len(steps):
        steps[index - 1], steps[index] = steps[index], steps[index - 1]
    elif op == "down" and 0 <= index < len(steps) - 1:
        steps[index + 1], steps[index] = steps[index], steps[index + 1]
    return steps


# A step brought forward from the last session carries its signature until it is confirmed or changed.
CARRIED_FIELDS = ("carried", "confirmed")


def step_signature(step: Mapping[str, str]) -> str:
    """A short digest of a dose step's values: a carried-forward step whose values still match it has not
    been edited."""
    text = "|".join(step.get(f, "") for f in STEP_FIELDS)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def carried_steps(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The last session's dose steps as a draft: every value as text, each step marked as carried forward
    (its signature) until the clinician confirms or edits it."""
    out = []
    for step in steps:
        text = {f: "" if step.get(f) is None else _text(step.get(f)) for f in STEP_FIELDS}
        out.append({**text, "carried": step_signature(text), "confirmed": ""})
    return out


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def still_carried(step: Mapping[str, str]) -> bool:
    """A carried-forward step neither confirmed nor edited since it was brought forward."""
    return bool(step.get("carried")) and step.get("confirmed") != "yes" and (
        step_signature(step) == step.get("carried")
    )


def draft_problems(
    session_form: SessionForm,
    *,
    previous_notes: str | None,
    previous_number: int | None,
    kinds: Mapping[str, str],
) -> dict[str, str]:
    """What the form asks before the record checks anything: carried-forward steps confirmed or edited, a
    range of motion's joint and motion, a PSFS item's activity, and an identical note confirmed (a cloned
    note is a known audit risk). `kinds` maps measure codes to their kind (rom, function, ...)."""
    out: dict[str, str] = {}
    for i, step in enumerate(session_form.steps):
        if still_carried(step):
            out[f"step-{i}-confirmed"] = (
                "carried forward from the last session: confirm it was done today, change it, or remove it"
            )
    for r, m in enumerate(session_form.measures):
        if not m.get("measure") or not (m.get("pre") or m.get("post")):
            continue
        if kinds.get(m["measure"]) == "rom":
            if not m.get("joint"):
                out[f"m-{r}-joint"] = "choose the joint this range of motion was measured at"
            if not m.get("motion"):
                out[f"m-{r}-motion"] = "choose the motion measured"
        if m["measure"] == "psfs" and not m.get("activity"):
            out[f"m-{r}-activity"] = "name the activity the patient scored, in their words"
    notes = session_form.value("notes")
    identical = bool(notes and previous_notes and notes.strip() == previous_notes.strip())
    if identical and session_form.value("notes_confirmed") != "yes":
        out["notes"] = (
            f"identical to the note of session {previous_number}: edit it to say what happened today, or "
            "confirm it is accurate for today (copied notes are an audit risk)"
        )
    return out


def do_not_treat(screening: Mapping[str, Any] | None) -> str:
    """The plain words a contraindicated screening puts beside the screening step and atop the error summary
    ("" for any other verdict): do not treat, refer the same day when the findings catalogue asks for it."""
    if not screening or screening.get("verdict") != "contraindicated":
        return ""
    names = [str(r.get("name") or r.get("code")) for r in screening.get("reasons", [])]
    kinds = [r.get("kind") for r in screening.get("reasons", [])]
    found = "; ".join(n for n, k in zip(names, kinds, strict=True) if k == "contraindication")
    if screening.get("referral") == "urgent":
        return f"Do not treat — refer the same day. Contraindicated: {found}."
    return f"Do not treat with IASTM — contraindicated: {found}. Refer."


def gate_messages(
    refusals: Sequence[Any], screening: Mapping[str, Any] | None, errors: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The safety gates' refusals in plain words: the lead line for the top of the error summary (a
    contraindicated screening), and each field's message without the rules' codes ("[gate.…]")."""
    lead = do_not_treat(screening)
    plain = {name: re.sub(r" \[gate\.\w+\]", "", text) for name, text in errors.items()}
    for r in refusals:
        if r.rule == "gate.contraindicated" and "override_reason" in plain:
            given = r.message.rsplit("; given: ", 1)[-1] if "; given: " in r.message else "nothing"
            names = ", ".join(
                str(x.get("name") or x.get("code"))
                for x in (screening or {}).get("reasons", [])
                if x.get("kind") == "contraindication"
            )
            screened = screening or {}
            by_region = screened.get("by_region") or []
            regions = [b["region"] for b in by_region if b["verdict"] == "contraindicated"]
            where = ", ".join(display_name(x) for x in regions or [str(screened.get("region") or "")] if x)
            at = f" at {where}" if where else ""
            plain["override_reason"] = (
                f"IASTM over a contraindication ({names or 'see the screening'}{at})"
                f" is saved only with an override reason: at least {OVERRIDE_MIN_WORDS} words and "
                f"{OVERRIDE_MIN_CHARS} characters saying why you treat anyway; given: {given}"
            )
    return ([lead] if lead else []), plain
