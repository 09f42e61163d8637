"""The recommendation rules: refer < switch < modify < continue < progress < discharge.

The recommendations come from a cascade whose every condition is monotone in the patient's improvement, so
more improvement never gives a worse recommendation (a property test checks this). The approach is the
patient-response model of Baker, Nasypany and colleagues (retest after each intervention; move on if no
change — domain reference §5); gains count between sessions, pre-test to pre-test (Baker 2015, §5); no source
gives numeric stop/switch rules (§8 gap 5), so every N is a clinic setting, labelled "configurable heuristic"
when left at its default. Whatever the recommendation, exercise stays the cornerstone of care and IASTM an
adjunct (§0, §1.8).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strigil.catalog import Catalog, Measure, UnknownCode, load_bibliography, load_catalog
from strigil.clinical.adverse import (
    DEFAULT_COURSES,
    HEURISTIC,
    AdverseJudgement,
    AdverseReport,
    FollowUpQuestion,
    follow_up_questions,
    judge,
)
from strigil.clinical.exercise_first import SOURCES as EXERCISE_SOURCES
from strigil.clinical.response.changes import (
    Goal,
    MeasureResponse,
    MeasureTable,
    SessionMeasurement,
    measure_response,
    measure_table,
    plateau_sessions,
    relief_not_kept,
)
from strigil.clinical.response.settings import NEAREST_SOURCES, ResponseSettings, require_measure

__all__ = [
    "ADVICE",
    "RECOMMENDATIONS",
    "Reason",
    "Recommendation",
    "StandingContraindication",
    "recommend",
    "recommendation_rank",
]

RECOMMENDATIONS: tuple[str, ...] = ("refer", "switch", "modify", "continue", "progress", "discharge")


def recommendation_rank(recommendation: str) -> int:
    """0 for the worst recommendation (refer), 5 for the best (discharge): the rules' order."""
    return RECOMMENDATIONS.index(recommendation)


