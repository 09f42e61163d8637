"""FHIR R4 Bundles back into Strigil's clinical record (pure: JSON in, an import plan out; nothing written).

Resources Strigil exported (recognised by Strigil identifiers) are rebuilt into dossiers of the record's own
pydantic models, so every field is checked against the catalogue exactly as when it was first recorded.
Observations from other systems whose LOINC code the catalogue marks verified (e.g. 72514-3, pain 0-10)
become foreign measurements, each with what places it: the identifiers (system and value) of its Patient, the
condition its context names (a Condition it focuses on, or its Encounter's diagnosis or reason) and where it
came from. The shell finds the patient by an identifier pair it already knows (never by a resource id) and
the episode of that condition open on that date. Everything else is reported as not understood. Any error
makes the whole plan unusable: the shell writes nothing then.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from strigil.catalog import Catalog, load_catalog
from strigil.clinical.checks import problems_from
from strigil.clinical.episode import Consent, EpisodePlan
from strigil.clinical.gates import reason_problem
from strigil.clinical.people import Clinic, Clinician, Patient, Training
from strigil.clinical.public_ids import is_public_id
from strigil.clinical.response import RECOMMENDATIONS
from strigil.clinical.session import AdverseResponse, DoseStep, FollowUp, Measurement, SessionRecord, WarmUp
from strigil.interop.bundle import ReadBundle, read_bundle
from strigil.interop.codesystems import split_site_code
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
from strigil.interop.dossier import (
    ClinicDossier,
    DatedMeasurement,
    EpisodeDossier,
    PatientDossier,
    SessionEntry,
    VoidMark,
)
from strigil.interop.icd10 import ICD10_CM, icd10cm_map
from strigil.interop.r4 import FhirProblem
from strigil.interop.systems import LOINC, code_system_url, identifier_scope, is_identifier_system
from strigil.interop.to_fhir import ENTERED_IN_ERROR_STATUS, EPISODE_LINK_URL, UCUM_UNITS

__all__ = ["ForeignMeasurement", "ImportPlan", "plan_import"]

_Resource = dict[str, Any]

# Observation states that carry a usable result (https://hl7.org/fhir/R4/valueset-observation-status.html).
_USABLE_STATUS = ("final", "amended", "corrected")


@dataclass(frozen=True)
class ForeignMeasurement:
    """A measurement from another system, waiting to be attached to a Strigil patient's episode."""

    source: str  # its entry's name ("Observation/pain-1", else its fullUrl): where it sits in the bundle
    patient: str  # the entry name of the Patient it is about, "Patient/88123"
    patient_identifiers: tuple[tuple[str, str], ...]  # (system, value) of that Patient's identifiers
    taken_on: dt.date
    measurement: Measurement
    source_id: str | None = None  # what names it for good: "system|value" of its identifier, or its full URL
    condition: str | None = None  # the Strigil condition its context names
    side: str | None = None  # the side its context names (an ICD-10-CM code with laterality), if any
    unplaced: str | None = None  # why its context names no condition Strigil knows (then condition is None)
    birth_year: int | None = None  # of the Patient, for a new patient
    sex: str | None = None


@dataclass
class ImportPlan:
    """What a bundle would write, what it does not understand, and the errors that forbid writing it."""

    clinics: list[ClinicDossier] = field(default_factory=list)
    foreign_measurements: list[ForeignMeasurement] = field(default_factory=list)
    not_understood: list[FhirProblem] = field(default_factory=list)
    errors: list[FhirProblem] = field(default_factory=list)
    # entries from other systems read only as context (their Patients, Conditions, Encounters), by name
    context: set[str] = field(default_factory=set)
    # every entry's name (`bundle.entry_name`), in bundle order, and whether the bundle is a transaction
    entries: list[str] = field(default_factory=list)
    transaction: bool = False
    # Strigil's own entries by name: what record each belongs to — ("episode", key), ("patient", code),
    # ("clinician", code), ("clinic", code), ("instrument", code) — so an answer can say what became of it
    native: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing forbids writing the plan."""
        return not self.errors


class _Reject(ValueError):
    """One error inside a resource; collected by the caller, which carries on with the next resource."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.problem = FhirProblem(where, message)


def _label(resource: _Resource) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


def _strigil_identifier(resource: _Resource, kind: str) -> str | None:
    items = resource.get("identifier")
    for item in items if isinstance(items, list) else [items] if isinstance(items, dict) else []:
        if is_identifier_system(item.get("system"), kind):
            return str(item.get("value"))
    return None


def _clinic_scope(organization: _Resource) -> str | None:
    """The public id of the clinic a Strigil Organization is, from its scoped identifier (None: unscoped)."""
    items = organization.get("identifier")
    for item in items if isinstance(items, list) else []:
        scope = identifier_scope(item.get("system"), "clinic") if isinstance(item, dict) else None
        if scope is not None:
            return scope
    return None


