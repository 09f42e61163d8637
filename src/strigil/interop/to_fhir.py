"""Strigil's clinical record as FHIR R4 resources (pure: domain objects in, JSON objects out).

One clinic becomes an Organization, its clinicians Practitioners, each patient a Patient; each episode an
EpisodeOfCare with its Condition (condition code and body site), Goals and a CarePlan for the exercise
programme; each session a Procedure whose dose steps sit in the Strigil dose-step extension, with a
Device per instrument; each measurement an Observation (LOINC where the catalogue marks the code
verified, always the Strigil measure code) and each adverse response an AdverseEvent. Everything FHIR has
no element for travels in the extensions defined in `strigil.interop.definitions`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from strigil.catalog import Catalog, load_catalog
from strigil.clinical.people import Clinic, Clinician, Patient
from strigil.clinical.session import AdverseResponse, DoseStep, MeasuredForce, Measurement
from strigil.interop.codesystems import SIDE_NAMES, sided_site_code, vocabulary_display
from strigil.interop.definitions import (
    ADVERSE_CONTEXT,
    DOSE_STEP,
    ENTERED_IN_ERROR,
    EPISODE_CONTEXT,
    FOLLOW_UP_MINUTES,
    MEASUREMENT_DETAIL,
    MEASUREMENT_TIMING,
    SESSION_CONTEXT,
    YEARS_EXPERIENCE,
    ExtensionDefinition,
)
from strigil.interop.dossier import ClinicDossier, EpisodeDossier, PatientDossier, SessionEntry, VoidMark
from strigil.interop.systems import (
    ADVERSE_OUTCOME,
    ADVERSE_SEVERITY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    LOINC,
    OBSERVATION_CATEGORY,
    UCUM,
    code_system_url,
    identifier_system,
)

__all__ = [
    "ENTERED_IN_ERROR_STATUS",
    "EPISODE_LINK_URL",
    "IASTM_PROCEDURE_TEXT",
    "UCUM_UNITS",
    "clinic_resources",
    "closing_resolves",
    "device",
    "episode_resources",
    "fhir_id",
    "organization",
    "patient_resource",
    "patient_resources",
    "practitioner",
    "stream_resources",
]

_Resource = dict[str, Any]

# The R4 core extension that ties an event resource to its EpisodeOfCare
# (https://hl7.org/fhir/r4/extension-workflow-episodeofcare.html).
EPISODE_LINK_URL = "http://hl7.org/fhir/StructureDefinition/workflow-episodeOfCare"

# A voided record (entered by mistake, `strigil.services.void`) travels with this status on every resource
# made from it: it is in the R4 value sets of Procedure.status, Observation.status, EpisodeOfCare.status,
# CarePlan.status (and its activities), Goal.lifecycleStatus and Condition.verificationStatus (then without a
# clinicalStatus, invariant con-5). AdverseEvent has no status: it carries the `entered-in-error` modifier
# extension instead. The content stays, so that a Strigil import restores the void record whole.
ENTERED_IN_ERROR_STATUS = "entered-in-error"

# No code system Strigil may ship names IASTM itself, so the Procedure says what it is in words.
IASTM_PROCEDURE_TEXT = "Instrument-assisted soft tissue mobilization (IASTM)"

# Catalogue units -> UCUM codes (https://ucum.org); "points" of a score are UCUM's annotation {score}.
UCUM_UNITS = {"points": "{score}", "mm": "mm", "%": "%", "deg": "deg", "kPa": "kPa", "cm": "cm", "kg": "kg"}

_CATEGORY = {
    "pain": "survey",
    "function": "survey",
    "global": "survey",
    "rom": "exam",
    "ppt": "exam",
    "strength": "exam",
}


def closing_resolves(discharge_reason: str | None, close_reason: str | None) -> bool:
    """Whether an episode's closing says its condition resolved: a discharge with its goals met (coded
    "goals_met"; without a code, words beginning "goals met" or "discharged"). Any other closing — plateau,
    referred on, the patient's choice, lost to follow-up — says nothing about the condition or the goals."""
    if discharge_reason is not None:
        return discharge_reason == "goals_met"
    words = (close_reason or "").strip().lower()
    return words.startswith(("goals met", "discharg"))


