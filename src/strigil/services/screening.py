"""Screening as part of the record: stored on the episode (`strigil screen --episode`, the web form's first
step), and the screening a session is gated on — the clinician's findings with the episode's own history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.catalog import UnknownCode
from strigil.clinical.adverse import AdverseReport
from strigil.clinical.screening import (
    Finding,
    FindingAt,
    ScreeningResult,
    combine_regions,
    load_findings,
    parse_screen_document,
    screen,
    screen_document,
)
from strigil.clinical.session import ScreeningStep
from strigil.services._convert import screening_view
from strigil.services.episodes import find_episode
from strigil.services.errors import Refused, invalid
from strigil.services.views import AdverseView, EpisodeView, ScreeningView
from strigil.store.record import AdverseResponseRow, ScreeningRow, SessionRow
from strigil.store.types import now_utc

__all__ = [
    "SessionScreening",
    "StoredAdverse",
    "counted_adverse",
    "episode_history",
    "finding_choices",
    "latest_screening",
    "prior_reports",
    "record_screening",
    "screen_before_session",
    "screen_episode",
    "session_screening",
    "store_session_screening",
]

# An adverse response as the store keeps it: kind, severity, onset, resolution (None = not resolved).
StoredAdverse = tuple[str, str, dt.date, dt.date | None]


def prior_reports(
    adverse: Iterable[StoredAdverse],
    today: dt.date,
    session_of: Iterable[int | None] | None = None,
    regions: Iterable[str | None] | None = None,
) -> list[AdverseReport]:
    """Earlier adverse responses as the decision rules read them on `today`: days to resolution (None while
    unresolved on that day) and days since onset."""
    sessions = list(session_of) if session_of is not None else None
    where = list(regions) if regions is not None else None
    return [
        AdverseReport(
            kind,
            severity,
            None if resolved is None or resolved > today else float((resolved - onset).days),
            None if sessions is None else sessions[i],
            float(max((today - onset).days, 0)),
            None if where is None else where[i],
        )
        for i, (kind, severity, onset, resolved) in enumerate(adverse)
    ]


def counted_adverse(view: EpisodeView) -> list[AdverseView]:
    """The episode's adverse responses that count: all but those of a void session."""
    void = {s.id for s in view.sessions if s.voided}
    return [a for a in view.adverse_responses if a.session_id not in void]


# Findings a form asks about with a question of their own (`screen_episode(intolerance=...)`), not listed.
_ASKED_ON_THEIR_OWN = ("iastm_intolerance",)


def finding_choices() -> list[Finding]:
    """The findings a clinician can record at screening (the findings catalogue, in its order), without
    those a form asks about on their own, so none is asked twice."""
    return [f for f in load_findings().findings.values() if f.code not in _ASKED_ON_THEIR_OWN]


def screen_episode(
    view: EpisodeView,
    findings: Iterable[str | Mapping[str, Any]],
    *,
    intolerance: bool = False,
    today: dt.date | None = None,
    regions: Sequence[str] = (),
) -> ScreeningResult:
    """Screen before a session: the clinician's findings plus the episode's earlier adverse responses.

    A finding is a code (at the treated region) or {code, region}; `regions` are the regions the session
    treats (default: the episode's), each screened, the verdict the worst.
    """
    items = [
        FindingAt(f) if isinstance(f, str) else FindingAt(str(f["code"]), f.get("region") or None)
        for f in findings
    ]
    number_of = {s.id: s.number for s in view.counted_sessions}
    responses = counted_adverse(view)
    stored = [(a.kind, a.severity, a.onset_on, a.resolved_on) for a in responses]
    sessions = [number_of.get(a.session_id or -1) for a in responses]
    where = [a.region for a in responses]
    prior = prior_reports(stored, today or dt.date.today(), sessions, where)
    tolerance = [s.tolerance for s in view.counted_sessions if s.tolerance]
    return combine_regions(
        [
            screen(region, items, prior, intolerance, prior_tolerance=tolerance)
            for region in dict.fromkeys(regions or [view.region])
        ]
    )


def screen_before_session(region: str, adverse: list[StoredAdverse], today: dt.date) -> ScreeningResult:
    """The start-of-session screening from the episode's adverse history alone (no new findings recorded)."""
    return screen(region, [], prior_reports(adverse, today), False)


def episode_history(db: Session, episode_id: int, today: dt.date) -> tuple[list[AdverseReport], list[str]]:
    """The episode's adverse responses (session numbers, regions) and the tolerance of its sessions."""
    rows = db.execute(
        select(
            AdverseResponseRow.kind,
            AdverseResponseRow.severity,
            AdverseResponseRow.onset_on,
            AdverseResponseRow.resolved_on,
            AdverseResponseRow.region,
            SessionRow.number,
        )
        .outerjoin(SessionRow, SessionRow.id == AdverseResponseRow.session_id)
        # a void session's responses were entered by mistake (outer join: no session is NULL too)
        .where(AdverseResponseRow.episode_id == episode_id, SessionRow.voided_at.is_(None))
        .order_by(AdverseResponseRow.id)
    ).all()
    reports = prior_reports(
        [(k, s, o, r) for k, s, o, r, _, _ in rows], today, [n for *_, n in rows], [g for *_, g, _ in rows]
    )
    tolerance = db.scalars(
        select(SessionRow.tolerance)
        .where(
            SessionRow.episode_id == episode_id,
            SessionRow.tolerance.is_not(None),
            SessionRow.voided_at.is_(None),
        )
        .order_by(SessionRow.number)
    ).all()
    return reports, [t for t in tolerance if t]


