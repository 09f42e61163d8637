"""What a researcher may see of the clinic's record: outcomes by condition, only for groups of at least
five patients (smaller groups are withheld without saying how small they are). Void episodes and sessions
(entered by mistake) count nowhere."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strigil.catalog import load_catalog
from strigil.registry.disclosure import MIN_PATIENTS
from strigil.store.record import EpisodeRow, MeasurementRow, PatientRow, SessionRow

__all__ = ["MIN_GROUP", "OutcomeGroup", "ResearchView", "clinic_outcomes"]

# Smallest group shown: aggregates over fewer patients could single a person out.
MIN_GROUP = MIN_PATIENTS


@dataclass(frozen=True)
class OutcomeGroup:
    """One condition × measure: how many patients and episodes, and the mean change first → last pre value."""

    condition: str
    condition_name: str
    measure: str
    patients: int
    episodes: int
    sessions: int
    mean_change: float | None  # positive = better, in the measure's unit
    unit: str


@dataclass(frozen=True)
class ResearchView:
    """The groups large enough to show, and whether any were withheld."""

    groups: list[OutcomeGroup]
    withheld: bool


def clinic_outcomes(db: Session, clinic_id: int) -> ResearchView:
    """Outcomes by condition and measure for one clinic, suppressing groups under MIN_GROUP patients."""
    catalogue = load_catalog()
    counts = db.execute(
        select(
            EpisodeRow.condition,
            func.count(func.distinct(PatientRow.id)),
            func.count(func.distinct(EpisodeRow.id)),
            func.count(SessionRow.id),
        )
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .outerjoin(SessionRow, (SessionRow.episode_id == EpisodeRow.id) & SessionRow.voided_at.is_(None))
        .where(PatientRow.clinic_id == clinic_id, EpisodeRow.voided_at.is_(None))
        .group_by(EpisodeRow.condition)
    ).all()
    first_last = (
        select(
            MeasurementRow.episode_id,
            MeasurementRow.measure,
            func.min(SessionRow.number).label("first"),
            func.max(SessionRow.number).label("last"),
        )
        .join(SessionRow, SessionRow.id == MeasurementRow.session_id)
        .join(EpisodeRow, EpisodeRow.id == MeasurementRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(
            PatientRow.clinic_id == clinic_id,
            MeasurementRow.timing == "pre",
            SessionRow.voided_at.is_(None),
            EpisodeRow.voided_at.is_(None),
        )
        .group_by(MeasurementRow.episode_id, MeasurementRow.measure)
        .subquery()
    )
    values = db.execute(
        select(
            EpisodeRow.condition,
            MeasurementRow.measure,
            MeasurementRow.episode_id,
            SessionRow.number,
            MeasurementRow.value,
            first_last.c.first,
            first_last.c.last,
        )
        .join(SessionRow, SessionRow.id == MeasurementRow.session_id)
        .join(EpisodeRow, EpisodeRow.id == MeasurementRow.episode_id)
        .join(
            first_last,
            (first_last.c.episode_id == MeasurementRow.episode_id)
            & (first_last.c.measure == MeasurementRow.measure),
        )
        .where(
            MeasurementRow.timing == "pre",
            SessionRow.voided_at.is_(None),
            (SessionRow.number == first_last.c.first) | (SessionRow.number == first_last.c.last),
        )
    ).all()
    change: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    for condition, measure, episode_id, number, value, first, last in values:
        slot = change.setdefault((condition, measure), {}).setdefault(episode_id, {})
        if number == first:
            slot["first"] = value
        if number == last:
            slot["last"] = value
    groups, withheld = [], False
    for condition, n_patients, n_episodes, n_sessions in counts:
        if n_patients < MIN_GROUP:
            withheld = True
            continue
        name = catalogue.conditions[condition].name if condition in catalogue.conditions else condition
        measures = sorted(m for (c, m) in change if c == condition)
        for measure in measures or [""]:
            entry = catalogue.measures.get(measure)
            diffs = [
                entry.improvement(v["first"], v["last"])
                for v in change.get((condition, measure), {}).values()
                if entry is not None and "first" in v and "last" in v
            ]
            groups.append(
                OutcomeGroup(
                    condition,
                    name,
                    measure,
                    int(n_patients),
                    int(n_episodes),
                    int(n_sessions),
                    round(sum(diffs) / len(diffs), 2) if diffs else None,
                    entry.unit if entry else "",
                )
            )
    return ResearchView(groups, withheld)