def fhir_id(*parts: object) -> str:
    """A FHIR resource id from parts of a Strigil key ("_" is not allowed in ids, so it becomes ".")."""
    return "-".join(str(p) for p in parts).replace("_", ".")


def _ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


def _identifier(kind: str, value: str, clinic: str | None = None) -> list[dict[str, str]]:
    return [{"system": identifier_system(kind, clinic), "value": value}]


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": code_system_url(system), "code": code}
    if display:
        coding["display"] = display
    return coding


def _site(catalog: Catalog, region: str, side: str | None) -> dict[str, str]:
    name = catalog.regions[region].name
    display = f"{name}, {SIDE_NAMES[side]}" if side else name
    return _coding("body-site", sided_site_code(region, side), display)


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _complex(ext: ExtensionDefinition, values: dict[str, Any]) -> dict[str, Any]:
    """A complex extension from part name -> value (None values are left out; lists repeat the part)."""
    parts = []
    for part in ext.parts:
        value = values.get(part.name)
        if value is None:
            continue
        for item in value if part.repeats else [value]:
            parts.append({"url": part.name, part.value_key: item})
    return {"url": ext.url, "extension": parts}


def _simple(ext: ExtensionDefinition, value: Any) -> dict[str, Any]:
    assert ext.value is not None
    return {"url": ext.url, ext.value.value_key: value}


def _episode_link(episode_rid: str) -> dict[str, Any]:
    return {"url": EPISODE_LINK_URL, "valueReference": _ref("EpisodeOfCare", episode_rid)}


def organization(clinic: Clinic, scope: str | None = None) -> _Resource:
    """The clinic as an Organization."""
    return {
        "resourceType": "Organization",
        "id": fhir_id("clinic", clinic.code),
        "identifier": _identifier("clinic", clinic.code, scope),
        "active": True,
        "name": clinic.name,
    }


def practitioner(clinician: Clinician, scope: str | None = None) -> _Resource:
    """A clinician as a Practitioner: profession and each IASTM training route as qualifications."""
    qualifications: list[dict[str, Any]] = [
        {
            "code": {
                "coding": [
                    _coding("profession", clinician.profession, vocabulary_display(clinician.profession))
                ]
            }
        }
    ]
    for training in clinician.training:
        route = "formal" if training.formal else "informal"
        qualifications.append(
            {
                "code": {
                    "coding": [_coding("training", route, vocabulary_display(route))],
                    "text": training.course,
                }
            }
        )
    return {
        "resourceType": "Practitioner",
        "id": fhir_id("clinician", clinician.code),
        "extension": [_simple(YEARS_EXPERIENCE, clinician.years_experience)],
        "identifier": _identifier("clinician", clinician.code, scope),
        "name": [{"text": clinician.name}],
        "qualification": qualifications,
    }


def patient_resource(
    patient: Patient, clinic: Clinic, public_id: str | None = None, scope: str | None = None
) -> _Resource:
    """A pseudonymous patient: code, sex and year of birth only (FHIR dates may be a bare year); its id is
    the patient's public id."""
    return {
        "resourceType": "Patient",
        "id": public_id or fhir_id("patient", patient.code),
        "identifier": _identifier("patient", patient.code, scope),
        "gender": patient.sex,
        "birthDate": f"{patient.birth_year:04d}",
        "managingOrganization": _ref("Organization", fhir_id("clinic", clinic.code)),
    }


def device(catalog: Catalog, instrument: str) -> _Resource:
    """An IASTM instrument as a Device typed by its Strigil instrument code."""
    entry = catalog.instruments[instrument]
    return {
        "resourceType": "Device",
        "id": fhir_id("device", instrument),
        "status": "active",
        "deviceName": [{"name": entry.name, "type": "user-friendly-name"}],
        "type": {"coding": [_coding("instrument", instrument, entry.name)]},
    }