def latest_screening(db: Session, episode_id: int) -> ScreeningRow | None:
    """The episode's latest stored screening (None before the first)."""
    return db.scalars(
        select(ScreeningRow)
        .where(ScreeningRow.episode_id == episode_id)
        .order_by(ScreeningRow.id.desc())
        .limit(1)
    ).first()


def record_screening(
    db: Session,
    clinic_id: int,
    episode_id: int,
    doc: Mapping[str, Any],
    *,
    by: str = "",
    today: dt.date | None = None,
) -> tuple[ScreeningView, ScreeningResult]:
    """Screen with a `strigil screen` document and store it on the episode (with its own history)."""
    episode, _ = find_episode(db, clinic_id, episode_id)
    if episode.closed_on is not None:
        raise Refused(f"episode {episode.public_id} was closed on {episode.closed_on}; it takes no screening")
    on = today or dt.date.today()
    try:
        parsed = parse_screen_document({**doc, "episode_id": episode_id})
        history, tolerance = episode_history(db, episode_id, on)
        result = screen_document(parsed, history, tolerance)
    except ValueError as exc:  # includes UnknownCode
        raise invalid("findings", doc.get("findings"), str(exc)) from None
    findings = [
        {"code": f, "region": None} if isinstance(f, str) else {"code": f.code, "region": f.region}
        for f in parsed.findings
    ]
    row = ScreeningRow(
        episode_id=episode_id,
        screened_on=on,
        findings=findings,
        intolerance=parsed.intolerance,
        regions=list(dict.fromkeys([parsed.region, *parsed.regions])),
        verdict=result.verdict,
        result=result.to_json(),
        recorded_at=now_utc(),
        recorded_by=by,
    )
    db.add(row)
    db.flush()
    return screening_view(row), result


@dataclass(frozen=True)
class SessionScreening:
    """The screening a session is gated on: per treated region, and where its findings came from."""

    result: ScreeningResult  # every treated region, combined (worst verdict)
    per_region: tuple[ScreeningResult, ...]
    findings: tuple[dict[str, Any], ...]
    intolerance: bool
    source: str  # "screened at this session", "confirmed: no change since …", "latest screening …", "none"
    latest_id: int | None  # the stored screening it rests on
    store: bool  # a new screening (or a "no change" confirmation) to store with the session
    assumptions: tuple[str, ...] = field(default=())
    screened_on: dt.date | None = None  # the date of the findings: today's, or the latest screening's

    def verdicts(self) -> list[tuple[str, str, list[str]]]:
        """Per region: (region, verdict, codes of its contraindications) for the gates."""
        return [
            (r.region, r.verdict, [x.code for x in r.reasons if x.kind == "contraindication"])
            for r in self.per_region
        ]

    def to_json(self, screening_id: int | None) -> dict[str, Any]:
        """The copy the session keeps."""
        return {
            "screening_id": screening_id,
            "source": self.source,
            "findings": list(self.findings),
            "intolerance": self.intolerance,
            "assumptions": list(self.assumptions),
            **self.result.to_json(),
        }


def session_screening(
    db: Session,
    episode_id: int,
    regions: Sequence[str],
    step: ScreeningStep | None,
    *,
    today: dt.date,
    reported: Sequence[AdverseReport] = (),
) -> SessionScreening:
    """Screen every region a session treats, from its screening step or the episode's latest screening.

    `reported` are reactions reported at this session's follow-up questions (not stored yet): an unresolved
    bruise among them blocks treatment over it like any other.
    """
    latest = latest_screening(db, episode_id)
    assumptions: list[str] = []
    if step is not None and not step.no_change:
        findings = [{"code": f.code, "region": f.region} for f in step.findings]
        intolerance, source, store = step.intolerance, "screened at this session", True
    elif step is not None:
        if latest is None:
            raise invalid(
                "screening.no_change",
                True,
                "there is no earlier screening to confirm; screen at this session",
            )
        findings, intolerance = list(latest.findings), latest.intolerance
        source, store = f"confirmed: no change since the screening of {latest.screened_on}", True
    elif latest is not None:
        findings, intolerance = list(latest.findings), latest.intolerance
        source, store = f"the episode's latest screening ({latest.screened_on})", False
    else:
        findings, intolerance, source, store = [], False, "none recorded", False
        assumptions.append(
            "no screening recorded for this episode: only its adverse-response history and tolerance were "
            "screened (record one with `strigil screen --episode`)"
        )
    history, tolerance = episode_history(db, episode_id, today)
    items = [FindingAt(str(f["code"]), f.get("region")) for f in findings]
    try:
        per_region = tuple(
            screen(region, items, [*history, *reported], intolerance, prior_tolerance=tolerance)
            for region in dict.fromkeys(regions)
        )
    except UnknownCode as exc:
        raise invalid("screening.findings", [f["code"] for f in findings], str(exc)) from None
    combined = combine_regions(per_region)
    return SessionScreening(
        combined,
        per_region,
        tuple(findings),
        intolerance,
        source,
        None if latest is None else latest.id,
        store,
        tuple(assumptions) + combined.assumptions,
        today if store else None if latest is None else latest.screened_on,
    )


def store_session_screening(
    db: Session, episode_id: int, screening: SessionScreening, *, on: dt.date, by: str
) -> int | None:
    """Store a session's new screening (or its "no change" confirmation); the id the session points to."""
    if not screening.store:
        return screening.latest_id
    confirms = screening.latest_id if screening.source.startswith("confirmed") else None
    row = ScreeningRow(
        episode_id=episode_id,
        screened_on=on,
        findings=list(screening.findings),
        intolerance=screening.intolerance,
        regions=[r.region for r in screening.per_region],
        verdict=screening.result.verdict,
        result=screening.result.to_json(),
        confirms_id=confirms,
        recorded_at=now_utc(),
        recorded_by=by,
    )
    db.add(row)
    db.flush()
    return row.id
