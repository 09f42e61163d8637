"""The session note: everything a session recorded, read back; signed by its clinician, corrected by
amendment (the original kept: what, why, who, when) and added to by dated addenda.

Each action writes its audit event here, so the web page, the API and the command line leave the same trail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from strigil.services import audit, record_ids
from strigil.services._convert import clinician_view
from strigil.services.amendments import add_addendum_to, history
from strigil.services.audit import Actor
from strigil.services.episodes import find_episode, show_episode
from strigil.services.errors import NotFound, Refused, invalid
from strigil.services.sessions import amend_session, session_document
from strigil.services.views import ClinicianView, EpisodeView, SessionView
from strigil.store.record import ClinicianRow, ClinicRow, EpisodeRow, PatientRow, SessionRow
from strigil.store.types import now_utc

__all__ = [
    "AMENDABLE",
    "Change",
    "NoteAmendment",
    "SessionNote",
    "add_addendum",
    "amend_note",
    "find_session",
    "session_note",
    "sign_note",
]

# What a correction from the note's form may change (the whole document goes through `session amend`).
AMENDABLE = (
    "date",
    "warm_up",
    "emollient",
    "tolerance",
    "clinician_decision",
    "decision_reason",
    "notes",
    "override_reason",
    "exercise_delivered",
    "exercise_not_delivered_reason",
)


@dataclass(frozen=True)
class Change:
    """One field a correction changed: where in the note, what it was and what it became (as text)."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class NoteAmendment:
    """A correction of the note: the version it replaced, who, when, why, and what it changed."""

    version: int
    amended_by: str
    amended_at: dt.datetime
    reason: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class SessionNote:
    """One session's note: the clinic, the episode (without its other sessions), the session, its clinician,
    and the corrections made to it, oldest first."""

    clinic: str
    episode: EpisodeView
    session: SessionView
    clinician: ClinicianView | None
    amendments: tuple[NoteAmendment, ...] = ()

    @property
    def signed(self) -> bool:
        """True once the clinician signed the note."""
        return self.session.signed_at is not None

    def to_json(self, db: Session) -> dict[str, Any]:
        """JSON-ready form (dates as ISO text; records named by their public ids)."""
        return json.loads(json.dumps(record_ids.outward(db, self), default=_iso))


