"""What the charting pages need from the clinical rules, for the web shell (routes reach the rules only
through the services): the choices of a measurement, the home-exercise programme's limits, its handout."""

from __future__ import annotations

from typing import Any

from strigil.catalog import AftercareItem, load_aftercare, load_catalog
from strigil.clinical.home_exercise import MAX_EXERCISES, PrescribedExercise, handout_line
from strigil.clinical.vocabulary import Joint, Motion, allowed
from strigil.services.views import EpisodeView

__all__ = ["MAX_EXERCISES", "Handout", "handout", "measure_choices"]


def measure_choices() -> dict[str, Any]:
    """A measurement's choices beyond the catalogue's measures: a range of motion's joints and motions, and
    each measure's kind (which fields a measure row shows)."""
    return {
        "joints": allowed(Joint),
        "motions": allowed(Motion),
        "measure_kinds": {code: m.kind for code, m in load_catalog().measures.items()},
    }


class Handout:
    """The patient's handout: the programme in plain words, what to expect, when to call."""

    def __init__(self, lines: list[str], items: tuple[AftercareItem, ...]) -> None:
        self.lines = lines
        self.expect = [a for a in items if a.when == "expect"]
        self.call = [a for a in items if a.when == "call"]


def handout(view: EpisodeView) -> Handout:
    """The handout of an episode's home-exercise programme, exactly as the clinician wrote it."""
    lines = [handout_line(PrescribedExercise.model_validate(e)) for e in view.exercise_prescription]
    return Handout(lines, load_aftercare())
