"""Exchange with other systems, on the database side: read dossiers out of the clinical record, write an
import plan into it.

Reading goes straight to the record's tables in batches of patients (a 10,000-patient clinic streams out
without holding every row at once); rows become domain objects through the store's one mapping
(`strigil.store.mapping`). `write_plan` writes through the record's services, so an import obeys every rule
recording obeys. `write_plan_bulk`, for whole clinics of new patients, checks the same rules that need the
database itself and then inserts rows in bulk through the same mapping (no per-record service calls).
Either runs inside the caller's one unit of work, so a refused record rolls the whole import back.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from strigil.clinical.people import Clinic, Clinician
from strigil.clinical.public_ids import is_public_id, new_public_id
from strigil.clinical.session import AdverseResponse, Measurement
from strigil.interop.bundle import EntryOutcome
from strigil.interop.dossier import (
    ClinicDossier,
    DatedMeasurement,
    EpisodeDossier,
    PatientDossier,
    SessionEntry,
    VoidMark,
)
from strigil.interop.from_fhir import ForeignMeasurement, ImportPlan
from strigil.services.audit import Actor, record_job
from strigil.services.episodes import discharge_reason_of
from strigil.services.errors import RecordError
from strigil.store.mapping import (
    adverse_columns,
    adverse_from,
    clinician_from,
    episode_columns,
    episode_plan_from,
    measurement_columns,
    measurement_from,
    patient_columns,
    patient_from,
    session_columns,
    session_record_from,
    step_columns,
)
from strigil.store.record import (
    AdverseResponseRow,
    AmendmentRow,
    ClinicianRow,
    ClinicRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientIdentifierRow,
    PatientRow,
    SessionRow,
)

__all__ = [
    "BATCH",
    "ImportReport",
    "TransactionRefused",
    "audit_import",
    "clinic_code_of",
    "clinic_header",
    "clinic_scope",
    "entry_outcomes",
    "finish_plan",
    "patient_by_fhir_id",
    "patient_count",
    "patient_dossiers",
    "patient_id_of",
    "place_foreign",
    "read_clinic",
    "write_native",
    "write_plan",
    "write_plan_bulk",
]

BATCH = 500  # patients read per round of queries


def clinic_code_of(db: Session, clinic_id: int) -> str:
    """The code of the clinic with this id."""
    return str(db.scalar(select(ClinicRow.code).where(ClinicRow.id == clinic_id)))


def patient_count(db: Session, clinic_id: int) -> int:
    """How many patients the clinic has (what a whole-clinic export will read)."""
    counted = select(func.count()).select_from(PatientRow).where(PatientRow.clinic_id == clinic_id)
    return int(db.scalar(counted) or 0)


def patient_id_of(db: Session, clinic_id: int, code: str) -> int | None:
    """The id of the clinic's patient with this code (None: unknown here, or another clinic's)."""
    found = db.scalar(select(PatientRow.id).where(PatientRow.clinic_id == clinic_id, PatientRow.code == code))
    return None if found is None else int(found)


def patient_by_fhir_id(db: Session, clinic_id: int, fhir_id: str) -> tuple[int, str, str] | None:
    """The clinic's patient a FHIR Patient id names — its public id (what Strigil exports), or an older
    export's "patient-<code>", or the code — as (database id, code, public id); None if there is none here."""
    if is_public_id(fhir_id):
        where = PatientRow.public_id == fhir_id
    elif fhir_id.startswith("patient-"):
        where = PatientRow.code == fhir_id.removeprefix("patient-").replace(".", "_")
    else:
        where = PatientRow.code == fhir_id
    columns = (PatientRow.id, PatientRow.code, PatientRow.public_id)
    row = db.execute(select(*columns).where(PatientRow.clinic_id == clinic_id, where)).first()
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def clinic_header(db: Session, clinic_code: str) -> tuple[int, Clinic, tuple[Clinician, ...]]:
    """The clinic's id, the clinic and all its clinicians."""
    row = db.scalar(select(ClinicRow).where(ClinicRow.code == clinic_code))
    if row is None:
        raise LookupError(f"clinic {clinic_code!r} does not exist")
    clinicians = tuple(
        clinician_from(c)
        for c in db.scalars(
            select(ClinicianRow).where(ClinicianRow.clinic_id == row.id).order_by(ClinicianRow.id)
        )
    )
    return row.id, Clinic(code=row.code, name=row.name), clinicians


def clinic_scope(db: Session, clinic_id: int) -> str | None:
    """The clinic's public id: the scope of the identifier systems of its own codes in what it exports."""
    return db.scalar(select(ClinicRow.public_id).where(ClinicRow.id == clinic_id))


def patient_dossiers(
    db: Session,
    clinic_id: int,
    *,
    patient_codes: Sequence[str] | None = None,
    episode_ids: Sequence[int] | None = None,
    since: dt.datetime | None = None,
    id_batches: Callable[[list[int]], None] | None = None,
) -> Iterator[PatientDossier]:
    """The clinic's patients (or the named ones, those of the named episodes, or those with anything recorded
    or corrected at or after `since`) with everything recorded, in batches of `BATCH` patients: void episodes
    and sessions (entered by mistake) come with their void, which the FHIR export marks entered-in-error.

    Rows are read with Core queries (plain result rows, no ORM objects) and become domain objects through
    the store's one mapping, each with its public id. `id_batches`, if given, is told the database ids of
    each batch of patients before they are yielded (the audit trail of a bulk export).
    """
    patients = PatientRow.__table__
    query = select(patients).where(patients.c.clinic_id == clinic_id).order_by(patients.c.id)
    if patient_codes is not None:
        query = query.where(patients.c.code.in_(patient_codes))
    if episode_ids is not None:
        query = query.where(
            patients.c.id.in_(select(EpisodeRow.patient_id).where(EpisodeRow.id.in_(episode_ids)))
        )
    if since is not None:
        query = query.where(patients.c.id.in_(_touched_since(clinic_id, since)))
    clinician_code = dict(
        db.execute(
            select(ClinicianRow.id, ClinicianRow.code).where(ClinicianRow.clinic_id == clinic_id)
        ).all()
    )
    patient_rows = db.execute(query).all()
    for start in range(0, len(patient_rows), BATCH):
        batch = patient_rows[start : start + BATCH]
        if id_batches is not None:
            id_batches([p.id for p in batch])
        yield from _dossier_batch(db, batch, clinician_code, episode_ids)


