"""The session form: HTML form fields <-> the session document the record's service takes.

Pure functions. Field names are flat (`step-0-stroke`, `m-1-post`) so the form works without
JavaScript; HTMX only re-renders the dose-step block when a step is added, removed or moved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strigil.clinical.session import DOSE_STEP_FIELDS

__all__ = [
    "MEASURE_ROWS",
    "STEP_FIELDS",
    "SessionForm",
    "form_errors",
    "parse_form",
    "read_form",
    "reorder_steps",
]

STEP_FIELDS = DOSE_STEP_FIELDS
_NUMBERS = {"angle_deg": float, "force_n": float, "duration_s": int, "stroke_count": int}
MEASURE_ROWS = 3


@dataclass
class SessionForm:
    """What the person typed, kept as text so a form with errors comes back exactly as entered."""

    values: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, str]] = field(default_factory=list)
    measures: list[dict[str, str]] = field(default_factory=list)
    followed_by: list[str] = field(default_factory=list)

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
        "adverse_kind",
        "adverse_severity",
    )
    return SessionForm({n: _get(form, n) for n in names}, steps, measures, followed)


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
    if v("adverse_kind"):
        doc["adverse_responses"] = [
            {"kind": v("adverse_kind"), "severity": v("adverse_severity") or "mild", "onset_on": v("date")}
        ]
        where.update(
            {
                "adverse_responses[0].kind": "adverse_kind",
                "adverse_responses[0].severity": "adverse_severity",
                "adverse_responses[0]": "adverse_kind",
            }
        )
    for name in ("tolerance", "clinician_decision", "decision_reason", "notes"):
        if v(name):
            doc[name] = v(name)
            where[name] = name
    where.setdefault("tolerance", "tolerance")
    return doc, where


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