def _extension(resource: _Resource, ext: ExtensionDefinition | str) -> list[_Resource]:
    url = ext if isinstance(ext, str) else ext.url
    return [e for e in resource.get("extension", []) if e.get("url") == url]


_KNOWN_PARTS: dict[str, dict[str, tuple[Any, str]]] = {}


def _known_parts(ext: ExtensionDefinition) -> dict[str, tuple[Any, str]]:
    """An extension's parts by name, each with the JSON key of its value (read once per definition)."""
    known = _KNOWN_PARTS.get(ext.url)
    if known is None:
        known = _KNOWN_PARTS[ext.url] = {p.name: (p, p.value_key) for p in ext.parts}
    return known


def _parts(resource: _Resource, ext: ExtensionDefinition, node: _Resource | None = None) -> dict[str, Any]:
    """The values of a complex extension by part name (a list for repeating parts); checks unknown parts."""
    if node is None:
        found = _extension(resource, ext)
        if len(found) != 1:
            raise _Reject(_label(resource), f"expected one {ext.url} extension, found {len(found)}")
        node = found[0]
    values: dict[str, Any] = {}
    known = _known_parts(ext)
    for item in node.get("extension", []):
        entry = known.get(item.get("url"))
        if entry is None:
            raise _Reject(
                _label(resource),
                f"{ext.id} extension has an unknown part {item.get('url')!r}; allowed: {', '.join(known)}",
            )
        part, key = entry
        if key not in item:
            raise _Reject(_label(resource), f"{ext.id}.{part.name} needs {key}")
        if part.repeats:
            values.setdefault(part.name, []).append(item[key])
        elif part.name in values:
            raise _Reject(_label(resource), f"{ext.id}.{part.name} appears twice; allowed once")
        else:
            values[part.name] = item[key]
    for part in ext.parts:
        if part.required and part.name not in values:
            raise _Reject(_label(resource), f"{ext.id}.{part.name} is required")
    return values


def _simple_value(resource: _Resource, ext: ExtensionDefinition) -> Any:
    found = _extension(resource, ext)
    if not found:
        return None
    assert ext.value is not None
    return found[0].get(ext.value.value_key)


def _code(concept: Any, system: str, where: str) -> str:
    """The code of `system` in a CodeableConcept or Coding, or a clear error."""
    codings = concept.get("coding", []) if isinstance(concept, dict) and "coding" in concept else [concept]
    for coding in codings:
        if isinstance(coding, dict) and coding.get("system") == code_system_url(system):
            return str(coding.get("code"))
    raise _Reject(where, f"no {code_system_url(system)} code found")


