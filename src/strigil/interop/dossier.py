"""Everything recorded about a clinic's patients, as plain domain objects: what a FHIR Bundle carries.

A dossier is built from the store by `strigil.services.exchange` (export) or from a Bundle by
`strigil.interop.from_fhir` (import). It holds the record's own pydantic models, so importing
re-validates every field against the catalogue exactly as recording does. Beside them it carries each
record's public identifier (`strigil.store.public_ids`: 32 hex digits, the record's name outside the server
and its FHIR resource id), or None where a record has none yet (then the resource id is derived).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from strigil.clinical.episode import EpisodePlan
from strigil.clinical.people import Clinic, Clinician, Patient
from strigil.clinical.session import AdverseResponse, Measurement, SessionRecord

__all__ = [
    "ClinicDossier",
    "DatedMeasurement",
    "EpisodeDossier",
    "PatientDossier",
    "SessionEntry",
    "VoidMark",
]


@dataclass(frozen=True)
class VoidMark:
    """Why and when a session or an episode was voided (entered by mistake; `strigil.services.void`).

    `at` is None when a record arrives voided without saying when (the import stamps its own time)."""

    reason: str
    at: dt.datetime | None = None


@dataclass(frozen=True)
class SessionEntry:
    """One treatment session: its number in the episode and what was recorded (`record.episode_id` is
    the episode's id in the database it came from, or a placeholder when read from a Bundle)."""

    number: int
    record: SessionRecord
    public_id: str | None = None
    measurement_ids: tuple[str, ...] = ()  # the public ids of record.measurements, in order (or none)
    adverse_ids: tuple[str, ...] = ()  # likewise for record.adverse_responses
    recommended: str | None = None  # the decision aid's word when the session was recorded (derived)
    void: VoidMark | None = None  # the session itself was voided (a void episode's sessions need not be)


@dataclass(frozen=True)
class DatedMeasurement:
    """A measurement recorded outside any session (`strigil measure add`), with its date."""

    taken_on: dt.date
    measurement: Measurement
    public_id: str | None = None


@dataclass(frozen=True)
class EpisodeDossier:
    """One episode of care with its sessions and what was recorded outside them."""

    key: str  # the episode's public id (or, from an old Bundle, its id there): links resources in a Bundle
    plan: EpisodePlan
    closed_on: dt.date | None = None
    close_reason: str | None = None
    sessions: tuple[SessionEntry, ...] = ()
    measurements: tuple[DatedMeasurement, ...] = ()
    adverse_responses: tuple[AdverseResponse, ...] = ()
    adverse_ids: tuple[str, ...] = ()  # the public ids of adverse_responses, in order (or none)
    discharge_reason: str | None = None  # the coded reason of its closing (clinical.vocabulary), when known
    void: VoidMark | None = None  # the episode was voided (opened by mistake): so is all it holds


@dataclass(frozen=True)
class PatientDossier:
    """A patient and their episodes."""

    patient: Patient
    episodes: tuple[EpisodeDossier, ...] = ()
    public_id: str | None = None


@dataclass(frozen=True)
class ClinicDossier:
    """A clinic, the clinicians named in its sessions, and its patients."""

    clinic: Clinic
    clinicians: tuple[Clinician, ...] = ()
    patients: tuple[PatientDossier, ...] = field(default_factory=tuple)
    # the clinic's public id, as an import read it from the scope of the Organization's identifier (None: an
    # unscoped, older file); it tells this server's clinic from another that shares its code
    public_id: str | None = None
