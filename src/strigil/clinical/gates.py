"""The safety gates a session passes before it is recorded at the table.

A session is refused — and nothing is written — when
- it does IASTM although the episode's plan of care has none (amend the plan first, with a reason);
- it does IASTM over a "contraindicated" screening of a treated region, or the clinician's decision overrides
  the decision aid's "refer", without an override reason;
- its dose goes beyond the range the best source in the domain reference gives (§1.6) without confirmation;
- it does not say whether the exercise programme was delivered, or why not.

An override reason is at least `OVERRIDE_MIN_WORDS` words and `OVERRIDE_MIN_CHARS` characters: a
configurable heuristic (no source fixes what a reason is; "x" is not one). The same rule applies to every
reason that lets care go ahead against a rule (exercise first, exercise not delivered).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from strigil.catalog import load_bibliography
from strigil.clinical.limits import REASON_CHARS

__all__ = [
    "DOSE_RANGES",
    "OVERRIDE_MIN_CHARS",
    "OVERRIDE_MIN_WORDS",
    "REASON_RULE",
    "SESSION_MINUTES_CONFIRM",
    "SHORT_AREA_SECONDS",
    "DoseFinding",
    "DoseRange",
    "GateCheck",
    "Refusal",
    "check_session",
    "dose_findings",
    "reason_problem",
]

OVERRIDE_MIN_WORDS = 3
OVERRIDE_MIN_CHARS = 15
REASON_RULE = (
    f"a reason is at least {OVERRIDE_MIN_WORDS} words and {OVERRIDE_MIN_CHARS} characters saying why "
    "(configurable heuristic)"
)


def reason_problem(reason: str | None, what: str) -> str | None:
    """Why `reason` does not count as a reason (None when it does); `what` names what it is for."""
    text = " ".join((reason or "").split())
    if len(text) > REASON_CHARS:
        return f"{what}: has {len(text)} characters; allowed: at most {REASON_CHARS}"
    if len(text.split()) >= OVERRIDE_MIN_WORDS and len(text) >= OVERRIDE_MIN_CHARS:
        return None
    return f"{what}: {_shown(text)} is not a reason; allowed: {REASON_RULE}"


def _shown(text: str) -> str:
    return repr(text) if text else "nothing"


@dataclass(frozen=True, slots=True)
class DoseRange:
    """A source's range for the time spent on one area, with its quality (domain reference §1.6)."""

    seconds: int  # the upper end of the range
    source: str
    quality: str  # "research" (read in the source) or "practitioner opinion"
    confirm: bool  # beyond it, the session asks for confirmation


_cite = load_bibliography().render_field

# By source quality (domain reference §1.6): beyond the practice survey's range (✅) a session asks for
# confirmation; beyond a practitioner figure (⚠️) it only says so.
DOSE_RANGES: tuple[DoseRange, ...] = (
    DoseRange(
        300,
        _cite("@cheatham2021 (practice survey of 853 clinicians: 1 to 5 min per lesion or location)"),
        "research",
        True,
    ),
    DoseRange(60, _cite("@spine_health_expect (30 to 60 s per area)"), "practitioner opinion", False),
)
# A whole session: the survey reports a mean of 14.46 ± 14.70 min, no upper limit; mean + 1 SD ≈ 29 min,
# rounded to 30, asks for confirmation — a configurable heuristic.
SESSION_MINUTES_CONFIRM = 30
# An area worked for less than this is asked about: no source gives a shortest useful time, but the sources of
# §1.6 speak of 30 s and more per area, and seconds typed for minutes ("2" for 2 min) is the likely slip — a
# configurable heuristic, a typing check rather than a clinical limit.
SHORT_AREA_SECONDS = 10
_SESSION_SOURCE = _cite(
    "@strigil (configurable heuristic: about the mean plus one standard deviation of the survey's total "
    "time); @cheatham2021 (total IASTM time per session 14.46 ± 14.70 min)"
)
_SHORT_SOURCE = _cite("@strigil (configurable heuristic: a check for seconds typed as minutes)")