def _dose_step(catalog: Catalog, order: int, step: DoseStep) -> dict[str, Any]:
    return _complex(
        DOSE_STEP,
        {
            "order": order,
            "site": _site(catalog, step.region, step.side),
            "instrument": _coding("instrument", step.instrument, catalog.instruments[step.instrument].name),
            "edgeType": step.edge,
            "stroke": _coding("stroke", step.stroke, catalog.strokes[step.stroke].name),
            "angle": None if step.angle_deg is None else _quantity(step.angle_deg, "deg"),
            "direction": step.direction,
            "pressure": step.pressure,
            "force": None if step.force_n is None else _quantity(step.force_n, "N"),
            "duration": _quantity(step.duration_s, "s"),
            "strokeCount": step.stroke_count,
            "position": step.patient_position,
            "activeMovement": step.active_movement,
            **_measured_force(step.measured_force),
        },
    )


def _measured_force(summary: MeasuredForce | None) -> dict[str, Any]:
    """The dose step's measured-force parts (none without a summary)."""
    if summary is None:
        return {}
    return {
        "measuredRecording": summary.recording,
        "measuredStrokeCount": summary.stroke_count,
        "measuredMeanForce": _quantity(summary.mean_n, "N"),
        "measuredPeakForce": _quantity(summary.peak_n, "N"),
        "measuredMeanForceCv": None if summary.mean_cv_pct is None else _quantity(summary.mean_cv_pct, "%"),
        "measuredPeakForceCv": None if summary.peak_cv_pct is None else _quantity(summary.peak_cv_pct, "%"),
    }


def _session_rid(episode: EpisodeDossier, entry: SessionEntry) -> str:
    return entry.public_id or fhir_id("session", episode.key, entry.number)


def _void_parts(void: VoidMark | None) -> dict[str, Any]:
    """The voidReason and voidedAt parts of a context extension (none for a record that is not void)."""
    if void is None:
        return {}
    return {"voidReason": void.reason, "voidedAt": None if void.at is None else void.at.isoformat()}


def _procedure(catalog: Catalog, patient_rid: str, episode: EpisodeDossier, entry: SessionEntry) -> _Resource:
    session = entry.record
    rid = _session_rid(episode, entry)
    context = _complex(
        SESSION_CONTEXT,
        {
            "number": entry.number,
            "warmUpKind": session.warm_up.kind if session.warm_up else None,
            "warmUpMinutes": session.warm_up.minutes if session.warm_up else None,
            "emollient": session.emollient,
            "tolerance": session.tolerance,
            "decision": session.clinician_decision,
            "decisionReason": session.decision_reason,
            "recommended": entry.recommended,
            "followUpAsked": None if session.follow_up is None else session.follow_up.asked,
            "overrideReason": session.override_reason,
            "doseConfirmed": session.dose_confirmed or None,
            "exerciseDelivered": session.exercise_delivered,
            "exerciseNotDeliveredReason": session.exercise_not_delivered_reason,
            **_void_parts(entry.void),
        },
    )
    extensions = [_episode_link(episode.key), context]
    extensions += [_dose_step(catalog, i, step) for i, step in enumerate(session.steps, start=1)]
    procedure: _Resource = {
        "resourceType": "Procedure",
        "id": rid,
        "extension": extensions,
        "identifier": _identifier("session", rid),
        "status": ENTERED_IN_ERROR_STATUS if entry.void or episode.void else "completed",
        "code": {"text": IASTM_PROCEDURE_TEXT},
        "subject": _ref("Patient", patient_rid),
        "performedDateTime": session.date.isoformat(),
        "performer": [{"actor": _ref("Practitioner", fhir_id("clinician", session.clinician))}],
    }
    sites = list(dict.fromkeys((s.region, s.side) for s in session.steps))
    if sites:
        procedure["bodySite"] = [{"coding": [_site(catalog, r, s)]} for r, s in sites]
    if session.followed_by:
        follow_ups = []
        for follow in session.followed_by:
            concept: dict[str, Any] = {
                "coding": [_coding("follow-up", follow.kind, vocabulary_display(follow.kind))]
            }
            if follow.minutes is not None:
                concept["extension"] = [_simple(FOLLOW_UP_MINUTES, follow.minutes)]
            if follow.detail is not None:
                concept["text"] = follow.detail
            follow_ups.append(concept)
        procedure["followUp"] = follow_ups
    instruments = list(dict.fromkeys(s.instrument for s in session.steps))
    if instruments:
        procedure["usedReference"] = [_ref("Device", fhir_id("device", i)) for i in instruments]
    if session.notes is not None:
        procedure["note"] = [{"text": session.notes}]
    return procedure


