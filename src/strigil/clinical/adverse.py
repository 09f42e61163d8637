"""Adverse responses to IASTM: their expected course, when one is flagged, and what to ask at follow-up.

Petechiae and bruising are common and "typically resolve in a few days" (Baker R, Baker J. Right Tool for the
Job. Training & Conditioning 2017 — domain reference §0). No source gives numeric windows, so every window
below is a clinic-configurable setting and labelled "configurable heuristic" with its nearest source. A
response is *flagged* when it is severe, when it outlasted its window (resolved late, or still unresolved
after the window), or when it is a stop signal whatever its duration (paresthesia). Flagged responses feed
the next screening (`strigil.clinical.screening`) and the response model (`strigil.clinical.response`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from strigil.catalog import load_bibliography
from strigil.clinical.vocabulary import AdverseKind, Severity, allowed

__all__ = [
    "ADVERSE_TYPES",
    "DEFAULT_COURSES",
    "HEURISTIC",
    "SEVERITIES",
    "AdverseJudgement",
    "AdverseReport",
    "ExpectedCourse",
    "FollowUpQuestion",
    "expected_course",
    "follow_up_questions",
    "judge",
]

ADVERSE_TYPES: tuple[str, ...] = allowed(AdverseKind)
SEVERITIES: tuple[str, ...] = allowed(Severity)

HEURISTIC = "configurable heuristic"
_cite = load_bibliography().render_field
_BAKER_2017 = _cite("@baker2017 (petechiae and bruising typically resolve in a few days)")
_VERIDIANLORE = _cite(
    "@veridianlore (soreness lasting more than 24-48 h: space the sessions; numbness or tingling is a stop "
    "or modify signal)"
)


@dataclass(frozen=True, slots=True)
class ExpectedCourse:
    """How long a type of response is expected to last, and where that expectation comes from."""

    type: str
    window_days: float
    source: str
    heuristic: bool  # True: the number is a configurable heuristic (the source, if any, is only qualitative)
    always_flag: bool = False  # a stop signal: flagged whatever its duration

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, with the heuristic label spelled out."""
        return {
            "type": self.type,
            "window_days": self.window_days,
            "label": HEURISTIC if self.heuristic else "sourced",
            "source": self.source,
            "always_flag": self.always_flag,
        }


# The numbers are ours (no source fixes them); the sources are the nearest ones the domain reference has.
DEFAULT_COURSES: Mapping[str, ExpectedCourse] = {
    "petechiae": ExpectedCourse("petechiae", 5.0, "'a few days' read as 5: " + _BAKER_2017, True),
    "bruising": ExpectedCourse("bruising", 5.0, "'a few days' read as 5: " + _BAKER_2017, True),
    "soreness": ExpectedCourse("soreness", 2.0, _VERIDIANLORE, True),
    "pain_flare": ExpectedCourse("pain_flare", 2.0, "no source; nearest: " + _VERIDIANLORE, True),
    "skin_irritation": ExpectedCourse("skin_irritation", 2.0, "no source gives a window", True),
    "paresthesia": ExpectedCourse("paresthesia", 0.0, _VERIDIANLORE, True, always_flag=True),
    "other": ExpectedCourse("other", 3.0, "no source gives a window", True),
}