class _Step(Protocol):
    @property
    def region(self) -> str: ...

    @property
    def side(self) -> str: ...

    @property
    def duration_s(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DoseFinding:
    """Time on one area (or the whole session) beyond a source's range."""

    area: str  # "knee (left)", or "the whole session"
    seconds: int
    limit_seconds: int
    source: str
    quality: str
    needs_confirmation: bool
    short: bool = False  # below `SHORT_AREA_SECONDS` rather than beyond a range

    @property
    def text(self) -> str:
        """One line for people."""
        ask = "confirm the dose" if self.needs_confirmation else "noted"
        if self.short:
            return (
                f"{self.area}: {self.seconds} s of IASTM, under {self.limit_seconds} s — seconds meant as "
                f"minutes? ({self.source}) — {ask}"
            )
        return (
            f"{self.area}: {self.seconds / 60:g} min of IASTM, beyond {self.limit_seconds / 60:g} min "
            f"({self.source}) — {ask}"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "area": self.area,
            "seconds": self.seconds,
            "limit_seconds": self.limit_seconds,
            "source": self.source,
            "quality": self.quality,
            "needs_confirmation": self.needs_confirmation,
            "short": self.short,
            "text": self.text,
        }


def dose_findings(steps: Iterable[_Step]) -> list[DoseFinding]:
    """The areas (region and side) and the session whose IASTM time goes beyond a source's range, and the
    areas worked so briefly that seconds were likely typed for minutes (`SHORT_AREA_SECONDS`).

    Per area, only the widest range exceeded is reported (the best-quality one first in `DOSE_RANGES`).
    """
    per_area: dict[tuple[str, str], int] = {}
    for step in steps:
        key = (step.region, step.side)
        per_area[key] = per_area.get(key, 0) + int(step.duration_s)
    out = []
    for (region, side), seconds in per_area.items():
        if 0 < seconds < SHORT_AREA_SECONDS:
            out.append(
                DoseFinding(
                    f"{region} ({side})",
                    seconds,
                    SHORT_AREA_SECONDS,
                    _SHORT_SOURCE,
                    "configurable heuristic",
                    True,
                    short=True,
                )
            )
            continue
        exceeded = next((r for r in DOSE_RANGES if seconds > r.seconds), None)
        if exceeded is not None:
            out.append(
                DoseFinding(
                    f"{region} ({side})",
                    seconds,
                    exceeded.seconds,
                    exceeded.source,
                    exceeded.quality,
                    exceeded.confirm,
                )
            )
    total = sum(per_area.values())
    if total > SESSION_MINUTES_CONFIRM * 60:
        out.append(
            DoseFinding(
                "the whole session",
                total,
                SESSION_MINUTES_CONFIRM * 60,
                _SESSION_SOURCE,
                "configurable heuristic",
                True,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a session is refused: the field to fill or change, the message, and the rule."""

    field: str
    message: str
    rule: str

    def to_json(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"field": self.field, "message": self.message, "rule": self.rule}


@dataclass(frozen=True)
class GateCheck:
    """What the gates say about one session: refusals (none = it may be recorded), overrides, doses."""

    refusals: tuple[Refusal, ...]
    overridden: tuple[str, ...]  # what the override reason lets go ahead
    doses: tuple[DoseFinding, ...]
    notes: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """True when nothing refuses the session."""
        return not self.refusals

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (stored with the session)."""
        return {
            "allowed": self.allowed,
            "refusals": [r.to_json() for r in self.refusals],
            "overridden": list(self.overridden),
            "doses": [d.to_json() for d in self.doses],
            "notes": list(self.notes),
        }


def check_session(
    *,
    steps: Sequence[_Step],
    planned_iastm: bool,
    verdicts: Sequence[tuple[str, str, Sequence[str]]],
    referral: str | None = None,
    consult_required: bool = False,
    recommendation: str | None = None,
    decision: str | None = None,
    override_reason: str | None = None,
    dose_confirmed: bool = False,
    exercise_delivered: bool | None = None,
    exercise_not_delivered_reason: str | None = None,
) -> GateCheck:
    """Apply the gates to one session.

    `verdicts` holds, per treated region, (region, screening verdict, the codes of its contraindications).
    Sources: the findings catalogue (domain reference §2), the practice survey's dose range (§1.6), the
    exercise-first sources (§0, §1.8); the override-reason rule is a configurable heuristic.
    """
    refusals: list[Refusal] = []
    overridden: list[str] = []
    notes: list[str] = []
    iastm = bool(steps)
    if iastm and not planned_iastm:
        refusals.append(
            Refusal(
                "steps",
                "the episode's plan of care has no IASTM; amend the plan first (`strigil episode "
                "amend-plan`, with a reason), or record the session without dose steps",
                "gate.plan_without_iastm",
            )
        )
    needs_reason: list[Refusal] = []
    if iastm:
        for region, verdict, codes in verdicts:
            if verdict == "contraindicated":
                what = f"a contraindicated screening at {region} ({', '.join(codes)})"
                overridden.append(what)
                needs_reason.append(Refusal("override_reason", f"IASTM over {what}", "gate.contraindicated"))
    if recommendation == "refer" and decision not in (None, "refer"):
        what = f"the decision aid's 'refer' (clinician decided {decision!r})"
        overridden.append(what)
        if not needs_reason:  # a contraindication says refer too: its one override reason covers both
            needs_reason.append(Refusal("override_reason", f"overriding {what}", "gate.refer"))
    if needs_reason and reason_problem(override_reason, "override_reason"):
        given = _shown(" ".join((override_reason or "").split()))
        refusals += [
            Refusal(r.field, f"{r.message} needs an override reason — {REASON_RULE}; given: {given}", r.rule)
            for r in needs_reason
        ]
        overridden = []
    if referral == "urgent" and iastm:
        notes.append("screening asks for an urgent (same-day) referral")
    if consult_required:
        notes.append("stacked precautions: consult the patient's physician before treating")
    doses = dose_findings(steps)
    unconfirmed = [d for d in doses if d.needs_confirmation]
    if unconfirmed and not dose_confirmed:
        refusals.append(
            Refusal(
                "dose_confirmed",
                "; ".join(d.text for d in unconfirmed)
                + " — set dose_confirmed to record this dose as intended",
                "gate.dose_confirmation",
            )
        )
    if exercise_delivered is None:
        refusals.append(
            Refusal(
                "exercise_delivered",
                "say whether the exercise programme was delivered in this session (true), or false with "
                "exercise_not_delivered_reason",
                "gate.exercise_delivered",
            )
        )
    elif not exercise_delivered:
        why = reason_problem(exercise_not_delivered_reason, "exercise_not_delivered_reason")
        if why:
            refusals.append(Refusal("exercise_not_delivered_reason", why, "gate.exercise_not_delivered"))
    return GateCheck(tuple(refusals), tuple(overridden), tuple(doses), tuple(notes))