def _date(text: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        raise _Reject(where, f"{text!r} is not a date (YYYY-MM-DD)") from None


def _target(reference: Any) -> str:
    if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
        return "/".join(reference["reference"].rstrip("/").split("/")[-2:])
    return ""


def _build(model: Any, where: str, **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as error:
        problems = problems_from(error)
        raise _Reject(where, "; ".join(str(p) for p in problems)) from None


class _Built:
    """`_build` for records that a clinic repeats (a measure, its value and timing; a follow-up), once per
    distinct input: these models are frozen and their checks depend on their fields alone, so an equal input
    gives an equal record (471 distinct measurements among the 58,740 of the 2,000-patient demo). What
    fails is never kept: it fails again, with its own `where`."""

    def __init__(self) -> None:
        self.made: dict[tuple[Any, ...], Any] = {}

    def __call__(self, model: Any, where: str, **fields: Any) -> Any:
        try:
            # with each value's type: 1, 1.0 and True are equal keys but not always equal inputs
            key = (model, *((name, type(value), value) for name, value in fields.items()))
            hash(key)
        except TypeError:  # a list or dict among the fields: built every time
            return _build(model, where, **fields)
        found = self.made.get(key)
        if found is None:
            found = self.made[key] = _build(model, where, **fields)
        return found


def _quantity_value(value: Any, unit: str, where: str) -> float:
    if not isinstance(value, dict) or "value" not in value:
        raise _Reject(where, f"expected a Quantity in {unit}")
    if value.get("code", value.get("unit", unit)) != unit:
        raise _Reject(
            where, f"unit {value.get('code', value.get('unit'))!r} is not allowed; allowed: {unit!r}"
        )
    return float(value["value"])


def _measured_force(v: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A dose step's measured-force summary from its parts (None when the step carries none)."""
    if "measuredRecording" not in v:
        extra = [k for k in v if k.startswith("measured")]
        if extra:
            raise _Reject(where, f"dose-step {', '.join(extra)} given without measuredRecording")
        return None

    def cv(name: str) -> float | None:
        return _quantity_value(v[name], "%", where) if name in v else None

    return {
        "recording": v["measuredRecording"],
        "stroke_count": v.get("measuredStrokeCount"),
        "mean_n": _quantity_value(v["measuredMeanForce"], "N", where) if "measuredMeanForce" in v else None,
        "peak_n": _quantity_value(v["measuredPeakForce"], "N", where) if "measuredPeakForce" in v else None,
        "mean_cv_pct": cv("measuredMeanForceCv"),
        "peak_cv_pct": cv("measuredPeakForceCv"),
    }


# The reason a record gets when it arrives entered-in-error without saying why.
_UNSAID_VOID = "entered in error in the imported record (no reason given)"


def _void_mark(resource: _Resource, context: dict[str, Any], voided: bool) -> VoidMark | None:
    """The void of a Procedure or EpisodeOfCare: its reason and time from the context extension, when the
    resource is voided (`voided`); a reason on a record that is not voided contradicts its status."""
    where = _label(resource)
    if not voided:
        if "voidReason" in context or "voidedAt" in context:
            raise _Reject(
                where,
                f"carries a void reason but its status is {resource.get('status')!r}, not "
                f"{ENTERED_IN_ERROR_STATUS!r}",
            )
        return None
    at = None
    if "voidedAt" in context:
        try:
            at = dt.datetime.fromisoformat(str(context["voidedAt"]))
        except ValueError:
            raise _Reject(where, f"voidedAt {context['voidedAt']!r} is not a date-time") from None
    reason = " ".join(str(context.get("voidReason") or _UNSAID_VOID).split())
    problem = reason_problem(reason, f"{where} voidReason")
    if problem:  # the rule a void's reason obeys when a clinician records it (services.void)
        raise _Reject(where, problem)
    return VoidMark(reason=reason, at=at)


def _check_void_status(resource: _Resource, voided: bool) -> None:
    """An Observation or AdverseEvent of a void session or episode must say so, and only then: a record that
    contradicts its session is refused rather than guessed at."""
    if resource["resourceType"] == "AdverseEvent":
        marked = any(
            e.get("url") == ENTERED_IN_ERROR.url and e.get("valueBoolean") is True
            for e in resource.get("modifierExtension", [])
        )
        said = f"the {ENTERED_IN_ERROR.url} modifier extension"
    else:
        marked = resource.get("status") == ENTERED_IN_ERROR_STATUS
        said = f"status {ENTERED_IN_ERROR_STATUS!r}"
    if marked != voided:
        state = "void" if voided else "not void"
        raise _Reject(
            _label(resource),
            f"its session or episode is {state}, so it must {'' if voided else 'not '}carry {said}",
        )


def _public_id(resource: _Resource) -> str | None:
    """A Strigil resource's id when it is a public id (as Strigil exports), else None (a new one is made)."""
    rid = resource.get("id")
    return rid if is_public_id(rid) else None


def _public_ids(resources: list[_Resource]) -> tuple[str, ...]:
    """The public ids of resources in order, or none unless every one has one."""
    ids = [_public_id(r) for r in resources]
    return tuple(i for i in ids if i is not None) if all(ids) else ()


class _NativeReader:
    """Rebuilds dossiers from the Strigil resources of one bundle."""

    def __init__(self, read: ReadBundle, catalog: Catalog) -> None:
        self.read = read
        self.catalog = catalog
        self.built = _Built()
        self.errors: list[FhirProblem] = []
        self.by_episode: dict[str, list[_Resource]] = defaultdict(list)
        # (episode, "Procedure/id") -> the Observations part of it / the AdverseEvents it is suspected of
        self.part_of: dict[tuple[str, str], list[_Resource]] = defaultdict(list)
        self.suspected: dict[tuple[str, str], list[_Resource]] = defaultdict(list)
        # each resource's episode links, by its identity (read once here, used again by `_native_labels`)
        self.links: dict[int, list[str]] = {}
        for resource in read.resources:
            found = _extension(resource, EPISODE_LINK_URL)
            if not found:
                continue
            self.links[id(resource)] = [_target(link.get("valueReference")) for link in found]
            for episode in self.links[id(resource)]:
                self.by_episode[episode].append(resource)
                if resource["resourceType"] == "Observation":
                    for target in dict.fromkeys(_target(p) for p in resource.get("partOf", [])):
                        self.part_of[episode, target].append(resource)
                elif resource["resourceType"] == "AdverseEvent":
                    suspects = resource.get("suspectEntity", [])
                    for target in dict.fromkeys(_target(s.get("instance")) for s in suspects):
                        self.suspected[episode, target].append(resource)

    def clinician(self, resource: _Resource) -> Clinician | None:
        where = _label(resource)
        code = _strigil_identifier(resource, "clinician")
        qualifications = resource.get("qualification", [])
        profession, training = None, []
        for q in qualifications:
            codings = q.get("code", {}).get("coding", [])
            systems = {c.get("system"): c.get("code") for c in codings}
            if code_system_url("profession") in systems:
                profession = systems[code_system_url("profession")]
            elif code_system_url("training") in systems:
                route = systems[code_system_url("training")]
                training.append(
                    _build(
                        Training, where, course=q.get("code", {}).get("text", ""), formal=route == "formal"
                    )
                )
        names = resource.get("name", [])
        return _build(
            Clinician,
            where,
            code=code,
            name=names[0].get("text") if names else None,
            profession=profession,
            training=training,
            years_experience=_simple_value(resource, YEARS_EXPERIENCE),
        )

    def dose_step(self, procedure: _Resource, node: _Resource) -> tuple[int, DoseStep]:
        where = _label(procedure)
        v = _parts(procedure, DOSE_STEP, node)
        region, side = split_site_code(_code(v["site"], "body-site", f"{where} dose-step.site"))
        step = _build(
            DoseStep,
            f"{where} dose-step {v['order']}",
            region=region,
            side=side,
            instrument=_code(v["instrument"], "instrument", where),
            edge=v.get("edgeType"),
            stroke=_code(v["stroke"], "stroke", where),
            angle_deg=_quantity_value(v["angle"], "deg", where) if "angle" in v else None,
            direction=v["direction"],
            pressure=v["pressure"],
            force_n=_quantity_value(v["force"], "N", where) if "force" in v else None,
            duration_s=_quantity_value(v["duration"], "s", where),
            stroke_count=v.get("strokeCount"),
            patient_position=v.get("position"),
            active_movement=v.get("activeMovement"),
            measured_force=_measured_force(v, where),
        )
        return int(v["order"]), step

    def measurement(self, observation: _Resource) -> tuple[dt.date, Measurement]:
        where = _label(observation)
        measure = _code(observation.get("code", {}), "measure", where)
        if measure not in self.catalog.measures:
            raise _Reject(where, f"measure {measure!r} is not in the catalogue")
        unit = self.catalog.measures[measure].unit
        value = observation.get("valueQuantity")
        number = _quantity_value(value, UCUM_UNITS.get(unit, unit), f"{where}.valueQuantity")
        timing = _simple_value(observation, MEASUREMENT_TIMING)
        has_detail = bool(_extension(observation, MEASUREMENT_DETAIL))
        detail = _parts(observation, MEASUREMENT_DETAIL) if has_detail else {}
        return (
            _date(observation.get("effectiveDateTime"), f"{where}.effectiveDateTime"),
            self.built(Measurement, where, measure=measure, value=number, timing=timing, **detail),
        )

    def adverse(self, event: _Resource) -> AdverseResponse:
        where = _label(event)
        context = _parts(event, ADVERSE_CONTEXT) if _extension(event, ADVERSE_CONTEXT) else {}
        severity = [c.get("code") for c in event.get("severity", {}).get("coding", [])]
        site = context.get("site")
        return _build(
            AdverseResponse,
            where,
            kind=_code(event.get("event", {}), "adverse-response", f"{where}.event"),
            severity=severity[0] if severity else None,
            onset_on=_date(event.get("date"), f"{where}.date"),
            resolved_on=_date(context["resolvedOn"], where) if "resolvedOn" in context else None,
            region=split_site_code(_code(site, "body-site", where))[0] if site else None,
            note=context.get("note"),
        )

    def session(self, procedure: _Resource, episode: str, episode_void: bool = False) -> SessionEntry:
        where = _label(procedure)
        context = _parts(procedure, SESSION_CONTEXT)
        entered_in_error = procedure.get("status") == ENTERED_IN_ERROR_STATUS
        if episode_void and not entered_in_error:
            raise _Reject(where, f"a session of a void episode must have status {ENTERED_IN_ERROR_STATUS!r}")
        # in a void episode every session is entered-in-error; only one with a reason was voided itself
        void = _void_mark(
            procedure, context, entered_in_error and (not episode_void or "voidReason" in context)
        )
        for resource in [
            *self.part_of.get((episode, f"Procedure/{procedure['id']}"), []),
            *self.suspected.get((episode, f"Procedure/{procedure['id']}"), []),
        ]:
            _check_void_status(resource, entered_in_error)
        steps = sorted(
            (self.dose_step(procedure, node) for node in _extension(procedure, DOSE_STEP)),
            key=lambda pair: pair[0],
        )
        if [order for order, _ in steps] != list(range(1, len(steps) + 1)):
            raise _Reject(where, f"dose-step orders {[o for o, _ in steps]} must run 1, 2, 3, … without gaps")
        follow_ups = [
            self.built(
                FollowUp,
                f"{where}.followUp",
                kind=_code(concept, "follow-up", f"{where}.followUp"),
                detail=concept.get("text"),
                minutes=_simple_value(concept, FOLLOW_UP_MINUTES),
            )
            for concept in procedure.get("followUp", [])
        ]
        me = f"Procedure/{procedure['id']}"
        observations = self.part_of.get((episode, me), [])
        events = self.suspected.get((episode, me), [])
        measurements = [self.measurement(r)[1] for r in observations]
        adverse = [self.adverse(r) for r in events]
        performers = procedure.get("performer", [])
        clinician_resource = self.read.resolve(performers[0].get("actor")) if performers else None
        if clinician_resource is None:
            raise _Reject(where, "performer must reference a Practitioner in the bundle")
        warm_up = None
        if "warmUpKind" in context or "warmUpMinutes" in context:
            warm_up = _build(
                WarmUp,
                f"{where} warm-up",
                kind=context.get("warmUpKind"),
                minutes=context.get("warmUpMinutes"),
            )
        notes = procedure.get("note", [])
        record = _build(
            SessionRecord,
            where,
            episode_id=1,  # placeholder: the real id exists only once the episode is written
            clinician=_strigil_identifier(clinician_resource, "clinician"),
            date=_date(procedure.get("performedDateTime"), f"{where}.performedDateTime"),
            warm_up=warm_up,
            emollient=context.get("emollient"),
            steps=[s for _, s in steps],
            followed_by=follow_ups,
            measurements=measurements,
            adverse_responses=adverse,
            tolerance=context.get("tolerance"),
            clinician_decision=context.get("decision"),
            decision_reason=context.get("decisionReason"),
            notes=notes[0].get("text") if notes else None,
            follow_up={"asked": context["followUpAsked"]} if "followUpAsked" in context else None,
            override_reason=context.get("overrideReason"),
            dose_confirmed=bool(context.get("doseConfirmed", False)),
            exercise_delivered=context.get("exerciseDelivered"),
            exercise_not_delivered_reason=context.get("exerciseNotDeliveredReason"),
        )
        recommended = context.get("recommended")
        if recommended is not None and recommended not in RECOMMENDATIONS:
            raise _Reject(
                f"{where} session-context.recommended",
                f"{recommended!r} is not allowed; allowed: {', '.join(RECOMMENDATIONS)}",
            )
        return SessionEntry(
            number=int(context["number"]),
            record=record,
            public_id=_public_id(procedure),
            measurement_ids=_public_ids(observations),
            adverse_ids=_public_ids(events),
            recommended=recommended,
            void=void,
        )

    def episode(self, resource: _Resource) -> EpisodeDossier:
        where = _label(resource)
        key = str(_strigil_identifier(resource, "episode"))
        me = _label(resource)
        context = _parts(resource, EPISODE_CONTEXT)
        void = _void_mark(resource, context, resource.get("status") == ENTERED_IN_ERROR_STATUS)
        diagnoses = resource.get("diagnosis", [])
        condition = self.read.resolve(diagnoses[0].get("condition")) if diagnoses else None
        if condition is None:
            raise _Reject(where, "diagnosis must reference the episode's Condition in the bundle")
        sites = condition.get("bodySite", [])
        if len(sites) != 1:
            raise _Reject(_label(condition), f"expected one bodySite, found {len(sites)}")
        region, side = split_site_code(_code(sites[0], "body-site", f"{_label(condition)}.bodySite"))
        linked = self.by_episode.get(me, [])
        care_plans = [r for r in linked if r["resourceType"] == "CarePlan"]
        co_interventions = [
            _code(a.get("detail", {}).get("code", {}), "co-intervention", _label(plan))
            for plan in care_plans
            for a in plan.get("activity", [])
        ]
        goals = []
        for plan in care_plans:
            for ref in plan.get("goal", []):
                goal = self.read.resolve(ref)
                if goal is not None:
                    goals.append(goal.get("description", {}).get("text", ""))
        consent = None
        if "consentDate" in context:
            consent = _build(
                Consent,
                f"{where} consent",
                given_on=_date(context["consentDate"], where),
                explained=context.get("consentExplained", []),
            )
        period = resource.get("period", {})
        plan_model = _build(
            EpisodePlan,
            where,
            condition=_code(condition.get("code", {}), "condition", f"{_label(condition)}.code"),
            region=region,
            side=side,
            target_tissue=context["targetTissue"],
            onset_date=_date(condition.get("onsetDateTime"), f"{_label(condition)}.onsetDateTime"),
            opened_on=_date(period.get("start"), f"{where}.period.start"),
            goals=goals,
            planned_iastm=context["plannedIastm"],
            planned_co_interventions=co_interventions,
            exercise_first_reason=context.get("exerciseFirstReason"),
            consent=consent,
        )
        sessions = sorted(
            (self.session(r, me, void is not None) for r in linked if r["resourceType"] == "Procedure"),
            key=lambda s: s.number,
        )
        loose_measurements = []
        for r in linked:
            if r["resourceType"] == "Observation" and not r.get("partOf"):
                _check_void_status(r, void is not None)
                taken_on, measurement = self.measurement(r)
                loose_measurements.append(DatedMeasurement(taken_on, measurement, _public_id(r)))
        loose_events = [
            r for r in linked if r["resourceType"] == "AdverseEvent" and not r.get("suspectEntity")
        ]
        for r in loose_events:
            _check_void_status(r, void is not None)
        loose_adverse = [self.adverse(r) for r in loose_events]
        return EpisodeDossier(
            key=key,
            plan=plan_model,
            closed_on=_date(period["end"], f"{where}.period.end") if "end" in period else None,
            close_reason=context.get("closeReason"),
            sessions=tuple(sessions),
            measurements=tuple(loose_measurements),
            adverse_responses=tuple(loose_adverse),
            adverse_ids=_public_ids(loose_events),
            void=void,
        )

    def patient(self, resource: _Resource, episodes: list[_Resource]) -> PatientDossier:
        where = _label(resource)
        birth = str(resource.get("birthDate", ""))
        patient = _build(
            Patient,
            where,
            code=_strigil_identifier(resource, "patient"),
            birth_year=int(birth[:4]) if birth[:4].isdigit() else None,
            sex=resource.get("gender"),
        )
        read_episodes = []
        for episode in episodes:
            try:
                read_episodes.append(self.episode(episode))
            except _Reject as reject:
                self.errors.append(reject.problem)
        return PatientDossier(patient=patient, episodes=tuple(read_episodes), public_id=_public_id(resource))


def _plan_native(read: ReadBundle, catalog: Catalog, plan: ImportPlan) -> set[str]:
    """Rebuild the Strigil resources into clinic dossiers; return the labels of all Strigil resources."""
    reader = _NativeReader(read, catalog)
    organizations = [r for r in read.of_type("Organization") if _strigil_identifier(r, "clinic")]
    patients = [r for r in read.of_type("Patient") if _strigil_identifier(r, "patient")]
    if patients and len(organizations) != 1:
        plan.errors.append(
            FhirProblem(
                "bundle",
                f"Strigil patients need exactly one Strigil Organization (the "
                f"clinic) in the bundle; found {len(organizations)}",
            )
        )
        return _native_labels(read, reader.links)
    for organization in organizations:
        try:
            clinic = _build(
                Clinic,
                _label(organization),
                code=_strigil_identifier(organization, "clinic"),
                name=organization.get("name"),
            )
        except _Reject as reject:
            plan.errors.append(reject.problem)
            continue
        clinicians = []
        for resource in read.of_type("Practitioner"):
            if _strigil_identifier(resource, "clinician"):
                try:
                    found = reader.clinician(resource)
                except _Reject as reject:
                    plan.errors.append(reject.problem)
                    continue
                if found is not None:
                    clinicians.append(found)
        episodes_of: dict[str, list[_Resource]] = defaultdict(list)
        for episode in read.of_type("EpisodeOfCare"):
            if _strigil_identifier(episode, "episode"):
                episodes_of[_target(episode.get("patient"))].append(episode)
        dossiers = []
        for resource in patients:
            try:
                dossiers.append(reader.patient(resource, episodes_of[_label(resource)]))
            except _Reject as reject:
                plan.errors.append(reject.problem)
        plan.clinics.append(
            ClinicDossier(
                clinic=clinic,
                clinicians=tuple(clinicians),
                patients=tuple(dossiers),
                public_id=_clinic_scope(organization),
            )
        )
    plan.errors.extend(reader.errors)
    return _native_labels(read, reader.links)


_IDENTIFIED = {
    "Organization": "clinic",
    "Practitioner": "clinician",
    "Patient": "patient",
    "EpisodeOfCare": "episode",
    "Procedure": "session",
    "Observation": "measurement",
    "AdverseEvent": "adverse-response",
}


def _native_labels(read: ReadBundle, links: dict[int, list[str]]) -> set[str]:
    """The resources that are Strigil's own: read by the native reader, never reported as foreign.
    `links`: each resource's episode links by its identity (`_NativeReader.links`)."""
    native = {
        _label(r)
        for r in read.resources
        if r["resourceType"] in _IDENTIFIED and _strigil_identifier(r, _IDENTIFIED[r["resourceType"]])
    }
    for resource in read.resources:
        if not native.isdisjoint(links.get(id(resource), ())):
            native.add(_label(resource))
        if resource["resourceType"] == "Device" and any(
            c.get("system") == code_system_url("instrument")
            for c in resource.get("type", {}).get("coding", [])
        ):
            native.add(_label(resource))
    for plan in read.of_type("CarePlan"):
        if _label(plan) in native:
            native.update(_target(ref) for ref in plan.get("goal", []))
    return native


def _native_owners(read: ReadBundle) -> dict[str, tuple[str, str]]:
    """Strigil's own entries by name, each with the record it belongs to: an episode's resources (the
    EpisodeOfCare, and all that link to it or to its CarePlan's goals) to the episode's key, the rest to
    their patient, clinician, clinic or catalogue instrument."""
    owners: dict[str, tuple[str, str]] = {}
    episodes: dict[str, tuple[str, str]] = {}
    for resource in read.resources:
        kind = resource["resourceType"]
        value = _strigil_identifier(resource, _IDENTIFIED[kind]) if kind in _IDENTIFIED else None
        if value is not None:
            owner = ("episode" if kind == "EpisodeOfCare" else _IDENTIFIED[kind], value)
            owners[_label(resource)] = owner
            if kind == "EpisodeOfCare":
                episodes[_label(resource)] = owner
    for resource in read.resources:
        links = [_target(e.get("valueReference")) for e in _extension(resource, EPISODE_LINK_URL)]
        linked = [episodes[link] for link in links if link in episodes]
        if linked:
            owners[_label(resource)] = linked[0]
        elif resource["resourceType"] == "Device":
            for coding in resource.get("type", {}).get("coding", []):
                if coding.get("system") == code_system_url("instrument"):
                    owners[_label(resource)] = ("instrument", str(coding.get("code")))
    for plan in read.of_type("CarePlan"):
        if _label(plan) in owners:
            for ref in plan.get("goal", []):
                owners[_target(ref)] = owners[_label(plan)]
    by_label = {_label(r): r for r in read.resources}
    return {read.name_of(by_label[label]): owner for label, owner in owners.items() if label in by_label}


def _verified_loinc(catalog: Catalog) -> dict[str, str]:
    return {m.loinc: m.code for m in catalog.measures.values() if m.loinc and m.loinc_verified}


def _plan_foreign(read: ReadBundle, catalog: Catalog, plan: ImportPlan, used: set[str]) -> None:
    """Observations with a verified LOINC code become foreign measurements; the rest is reported."""
    loinc = _verified_loinc(catalog)
    urls = {id(r): key for key, r in read.index.items() if "://" in key}
    for resource in read.resources:
        if _label(resource) in used:
            continue
        where = read.name_of(resource)  # every entry by its own name, also those without an id
        if resource["resourceType"] in ("Patient", "Condition", "Encounter"):
            plan.context.add(where)
        if resource["resourceType"] == "Patient":
            plan.not_understood.append(
                FhirProblem(
                    where,
                    "not a Strigil patient: its names, address and full birth date are not kept (Strigil "
                    "keeps a code, the birth year and sex); its measurements go to the patient of this "
                    "clinic that has one of its identifiers (system and value), or to a new patient that "
                    "keeps them",
                )
            )
            continue
        if resource["resourceType"] in ("Condition", "Encounter"):
            plan.not_understood.append(
                FhirProblem(
                    where,
                    f"{resource['resourceType']} from another system is not imported; it is read only as the "
                    "context that says which episode an Observation belongs to",
                )
            )
            continue
        if resource["resourceType"] != "Observation":
            plan.not_understood.append(
                FhirProblem(
                    where,
                    f"{resource['resourceType']} from another system is "
                    "not imported (Strigil imports Observations with a "
                    "verified LOINC code)",
                )
            )
            continue
        codes = [
            c.get("code") for c in resource.get("code", {}).get("coding", []) if c.get("system") == LOINC
        ]
        known = [loinc[c] for c in codes if c in loinc]
        if not known:
            shown = ", ".join(
                f"{c.get('system')}|{c.get('code')}" for c in resource.get("code", {}).get("coding", [])
            )
            plan.not_understood.append(
                FhirProblem(
                    where,
                    f"code {shown or '(none)'} is not a measure Strigil knows; "
                    f"understood LOINC codes: {', '.join(sorted(loinc))}",
                )
            )
            continue
        if resource.get("status") not in _USABLE_STATUS:
            plan.not_understood.append(
                FhirProblem(
                    where,
                    f"status {resource.get('status')!r} carries no usable "
                    f"result; imported: {', '.join(_USABLE_STATUS)}",
                )
            )
            continue
        measure = catalog.measures[known[0]]
        try:
            if "valueInteger" in resource:
                value = float(resource["valueInteger"])
            elif "valueQuantity" in resource:
                quantity = resource["valueQuantity"]
                unit = quantity.get("code") or quantity.get("unit")
                allowed = {UCUM_UNITS.get(measure.unit, measure.unit), measure.unit, None}
                if unit not in allowed:
                    raise _Reject(
                        f"{where}.valueQuantity",
                        f"unit {unit!r} is not allowed for {measure.code}; "
                        f"allowed: {UCUM_UNITS.get(measure.unit, measure.unit)!r}",
                    )
                value = float(quantity["value"])
            else:
                raise _Reject(where, "needs valueQuantity or valueInteger")
            taken = resource.get("effectiveDateTime") or resource.get("issued")
            if not taken:
                raise _Reject(where, "needs effectiveDateTime (when it was measured)")
            measurement = _build(Measurement, where, measure=measure.code, value=value, timing="between")
            subject = read.resolve(resource.get("subject"))
            if subject is None or subject.get("resourceType") != "Patient":
                raise _Reject(f"{where}.subject", "must reference a Patient in the bundle")
            # identifiers with a system only: a bare value (or the resource id) names nobody for certain
            identifiers = tuple(
                (str(i["system"]), str(i["value"]))
                for i in subject.get("identifier", [])
                if isinstance(i, dict) and i.get("system") and i.get("value")
            )
            condition, side, unplaced = _context_condition(read, resource, catalog)
            birth = str(subject.get("birthDate", ""))
            plan.foreign_measurements.append(
                ForeignMeasurement(
                    source=where,
                    patient=read.name_of(subject),
                    patient_identifiers=identifiers,
                    taken_on=_date(taken, f"{where}.effectiveDateTime"),
                    measurement=measurement,
                    source_id=_source_id(resource, urls.get(id(resource))),
                    condition=condition,
                    side=side,
                    unplaced=unplaced,
                    birth_year=int(birth[:4]) if birth[:4].isdigit() else None,
                    sex=subject.get("gender") if isinstance(subject.get("gender"), str) else None,
                )
            )
        except _Reject as reject:
            plan.errors.append(reject.problem)


def _source_id(resource: _Resource, full_url: str | None) -> str | None:
    """What names another system's record for good: its first identifier (system|value), else its absolute
    full URL in the bundle; None when it has neither."""
    for item in resource.get("identifier", []):
        if isinstance(item, dict) and item.get("system") and item.get("value"):
            return f"{item['system']}|{item['value']}"[:255]
    return full_url[:255] if full_url else None


def _context_condition(
    read: ReadBundle, observation: _Resource, catalog: Catalog
) -> tuple[str | None, str | None, str | None]:
    """The Strigil condition an Observation's context names (a Condition it focuses on, its Encounter's
    diagnosis or reason) — by a Strigil condition code or a mapped ICD-10-CM code (`interop.icd10`) — and the
    side an ICD-10-CM code with laterality names; or None with the reason it cannot be told."""
    conditions = []
    for ref in observation.get("focus", []):
        target = read.resolve(ref)
        if target is not None and target.get("resourceType") == "Condition":
            conditions.append(target)
    encounter = read.resolve(observation.get("encounter"))
    if encounter is not None and encounter.get("resourceType") == "Encounter":
        refs = [d.get("condition") for d in encounter.get("diagnosis", []) if isinstance(d, dict)]
        for ref in [*refs, *encounter.get("reasonReference", [])]:
            target = read.resolve(ref)
            if target is not None and target.get("resourceType") == "Condition":
                conditions.append(target)
    if not conditions:
        return (
            None,
            None,
            (
                "its context names no Condition (focus, or its Encounter's diagnosis or reason): which "
                "episode it belongs to is unknown"
            ),
        )
    icd = icd10cm_map()
    codes: set[str] = set()
    sides: set[str] = set()
    shown: list[str] = []
    for condition in conditions:
        for coding in condition.get("code", {}).get("coding", []):
            system, code = coding.get("system"), str(coding.get("code"))
            shown.append(f"{system}|{code}")
            if system == code_system_url("condition") and code in catalog.conditions:
                codes.add(code)
            elif system == ICD10_CM and code.upper() in icd:
                mappings = icd[code.upper()]
                if len({m.condition for m in mappings}) > 1:
                    named = ", ".join(sorted({m.condition for m in mappings}))
                    return (
                        None,
                        None,
                        f"ICD-10-CM {code} maps to several conditions ({named}): which is unknown",
                    )
                codes.add(mappings[0].condition)
                sides.update(m.side for m in mappings if m.side)
    if len(codes) > 1:
        return (
            None,
            None,
            f"its context names several conditions ({', '.join(sorted(codes))}): which episode is unknown",
        )
    if not codes:
        return (
            None,
            None,
            (
                f"its condition ({', '.join(shown) or 'no code'}) is not one Strigil can map: understood are "
                "Strigil condition codes and the ICD-10-CM codes of the shipped map "
                "(strigil/interop/data/icd10cm-conditions.toml); no SNOMED CT map ships"
            ),
        )
    if len(sides) > 1:
        return (
            None,
            None,
            f"its context names several sides ({', '.join(sorted(sides))}): which episode is unknown",
        )
    return codes.pop(), (sides.pop() if sides else None), None


def plan_import(
    document: Any,
    catalog: Catalog | None = None,
    *,
    validate: bool = True,
    positions: Sequence[int] | None = None,
) -> ImportPlan:
    """Read a Bundle into an import plan; `plan.errors` lists every reason it must be rejected whole.

    `validate=False` skips the per-resource R4 model check (see `read_bundle`); every record is still
    rebuilt into the record's models and checked against the catalogue. `positions`: the entries' places in
    the whole bundle when `document` is a part of one (`interop.bundle_stream`).
    """
    catalog = catalog or load_catalog()
    plan = ImportPlan()
    read = read_bundle(document, validate=validate, positions=positions)
    if read.problems:
        plan.errors.extend(read.problems)
        return plan
    plan.entries = [read.name_of(r) for r in read.resources]
    plan.transaction = document.get("type") == "transaction"
    used = _plan_native(read, catalog, plan)
    plan.native = _native_owners(read)
    _plan_foreign(read, catalog, plan, used)
    return plan
