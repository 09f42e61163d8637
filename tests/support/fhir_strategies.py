"""Hypothesis strategies for clinic dossiers: valid records from the catalogue and the record vocabularies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from hypothesis import strategies as st

from strigil.catalog import load_catalog
from strigil.clinical.episode import Consent, EpisodePlan
from strigil.clinical.people import Clinic, Clinician, Patient, Training
from strigil.clinical.session import (
    AdverseResponse,
    DoseStep,
    FollowUp,
    MeasuredForce,
    Measurement,
    SessionRecord,
    WarmUp,
)
from strigil.clinical.vocabulary import (
    AdverseKind,
    ClinicianDecision,
    CoIntervention,
    FibreDirection,
    FollowUpKind,
    PressureCategory,
    Profession,
    Severity,
    Sex,
    Tissue,
    Tolerance,
    WarmUpKind,
    allowed,
)
from strigil.interop.bundle import make_bundle
from strigil.interop.dossier import (
    ClinicDossier,
    DatedMeasurement,
    EpisodeDossier,
    PatientDossier,
    SessionEntry,
    VoidMark,
)
from strigil.interop.to_fhir import clinic_resources

CATALOG = load_catalog()
REGIONS = sorted(CATALOG.regions)
MEASURES = sorted(CATALOG.measures)
CONDITIONS = sorted(CATALOG.conditions)
INSTRUMENTS = sorted(CATALOG.instruments)
STROKES = sorted(CATALOG.strokes)
CLINICIANS = ("pt_1", "at-2")

code = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True)
text = (
    st.text(st.characters(codec="utf-8", categories=("L", "N", "Zs", "P")), min_size=1, max_size=30)
    .map(str.strip)
    .filter(bool)
)
day = st.dates(dt.date(2020, 1, 1), dt.date(2025, 12, 31))


def choice(literal: object) -> st.SearchStrategy[str]:
    return st.sampled_from(allowed(literal))


@st.composite
def dose_steps(draw: st.DrawFn) -> DoseStep:
    instrument = draw(st.sampled_from(INSTRUMENTS))
    edges = CATALOG.instruments[instrument].edge_types
    return DoseStep(
        region=draw(st.sampled_from(REGIONS)),
        side=draw(st.sampled_from(CATALOG.sides)),
        instrument=instrument,
        edge=draw(st.none() | st.sampled_from(edges)) if edges else None,
        stroke=draw(st.sampled_from(STROKES)),
        angle_deg=draw(st.none() | st.integers(0, 90).map(float)),
        direction=draw(choice(FibreDirection)),
        pressure=draw(choice(PressureCategory)),
        force_n=draw(st.none() | st.floats(0.5, 200, allow_nan=False).map(lambda f: round(f, 2))),
        duration_s=draw(st.integers(1, 3600)),
        stroke_count=draw(st.none() | st.integers(1, 5000)),
        patient_position=draw(st.none() | text),
        active_movement=draw(st.none() | text),
        measured_force=draw(st.none() | measured_forces()),
    )


@st.composite
def measured_forces(draw: st.DrawFn) -> MeasuredForce:
    mean = draw(st.floats(0.5, 100, allow_nan=False).map(lambda f: round(f, 3)))
    cv = st.none() | st.floats(0, 80, allow_nan=False).map(lambda f: round(f, 2))
    return MeasuredForce(
        recording=draw(text.filter(bool)),
        stroke_count=draw(st.integers(1, 5000)),
        mean_n=mean,
        peak_n=round(mean * draw(st.floats(1.0, 2.0)), 3),
        mean_cv_pct=draw(cv),
        peak_cv_pct=draw(cv),
    )


@st.composite
def measurements(draw: st.DrawFn, timings: tuple[str, ...]) -> Measurement:
    measure = CATALOG.measures[draw(st.sampled_from(MEASURES))]
    value = draw(st.floats(measure.min, measure.max, allow_nan=False).map(lambda f: round(f, 1)))
    value = min(max(value, measure.min), measure.max)
    return Measurement(measure=measure.code, value=value, timing=draw(st.sampled_from(timings)))


@st.composite
def adverse_responses(draw: st.DrawFn, earliest: dt.date) -> AdverseResponse:
    onset = earliest + dt.timedelta(days=draw(st.integers(0, 5)))
    resolved = draw(st.none() | st.integers(0, 10).map(lambda d: onset + dt.timedelta(days=d)))
    return AdverseResponse(
        kind=draw(choice(AdverseKind)),
        severity=draw(choice(Severity)),
        onset_on=onset,
        resolved_on=resolved,
        region=draw(st.none() | st.sampled_from(REGIONS)),
        note=draw(st.none() | text),
    )


@st.composite
def sessions(draw: st.DrawFn, on: dt.date) -> SessionRecord:
    steps = draw(st.lists(dose_steps(), max_size=3))
    timings = ("pre", "post", "between") if steps else ("between",)
    warm = draw(st.none() | st.builds(WarmUp, kind=choice(WarmUpKind), minutes=st.integers(1, 60).map(float)))
    follow = st.builds(
        FollowUp,
        kind=choice(FollowUpKind),
        detail=st.none() | text,
        minutes=st.none() | st.integers(1, 180).map(float),
    )
    return SessionRecord(
        episode_id=1,
        clinician=draw(st.sampled_from(CLINICIANS)),
        date=on,
        warm_up=warm,
        emollient=draw(st.none() | text),
        steps=steps,
        followed_by=draw(st.lists(follow, max_size=2)),
        measurements=draw(st.lists(measurements(timings), max_size=3)),
        adverse_responses=draw(st.lists(adverse_responses(on), max_size=2)),
        tolerance=draw(choice(Tolerance)) if steps else draw(st.none() | choice(Tolerance)),
        clinician_decision=draw(st.none() | choice(ClinicianDecision)),
        decision_reason=draw(st.none() | text),
        notes=draw(st.none() | text),
    )


# a void (entered by mistake): its reason and when (always said, as Strigil exports it; a record that arrives
# voided without a time is stamped with the import's, which no round trip can keep)
voids = st.builds(
    VoidMark,
    reason=text.map(lambda t: " ".join(f"entered by mistake: {t}".split())),
    at=st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)).map(
        lambda t: t.replace(microsecond=0)
    ),
)


@st.composite
def episodes(draw: st.DrawFn, key: str) -> EpisodeDossier:
    onset = draw(day)
    opened = onset + dt.timedelta(days=draw(st.integers(0, 400)))
    planned = draw(st.booleans())
    co = draw(st.lists(choice(CoIntervention), max_size=3, unique=True))
    consent = Consent(given_on=opened, explained=draw(st.lists(text, min_size=1, max_size=3)))
    plan = EpisodePlan(
        condition=draw(st.sampled_from(CONDITIONS)),
        region=draw(st.sampled_from(REGIONS)),
        side=draw(st.sampled_from(CATALOG.sides)),
        target_tissue=draw(choice(Tissue)),
        onset_date=onset,
        opened_on=opened,
        goals=draw(st.lists(text, max_size=2)),
        planned_iastm=planned,
        planned_co_interventions=co,
        exercise_first_reason=draw(st.none() | text),
        consent=consent if planned else draw(st.none() | st.just(consent)),
    )
    gaps = draw(st.lists(st.integers(0, 14), max_size=3))
    dates = [opened + dt.timedelta(days=sum(gaps[: i + 1])) for i in range(len(gaps))]
    entries = tuple(
        SessionEntry(i, draw(sessions(d)), void=draw(st.none() | voids)) for i, d in enumerate(dates, start=1)
    )
    last = dates[-1] if dates else opened
    closed = draw(st.none() | st.integers(0, 30).map(lambda d: last + dt.timedelta(days=d)))
    loose = draw(st.lists(st.tuples(st.integers(0, 30), measurements(("between",))), max_size=2))
    return EpisodeDossier(
        key=key,
        plan=plan,
        closed_on=closed,
        close_reason=draw(text) if closed else None,
        sessions=entries,
        measurements=tuple(DatedMeasurement(opened + dt.timedelta(days=d), m) for d, m in loose),
        adverse_responses=tuple(draw(st.lists(adverse_responses(opened), max_size=1))),
        void=draw(st.none() | voids),
    )


@st.composite
def clinics(draw: st.DrawFn, max_patients: int = 3) -> ClinicDossier:
    training = st.builds(Training, course=text, formal=st.booleans())
    clinicians = tuple(
        Clinician(
            code=c,
            name=draw(text),
            profession=draw(choice(Profession)),
            training=draw(st.lists(training, max_size=2)),
            years_experience=draw(st.integers(0, 70)),
        )
        for c in CLINICIANS
    )
    codes = draw(st.lists(code, min_size=1, max_size=max_patients, unique=True))
    patients = []
    next_key = 1
    for patient_code in codes:
        n = draw(st.integers(0, 2))
        eps = tuple(draw(episodes(str(next_key + i))) for i in range(n))
        next_key += n
        patients.append(
            PatientDossier(
                Patient(code=patient_code, birth_year=draw(st.integers(1930, 2015)), sex=draw(choice(Sex))),
                eps,
            )
        )
    return ClinicDossier(Clinic(code=draw(code), name=draw(text)), clinicians, tuple(patients))


def example_clinic() -> ClinicDossier:
    """A small fixed clinic: one patient, one episode, a session with two steps, measures and a response."""
    opened = dt.date(2025, 3, 1)
    plan = EpisodePlan(
        condition="lateral_elbow_tendinopathy",
        region="elbow",
        side="right",
        target_tissue="tendon",
        onset_date=dt.date(2025, 1, 10),
        opened_on=opened,
        goals=["lift a kettle without pain"],
        planned_co_interventions=["strengthening", "education"],
        consent=Consent(given_on=opened, explained=["bruising", "petechiae", "soreness"]),
    )
    session = SessionRecord(
        episode_id=1,
        clinician="pt_1",
        date=dt.date(2025, 3, 3),
        warm_up=WarmUp(kind="cardiovascular", minutes=5),
        emollient="lotion",
        steps=[
            DoseStep(
                region="forearm",
                side="right",
                instrument="graston_set",
                stroke="sweep",
                angle_deg=45,
                direction="along",
                pressure="moderate",
                duration_s=90,
                stroke_count=40,
            ),
            DoseStep(
                region="elbow",
                side="right",
                instrument="graston_set",
                stroke="j_stroke",
                direction="across",
                pressure="light",
                duration_s=60,
            ),
        ],
        followed_by=[FollowUp(kind="strengthening", detail="eccentric wrist extension", minutes=10)],
        measurements=[
            Measurement(measure="nprs", value=6, timing="pre"),
            Measurement(measure="nprs", value=4, timing="post"),
        ],
        adverse_responses=[
            AdverseResponse(
                kind="petechiae",
                severity="mild",
                onset_on=dt.date(2025, 3, 3),
                resolved_on=dt.date(2025, 3, 6),
                region="forearm",
            )
        ],
        tolerance="well_tolerated",
    )
    episode = EpisodeDossier(
        key="1",
        plan=plan,
        sessions=(SessionEntry(1, session),),
        measurements=(
            DatedMeasurement(dt.date(2025, 3, 10), Measurement(measure="nprs", value=3, timing="between")),
        ),
    )
    clinicians = (
        Clinician(
            code="pt_1",
            name="Alex Moreau",
            profession="physical_therapist",
            training=[Training(course="Graston Technique M1", formal=True)],
            years_experience=8,
        ),
        Clinician(code="at-2", name="Sam Ito", profession="athletic_trainer", years_experience=3),
    )
    patient = PatientDossier(Patient(code="P-0001", birth_year=1984, sex="female"), (episode,))
    return ClinicDossier(Clinic(code="north", name="North Clinic"), clinicians, (patient,))


def unkeyed(dossier: ClinicDossier) -> ClinicDossier:
    """The dossier without database ids and public ids (a copy made elsewhere has its own; the meaning
    does not differ)."""
    patients = tuple(
        dataclasses.replace(
            p,
            public_id=None,
            episodes=tuple(
                dataclasses.replace(
                    e,
                    key="",
                    adverse_ids=(),
                    discharge_reason=None,  # the code the record derives from the closing's words
                    measurements=tuple(dataclasses.replace(m, public_id=None) for m in e.measurements),
                    sessions=tuple(
                        dataclasses.replace(
                            s,
                            record=s.record.model_copy(update={"episode_id": 1}),
                            public_id=None,
                            measurement_ids=(),
                            adverse_ids=(),
                            recommended=None,  # derived when recorded: a copy made elsewhere may have none
                        )
                        for s in e.sessions
                    ),
                )
                for e in p.episodes
            ),
        )
        for p in dossier.patients
    )
    return dataclasses.replace(dossier, patients=patients)


def bundle_of(dossier: ClinicDossier) -> dict:  # type: ignore[type-arg]
    return json.loads(json.dumps(make_bundle(clinic_resources(dossier))))
