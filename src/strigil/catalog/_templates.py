"""Session templates (`data/session_templates.toml`): the two sequences the domain reference reads in a
source, as starting points for the session form; and the aftercare a patient's handout gives
(`data/aftercare.toml`). Pure: reads its own data files."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from strigil.catalog._citations import Citation, load_bibliography

__all__ = [
    "CLINIC_TEMPLATE_LABEL",
    "AftercareItem",
    "SessionTemplate",
    "TemplateStep",
    "load_aftercare",
    "load_session_templates",
]

# How a template that is not one of the sourced sequences is labelled wherever it shows.
CLINIC_TEMPLATE_LABEL = "clinic template — not an evidence-based dose"

_STEP_FIELDS = (
    "stroke",
    "angle_deg",
    "direction",
    "pressure",
    "duration_s",
    "patient_position",
    "active_movement",
)


@dataclass(frozen=True, slots=True)
class TemplateStep:
    """What the source says of one dose step: the fields it fixes, and its words."""

    values: tuple[tuple[str, Any], ...]
    as_reported: str


@dataclass(frozen=True, slots=True)
class SessionTemplate:
    """A sourced sequence of dose steps (and warm-up and what followed, where the source names them)."""

    code: str
    name: str
    source: str  # the citation, formatted from the bibliography
    note: str
    steps: tuple[TemplateStep, ...]
    warm_up_kind: str | None = None
    followed_by: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def load_session_templates() -> dict[str, SessionTemplate]:
    """The seeded templates by code (each cited)."""
    text = resources.files("strigil.catalog").joinpath("data", "session_templates.toml").read_text("utf-8")
    bibliography = load_bibliography()
    out = {}
    for raw in tomllib.loads(text)["template"]:
        steps = tuple(
            TemplateStep(tuple((k, s[k]) for k in _STEP_FIELDS if k in s), str(s.get("as_reported", "")))
            for s in raw.get("steps", [])
        )
        out[raw["code"]] = SessionTemplate(
            code=raw["code"],
            name=raw["name"],
            source=bibliography.render_field(raw["source"]),
            note=raw.get("note", ""),
            steps=steps,
            warm_up_kind=raw.get("warm_up_kind"),
            followed_by=tuple(raw.get("followed_by", ())),
        )
    return out


@dataclass(frozen=True, slots=True)
class AftercareItem:
    """One thing the patient's handout says after IASTM: what to expect, or when to call; with its sources."""

    code: str
    when: str  # "expect" or "call"
    text: str
    citations: tuple[Citation, ...]

    @property
    def practitioner(self) -> bool:
        """True when only practitioner sources (⚠️) say it: shown as advice, never as evidence."""
        return all(c.practitioner for c in self.citations)


@lru_cache(maxsize=1)
def load_aftercare() -> tuple[AftercareItem, ...]:
    """The handout's aftercare items (`data/aftercare.toml`), in file order."""
    text = resources.files("strigil.catalog").joinpath("data", "aftercare.toml").read_text("utf-8")
    bibliography = load_bibliography()
    return tuple(
        AftercareItem(raw["code"], raw["when"], raw["text"], bibliography.cite_field(raw["source"]))
        for raw in tomllib.loads(text)["item"]
    )