@dataclass(frozen=True, slots=True)
class AdverseReport:
    """One adverse response: type and severity; `resolved_days` None = not (yet) resolved.

    `session` is the session after which it appeared (response model); `days_since` how many days ago that
    session was (screening, when known); `region` where it is (None: taken to be at the treated region).
    """

    type: str
    severity: str
    resolved_days: float | None = None
    session: int | None = None
    days_since: float | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if self.type not in ADVERSE_TYPES:
            near = difflib.get_close_matches(self.type, ADVERSE_TYPES, n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(repr(s) for s in near)}?)" if near else ""
            raise ValueError(
                f"adverse response type: {self.type!r} is not known{hint}; "
                f"allowed: {', '.join(ADVERSE_TYPES)}"
            )
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"adverse response severity: {self.severity!r} is not allowed; "
                f"allowed: {', '.join(SEVERITIES)}"
            )
        for name in ("resolved_days", "days_since"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(
                    f"adverse response {name}: {value!r} is impossible; "
                    "allowed: a number of days ≥ 0, or null"
                )
        if self.session is not None and self.session < 1:
            raise ValueError(f"adverse response session: {self.session!r} is impossible; allowed: 1, 2, 3, …")
        if (
            self.resolved_days is not None
            and self.days_since is not None
            and self.resolved_days > self.days_since
        ):
            raise ValueError(
                f"adverse response resolved_days: {self.resolved_days:g} days is later than "
                f"days_since ({self.days_since:g}); a response cannot resolve in the future"
            )

    @property
    def resolved(self) -> bool:
        """True once the response has resolved."""
        return self.resolved_days is not None


@dataclass(frozen=True, slots=True)
class AdverseJudgement:
    """A response judged against its expected course."""

    response: AdverseReport
    course: ExpectedCourse
    flagged: bool
    reasons: tuple[str, ...]
    outlasted: bool = False  # resolved later than, or still open beyond, its expected window

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        r = self.response
        return {
            "type": r.type,
            "severity": r.severity,
            "session": r.session,
            "resolved_days": r.resolved_days,
            "flagged": self.flagged,
            "outlasted": self.outlasted,
            "reasons": list(self.reasons),
            "expected_course": self.course.to_json(),
        }


def expected_course(kind: str, windows: Mapping[str, float] | None = None) -> ExpectedCourse:
    """The expected course of a response type; a clinic's `windows` (days) override the defaults."""
    base = DEFAULT_COURSES[kind]
    if windows and kind in windows:
        return ExpectedCourse(kind, float(windows[kind]), "clinic setting", False, base.always_flag)
    return base


def judge(
    response: AdverseReport,
    *,
    windows: Mapping[str, float] | None = None,
    days_since: float | None = None,
    assume_beyond_window_if_unknown: bool = False,
) -> AdverseJudgement:
    """Flag a response that is severe, outlasted its expected course, or is a stop signal.

    `days_since` (or the response's own `days_since`) is how long ago the session was; without it an
    unresolved response is flagged only when `assume_beyond_window_if_unknown` (the conservative choice the
    response model makes for a response still open at a later session).
    """
    course = expected_course(response.type, windows)
    elapsed = days_since if days_since is not None else response.days_since
    reasons: list[str] = []
    outlasted = False
    if response.severity == "severe":
        reasons.append(f"severe {response.type}")
    if course.always_flag:
        reasons.append(f"{response.type} is a stop/modify signal whatever its duration")
    if response.resolved_days is not None and response.resolved_days > course.window_days:
        outlasted = True
        reasons.append(
            f"{response.type} took {response.resolved_days:g} days to resolve; expected within "
            f"{course.window_days:g} days ({_label(course)})"
        )
    if response.resolved_days is None:
        if elapsed is not None and elapsed > course.window_days:
            outlasted = True
            reasons.append(
                f"{response.type} still unresolved after {elapsed:g} days; expected within "
                f"{course.window_days:g} days ({_label(course)})"
            )
        elif elapsed is None and assume_beyond_window_if_unknown:
            outlasted = True
            reasons.append(
                f"{response.type} still unresolved at a later session; without session dates the "
                f"elapsed time is unknown, so it is treated as beyond its {course.window_days:g}-day "
                f"window ({HEURISTIC})"
            )
    return AdverseJudgement(response, course, bool(reasons), tuple(reasons), outlasted)


def _label(course: ExpectedCourse) -> str:
    return HEURISTIC if course.heuristic else course.source


@dataclass(frozen=True, slots=True)
class FollowUpQuestion:
    """A question to ask at the start of a follow-up session."""

    about: str  # an adverse type
    session: int | None  # the session the question refers to (None: general question)
    question: str
    index: int | None = None  # which of the responses asked about (its position in the input)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"about": self.about, "session": self.session, "question": self.question}


# What to call each type when asking: (in a question "did you notice …?", as the subject of a line).
_PLAIN = {
    "petechiae": ("small red dots (petechiae)", "Small red dots (petechiae)"),
    "bruising": ("bruising", "Bruising"),
    "soreness": ("soreness", "Soreness"),
    "skin_irritation": ("skin irritation", "Skin irritation"),
    "pain_flare": ("a flare-up of pain", "Flare-up of pain"),
    "paresthesia": ("numbness or tingling", "Numbness or tingling"),
    "other": ("any other reaction", "Other reaction"),
}


def follow_up_questions(
    responses: Iterable[AdverseReport], previous_session: int
) -> list[FollowUpQuestion]:
    """What to ask at the session after `previous_session`: every open or recent response, then each type.

    Asked every time, because adverse events go unrecorded when nobody asks: only 10 of 46 IASTM trials
    reported them (Nazari et al., domain reference §7).
    """
    asked: list[FollowUpQuestion] = []
    for i, r in enumerate(responses):
        from_previous = r.session == previous_session
        if from_previous or not r.resolved:
            when = f"after session {r.session}" if r.session is not None else "earlier"
            asked.append(
                FollowUpQuestion(
                    r.type,
                    r.session,
                    f"{_PLAIN[r.type][1]} noted {when}: has it resolved? If so, on which date?",
                    i,
                )
            )
    for kind in ADVERSE_TYPES:
        asked.append(
            FollowUpQuestion(
                kind,
                None,
                f"Since session {previous_session}, did you notice {_PLAIN[kind][0]}? "
                "If so: when did it start, how severe was it, and is it gone (since when)?",
            )
        )
    return asked