def _observation(
    catalog: Catalog,
    rid: str,
    patient_rid: str,
    episode_key: str,
    measurement: Measurement,
    on: dt.date,
    procedure_rid: str | None,
    void: bool = False,
) -> _Resource:
    measure = catalog.measures[measurement.measure]
    codings = []
    if measure.loinc and measure.loinc_verified:
        codings.append({"system": LOINC, "code": measure.loinc})
    codings.append(_coding("measure", measure.code, measure.name))
    unit = UCUM_UNITS.get(measure.unit)
    value: dict[str, Any] = {"value": measurement.value, "unit": measure.unit}
    if unit:
        value |= {"system": UCUM, "code": unit}
    observation: _Resource = {
        "resourceType": "Observation",
        "id": rid,
        "extension": [
            _episode_link(episode_key),
            _simple(MEASUREMENT_TIMING, measurement.timing),
            *_measurement_detail(measurement),
        ],
        "identifier": _identifier("measurement", rid),
        "status": ENTERED_IN_ERROR_STATUS if void else "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": _CATEGORY[measure.kind]}]}],
        "code": {"coding": codings, "text": measure.name},
        "subject": _ref("Patient", patient_rid),
        "effectiveDateTime": on.isoformat(),
        "valueQuantity": value,
    }
    if procedure_rid:
        observation["partOf"] = [_ref("Procedure", procedure_rid)]
    return observation


def _measurement_detail(measurement: Measurement) -> list[dict[str, Any]]:
    """A range of motion's joint, motion and side, a PSFS item's activity (nothing for other measures)."""
    detail = _complex(
        MEASUREMENT_DETAIL,
        {
            "joint": measurement.joint,
            "motion": measurement.motion,
            "side": measurement.side,
            "activity": measurement.activity,
        },
    )
    return [detail] if detail["extension"] else []


def _adverse_event(
    catalog: Catalog,
    rid: str,
    patient_rid: str,
    episode_key: str,
    response: AdverseResponse,
    procedure_rid: str | None,
    void: bool = False,
) -> _Resource:
    context = _complex(
        ADVERSE_CONTEXT,
        {
            "resolvedOn": None if response.resolved_on is None else response.resolved_on.isoformat(),
            "site": None if response.region is None else _site(catalog, response.region, None),
            "note": response.note,
        },
    )
    event: _Resource = {
        "resourceType": "AdverseEvent",
        "id": rid,
        "extension": [_episode_link(episode_key)] + ([context] if context["extension"] else []),
        "identifier": _identifier("adverse-response", rid)[0],
        "actuality": "actual",
        "event": {"coding": [_coding("adverse-response", response.kind, vocabulary_display(response.kind))]},
        "subject": _ref("Patient", patient_rid),
        "date": response.onset_on.isoformat(),
        "severity": {"coding": [{"system": ADVERSE_SEVERITY, "code": response.severity}]},
        "outcome": {
            "coding": [
                {"system": ADVERSE_OUTCOME, "code": "ongoing" if response.resolved_on is None else "resolved"}
            ]
        },
    }
    if procedure_rid:
        event["suspectEntity"] = [{"instance": _ref("Procedure", procedure_rid)}]
    if void:
        event["modifierExtension"] = [_simple(ENTERED_IN_ERROR, True)]
    return event


