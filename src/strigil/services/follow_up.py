"""The follow-up questions to ask at the start of the next session, each open response with its id."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from strigil.clinical.adverse import follow_up_questions
from strigil.services.screening import counted_adverse, prior_reports
from strigil.services.views import EpisodeView

__all__ = ["Question", "questions_for_next_session"]


@dataclass(frozen=True)
class Question:
    """A question for the start of the next session; `adverse_id` is the response it asks about, if any."""

    about: str
    session: int | None
    question: str
    adverse_id: int | None = None
    adverse_public_id: str | None = None  # its name outside the server (the session form's field names)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "about": self.about,
            "session": self.session,
            "question": self.question,
            "adverse_id": self.adverse_public_id,
        }


def questions_for_next_session(view: EpisodeView, today: dt.date | None = None) -> list[Question]:
    """What to ask at the episode's next session (none before its first): every open or recent response,
    then each type of reaction since the latest session. Asked every time: adverse events go unrecorded
    when nobody asks (only 10 of 46 IASTM trials reported them — Nazari et al., domain reference §7)."""
    if not view.counted_sessions:
        return []
    number_of = {s.id: s.number for s in view.counted_sessions}
    latest = max(number_of.values())
    responses = counted_adverse(view)
    reports = prior_reports(
        [(a.kind, a.severity, a.onset_on, a.resolved_on) for a in responses],
        today or dt.date.today(),
        [number_of.get(a.session_id or -1) for a in responses],
        [a.region for a in responses],
    )
    return [
        Question(
            q.about,
            q.session,
            q.question,
            None if q.index is None else responses[q.index].id,
            None if q.index is None else responses[q.index].public_id,
        )
        for q in follow_up_questions(reports, latest)
    ]
