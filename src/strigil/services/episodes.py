"""Episodes of care: open (with the exercise-first rule and informed consent), amend the plan, close with a
coded reason, show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.clinical.episode import EpisodePlan, consent_problem
from strigil.clinical.gates import reason_problem
from strigil.clinical.home_exercise import Prescription
from strigil.clinical.vocabulary import DischargeReason, allowed
from strigil.services._convert import episode_view
from strigil.services.amendments import keep_previous
from strigil.services.decision_support import exercise_first_problem
from strigil.services.errors import NotFound, Refused, from_validation, invalid
from strigil.services.patients import find_patient
from strigil.services.views import EpisodeView
from strigil.store.mapping import episode_columns, episode_plan_from
from strigil.store.record import EpisodeRow, PatientRow

__all__ = [
    "DISCHARGE_REASONS",
    "amend_plan",
    "close_episode",
    "discharge_reason_of",
    "discharge_words",
    "find_episode",
    "open_episode",
    "prescribe_exercises",
    "show_episode",
    "show_episode_named",
]

# The coded reasons an episode ends for, in words (strigil.clinical.vocabulary.DischargeReason).
DISCHARGE_REASONS: dict[str, str] = {
    "goals_met": "goals met",
    "plateau": "plateau: no further meaningful change",
    "referred_on": "referred on",
    "patients_choice": "the patient's choice",
    "lost_to_follow_up": "lost to follow-up",
    "other": "other",
}
# the vocabulary's codes, in its order (a code without words here fails at import)
DISCHARGE_REASONS = {code: DISCHARGE_REASONS[code] for code in allowed(DischargeReason)}


def open_episode(
    db: Session,
    clinic_id: int,
    patient_code: str,
    plan: dict[str, Any] | EpisodePlan,
    *,
    by: str = "",
    at_the_table: bool = True,
    referrer: str | None = None,
) -> EpisodeView:
    """Open an episode of care; IASTM without an active exercise component needs a recorded reason, and
    IASTM needs informed consent that names the risks, the alternatives and the exercise programme.

    `at_the_table=False` (an import of another system's record) keeps a consent recorded in free text.
    `referrer` names the referring clinician (the discharge letter's addressee), if any.
    """
    try:
        episode = plan if isinstance(plan, EpisodePlan) else EpisodePlan.model_validate(plan)
    except ValidationError as exc:
        raise from_validation(exc) from None
    _plan_rules(episode, consent=at_the_table)
    if episode.consent is not None and episode.consent.given_on > episode.opened_on:
        # a plan that adds IASTM later brings its own consent (`amend_plan`); a new one is consented first
        raise invalid(
            "consent.given_on",
            episode.consent.given_on.isoformat(),
            f"must be on or before opened_on {episode.opened_on}",
        )
    who = " ".join((referrer or "").split()) or None
    if who is not None and len(who) > 200:
        raise invalid("referrer", who[:40] + "…", "at most 200 characters")
    patient = find_patient(db, clinic_id, patient_code)
    row = EpisodeRow(patient_id=patient.id, created_by=by, referrer=who, **episode_columns(episode))
    db.add(row)
    db.flush()
    return episode_view(db, row, patient)


def discharge_reason_of(reason: str, text: str | None = None) -> tuple[str, str]:
    """The coded reason and the words of a discharge: a code (with `text`); or words — those that name a
    reason ("goals met", "goals met: back at work", as `discharge_words` writes them) for its code, any others
    for "other" — so a discharge read back from its words (an import) keeps its code."""
    given = " ".join(reason.split())
    words = " ".join((text or "").split())
    if given in DISCHARGE_REASONS:
        return given, words
    for code, named in DISCHARGE_REASONS.items():
        if code != "other" and (given == named or given.startswith(named + ": ")):
            return code, given[len(named) + 2 :] if given != named else words
    return "other", words or given


def discharge_words(code: str, words: str) -> str:
    """A discharge reason in words: the code's name and the words given ("other": the words alone)."""
    if code == "other":
        return words
    return DISCHARGE_REASONS[code] + (f": {words}" if words else "")


def find_episode(db: Session, clinic_id: int, episode_id: int) -> tuple[EpisodeRow, PatientRow]:
    """The episode and its patient, if the episode belongs to the clinic."""
    found = db.execute(
        select(EpisodeRow, PatientRow)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(EpisodeRow.id == episode_id, PatientRow.clinic_id == clinic_id)
    ).first()
    if found is None:
        raise NotFound("no such episode in this clinic; see `strigil patient show CODE` for episode ids")
    return found[0], found[1]


def show_episode(db: Session, clinic_id: int, episode_id: int) -> EpisodeView:
    """One episode with its sessions, measurements and adverse responses."""
    episode, patient = find_episode(db, clinic_id, episode_id)
    return episode_view(db, episode, patient)


def show_episode_named(db: Session, clinic_id: int, public_id: object) -> EpisodeView:
    """The episode a page or request names by its public id (NotFound when it names no episode of this
    clinic), as `show_episode` shows it."""
    from strigil.services import record_ids

    return show_episode(db, clinic_id, record_ids.resolve(db, clinic_id, "episode", public_id))


def close_episode(
    db: Session,
    clinic_id: int,
    episode_id: int,
    closed_on: dt.date,
    reason: str,
    *,
    text: str | None = None,
    referrer: str | None = None,
) -> EpisodeView:
    """Close an episode with a coded reason (`DISCHARGE_REASONS`; "other" needs `text`); a closed episode
    takes no more sessions. Words that are not a code are kept as the text of "other". `referrer` names the
    referring clinician the discharge letter is addressed to (None: leave as recorded)."""
    episode, patient = find_episode(db, clinic_id, episode_id)
    if episode.voided_at is not None:
        raise Refused(f"episode {episode.public_id} is void ({episode.void_reason}); it is not discharged")
    if episode.closed_on is not None:
        raise Refused(f"episode {episode.public_id} was already closed on {episode.closed_on}")
    if closed_on < episode.opened_on:
        raise invalid(
            "closed_on", closed_on.isoformat(), f"must be on or after opened_on {episode.opened_on}"
        )
    code, words = discharge_reason_of(reason, text)
    if code == "other" and not words:
        raise invalid(
            "reason", reason, f"say why the episode is closed; allowed: {', '.join(DISCHARGE_REASONS)}"
            " (other: with text)"
        )
    if len(words) > 500:
        raise invalid("text", f"{len(words)} characters", "at most 500 characters")
    if referrer is not None and len(referrer.strip()) > 200:
        raise invalid("referrer", referrer[:40] + "…", "at most 200 characters")
    episode.closed_on, episode.discharge_reason = closed_on, code
    episode.close_reason = discharge_words(code, words)
    if referrer is not None:
        episode.referrer = " ".join(referrer.split()) or None
    db.flush()
    return episode_view(db, episode, patient)


def amend_plan(
    db: Session,
    clinic_id: int,
    episode_id: int,
    *,
    planned_iastm: bool,
    co_interventions: list[str],
    exercise_first_reason: str | None,
    consent: dict[str, Any] | None,
    reason: str,
    by: str,
) -> EpisodeView:
    """Amend an episode's plan of care (e.g. add IASTM): the earlier plan is kept with who, when and why.

    The new plan follows the same rules as a new one (exercise first, informed consent); the reason for the
    change follows the override-reason rule (`strigil.clinical.gates`).
    """
    episode, patient = find_episode(db, clinic_id, episode_id)
    if episode.closed_on is not None:
        raise Refused(f"episode {episode.public_id} was closed on {episode.closed_on}; its plan is final")
    why = reason_problem(reason, "reason")
    if why:
        raise invalid("reason", reason, why.split(": ", 1)[1])
    current = episode_plan_from(episode).model_dump(mode="json")
    try:
        plan = EpisodePlan.model_validate(
            {
                **current,
                "planned_iastm": planned_iastm,
                "planned_co_interventions": co_interventions,
                "exercise_first_reason": exercise_first_reason,
                "consent": consent if consent is not None else current["consent"],
            }
        )
    except ValidationError as exc:
        raise from_validation(exc) from None
    _plan_rules(plan, consent=True)
    keep_previous(
        db,
        "episode",
        episode.id,
        episode.version,
        current,
        by=by,
        reason=reason.strip(),
    )
    for column, value in episode_columns(plan).items():
        setattr(episode, column, value)
    episode.version += 1
    db.flush()
    return episode_view(db, episode, patient)


def _plan_rules(plan: EpisodePlan, *, consent: bool) -> None:
    """Exercise first, and (with `consent`) informed consent named as choices, for a new or amended plan."""
    problem = exercise_first_problem(
        plan.planned_iastm, list(plan.planned_co_interventions), plan.exercise_first_reason
    )
    if problem:
        raise Refused(f"exercise first: {problem}")
    if consent and plan.planned_iastm and (bad := consent_problem(plan.consent)):
        if plan.consent is None:
            raise invalid("consent", None, bad)
        raise invalid("consent.explained", list(plan.consent.explained), bad)


def prescribe_exercises(
    db: Session, clinic_id: int, episode_id: int, exercises: list[dict[str, Any]], *, by: str = ""
) -> EpisodeView:
    """Write the episode's home-exercise programme as the clinician gives it (replacing the last one, which is
    kept as an amendment). Strigil proposes none: an empty list clears the programme."""
    episode, patient = find_episode(db, clinic_id, episode_id)
    if episode.closed_on is not None:
        raise Refused(
            f"episode {episode.public_id} was closed on {episode.closed_on}; its programme is final"
        )
    try:
        prescription = Prescription.model_validate({"exercises": exercises})
    except ValidationError as exc:
        raise from_validation(exc) from None
    if episode.exercise_prescription:
        keep_previous(
            db,
            "episode_exercise_prescription",
            episode.id,
            episode.version,
            {"exercises": episode.exercise_prescription},
            by=by or "unknown",
            reason="home-exercise programme changed",
        )
    episode.exercise_prescription = [e.model_dump() for e in prescription.exercises]
    db.flush()
    return episode_view(db, episode, patient)
