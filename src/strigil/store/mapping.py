"""The one mapping between the clinical record's tables and its domain objects, both ways.

`*_columns(obj)` gives the column values a domain object is stored as (keys and ids are the caller's);
`*_fields(row)` gives a stored row's values under the domain object's field names, from an ORM row or a Core
result row alike (anything with the columns as attributes); `*_from(row)` validates those fields back into
the domain object. Services, the exchange and the bulk paths all go through here, so a new column is mapped
in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from strigil.clinical.episode import Consent, EpisodePlan
from strigil.clinical.people import Clinician, Patient, Training
from strigil.clinical.session import (
    DOSE_STEP_FIELDS,
    MEASURED_FORCE_FIELDS,
    AdverseResponse,
    DoseStep,
    FollowUp,
    Measurement,
    SessionRecord,
    WarmUp,
)

__all__ = [
    "ADVERSE_FIELDS",
    "MEASUREMENT_FIELDS",
    "adverse_columns",
    "adverse_fields",
    "adverse_from",
    "clinician_columns",
    "clinician_from",
    "episode_columns",
    "episode_plan_from",
    "measurement_columns",
    "measurement_fields",
    "measurement_from",
    "patient_columns",
    "patient_from",
    "session_columns",
    "session_document",
    "session_record_from",
    "step_columns",
    "step_fields",
    "step_from",
]

ADVERSE_FIELDS: tuple[str, ...] = tuple(AdverseResponse.model_fields)
MEASUREMENT_FIELDS: tuple[str, ...] = tuple(Measurement.model_fields)


# ---- clinicians and patients -------------------------------------------------------------------------


def clinician_columns(clinician: Clinician) -> dict[str, Any]:
    """A clinician's stored columns (without clinic_id)."""
    return {
        "code": clinician.code,
        "name": clinician.name,
        "profession": clinician.profession,
        "training": [t.model_dump() for t in clinician.training],
        "years_experience": clinician.years_experience,
    }


def clinician_from(row: Any) -> Clinician:
    """A stored clinician as the domain object."""
    return Clinician.model_validate(
        {
            "code": row.code,
            "name": row.name,
            "profession": row.profession,
            "training": [Training(**t) for t in row.training],
            "years_experience": row.years_experience,
        }
    )


def patient_columns(patient: Patient) -> dict[str, Any]:
    """A patient's stored columns (without clinic_id)."""
    return {"code": patient.code, "birth_year": patient.birth_year, "sex": patient.sex}


def patient_from(row: Any) -> Patient:
    """A stored patient as the domain object."""
    return Patient.model_validate({"code": row.code, "birth_year": row.birth_year, "sex": row.sex})


# ---- episodes -------------------------------------------------------------------------------------------


def episode_columns(plan: EpisodePlan) -> dict[str, Any]:
    """An episode plan's stored columns (without patient_id and the closing)."""
    return {
        "condition": plan.condition,
        "region": plan.region,
        "side": plan.side,
        "target_tissue": plan.target_tissue,
        "onset_date": plan.onset_date,
        "opened_on": plan.opened_on,
        "goals": list(plan.goals),
        "planned_iastm": plan.planned_iastm,
        "planned_co_interventions": list(plan.planned_co_interventions),
        "exercise_first_reason": plan.exercise_first_reason,
        "consent_on": plan.consent.given_on if plan.consent else None,
        "consent_explained": list(plan.consent.explained) if plan.consent else [],
        "consent_note": plan.consent.note if plan.consent else None,
    }


def episode_plan_from(row: Any) -> EpisodePlan:
    """A stored episode's plan as the domain object."""
    consent = (
        Consent(given_on=row.consent_on, explained=list(row.consent_explained), note=row.consent_note)
        if row.consent_on
        else None
    )
    return EpisodePlan.model_validate(
        {
            "condition": row.condition,
            "region": row.region,
            "side": row.side,
            "target_tissue": row.target_tissue,
            "onset_date": row.onset_date,
            "opened_on": row.opened_on,
            "goals": list(row.goals),
            "planned_iastm": row.planned_iastm,
            "planned_co_interventions": list(row.planned_co_interventions),
            "exercise_first_reason": row.exercise_first_reason,
            "consent": consent,
        }
    )


# ---- a session's parts --------------------------------------------------------------------------------


def step_columns(step: DoseStep) -> dict[str, Any]:
    """A dose step's stored columns (without session_id and position); its measured force as `measured_*`."""
    summary = step.measured_force
    return {
        **step.model_dump(exclude={"measured_force"}),
        **{f"measured_{f}": None if summary is None else getattr(summary, f) for f in MEASURED_FORCE_FIELDS},
    }


def step_fields(row: Any) -> dict[str, Any]:
    """A stored dose step's values under the domain object's field names."""
    fields = {f: getattr(row, f) for f in DOSE_STEP_FIELDS}
    has_summary = getattr(row, "measured_recording", None) is not None
    fields["measured_force"] = (
        {f: getattr(row, f"measured_{f}") for f in MEASURED_FORCE_FIELDS} if has_summary else None
    )
    return fields


