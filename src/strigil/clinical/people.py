"""Clinic, clinician and patient (pseudonymous: a code, year of birth and sex — no more than care needs)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from strigil.clinical.limits import LIST_ITEMS
from strigil.clinical.vocabulary import Profession, Sex

__all__ = ["CODE_PATTERN", "Clinic", "Clinician", "Patient", "Training"]

# Codes are pseudonyms chosen by the clinic: letters, digits, '-' and '_' only (no names with spaces).
_CODE_LENGTH = 32
CODE_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{_CODE_LENGTH - 1}}}$"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Clinic(_Record):
    """A clinic: the unit that owns patients and their records."""

    code: str = Field(max_length=_CODE_LENGTH, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)


class Training(_Record):
    """One IASTM training route (course or school; formal or informal — Baker et al. 2018)."""

    course: str = Field(min_length=1, max_length=200, description="course, school or brand")
    formal: bool = Field(description="true for a formal course, false for informal learning")


class Clinician(_Record):
    """A clinician who delivers IASTM (TIDieR item 5: profession, expertise, training)."""

    code: str = Field(max_length=_CODE_LENGTH, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    profession: Profession
    training: list[Training] = Field(default_factory=list, max_length=LIST_ITEMS)
    years_experience: int = Field(ge=0, le=70)


class Patient(_Record):
    """A patient known only by a pseudonymous code, year of birth and sex."""

    code: str = Field(
        max_length=_CODE_LENGTH, pattern=CODE_PATTERN, description="pseudonymous patient code (no names)"
    )
    birth_year: int = Field(ge=1900)
    sex: Sex

    @field_validator("birth_year")
    @classmethod
    def _not_in_future(cls, year: int) -> int:
        this_year = dt.date.today().year
        if year > this_year:
            raise ValueError(f"birth year {year} is in the future; allowed: 1900 to {this_year}")
        return year
