"""The episode's home-exercise prescription, as the clinician wrote it, and what the patient's handout says.

Strigil never proposes exercises: the clinician enters each exercise, its sets, repetitions and how often; the
handout shows exactly that, in plain words, with what to expect after IASTM and when to call — the
adverse-response signals of the domain reference §7, each marked research or practitioner opinion
(`catalog/data/aftercare.toml`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_EXERCISES", "PrescribedExercise", "Prescription", "handout_line"]

MAX_EXERCISES = 12  # a handout a patient can follow (a layout limit, not a clinical one)


class PrescribedExercise(BaseModel):
    """One exercise of the home programme, in the clinician's words."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    exercise: str = Field(min_length=2, max_length=120, description="the exercise, as the clinician names it")
    sets: int = Field(ge=1, le=20)
    repetitions: int = Field(ge=1, le=200, description="repetitions (or seconds of a hold) per set")
    frequency: str = Field(min_length=2, max_length=80, description="how often, e.g. 'every day'")


class Prescription(BaseModel):
    """The whole home programme of an episode (empty: none prescribed yet)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exercises: list[PrescribedExercise] = Field(default_factory=list, max_length=MAX_EXERCISES)


def handout_line(item: PrescribedExercise) -> str:
    """One exercise as the handout says it: "Wrist extension with a bottle: 3 sets of 15, every day"."""
    sets = "1 set" if item.sets == 1 else f"{item.sets} sets"
    return f"{item.exercise}: {sets} of {item.repetitions}, {item.frequency}"