def _touched_since(clinic_id: int, since: dt.datetime) -> Any:
    """The ids of the clinic's patients with anything written or corrected at or after `since`: the patient,
    an episode (recording a session writes its episode too), a measurement, an adverse response, or an
    amendment of any of their records."""
    from sqlalchemy import or_, union

    episodes = (
        select(EpisodeRow.id, EpisodeRow.patient_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(PatientRow.clinic_id == clinic_id)
        .subquery()
    )
    amended = (
        select(AmendmentRow.entity, AmendmentRow.entity_id).where(AmendmentRow.amended_at >= since).subquery()
    )

    def amended_ids(entity: str) -> Any:
        return select(amended.c.entity_id).where(amended.c.entity == entity)

    return union(
        select(PatientRow.id).where(
            PatientRow.clinic_id == clinic_id,
            or_(PatientRow.created_at >= since, PatientRow.id.in_(amended_ids("patient"))),
        ),
        select(episodes.c.patient_id)
        .join(EpisodeRow, EpisodeRow.id == episodes.c.id)
        .where(
            or_(
                EpisodeRow.created_at >= since,
                EpisodeRow.changed_at >= since,
                EpisodeRow.voided_at >= since,
                EpisodeRow.id.in_(amended_ids("episode")),
            )
        ),
        select(episodes.c.patient_id)
        .join(SessionRow, SessionRow.episode_id == episodes.c.id)
        .where(
            or_(
                SessionRow.created_at >= since,
                SessionRow.voided_at >= since,
                SessionRow.id.in_(amended_ids("session")),
            )
        ),
        select(episodes.c.patient_id)
        .join(MeasurementRow, MeasurementRow.episode_id == episodes.c.id)
        .where(or_(MeasurementRow.recorded_at >= since, MeasurementRow.id.in_(amended_ids("measurement")))),
        select(episodes.c.patient_id)
        .join(AdverseResponseRow, AdverseResponseRow.episode_id == episodes.c.id)
        .where(
            or_(
                AdverseResponseRow.recorded_at >= since,
                AdverseResponseRow.id.in_(amended_ids("adverse_response")),
            )
        ),
    )


def _dossier_batch(
    db: Session,
    batch: Sequence[Any],
    clinician_code: dict[int, str],
    episode_ids: Sequence[int] | None,
) -> Iterator[PatientDossier]:
    episodes_t, sessions_t = EpisodeRow.__table__, SessionRow.__table__
    steps_t, measurements_t = DoseStepRow.__table__, MeasurementRow.__table__
    adverse_t = AdverseResponseRow.__table__
    # void episodes and sessions (entered by mistake) travel too, marked: a copy of the record keeps them
    episode_query = select(episodes_t).where(episodes_t.c.patient_id.in_([p.id for p in batch]))
    if episode_ids is not None:
        episode_query = episode_query.where(episodes_t.c.id.in_(episode_ids))
    episodes = db.execute(episode_query.order_by(episodes_t.c.id)).all()
    ids = [e.id for e in episodes]
    sessions: dict[int, list[Any]] = defaultdict(list)
    steps: dict[int, list[Any]] = defaultdict(list)
    in_session: dict[int, list[Any]] = defaultdict(list)
    adverse_in_session: dict[int, list[Any]] = defaultdict(list)
    loose: dict[int, list[Any]] = defaultdict(list)
    loose_adverse: dict[int, list[Any]] = defaultdict(list)
    session_rows = db.execute(
        select(sessions_t).where(sessions_t.c.episode_id.in_(ids)).order_by(sessions_t.c.number)
    ).all()
    for s in session_rows:
        sessions[s.episode_id].append(s)
    session_ids = [s.id for s in session_rows]
    for chunk in range(0, len(session_ids), 5000):
        for st in db.execute(
            select(steps_t)
            .where(steps_t.c.session_id.in_(session_ids[chunk : chunk + 5000]))
            .order_by(steps_t.c.session_id, steps_t.c.position)
        ):
            steps[st.session_id].append(st)
    for m in db.execute(
        select(measurements_t).where(measurements_t.c.episode_id.in_(ids)).order_by(measurements_t.c.id)
    ):
        (loose[m.episode_id] if m.session_id is None else in_session[m.session_id]).append(m)
    for a in db.execute(select(adverse_t).where(adverse_t.c.episode_id.in_(ids)).order_by(adverse_t.c.id)):
        (loose_adverse[a.episode_id] if a.session_id is None else adverse_in_session[a.session_id]).append(a)
    episodes_of: dict[int, list[EpisodeDossier]] = defaultdict(list)
    for e in episodes:
        entries = []
        for s in sessions[e.id]:
            record = session_record_from(
                s,
                clinician=clinician_code[s.clinician_id],
                steps=steps[s.id],
                measurements=in_session[s.id],
                adverse=adverse_in_session[s.id],
            )
            entries.append(
                SessionEntry(
                    s.number,
                    record,
                    public_id=s.public_id,
                    measurement_ids=tuple(m.public_id for m in in_session[s.id]),
                    adverse_ids=tuple(a.public_id for a in adverse_in_session[s.id]),
                    recommended=s.recommended,
                    void=_void_of(s),
                )
            )
        episodes_of[e.patient_id].append(
            EpisodeDossier(
                key=e.public_id,
                plan=episode_plan_from(e),
                closed_on=e.closed_on,
                close_reason=e.close_reason,
                sessions=tuple(entries),
                measurements=tuple(
                    DatedMeasurement(m.taken_on, measurement_from(m), m.public_id) for m in loose[e.id]
                ),
                adverse_responses=tuple(adverse_from(a) for a in loose_adverse[e.id]),
                adverse_ids=tuple(a.public_id for a in loose_adverse[e.id]),
                discharge_reason=e.discharge_reason,
                void=_void_of(e),
            )
        )
    for p in batch:
        yield PatientDossier(patient_from(p), tuple(episodes_of[p.id]), public_id=p.public_id)


def _void_of(row: Any) -> VoidMark | None:
    """The void of a session or episode row (None when it stands)."""
    if row.voided_at is None:
        return None
    return VoidMark(reason=row.void_reason or "", at=row.voided_at)


def read_clinic(db: Session, clinic_code: str, *, episode_ids: Sequence[int] | None = None) -> ClinicDossier:
    """A whole clinic (or the patients of some episodes, with only those episodes) as one dossier."""
    clinic_id, clinic, clinicians = clinic_header(db, clinic_code)
    patients = tuple(patient_dossiers(db, clinic_id, episode_ids=episode_ids))
    return ClinicDossier(clinic, clinicians, patients)


@dataclass
class ImportReport:
    """What an import wrote, skipped as already present, or could not place."""

    patients_created: int = 0
    episodes_created: int = 0
    sessions_created: int = 0
    measurements_created: int = 0
    adverse_created: int = 0
    clinicians_created: int = 0
    already_present: list[str] = field(default_factory=list)
    not_placed: list[str] = field(default_factory=list)
    # other systems' resources placed, by entry name ("Observation/pain-1", else the entry's fullUrl, so two
    # Observations without ids are both listed) -> the public id of the measurement made from each
    placed: dict[str, str] = field(default_factory=dict)
    # the database ids of the patients the import wrote to (for the audit trail; never shown)
    patient_ids: list[int] = field(default_factory=list, repr=False)
    # what became of each entry, by entry name (the FHIR answer: `entry_outcomes`); not in the JSON report
    outcomes: dict[str, EntryOutcome] = field(default_factory=dict, repr=False)
    # Strigil's own records written ("episode", key) / ("patient", code) / ("clinician", code) and those
    # found already present, to tell each native entry's answer (lists: reports of chunks add up)
    written: list[tuple[str, str]] = field(default_factory=list, repr=False)
    present: list[tuple[str, str]] = field(default_factory=list, repr=False)

    _HIDDEN = ("patient_ids", "outcomes", "written", "present")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (without database ids or the per-entry answers)."""
        return {k: v for k, v in self.__dict__.items() if k not in self._HIDDEN}

    def add(self, part: ImportReport) -> None:
        """Add the report of a later part of the same import (a chunk, a batch, a part of a bundle).

        Counts add up and lists extend; for an entry named in both, the earlier answer stands: a clinic's
        shared entries come with every part, and only the first part that holds them writes them.
        """
        for name, value in part.__dict__.items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
            elif isinstance(value, dict):
                mine = getattr(self, name)
                for key, item in value.items():
                    mine.setdefault(key, item)
            else:
                getattr(self, name).extend(value)


class TransactionRefused(RecordError):
    """A transaction Bundle with entries that could not be done as asked: FHIR's transaction is all or
    nothing, so nothing of it is kept; `issues` names each entry (its name) and why."""

    RULE = "a transaction is all or nothing (send a batch to keep the rest)"

    def __init__(self, issues: Sequence[tuple[str, str]]) -> None:
        self.issues = list(issues)
        shown = "; ".join(f"{where}: {message}" for where, message in self.issues[:10])
        more = f"; …and {len(self.issues) - 10} more" if len(self.issues) > 10 else ""
        super().__init__(
            f"{self.RULE}: {len(self.issues)} of its entries cannot be stored ({shown}{more}); "
            "nothing imported"
        )


_CONTEXT = (
    "read only as context (which patient, which episode): Strigil keeps no copy of another system's "
    "Conditions or Encounters"
)


def entry_outcomes(plan: ImportPlan, report: ImportReport) -> dict[str, EntryOutcome]:
    """What became of every entry of the imported bundle, by entry name, as FHIR answers a transaction or
    batch: 201 written, 200 already present (or read only as context), 422 not stored, with the reason."""
    outcomes = dict(report.outcomes)
    not_understood = {p.where: p.message for p in plan.not_understood}
    written, present = set(report.written), set(report.present)
    for name in plan.entries:
        if name in outcomes:
            continue
        owner = plan.native.get(name)
        if owner is not None:
            kind, key = owner
            if owner in written:
                outcomes[name] = EntryOutcome("201 Created", f"written: the {kind} {key}")
            elif kind in ("clinic", "instrument") or owner in present:
                what = "the catalogue instrument" if kind == "instrument" else f"the {kind}"
                outcomes[name] = EntryOutcome("200 OK", f"already present: {what} {key}; not written again")
            else:
                outcomes[name] = EntryOutcome("422 Unprocessable Entity", f"not stored: the {kind} {key}")
        elif name in plan.context:
            outcomes[name] = EntryOutcome("200 OK", not_understood.get(name, _CONTEXT))
        else:
            reason = not_understood.get(name, "not imported")
            outcomes[name] = EntryOutcome("422 Unprocessable Entity", f"not stored: {reason}")
    return outcomes


def audit_import(db: Session, actor: Actor, report: ImportReport, *, source: str = "") -> None:
    """The audit rows of an import: per clinic written to, one row for the job and one per patient it touched.

    The actor's own clinic gets the job row even when the import wrote nothing.
    """
    summary = (
        f"{source + ': ' if source else ''}patients+{report.patients_created} "
        f"episodes+{report.episodes_created} sessions+{report.sessions_created} "
        f"measurements+{report.measurements_created}"
    )
    clinics: dict[int, set[int]] = {}
    if report.patient_ids:
        for patient_id, clinic_id in db.execute(
            select(PatientRow.id, PatientRow.clinic_id).where(PatientRow.id.in_(set(report.patient_ids)))
        ):
            clinics.setdefault(clinic_id, set()).add(patient_id)
    if actor.clinic_id is not None:
        clinics.setdefault(actor.clinic_id, set())
    for clinic_id, patients in sorted(clinics.items()):
        record_job(db, replace(actor, clinic_id=clinic_id), "create", "fhir_bundle", patients, detail=summary)
    if not clinics:
        record_job(db, actor, "create", "fhir_bundle", (), detail=summary)


def _write_episode(
    db: Session, clinic_id: int, patient_code: str, episode: EpisodeDossier, by: str, report: ImportReport
) -> None:
    from strigil.services.episodes import close_episode, open_episode
    from strigil.services.outcomes import add_adverse_response, add_measurement
    from strigil.services.sessions import record_session

    patient_id = db.scalar(
        select(PatientRow.id).where(PatientRow.clinic_id == clinic_id, PatientRow.code == patient_code)
    )
    plan = episode.plan
    same = db.scalar(
        select(EpisodeRow.public_id).where(
            EpisodeRow.patient_id == patient_id,
            EpisodeRow.condition == plan.condition,
            EpisodeRow.region == plan.region,
            EpisodeRow.side == plan.side,
            EpisodeRow.opened_on == plan.opened_on,
        )
    )
    if same is not None:
        # An import never changes a record it finds: one that arrives voided is reported, not voided here.
        voided_there = " (it arrives entered-in-error: void it here by hand if it was opened by mistake)"
        report.already_present.append(
            f"patient {patient_code}: episode {plan.condition} {plan.region} "
            f"{plan.side} opened {plan.opened_on} (episode {same}) — not imported again"
            + (voided_there if episode.void else "")
        )
        report.present.append(("episode", str(episode.key)))
        return
    opened = open_episode(db, clinic_id, patient_code, plan, by=by, at_the_table=False)
    report.episodes_created += 1
    report.written.append(("episode", str(episode.key)))
    episode_id = opened.id
    today = max([dt.date.today(), *(s.record.date for s in episode.sessions)])
    for entry in episode.sessions:
        recorded = record_session(
            db,
            clinic_id,
            entry.record.model_copy(update={"episode_id": episode_id}),
            by=by,
            today=today,
            at_the_table=False,  # another system's history, recorded as it happened
        )
        report.sessions_created += 1
        # what the session holds is written with it: the counts are the rows written
        report.measurements_created += len(entry.record.measurements)
        report.adverse_created += len(entry.record.adverse_responses)
        if entry.void is not None:  # voided at once: the sessions after it see it void, as the sender did
            _mark_void(db, SessionRow, recorded.id, entry.void, by)
    for dated in episode.measurements:
        m = dated.measurement
        add_measurement(
            db, clinic_id, episode_id, m.measure, m.value, taken_on=dated.taken_on, timing=m.timing
        )
        report.measurements_created += 1
    for response in episode.adverse_responses:
        add_adverse_response(db, clinic_id, episode_id, response.model_dump())
        report.adverse_created += 1
    if episode.closed_on is not None:
        close_episode(
            db, clinic_id, episode_id, episode.closed_on, episode.close_reason or "closed (imported)"
        )
    if episode.void is not None:  # last: a void episode takes nothing more
        _mark_void(db, EpisodeRow, episode_id, episode.void, by)


def _void_columns(void: VoidMark | None, by: str) -> dict[str, Any]:
    """The void columns of a session or episode row that arrives voided (the import's time when unsaid)."""
    if void is None:  # every key, always: bulk inserts take one column list for all rows
        return {"voided_at": None, "voided_by": None, "void_reason": None}
    at = void.at if void.at is not None else dt.datetime.now(dt.UTC)
    return {"voided_at": at, "voided_by": by[:64], "void_reason": void.reason}


def _mark_void(db: Session, table: Any, row_id: int, void: VoidMark, by: str) -> None:
    """Store a record that arrived voided as void (the sender's reason and time)."""
    db.execute(update(table).where(table.id == row_id).values(**_void_columns(void, by)))


def _foreign_patient(
    db: Session,
    clinic_id: int,
    foreign: ForeignMeasurement,
    patient_code: str | None,
    match_only: bool,
    report: ImportReport,
) -> PatientRow | None:
    """The clinic's patient a foreign measurement is about: the one named (`--patient`), else the one that
    already has one of its Patient's identifiers (system and value, exactly), else a new patient keeping them
    (None, with the reason reported, when `match_only` or nothing identifies the person)."""
    from strigil.services.errors import Refused
    from strigil.services.patients import add_patient, find_patient

    pairs = list(dict.fromkeys(foreign.patient_identifiers))
    known = (
        db.execute(
            select(
                PatientIdentifierRow.patient_id, PatientIdentifierRow.system, PatientIdentifierRow.value
            ).where(
                PatientIdentifierRow.clinic_id == clinic_id,
                tuple_(PatientIdentifierRow.system, PatientIdentifierRow.value).in_(pairs),
            )
        ).all()
        if pairs
        else []
    )
    owners = {row.patient_id for row in known}
    matched = "its identifiers name"
    if patient_code is not None:
        patient = find_patient(db, clinic_id, patient_code)
        matched = "the request names"
        if owners - {patient.id}:
            raise Refused(
                f"{foreign.patient}: its identifiers already name another patient of this clinic, not "
                f"{patient_code}; nothing imported"
            )
    elif len(owners) > 1:
        report.not_placed.append(
            f"{foreign.source}: the identifiers of {foreign.patient} name {len(owners)} different patients "
            "here; not placed (give --patient CODE)"
        )
        return None
    elif owners:
        patient = db.get_one(PatientRow, owners.pop())
    elif match_only:
        report.not_placed.append(
            f"{foreign.source}: no patient of this clinic has any of the identifiers of {foreign.patient} "
            f"({', '.join(f'{s}|{v}' for s, v in pairs) or 'none with a system'}); --match-only creates none"
        )
        return None
    elif not pairs:
        report.not_placed.append(
            f"{foreign.source}: {foreign.patient} has no identifier with a system, so a later import could "
            "not find the same person; not placed (give --patient CODE)"
        )
        return None
    elif foreign.birth_year is None or foreign.sex is None:
        report.not_placed.append(
            f"{foreign.source}: {foreign.patient} matches no patient here, and a new one needs its birth "
            "year and sex (birthDate, gender); not placed"
        )
        return None
    else:
        view = add_patient(
            db,
            clinic_id,
            {"code": f"EXT-{new_public_id()[:12]}", "birth_year": foreign.birth_year, "sex": foreign.sex},
        )
        report.patients_created += 1
        patient = db.get_one(PatientRow, view.id)
        report.outcomes[foreign.patient] = EntryOutcome(
            "201 Created",
            f"a new patient {patient.code} that keeps its identifiers (no patient here had them)",
            f"Patient/{patient.public_id}",
        )
    report.outcomes.setdefault(
        foreign.patient,
        EntryOutcome("200 OK", f"{matched} patient {patient.code}", f"Patient/{patient.public_id}"),
    )
    have = {(row.system, row.value) for row in known}
    for system, value in pairs:
        if (system, value) not in have:
            db.add(
                PatientIdentifierRow(clinic_id=clinic_id, patient_id=patient.id, system=system, value=value)
            )
    db.flush()
    return patient


def _place_foreign(
    db: Session,
    clinic_id: int,
    foreign: ForeignMeasurement,
    patient_code: str | None,
    report: ImportReport,
    match_only: bool = False,
) -> None:
    """Place one measurement from another system: its patient, then the episode of the condition its context
    names that was open on the day. An import never opens an episode; what cannot be placed is reported with
    the reason, and a measurement imported before (same source) is not added again."""
    from strigil.services.outcomes import add_measurement

    unplaced = len(report.not_placed)
    _place_one(db, clinic_id, foreign, patient_code, report, match_only, add_measurement)
    if len(report.not_placed) > unplaced:  # it says why: "<source>: <reason>"
        reason = report.not_placed[-1].removeprefix(f"{foreign.source}: ")
        report.outcomes[foreign.source] = EntryOutcome("422 Unprocessable Entity", f"not stored: {reason}")


def _place_one(
    db: Session,
    clinic_id: int,
    foreign: ForeignMeasurement,
    patient_code: str | None,
    report: ImportReport,
    match_only: bool,
    add_measurement: Any,
) -> None:
    if foreign.source_id is None:
        report.not_placed.append(
            f"{foreign.source}: has no identifier and no absolute fullUrl, so a second import could not be "
            "told from the first; not placed"
        )
        return
    seen = db.scalar(
        select(MeasurementRow.id)
        .join(EpisodeRow, EpisodeRow.id == MeasurementRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(PatientRow.clinic_id == clinic_id, MeasurementRow.source == foreign.source_id)
    )
    if seen is not None:
        report.already_present.append(
            f"{foreign.source}: imported before ({foreign.source_id}); not added again"
        )
        report.outcomes[foreign.source] = EntryOutcome(
            "200 OK", f"already present: imported before ({foreign.source_id}); not added again"
        )
        return
    if foreign.condition is None:
        report.not_placed.append(f"{foreign.source}: {foreign.unplaced}; not placed")
        return
    patient = _foreign_patient(db, clinic_id, foreign, patient_code, match_only, report)
    if patient is None:
        return
    episodes = db.scalars(
        select(EpisodeRow).where(
            EpisodeRow.patient_id == patient.id,
            EpisodeRow.condition == foreign.condition,
            EpisodeRow.opened_on <= foreign.taken_on,
        )
    ).all()
    open_then = [e for e in episodes if e.closed_on is None or e.closed_on >= foreign.taken_on]
    # a code that names a side (ICD-10-CM laterality) places only into an episode of that side: a left-elbow
    # result never lands in a right-elbow episode, not even the only one open
    on_side = [e for e in open_then if foreign.side is None or e.side == foreign.side]
    if len(on_side) != 1:
        found = "no episode" if not on_side else f"{len(on_side)} episodes"
        side = "" if foreign.side is None else f" on the {foreign.side} side"
        elsewhere = (
            f" (open on another side: {', '.join(sorted({str(e.side) for e in open_then}))})"
            if open_then and not on_side
            else ""
        )
        report.not_placed.append(
            f"{foreign.source}: patient {patient.code} has {found} of {foreign.condition}{side} open on "
            f"{foreign.taken_on}{elsewhere}; not placed (an import never opens an episode)"
        )
        return
    open_then = on_side
    m = foreign.measurement
    view = add_measurement(
        db, clinic_id, open_then[0].id, m.measure, m.value, taken_on=foreign.taken_on, timing=m.timing
    )
    db.execute(update(MeasurementRow).where(MeasurementRow.id == view.id).values(source=foreign.source_id))
    report.measurements_created += 1
    report.patient_ids.append(patient.id)
    public_id = str(db.scalar(select(MeasurementRow.public_id).where(MeasurementRow.id == view.id)))
    report.placed[foreign.source] = public_id
    report.outcomes[foreign.source] = EntryOutcome(
        "201 Created",
        f"placed: a {m.measure} measurement of patient {patient.code}, episode {open_then[0].public_id}",
        f"Observation/{public_id}",
    )


def _clinic_of(db: Session, dossier: ClinicDossier, named: str | None) -> Any:
    """The clinic a file's records go into: the one the person importing named, else the file's own clinic —
    created on first import with the file's public id, or found by its code when the file names this server's
    clinic of that code (or, an older file, names none). Another clinic that only shares the code is never
    taken for it: its patients and clinicians are other people."""
    from strigil.services.clinics import ensure_clinic, get_clinic
    from strigil.services.errors import Refused

    if named:  # a clinic named by hand must exist (a typo must not create a clinic)
        clinic = get_clinic(db, named)
    else:
        row = db.scalar(select(ClinicRow).where(ClinicRow.code == dossier.clinic.code))
        source = dossier.public_id
        if row is not None and source is not None and row.public_id != source:
            raise Refused(
                f"the file's clinic {dossier.clinic.code!r} (public id {source}) is not this server's "
                f"clinic {row.code!r} (public id {row.public_id}): two clinics share the code; to add "
                f"the file's records to this clinic, name it: --clinic {row.code}"
            )
        if row is None and source is not None:
            other = db.scalar(select(ClinicRow.code).where(ClinicRow.public_id == source))
            if other is not None:
                raise Refused(
                    f"the file's clinic {dossier.clinic.code!r} is this server's clinic {other!r} (public id "
                    f"{source}); name it: --clinic {other}"
                )
        clinic = ensure_clinic(db, dossier.clinic.code, dossier.clinic.name)
        if row is None and source is not None:  # a copy of a clinic keeps its name, as its records do
            db.execute(update(ClinicRow).where(ClinicRow.id == clinic.id).values(public_id=source))
    _refuse_other_clinicians(db, clinic.id, clinic.code, dossier.clinicians)
    return clinic


def _refuse_other_clinicians(
    db: Session, clinic_id: int, clinic_code: str, clinicians: Sequence[Clinician]
) -> None:
    """Refuse a file whose clinician differs from this clinic's clinician of the same code: its sessions would
    be attributed to another person."""
    from strigil.services.errors import Refused

    if not clinicians:
        return
    here = {
        row.code: row
        for row in db.scalars(
            select(ClinicianRow).where(
                ClinicianRow.clinic_id == clinic_id, ClinicianRow.code.in_([c.code for c in clinicians])
            )
        )
    }
    for clinician in clinicians:
        row = here.get(clinician.code)
        if row is None:
            continue
        ours = (row.name, row.profession, row.years_experience)
        theirs = (clinician.name, str(clinician.profession), clinician.years_experience)
        if ours != theirs:
            raise Refused(
                f"clinician {clinician.code}: the file has {theirs[0]!r} ({theirs[1]}, {theirs[2]} years); "
                f"clinic {clinic_code!r} has {ours[0]!r} ({ours[1]}, {ours[2]} years) under that code — the "
                "file's sessions would be attributed to another person. Nothing was imported"
            )


def write_plan(
    db: Session,
    plan: ImportPlan,
    *,
    by: str = "fhir-import",
    patient_code: str | None = None,
    clinic_code: str | None = None,
    match_only: bool = False,
) -> ImportReport:
    """Write an import plan through the record's services (the caller owns the transaction).

    Measurements from other systems go to the patient named by `patient_code`, else the one with one of
    their Patient's identifiers, else a new patient keeping those identifiers (`match_only`: reported, not
    created), in the episode of the condition their context names.

    `report.outcomes` says what became of every entry. A transaction Bundle is all or nothing (FHIR R4
    http.html#transaction): when any entry cannot be stored, `TransactionRefused` names each.

    Raises ValueError if the plan has errors; service errors (RecordError) propagate so the caller rolls back.
    The three steps (`write_native`, `place_foreign`, `finish_plan`) are public for an import in parts, which
    writes every part's own records before it places any other system's measurement.
    """
    report = write_native(db, plan, by=by, clinic_code=clinic_code)
    place_foreign(
        db,
        plan,
        plan.foreign_measurements,
        report,
        patient_code=patient_code,
        clinic_code=clinic_code,
        match_only=match_only,
    )
    finish_plan(plan, report)
    return report


def write_native(
    db: Session, plan: ImportPlan, *, by: str = "fhir-import", clinic_code: str | None = None
) -> ImportReport:
    """Write a plan's own Strigil records (clinicians, patients, episodes) through the record's services."""
    from strigil.services.clinics import add_clinician
    from strigil.services.errors import Refused
    from strigil.services.patients import add_patient

    if plan.errors:
        raise ValueError("; ".join(str(p) for p in plan.errors))
    report = ImportReport()
    for dossier in plan.clinics:
        clinic = _clinic_of(db, dossier, clinic_code)
        known = set(db.scalars(select(ClinicianRow.code).where(ClinicianRow.clinic_id == clinic.id)))
        for clinician in dossier.clinicians:
            if clinician.code not in known:
                add_clinician(db, clinic.id, clinician)
                report.clinicians_created += 1
                report.written.append(("clinician", clinician.code))
            else:
                report.present.append(("clinician", clinician.code))
        for patient_dossier in dossier.patients:
            patient = patient_dossier.patient
            row = db.scalar(
                select(PatientRow).where(PatientRow.clinic_id == clinic.id, PatientRow.code == patient.code)
            )
            if row is None:
                report.patient_ids.append(add_patient(db, clinic.id, patient).id)
                report.patients_created += 1
                report.written.append(("patient", patient.code))
            elif (row.birth_year, row.sex) != (patient.birth_year, patient.sex):
                raise Refused(
                    f"patient {patient.code}: the bundle says born {patient.birth_year}, {patient.sex}; "
                    f"this clinic has {row.birth_year}, {row.sex} — a different person under the same "
                    "code? Nothing was imported"
                )
            else:
                report.present.append(("patient", patient.code))
                if patient_dossier.episodes:
                    report.patient_ids.append(row.id)
            for episode in patient_dossier.episodes:
                _write_episode(db, clinic.id, patient.code, episode, by, report)
    return report


def place_foreign(
    db: Session,
    plan: ImportPlan,
    measurements: Sequence[ForeignMeasurement],
    report: ImportReport,
    *,
    patient_code: str | None = None,
    clinic_code: str | None = None,
    match_only: bool = False,
) -> None:
    """Place other systems' measurements of a plan (`measurements`, in the order given) into `report`."""
    from strigil.services.clinics import get_clinic
    from strigil.services.errors import Refused

    if not measurements:
        return
    if clinic_code is None and len(plan.clinics) != 1:
        raise Refused("measurements from another system need the clinic they belong to: give --clinic CODE")
    code = clinic_code or plan.clinics[0].clinic.code
    clinic_id = get_clinic(db, code).id
    if patient_code is not None:
        from strigil.services.patients import find_patient

        find_patient(db, clinic_id, patient_code)  # a patient named by hand must exist: no silent skip
    for foreign in measurements:
        _place_foreign(db, clinic_id, foreign, patient_code, report, match_only)


def finish_plan(plan: ImportPlan, report: ImportReport) -> None:
    """Say what became of every entry (`report.outcomes`); refuse a transaction with an entry not stored."""
    report.outcomes = entry_outcomes(plan, report)
    if plan.transaction:
        refused = [(name, o.message) for name, o in report.outcomes.items() if not o.stored]
        if refused:
            raise TransactionRefused(refused)


def write_plan_bulk(
    db: Session, plan: ImportPlan, *, by: str = "fhir-import", clinic_code: str | None = None
) -> ImportReport:
    """Write a plan of new patients with bulk inserts, in the caller's one transaction (for whole clinics).

    Every record was validated against the catalogue when the plan was read; here the rules that need the
    database are checked (patients must be new to the clinic, clinicians known, the exercise-first rule,
    session and outcome dates not before their episode), then rows go in with explicit ids. As on record's
    bulk demo path, the decision aid's recommendations are not computed (derived, not recorded facts).
    Measurements from other systems need `write_plan`.
    """
    from strigil.services.clinics import add_clinician
    from strigil.services.decision_support import exercise_first_problem
    from strigil.services.errors import Refused, invalid
    from strigil.store.bulk import insert_rows
    from strigil.store.ids import advance_sequence, first_unused_id

    if plan.errors:
        raise ValueError("; ".join(str(p) for p in plan.errors))
    if plan.foreign_measurements:
        raise Refused("measurements from another system are placed one by one: import without --bulk")
    report = ImportReport()
    tables = (PatientRow, EpisodeRow, SessionRow, DoseStepRow, MeasurementRow, AdverseResponseRow)
    next_id = {t: first_unused_id(db, t.__tablename__) for t in tables}  # never an erased record's id
    rows: dict[Any, list[dict[str, Any]]] = {t: [] for t in tables}
    stamp = dt.datetime.now(dt.UTC)
    for dossier in plan.clinics:
        clinic = _clinic_of(db, dossier, clinic_code)
        clinician_ids = dict(
            db.execute(
                select(ClinicianRow.code, ClinicianRow.id).where(ClinicianRow.clinic_id == clinic.id)
            ).all()
        )
        for clinician in dossier.clinicians:
            if clinician.code not in clinician_ids:
                clinician_ids[clinician.code] = add_clinician(db, clinic.id, clinician).id
                report.clinicians_created += 1
        codes = [p.patient.code for p in dossier.patients]
        twice = sorted({c for c in codes if codes.count(c) > 1}) if len(set(codes)) != len(codes) else []
        if twice:
            raise Refused(
                f"patient code(s) {', '.join(twice[:10])} name two Patient resources in the files: one code, "
                "one person. Nothing was imported"
            )
        taken = set()
        for start in range(0, len(codes), 5000):
            taken |= set(
                db.scalars(
                    select(PatientRow.code).where(
                        PatientRow.clinic_id == clinic.id, PatientRow.code.in_(codes[start : start + 5000])
                    )
                )
            )
        if taken:
            raise Refused(
                f"bulk import takes new patients only; already in clinic {clinic.code!r}: "
                f"{', '.join(sorted(taken)[:10])} (imported before, or named twice in the files; a single "
                "Bundle import, without --bulk, adds to patients a clinic has)"
            )
        for patient_dossier in dossier.patients:
            patient = patient_dossier.patient
            patient_id = next_id[PatientRow]
            next_id[PatientRow] += 1
            report.patient_ids.append(patient_id)
            rows[PatientRow].append(
                {
                    "id": patient_id,
                    "public_id": _kept(patient_dossier.public_id),
                    "clinic_id": clinic.id,
                    **patient_columns(patient),
                    "version": 1,
                    "created_at": stamp,
                }
            )
            report.patients_created += 1
            for episode in patient_dossier.episodes:
                _bulk_episode(
                    episode,
                    patient.code,
                    patient_id,
                    clinician_ids,
                    next_id,
                    rows,
                    stamp,
                    by,
                    exercise_first_problem,
                    invalid,
                )
                report.episodes_created += 1
                report.sessions_created += len(episode.sessions)
                report.measurements_created += len(episode.measurements) + sum(
                    len(s.record.measurements) for s in episode.sessions
                )
                report.adverse_created += len(episode.adverse_responses) + sum(
                    len(s.record.adverse_responses) for s in episode.sessions
                )
    _refuse_taken_public_ids(db, rows)
    for table in tables:
        for start in range(0, len(rows[table]), 20000):
            # one executemany per table, values through the columns' own types and defaults (`store.bulk`)
            insert_rows(db, table.metadata.tables[table.__tablename__], rows[table][start : start + 20000])
        if rows[table]:
            advance_sequence(db, table.__tablename__)  # later ordinary inserts go past the explicit ids
    return report


def _kept(public_id: str | None) -> str:
    """The public id a record arrives with (kept: a re-import is then recognised), or a new one."""
    return public_id if public_id is not None and is_public_id(public_id) else new_public_id()


def _refuse_taken_public_ids(db: Session, rows: dict[Any, list[dict[str, Any]]]) -> None:
    """Refuse the import if any public id it brings already names a record here (of any clinic): a record
    never takes over another's name, and nothing is attached to the record that has it."""
    from strigil.services.errors import Refused

    for table, table_rows in rows.items():
        if "public_id" not in table.__table__.c:
            continue
        ids = [r["public_id"] for r in table_rows]
        duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
        taken: set[str] = set(duplicates)
        for start in range(0, len(ids), 5000):
            taken |= set(
                db.scalars(select(table.public_id).where(table.public_id.in_(ids[start : start + 5000])))
            )
        if taken:
            raise Refused(
                f"{table.__tablename__}: {len(taken)} public id(s) of this import already name a record here "
                f"or appear twice ({', '.join(sorted(taken)[:5])}); nothing imported — a re-import of the "
                "same export, or identifiers that collide"
            )


def _bulk_episode(
    episode: EpisodeDossier,
    patient_code: str,
    patient_id: int,
    clinician_ids: dict[str, int],
    next_id: dict[Any, int],
    rows: dict[Any, list[dict[str, Any]]],
    stamp: dt.datetime,
    by: str,
    exercise_first_problem: Any,
    invalid: Any,
) -> None:
    from strigil.services.errors import Refused

    plan = episode.plan
    where = f"patient {patient_code}, episode opened {plan.opened_on}"
    problem = exercise_first_problem(
        plan.planned_iastm, list(plan.planned_co_interventions), plan.exercise_first_reason
    )
    if problem:
        raise Refused(f"{where}: exercise first: {problem}")
    episode_id = next_id[EpisodeRow]
    next_id[EpisodeRow] += 1
    rows[EpisodeRow].append(
        {
            "id": episode_id,
            "public_id": _kept(episode.key),
            "patient_id": patient_id,
            **episode_columns(plan),
            "closed_on": episode.closed_on,
            "close_reason": episode.close_reason,
            "discharge_reason": None
            if episode.closed_on is None
            else discharge_reason_of(episode.close_reason or "closed (imported)")[0],
            **_void_columns(episode.void, by),
            "version": 1,
            "created_at": stamp,
            "created_by": by,
            "changed_at": stamp,
        }
    )
    if episode.closed_on is not None and episode.closed_on < plan.opened_on:
        raise invalid("closed_on", episode.closed_on.isoformat(), f"{where}: must be on or after opened_on")

    def measurement(m: Measurement, taken_on: dt.date, session_id: int | None, public_id: str | None) -> None:
        if taken_on < plan.onset_date:
            raise invalid(
                "taken_on", taken_on.isoformat(), f"{where}: must be on or after onset {plan.onset_date}"
            )
        rows[MeasurementRow].append(
            {
                "id": next_id[MeasurementRow],
                "public_id": _kept(public_id),
                "episode_id": episode_id,
                "session_id": session_id,
                **measurement_columns(m, taken_on),
                "version": 1,
                "recorded_at": stamp,
            }
        )
        next_id[MeasurementRow] += 1

    def adverse(a: AdverseResponse, session_id: int | None, public_id: str | None) -> None:
        if a.onset_on < plan.opened_on:
            raise invalid(
                "onset_on", a.onset_on.isoformat(), f"{where}: must be on or after {plan.opened_on}"
            )
        rows[AdverseResponseRow].append(
            {
                "id": next_id[AdverseResponseRow],
                "public_id": _kept(public_id),
                "episode_id": episode_id,
                "session_id": session_id,
                **adverse_columns(a),
                "version": 1,
                "recorded_at": stamp,
            }
        )
        next_id[AdverseResponseRow] += 1

    for entry in episode.sessions:
        record = entry.record
        if record.clinician not in clinician_ids:
            raise invalid("clinician", record.clinician, f"{where}: not a clinician of this clinic")
        if record.date < plan.opened_on:
            raise invalid("date", record.date.isoformat(), f"{where}: must be on or after {plan.opened_on}")
        session_id = next_id[SessionRow]
        next_id[SessionRow] += 1
        rows[SessionRow].append(
            {
                "id": session_id,
                "public_id": _kept(entry.public_id),
                "episode_id": episode_id,
                "clinician_id": clinician_ids[record.clinician],
                "number": entry.number,
                **session_columns(record),
                "recommendation": None,
                # the decision aid's word as the sender had it; its full reasoning is not carried
                "recommended": entry.recommended,
                **_void_columns(entry.void, by),
                "version": 1,
                "created_at": stamp,
                "created_by": by,
            }
        )
        for position, step in enumerate(record.steps, start=1):
            rows[DoseStepRow].append(
                {
                    "id": next_id[DoseStepRow],
                    "session_id": session_id,
                    "position": position,
                    **step_columns(step),
                }
            )
            next_id[DoseStepRow] += 1
        for i, m in enumerate(record.measurements):
            measurement(m, record.date, session_id, _nth(entry.measurement_ids, i))
        for i, a in enumerate(record.adverse_responses):
            adverse(a, session_id, _nth(entry.adverse_ids, i))
    for dated in episode.measurements:
        measurement(dated.measurement, dated.taken_on, None, dated.public_id)
    for i, a in enumerate(episode.adverse_responses):
        adverse(a, None, _nth(episode.adverse_ids, i))


def _nth(ids: tuple[str, ...], i: int) -> str | None:
    return ids[i] if i < len(ids) else None