def episode_resources(
    catalog: Catalog, patient_rid: str, clinic: Clinic, episode: EpisodeDossier
) -> Iterator[_Resource]:
    """The resources of one episode: EpisodeOfCare, Condition, Goals, CarePlan, Procedures, Observations,
    AdverseEvents (Devices come once per bundle, see `clinic_resources`)."""
    plan, key = episode.plan, episode.key
    void = episode.void is not None
    # the episode's public id names its EpisodeOfCare, and its Condition and CarePlan (ids are per type)
    episode_rid = condition_rid = key
    context = _complex(
        EPISODE_CONTEXT,
        {
            "targetTissue": plan.target_tissue,
            "plannedIastm": plan.planned_iastm,
            "exerciseFirstReason": plan.exercise_first_reason,
            "consentDate": plan.consent.given_on.isoformat() if plan.consent else None,
            "consentExplained": list(plan.consent.explained) if plan.consent else None,
            "closeReason": episode.close_reason,
            **_void_parts(episode.void),
        },
    )
    period = {"start": plan.opened_on.isoformat()}
    if episode.closed_on:
        period["end"] = episode.closed_on.isoformat()
    yield {
        "resourceType": "EpisodeOfCare",
        "id": episode_rid,
        "extension": [context],
        "identifier": _identifier("episode", key),
        "status": ENTERED_IN_ERROR_STATUS if void else "finished" if episode.closed_on else "active",
        "diagnosis": [{"condition": _ref("Condition", condition_rid), "rank": 1}],
        "patient": _ref("Patient", patient_rid),
        "managingOrganization": _ref("Organization", fhir_id("clinic", clinic.code)),
        "period": period,
    }
    condition = catalog.conditions[plan.condition]
    # Only a discharge says the condition resolved and the goals were reached; an episode closed for another
    # reason (referred, lost to follow-up) says nothing about either: no clinical status, goals cancelled.
    ended = episode.closed_on is not None
    discharged = ended and closing_resolves(episode.discharge_reason, episode.close_reason)
    condition_resource: _Resource = {
        "resourceType": "Condition",
        "id": condition_rid,
        "extension": [_episode_link(episode_rid)],
    }
    if void:  # a void episode's condition was never diagnosed here: no clinical status, no abatement
        condition_resource["verificationStatus"] = {
            "coding": [{"system": CONDITION_VERIFICATION, "code": ENTERED_IN_ERROR_STATUS}]
        }
    elif discharged or not ended:
        status = "resolved" if discharged else "active"
        condition_resource["clinicalStatus"] = {"coding": [{"system": CONDITION_CLINICAL, "code": status}]}
    condition_resource |= {
        "code": {"coding": [_coding("condition", condition.code, condition.name)], "text": condition.name},
        "bodySite": [{"coding": [_site(catalog, plan.region, plan.side)]}],
        "subject": _ref("Patient", patient_rid),
        "onsetDateTime": plan.onset_date.isoformat(),
        "recordedDate": plan.opened_on.isoformat(),
    }
    if discharged and not void:
        condition_resource["abatementDateTime"] = str(episode.closed_on)
    yield condition_resource
    goal_rids = [fhir_id(key, i) for i in range(1, len(plan.goals) + 1)]
    for rid, goal in zip(goal_rids, plan.goals, strict=True):
        yield {
            "resourceType": "Goal",
            "id": rid,
            "lifecycleStatus": ENTERED_IN_ERROR_STATUS
            if void
            else "completed"
            if discharged
            else "cancelled"
            if ended
            else "active",
            "description": {"text": goal},
            "subject": _ref("Patient", patient_rid),
            "addresses": [_ref("Condition", condition_rid)],
        }
    care_plan: _Resource = {
        "resourceType": "CarePlan",
        "id": key,
        "extension": [_episode_link(episode_rid)],
        "status": ENTERED_IN_ERROR_STATUS
        if void
        else "completed"
        if discharged
        else "revoked"
        if ended
        else "active",
        "intent": "plan",
        "title": "Exercise programme and co-interventions",
        "subject": _ref("Patient", patient_rid),
        "period": period,
        "addresses": [_ref("Condition", condition_rid)],
    }
    if goal_rids:
        care_plan["goal"] = [_ref("Goal", rid) for rid in goal_rids]
    if plan.planned_co_interventions:
        care_plan["activity"] = [
            {
                "detail": {
                    "code": {"coding": [_coding("co-intervention", c, vocabulary_display(c))]},
                    "status": ENTERED_IN_ERROR_STATUS
                    if void
                    else "completed"
                    if discharged
                    else "stopped"
                    if ended
                    else "in-progress",
                }
            }
            for c in plan.planned_co_interventions
        ]
    yield care_plan
    for entry in episode.sessions:
        procedure_rid = _session_rid(episode, entry)
        yield _procedure(catalog, patient_rid, episode, entry)
        record = entry.record
        session_void = void or entry.void is not None
        for i, measurement in enumerate(record.measurements, start=1):
            rid = _nth(entry.measurement_ids, i) or fhir_id("measurement", procedure_rid, i)
            yield _observation(
                catalog, rid, patient_rid, key, measurement, record.date, procedure_rid, session_void
            )
        for i, response in enumerate(record.adverse_responses, start=1):
            rid = _nth(entry.adverse_ids, i) or fhir_id("adverse", procedure_rid, i)
            yield _adverse_event(catalog, rid, patient_rid, key, response, procedure_rid, session_void)
    for i, dated in enumerate(episode.measurements, start=1):
        rid = dated.public_id or fhir_id("measurement", key, "x", i)
        yield _observation(catalog, rid, patient_rid, key, dated.measurement, dated.taken_on, None, void)
    for i, response in enumerate(episode.adverse_responses, start=1):
        rid = _nth(episode.adverse_ids, i) or fhir_id("adverse", key, "x", i)
        yield _adverse_event(catalog, rid, patient_rid, key, response, None, void)