def step_from(row: Any) -> DoseStep:
    """A stored dose step as the domain object."""
    return DoseStep.model_validate(step_fields(row))


def measurement_columns(measurement: Measurement, taken_on: dt.date) -> dict[str, Any]:
    """A measurement's stored columns (without episode_id and session_id)."""
    return {**measurement.model_dump(), "taken_on": taken_on}


def measurement_fields(row: Any) -> dict[str, Any]:
    """A stored measurement's values under the domain object's field names."""
    return {f: getattr(row, f) for f in MEASUREMENT_FIELDS}


def measurement_from(row: Any) -> Measurement:
    """A stored measurement as the domain object."""
    return Measurement.model_validate(measurement_fields(row))


def adverse_columns(response: AdverseResponse) -> dict[str, Any]:
    """An adverse response's stored columns (without episode_id and session_id)."""
    return response.model_dump()


def adverse_fields(row: Any) -> dict[str, Any]:
    """A stored adverse response's values under the domain object's field names."""
    return {f: getattr(row, f) for f in ADVERSE_FIELDS}


def adverse_from(row: Any) -> AdverseResponse:
    """A stored adverse response as the domain object."""
    return AdverseResponse.model_validate(adverse_fields(row))


# ---- sessions -----------------------------------------------------------------------------------------


def session_columns(record: SessionRecord) -> dict[str, Any]:
    """A session's own stored columns (without ids, number, clinician, the decision aid's judgement and the
    screening it was gated on, which the session's service adds)."""
    follow_up = record.follow_up
    return {
        "date": record.date,
        "warm_up_kind": record.warm_up.kind if record.warm_up else None,
        "warm_up_minutes": record.warm_up.minutes if record.warm_up else None,
        "emollient": record.emollient,
        "followed_by": [f.model_dump() for f in record.followed_by],
        "tolerance": record.tolerance,
        "clinician_decision": record.clinician_decision,
        "decision_reason": record.decision_reason,
        "notes": record.notes,
        "override_reason": record.override_reason,
        "dose_confirmed": record.dose_confirmed,
        # the answers; the reactions reported go to the sessions they followed, as adverse responses
        "follow_up": None if follow_up is None else {"asked": follow_up.asked},
        "follow_up_asked": None if follow_up is None else follow_up.asked,
        "exercise_delivered": record.exercise_delivered,
        "exercise_not_delivered_reason": record.exercise_not_delivered_reason,
    }


def _session_fields(
    row: Any, clinician: str, steps: Iterable[Any], measurements: Iterable[Any], adverse: Iterable[Any]
) -> dict[str, Any]:
    return {
        "episode_id": row.episode_id,
        "clinician": clinician,
        "date": row.date,
        "warm_up": {"kind": row.warm_up_kind, "minutes": row.warm_up_minutes} if row.warm_up_kind else None,
        "emollient": row.emollient,
        "steps": [step_fields(s) for s in steps],
        "followed_by": list(row.followed_by),
        "measurements": [measurement_fields(m) for m in measurements],
        "adverse_responses": [adverse_fields(a) for a in adverse],
        "tolerance": row.tolerance,
        "clinician_decision": row.clinician_decision,
        "decision_reason": row.decision_reason,
        "notes": row.notes,
        "override_reason": row.override_reason,
        "dose_confirmed": bool(row.dose_confirmed),
        "follow_up": None if row.follow_up_asked is None else {"asked": row.follow_up_asked},
        "exercise_delivered": row.exercise_delivered,
        "exercise_not_delivered_reason": row.exercise_not_delivered_reason,
    }


def session_record_from(
    row: Any, *, clinician: str, steps: Iterable[Any], measurements: Iterable[Any], adverse: Iterable[Any]
) -> SessionRecord:
    """A stored session with its parts (rows in order) as the document that records it."""
    fields = _session_fields(row, clinician, steps, measurements, adverse)
    fields["warm_up"] = WarmUp.model_validate(fields["warm_up"]) if fields["warm_up"] else None
    fields["followed_by"] = [FollowUp.model_validate(f) for f in fields["followed_by"]]
    return SessionRecord.model_validate(fields)


def session_document(
    row: Any, *, clinician: str, steps: Iterable[Any], measurements: Iterable[Any], adverse: Iterable[Any]
) -> dict[str, Any]:
    """A stored session as plain JSON (dates as ISO text), without validating it again.

    What was stored under earlier catalogue versions stays readable, which is what an amendment's copy of
    the previous version and the privacy export need.
    """
    fields = _session_fields(row, clinician, steps, measurements, adverse)
    fields["date"] = row.date.isoformat()
    for a in fields["adverse_responses"]:
        a["onset_on"] = a["onset_on"].isoformat()
        a["resolved_on"] = a["resolved_on"].isoformat() if a["resolved_on"] else None
    return fields
