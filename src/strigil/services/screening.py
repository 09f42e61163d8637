"""Screening before a session: the clinician's findings with the episode's own adverse-response history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from strigil.clinical.adverse import AdverseReport
from strigil.clinical.screening import ScreeningResult, screen
from strigil.services.views import EpisodeView

__all__ = [
    "StoredAdverse",
    "prior_reports",
    "screen_before_session",
    "screen_episode",
]

# An adverse response as the store keeps it: kind, severity, onset, resolution (None = not resolved).
StoredAdverse = tuple[str, str, dt.date, dt.date | None]


def prior_reports(
    adverse: Iterable[StoredAdverse], today: dt.date, session_of: Iterable[int | None] | None = None
) -> list[AdverseReport]:
    """Earlier adverse responses as the decision rules read them: days to resolution and days since onset."""
    sessions = list(session_of) if session_of is not None else None
    return [
        AdverseReport(
            kind,
            severity,
            None if resolved is None else float((resolved - onset).days),
            None if sessions is None else sessions[i],
            float((today - onset).days),
        )
        for i, (kind, severity, onset, resolved) in enumerate(adverse)
    ]


def screen_episode(
    view: EpisodeView, findings: Iterable[str], *, intolerance: bool = False, today: dt.date | None = None
) -> ScreeningResult:
    """Screen before a session: the clinician's findings plus the episode's earlier adverse responses."""
    number_of = {s.id: s.number for s in view.sessions}
    stored = [(a.kind, a.severity, a.onset_on, a.resolved_on) for a in view.adverse_responses]
    sessions = [number_of.get(a.session_id or -1) for a in view.adverse_responses]
    prior = prior_reports(stored, today or dt.date.today(), sessions)
    return screen(view.region, list(findings), prior, intolerance)


def screen_before_session(region: str, adverse: list[StoredAdverse], today: dt.date) -> ScreeningResult:
    """The start-of-session screening from the episode's adverse history alone (no new findings recorded)."""
    return screen(region, [], prior_reports(adverse, today), False)