# What each recommendation means for the plan of care: exercise stays the cornerstone, IASTM an adjunct
# (critical review and Cheatham 2016, domain reference §0, §1.8; Stow 2011's sequence ends with
# strengthening, §1.7) — the sources are `strigil.clinical.exercise_first.SOURCES`.
ADVICE: Mapping[str, str] = {
    "refer": (
        "Refer the patient and stop IASTM until the cause is known; keep the exercise programme only as far "
        "as the referral allows."
    ),
    "switch": (
        "Stop or taper IASTM for this episode and progress the exercise and self-management programme, the "
        "cornerstone of care."
    ),
    "modify": (
        "Modify the IASTM technique or dose as an adjunct, and keep progressing the exercise programme, the "
        "cornerstone of care."
    ),
    "continue": "Continue IASTM only as an adjunct to the exercise programme, the cornerstone of care.",
    "progress": (
        "Progress the exercise programme (load, function, self-management); IASTM stays an adjunct and can "
        "be tapered."
    ),
    "discharge": "Discharge with the home exercise and self-management programme.",
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a recommendation: the rule, what was seen, and its source."""

    rule: str
    text: str
    source: str

    def to_json(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"rule": self.rule, "text": self.text, "source": self.source}


@dataclass(frozen=True)
class Recommendation:
    """What to do next, why, the per-measure changes, the heuristics in force and the adverse judgements."""

    recommendation: str
    reasons: tuple[Reason, ...]
    measures: tuple[MeasureResponse, ...]
    heuristics: tuple[dict[str, Any], ...]
    adverse: tuple[AdverseJudgement, ...] = ()
    also: tuple[Reason, ...] = ()
    latest_session: int = 0
    follow_up: tuple[FollowUpQuestion, ...] = ()  # to ask at the start of the next session
    condition: str | None = None
    plateau: int = 0  # between-session changes in a row without a meaningful gain

    @property
    def advice(self) -> str:
        """What the recommendation means for the plan of care (exercise first)."""
        return ADVICE[self.recommendation]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, as `strigil respond --json` prints it."""
        return {
            "recommendation": self.recommendation,
            "reasons": [r.to_json() for r in self.reasons],
            "measures": [m.to_json() for m in self.measures],
            "heuristics": list(self.heuristics),
            "adverse_responses": [a.to_json() for a in self.adverse],
            "also_noted": [r.to_json() for r in self.also],
            "latest_session": self.latest_session,
            "follow_up_questions": [q.to_json() for q in self.follow_up],
            "order": list(RECOMMENDATIONS),
            "condition": self.condition,
            "plateau_sessions": self.plateau,
            "advice": self.advice,
            "advice_sources": list(EXERCISE_SOURCES),
        }


@dataclass(frozen=True, slots=True)
class StandingContraindication:
    """A contraindication found at the episode's latest screening: while it stands, the recommendation is
    refer, whatever the measures say. `source` is the finding's source as the screening rules cite it."""

    code: str
    name: str
    source: str
    screened_on: dt.date | None = None
    urgent: bool = False  # the findings catalogue asks for a same-day referral
    detail: str = ""

    @property
    def reason(self) -> Reason:
        """The refer reason this contraindication gives, with the screening's source."""
        when = "the latest screening" if self.screened_on is None else f"the screening of {self.screened_on}"
        what = self.name + (f", {self.detail}" if self.detail else "")
        urgent = " — refer the same day" if self.urgent else ""
        return Reason(
            "respond.refer_contraindicated",
            f"contraindication at {when}: {what}{urgent}; do not treat with IASTM while it stands (a later "
            "screening that clears it lifts this)",
            self.source,
        )


_SRC_RULES = "Strigil's recommendation rules (configurable heuristic)"
_cite = load_bibliography().render_field
_SRC_RESPONSE = _cite(
    "@baker2013 (patient-response approach: retest after each intervention; continue, modify or move on); "
    "@baker2015"
)
_SRC_KEPT = _cite(
    "@baker2015 (add IASTM only if it produces maintained improvement; gains counted pre-test to pre-test)"
)
_SRC_BAKER = _cite("@baker2017")
_SRC_PARESTHESIA = _cite(
    "@veridianlore (numbness or tingling is a stop or modify signal); @strigil (the screening catalogue's "
    "advice: refer while it persists)"
)
_SRC_SEVERE = _cite(
    "@strigil (conservative choice: after a severe reaction the dose is not progressed for the rest of the "
    "episode); @baker2017 (offer a hypersensitive or intolerant patient another therapy)"
)
_SRC_THIS_SESSION = _cite(
    "@strigil (conservative choice: a reaction after the latest session holds the dose until it has "
    "resolved if mild, and asks to modify if moderate); @baker2017 (petechiae and bruising typically "
    "resolve in a few days)"
)
_SRC_EXERCISE = _cite(
    "@critical_review_sg (manual therapy at best adjunctive; a practice moved to exercise-based "
    "rehabilitation); @cheatham2016"
)


def recommend(
    measures: Sequence[SessionMeasurement],
    *,
    goal: Goal | None = None,
    adverse_responses: Sequence[AdverseReport] = (),
    settings: ResponseSettings | None = None,
    session_dates: Mapping[int, dt.date] | None = None,
    red_flags: Sequence[str] = (),
    condition: str | None = None,
    catalog: Catalog | None = None,
    contraindications: Sequence[StandingContraindication] = (),
) -> Recommendation:
    """Recommend refer | switch | modify | continue | progress | discharge from the episode's measurements.

    Bad input (unknown codes, impossible values, missing measures, contradictory sessions or dates) raises
    ValueError naming the field, the value and what is allowed. Method: test–treat–retest with gains kept
    between sessions (domain reference §5), one bar per measure (`change_bar`: MDC and MCID, §4), adverse
    courses from `strigil.clinical.adverse` (§0, §7). `condition` (a condition code) picks the population's
    MCID and MDC unless settings.population is set. `contraindications` are those standing at the episode's
    latest screening: any one makes the recommendation refer (Strigil's conservative choice: the screening
    outranks the measures; each reason cites its finding's source, findings catalogue, domain reference §2),
    with the measures' judgement kept as also noted; without measures it alone decides.
    """
    cfg = settings or ResponseSettings()
    cat = catalog or load_catalog()
    standing = [c.reason for c in contraindications]
    if not measures:
        if not standing:
            raise ValueError("measures: none given; allowed: at least one measurement of a session")
        numbered = max(session_dates or {}, default=0)
        return Recommendation("refer", tuple(standing), (), (), latest_session=numbered, condition=condition)
    table = measure_table(measures, cat)
    latest = max(m.session for m in measures)
    dates = _validate_dates(session_dates or {})
    judged_adverse = _judge_adverse(adverse_responses, latest, dates, cfg)
    if condition is not None:
        try:
            cat.require("conditions", condition)
        except UnknownCode as exc:
            raise ValueError(f"condition: {exc}") from None
    if goal is not None:
        gm = require_measure(cat, goal.measure, "goal.measure")
        if goal.measure not in table:
            raise ValueError(
                f"goal.measure: {goal.measure!r} was never measured; measured: {', '.join(sorted(table))}"
            )
        if not gm.min <= goal.target <= gm.max:
            raise ValueError(
                f"goal.target: {goal.target:g} is outside the {gm.code} range; allowed: "
                f"{gm.min:g} to {gm.max:g} {gm.unit}"
            )
    for i, flag in enumerate(red_flags):
        if not str(flag).strip():
            raise ValueError(f"red_flags[{i}]: empty text; allowed: a short description of the red flag")

    what = {m.series: m for m in measures}  # each series' measure, joint and motion
    responses = tuple(
        measure_response(
            cat.measures[what[key].measure],
            values,
            latest,
            cfg,
            condition,
            cat,
            joint=what[key].joint,
            motion=what[key].motion,
            series=key,
        )
        for key, values in table.items()
    )
    judged = [r for r in responses if r.bar is not None]
    if not judged and standing:
        return Recommendation(
            "refer", tuple(standing), responses, (), latest_session=latest, condition=condition
        )
    if not judged:
        raise ValueError(
            "measures: none of the measures has an MCID, an MDC or a clinic threshold "
            f"({', '.join(table)}); set settings.thresholds.<measure> to judge them"
        )
    plateau, windows = plateau_sessions(table, cat, judged)

    # Responses from the latest session (or the `adverse_lookback_sessions` before it), and any still
    # unresolved, steer the recommendation; older resolved ones are noted and left to screening.
    lookback = latest - cfg.adverse_lookback_sessions
    current = [a for a in judged_adverse if (a.response.session or 0) >= lookback or not a.response.resolved]
    earlier = [
        Reason(
            "respond.adverse_earlier",
            f"{a.response.severity} {a.response.type} after session {a.response.session} (resolved): "
            "no longer current; screening keeps it as a precaution",
            _SRC_BAKER,
        )
        for a in judged_adverse
        if a.flagged and a not in current
    ]
    facts = _Facts(judged, current, plateau, windows, latest, cfg, table, cat)
    goal_reasons = (
        [] if goal is None else _discharge(cat.measures[goal.measure], table[goal.measure], goal, cfg)
    )
    # Worst first; the first tier with a reason decides. Each tier's condition is monotone in improvement.
    tiers = [
        ("refer", [*standing, *_refer(facts, red_flags)]),
        ("discharge", goal_reasons),
        ("switch", _switch(facts)),
        ("modify", _modify(facts)),
        ("progress", _progress(facts, goal)),
        ("continue", _continue(facts)),
    ]
    chosen, reasons = next((name, rs) for name, rs in tiers if rs)
    also = [*(x for name, rs in tiers[:-1] if name != chosen for x in rs), *earlier]
    # Adverse responses cap what the measures alone would say; the caps do not depend on the measures, so
    # more improvement still never gives a worse recommendation.
    capped, cap_reasons, named = _adverse_caps(judged_adverse, latest, chosen)
    if capped != chosen:
        also = [*reasons, *also]
        chosen, reasons = capped, cap_reasons
    reasons = [*reasons, *(r for r in named if r not in reasons)]
    return Recommendation(
        chosen,
        tuple(reasons),
        responses,
        _heuristics(cfg, judged_adverse, judged),
        judged_adverse,
        tuple(also),
        latest,
        tuple(follow_up_questions(adverse_responses, latest)),
        condition,
        plateau,
    )


@dataclass(frozen=True)
class _Facts:
    """What the recommendation tiers look at."""

    judged: Sequence[MeasureResponse]  # measures with a bar
    adverse: Sequence[AdverseJudgement]  # current adverse responses
    plateau: int  # between-session changes in a row, ending with the latest, without a meaningful gain
    windows: int  # how many between-session changes there are
    latest: int
    cfg: ResponseSettings
    table: MeasureTable
    cat: Catalog

    @property
    def kept_gain(self) -> bool:
        """Some measure is meaningfully better at its latest pre-test than at the first."""
        return any(r.meaningful_between for r in self.judged)

    @property
    def plateau_since(self) -> int:
        """The session whose pre-test the plateau started from."""
        sessions = sorted(
            {s for r in self.judged if not r.global_rating for s, t in self.table[r.key] if t == "pre"}
        )
        return sessions[-1 - self.plateau] if sessions else self.latest


def _refer(f: _Facts, red_flags: Sequence[str]) -> list[Reason]:
    """A severe adverse response, numbness or tingling that persists, worsening beyond the bar, a red flag."""
    out = [
        Reason(
            "respond.refer_severe_adverse",
            f"severe {a.response.type} after session {a.response.session}",
            _SRC_RULES,
        )
        for a in f.adverse
        if a.response.severity == "severe"
    ]
    out += [
        Reason(
            "respond.refer_paresthesia_persists",
            f"{a.response.severity} numbness or tingling after session {a.response.session} has not "
            "resolved: refer while it persists",
            _SRC_PARESTHESIA,
        )
        for a in f.adverse
        if a.response.type == "paresthesia" and not a.response.resolved
    ]
    for r in f.judged:
        if r.worse_between and r.bar is not None:
            out.append(
                Reason(
                    "respond.refer_worsening",
                    f"{r.measure} worsened by {-(r.between_change or 0.0):g} {r.unit} between sessions "
                    f"{r.first_session} and {r.latest_pre_session}, beyond its bar of "
                    f"{r.bar.describe(r.baseline)}",
                    _SRC_RULES,
                )
            )
    out += [Reason("respond.refer_red_flag", f"red flag: {flag}", _SRC_RULES) for flag in red_flags]
    return out


def _discharge(
    m: Measure, values: Mapping[tuple[int, str], float], goal: Goal, cfg: ResponseSettings
) -> list[Reason]:
    """Goal reached and kept: met at the pre-test of the last `goal_kept_sessions` sessions."""
    kept = _goal_kept(m, values, goal.target, cfg.goal_kept_sessions)
    if not kept:
        return []
    return [
        Reason(
            "respond.discharge_goal_kept",
            f"goal {goal.measure} {_goal_text(m, goal.target)} met at the pre-test of the last "
            f"{cfg.goal_kept_sessions} sessions ({', '.join(str(s) for s in kept)})",
            _SRC_RULES,
        )
    ]


def _switch(f: _Facts) -> list[Reason]:
    """`switch_after_sessions` between-session changes in a row without a meaningful gain — after an early
    gain too: a plateau is a plateau."""
    if f.plateau < f.cfg.switch_after_sessions:
        return []
    early = (
        "; the earlier gain is kept, but nothing has changed since"
        if f.kept_gain
        else "; no meaningful change since the first session either"
    )
    return [
        Reason(
            "respond.switch_no_change",
            f"{f.plateau} sessions in a row without a meaningful change from one session's pre-test to the "
            f"next (since session {f.plateau_since}; setting switch_after_sessions = "
            f"{f.cfg.switch_after_sessions}){early}: stop or taper IASTM and progress the exercise and "
            "self-management programme",
            _SRC_RESPONSE,
        ),
        Reason(
            "respond.switch_exercise",
            "exercise is the cornerstone of care and IASTM at best an adjunct: when IASTM adds nothing, the "
            "exercise and self-management programme carries on",
            _SRC_EXERCISE,
        ),
    ]


def _modify(f: _Facts) -> list[Reason]:
    """A flagged adverse response, worsening within the session, or no kept gain in the latest session."""
    out = [
        Reason(
            "respond.modify_adverse_flagged",
            f"{a.response.type} after session {a.response.session}: {'; '.join(a.reasons)}",
            _SRC_BAKER,
        )
        for a in f.adverse
        if a.flagged and a.response.severity != "severe"
    ]
    for r in f.judged:
        if r.worse_within and r.bar is not None:
            out.append(
                Reason(
                    "respond.modify_within_worsening",
                    f"{r.measure} worsened by {-(r.within_change or 0.0):g} {r.unit} during session "
                    f"{f.latest}, beyond its bar ({r.threshold_kind})",
                    _SRC_BAKER,
                )
            )
    if f.plateau >= 1 and not f.kept_gain:
        lost = relief_not_kept(f.table, f.cat, f.judged, f.plateau)
        for measure, s, relief, nxt, kept in lost:
            unit = f.cat.measures[measure].unit
            out.append(
                Reason(
                    "respond.modify_relief_not_kept",
                    f"{measure} improved by {relief:g} {unit} within session {s}, but the pre-test of "
                    f"session {nxt} was only {kept:g} {unit} better than that of session {s}: relief that "
                    "is not kept between sessions is not a gain; change technique or dose",
                    _SRC_KEPT,
                )
            )
        if not lost:
            out.append(
                Reason(
                    "respond.modify_no_change",
                    f"no meaningful change from one session's pre-test to the next since session "
                    f"{f.plateau_since} ({f.plateau} session(s) in a row): change technique or dose",
                    _SRC_RESPONSE,
                )
            )
    elif f.windows == 0:
        within = [r for r in f.judged if r.within_change is not None]
        if within and not any(r.meaningful_within for r in within):
            out.append(
                Reason(
                    "respond.modify_no_change",
                    f"no meaningful change within session {f.latest}: change technique or dose",
                    _SRC_RESPONSE,
                )
            )
    return out


def _progress(f: _Facts, goal: Goal | None) -> list[Reason]:
    """A meaningful change kept since the first session (on the goal's measure when there is a goal)."""
    out = [
        Reason(
            "respond.progress_between",
            f"{r.measure} improved by {r.between_change or 0.0:g} {r.unit} from the pre-test of session "
            f"{r.first_session} to that of session {r.latest_pre_session}, at least its bar "
            f"({r.threshold_kind} {r.mcid:g})",
            _SRC_KEPT,
        )
        for r in f.judged
        if r.meaningful_between and (goal is None or r.measure == goal.measure)
    ]
    if out and f.plateau >= 1:
        out.append(
            Reason(
                "respond.progress_plateau",
                f"no further meaningful change since session {f.plateau_since} ({f.plateau} of "
                f"{f.cfg.switch_after_sessions} sessions before the rules say switch)",
                _SRC_RESPONSE,
            )
        )
    return out


def _continue(f: _Facts) -> list[Reason]:
    """Otherwise: a gain in the latest between-session change, relief in a first session, or no data yet."""
    if f.windows and f.plateau:
        kept = ", ".join(r.measure for r in f.judged if r.meaningful_between)
        text = f"a meaningful change is kept on {kept}, not yet on the goal's measure"
        return [Reason("respond.continue_kept_elsewhere", text, _SRC_KEPT)]
    if f.windows:
        text = (
            f"meaningful change from the previous session's pre-test to that of session {f.latest}; not yet "
            "a meaningful change since the first session"
        )
        return [Reason("respond.continue_within", text, _SRC_KEPT)]
    if any(r.meaningful_within for r in f.judged):
        text = (
            f"meaningful relief within session {f.latest}: retest at the start of the next session to see "
            "whether it is kept"
        )
        return [Reason("respond.continue_within", text, _SRC_KEPT)]
    text = "no change can be computed yet (a single pre-test): retest after treatment"
    return [Reason("respond.continue_no_data", text, _SRC_RESPONSE)]


def _adverse_caps(
    adverse: Sequence[AdverseJudgement], latest: int, chosen: str
) -> tuple[str, list[Reason], list[Reason]]:
    """The recommendation after the adverse-response caps, the reasons for a cap, the reactions to name.

    After a severe reaction, no "progress" for the rest of the episode; a reaction after the latest session
    is always named, and caps the recommendation at "continue" (mild) or "modify" (moderate).
    """
    cap = len(RECOMMENDATIONS) - 1
    reasons: list[Reason] = []
    named: list[Reason] = []
    for a in adverse:
        r = a.response
        if r.severity == "severe" and recommendation_rank(chosen) == recommendation_rank("progress"):
            cap = min(cap, recommendation_rank("continue"))
            reasons.append(
                Reason(
                    "respond.no_progress_after_severe",
                    f"severe {r.type} after session {r.session}: the dose is not progressed for the rest of "
                    "the episode",
                    _SRC_SEVERE,
                )
            )
        if r.session == latest:
            word = {"mild": "continue", "moderate": "modify"}.get(r.severity)
            if word is not None and recommendation_rank(chosen) in (
                recommendation_rank("continue"),
                recommendation_rank("progress"),
            ):
                cap = min(cap, recommendation_rank(word))
            state = "resolved" if r.resolved else "not yet resolved"
            named.append(
                Reason(
                    "respond.adverse_this_session",
                    f"{r.severity} {r.type} after this session ({r.session}), {state}: ask about it at the "
                    "start of the next session",
                    _SRC_THIS_SESSION,
                )
            )
    capped = chosen if recommendation_rank(chosen) <= cap else RECOMMENDATIONS[cap]
    return capped, reasons + named if capped != chosen else [], named


def _goal_text(m: Measure, target: float) -> str:
    return f"≤ {target:g}" if m.direction == "lower_is_better" else f"≥ {target:g}"


def _goal_kept(m: Measure, values: Mapping[tuple[int, str], float], target: float, k: int) -> list[int]:
    pres = sorted(s for s, t in values if t == "pre")[-k:]
    if len(pres) < k:
        return []
    met = [
        values[(s, "pre")] <= target if m.direction == "lower_is_better" else values[(s, "pre")] >= target
        for s in pres
    ]
    return pres if all(met) else []


def _validate_dates(dates: Mapping[int, dt.date]) -> dict[int, dt.date]:
    ordered = sorted(dates.items())
    for (s1, d1), (s2, d2) in itertools.pairwise(ordered):
        if d2 < d1:
            raise ValueError(
                f"sessions: session {s2} is dated {d2.isoformat()}, before session {s1} "
                f"({d1.isoformat()}); contradictory dates — sessions are numbered in date order"
            )
    return dict(ordered)


def _judge_adverse(
    responses: Sequence[AdverseReport], latest: int, dates: Mapping[int, dt.date], cfg: ResponseSettings
) -> tuple[AdverseJudgement, ...]:
    out = []
    for i, a in enumerate(responses):
        if a.session is None:
            raise ValueError(
                f"adverse_responses[{i}].session: missing; allowed: the session number (1, 2, …)"
            )
        if a.session > latest:
            raise ValueError(
                f"adverse_responses[{i}].session: {a.session} is after the latest measured session "
                f"({latest}); contradictory — a response follows a session that took place"
            )
        elapsed = None
        if a.session in dates and latest in dates:
            elapsed = float((dates[latest] - dates[a.session]).days)
        out.append(
            judge(
                a,
                windows=cfg.adverse_windows_days,
                days_since=elapsed,
                assume_beyond_window_if_unknown=cfg.flag_unresolved_without_dates and a.session < latest,
            )
        )
    return tuple(out)


def _heuristics(
    cfg: ResponseSettings, adverse: Sequence[AdverseJudgement], judged: Sequence[MeasureResponse]
) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []

    def add(setting: str, value: Any, source: str) -> None:
        out.append({"setting": setting, "value": value, "label": HEURISTIC, "nearest_source": source})

    for name in (
        "switch_after_sessions",
        "goal_kept_sessions",
        "flag_unresolved_without_dates",
        "adverse_lookback_sessions",
    ):
        if name not in cfg.clinic_set:
            add(name, getattr(cfg, name), NEAREST_SOURCES[name])
    if "population" not in cfg.clinic_set:
        add("population", None, NEAREST_SOURCES["population"])
    if any(r.threshold_kind not in (None, "clinic setting") for r in judged):
        add("within_session_threshold", "the measure's bar", NEAREST_SOURCES["within_session_threshold"])
    for kind in sorted({a.response.type for a in adverse}):
        course = DEFAULT_COURSES[kind]
        if kind not in cfg.adverse_windows_days and course.heuristic:
            add(f"adverse_windows_days.{kind}", course.window_days, course.source)
    return tuple(out)