def _iso(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def find_session(db: Session, clinic_id: int, session_id: int) -> tuple[SessionRow, PatientRow]:
    """The session and its patient, if the session belongs to the clinic."""
    row = db.get(SessionRow, session_id)
    if row is None:
        raise NotFound("no such session in this clinic")
    try:
        _, patient = find_episode(db, clinic_id, row.episode_id)
    except NotFound:
        raise NotFound("no such session in this clinic") from None
    return row, patient


def session_note(db: Session, clinic_id: int, session_id: int) -> SessionNote:
    """The note of one session: everything recorded, with its signature, amendments, addenda and void."""
    row, _ = find_session(db, clinic_id, session_id)
    episode = show_episode(db, clinic_id, row.episode_id)
    session = next(s for s in episode.sessions if s.id == row.id)
    clinician = db.get(ClinicianRow, row.clinician_id)
    clinic = db.get(ClinicRow, clinic_id)
    own = {a.id for a in session.adverse_responses}
    bare = dataclasses.replace(
        episode,
        sessions=(),
        measurements=tuple(m for m in episode.measurements if m.session_id == row.id),
        adverse_responses=tuple(a for a in episode.adverse_responses if a.id in own),
    )
    return SessionNote(
        clinic=clinic.name if clinic else "",
        episode=bare,
        session=session,
        clinician=None if clinician is None else clinician_view(clinician),
        amendments=_amendments(db, row),
    )


def _amendments(db: Session, row: SessionRow) -> tuple[NoteAmendment, ...]:
    """Each earlier version with what the next version changed in it."""
    earlier = history(db, "session", row.id)
    if not earlier:
        return ()
    current = {**session_document(db, row.id), "recommendation": row.recommendation}
    versions = [a.previous for a in earlier] + [current]
    return tuple(
        NoteAmendment(a.version, a.amended_by, a.amended_at, a.reason, _changes(versions[i], versions[i + 1]))
        for i, a in enumerate(earlier)
    )


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, item in enumerate(value, start=1):
            out.update(_flat(item, f"{prefix} {i}"))
        return out
    return {prefix: value}


def _text(value: Any) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[Change, ...]:
    """What changed from one version of the note to the next, field by field. Left out: the recommendation
    (the decision aid gave it at the time; not the clinician's to change) and an adverse response's
    resolution, which is recorded on its own (with its own earlier version) and may come after the latest
    correction."""

    def recorded(version: dict[str, Any]) -> dict[str, Any]:
        flat = _flat({k: v for k, v in version.items() if k != "recommendation"})
        return {k: v for k, v in flat.items() if not k.endswith(".resolved_on")}

    old, new = recorded(before), recorded(after)
    names = list(old) + [k for k in new if k not in old]
    return tuple(
        Change(f.replace("_", " "), _text(old.get(f)), _text(new.get(f)))
        for f in names
        if old.get(f) != new.get(f)
    )


def _open(db: Session, row: SessionRow, what: str) -> None:
    """A void session's note, or one of a void episode, is final."""
    if row.voided_at is not None:
        raise Refused(f"session {row.public_id} is void ({row.void_reason}); its note cannot be {what}")
    episode = db.get(EpisodeRow, row.episode_id)
    if episode is not None and episode.voided_at is not None:
        raise Refused(
            f"episode {episode.public_id} is void ({episode.void_reason}); its notes cannot be {what}"
        )


def sign_note(db: Session, clinic_id: int, session_id: int, *, clinician: str, actor: Actor) -> SessionNote:
    """Sign a session's note. Only the session's own clinician signs it (by clinician code), once; what
    follows is an amendment or an addendum."""
    row, patient = find_session(db, clinic_id, session_id)
    _open(db, row, "signed")
    if row.signed_at is not None:
        raise Refused(
            f"session {row.public_id}'s note was signed by {row.signed_by} on {row.signed_at:%Y-%m-%d}; "
            "correct it by amendment or add an addendum"
        )
    own = db.get(ClinicianRow, row.clinician_id)
    code = own.code if own else ""
    if clinician.strip() != code:
        raise Refused(
            f"session {row.public_id}'s note is signed by its clinician ({code}); "
            f"{clinician.strip() or 'nobody'} cannot sign it"
        )
    row.signed_at, row.signed_by = now_utc(), code
    db.flush()
    audit.record(db, actor, "update", "session", row.id, patient_id=patient.id, detail="note signed")
    return session_note(db, clinic_id, session_id)


def amend_note(
    db: Session,
    clinic_id: int,
    session_id: int,
    *,
    changes: dict[str, Any] | None = None,
    document: dict[str, Any] | None = None,
    reason: str,
    actor: Actor,
    today: dt.date | None = None,
) -> SessionNote:
    """Correct what a session recorded: `changes` to some fields (`AMENDABLE`) or a whole corrected
    `document`; the earlier version is kept with who, when and why, and shown with the note."""
    row, patient = find_session(db, clinic_id, session_id)
    _open(db, row, "amended")
    if (changes is None) == (document is None):
        raise invalid("changes", None, "give either the changed fields or the whole corrected document")
    if document is None:
        unknown = sorted(set(changes or {}) - set(AMENDABLE))
        if unknown:
            raise invalid(
                "changes", ", ".join(unknown), f"allowed: {', '.join(AMENDABLE)} (or the whole document)"
            )
        current = session_document(db, row.id)
        document = {**current, **(changes or {})}
        if document == current:
            raise invalid("changes", changes, "nothing differs from the note as it stands")
    amend_session(db, clinic_id, row.id, document, by=actor.username, reason=reason, today=today)
    audit.record(
        db, actor, "update", "session", row.id, patient_id=patient.id, detail=f"note amended: {reason}"[:200]
    )
    return session_note(db, clinic_id, session_id)


def add_addendum(
    db: Session,
    clinic_id: int,
    session_id: int,
    *,
    on: dt.date,
    text: str,
    actor: Actor,
    today: dt.date | None = None,
) -> SessionNote:
    """Add a dated addendum to a session's note: information that arrived later (a reaction reported at the
    next visit, a resolution date); the note as recorded is left as it was."""
    row, patient = find_session(db, clinic_id, session_id)
    _open(db, row, "added to")
    if on > (today or dt.date.today()):
        raise invalid("on", on.isoformat(), "must not be in the future")
    add_addendum_to(row, on, text, by=actor.username)
    db.flush()
    audit.record(db, actor, "update", "session", row.id, patient_id=patient.id, detail="addendum added")
    return session_note(db, clinic_id, session_id)