def _nth(ids: tuple[str, ...], i: int) -> str | None:
    """The i-th (from 1) public id of a list, or None when the list has none."""
    return ids[i - 1] if len(ids) >= i else None


def patient_resources(
    catalog: Catalog, clinic: Clinic, dossier: PatientDossier, scope: str | None = None
) -> Iterator[_Resource]:
    """A patient and all their episodes' resources (`scope`: the clinic's public id, see `organization`)."""
    patient = patient_resource(dossier.patient, clinic, dossier.public_id, scope)
    yield patient
    for episode in dossier.episodes:
        yield from episode_resources(catalog, patient["id"], clinic, episode)


def _instruments(dossier: PatientDossier) -> list[str]:
    seen: dict[str, None] = {}
    for episode in dossier.episodes:
        for entry in episode.sessions:
            for step in entry.record.steps:
                seen.setdefault(step.instrument, None)
    return list(seen)


def stream_resources(
    clinic: Clinic,
    clinicians: Iterable[Clinician],
    patients: Iterable[PatientDossier],
    catalog: Catalog | None = None,
    scope: str | None = None,
) -> Iterator[_Resource]:
    """Every resource of a clinic in bundle order: Organization, Practitioners, then each patient with their
    episodes, a Device appearing just before the first patient whose sessions use that instrument.

    `scope`, the clinic's public id, scopes the identifier systems of the codes the clinic chose itself (its
    own, its clinicians' and its patients'), so two clinics' "P-0001" never share an identifier.
    """
    catalog = catalog or load_catalog()
    yield organization(clinic, scope)
    for clinician in clinicians:
        yield practitioner(clinician, scope)
    devices: set[str] = set()
    for patient in patients:
        for instrument in _instruments(patient):
            if instrument not in devices:
                devices.add(instrument)
                yield device(catalog, instrument)
        yield from patient_resources(catalog, clinic, patient, scope)


def clinic_resources(dossier: ClinicDossier, catalog: Catalog | None = None) -> Iterator[_Resource]:
    """Every resource of a clinic dossier in bundle order (see `stream_resources`)."""
    return stream_resources(dossier.clinic, dossier.clinicians, dossier.patients, catalog)
