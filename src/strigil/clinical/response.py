"""The test–treat–retest response model: is IASTM helping this patient, and what to do next.

For each measure: the change within the latest session (pre → post IASTM) and between sessions (first pre →
latest pre), both positive when the patient got better, judged against the measure's MCID from the catalogue
(population-appropriate; "value or percent of baseline" where the catalogue gives a percentage) or, for
measures without an MCID (ROM, pressure pain threshold, sit-and-reach), against the MDC — labelled as such.

The recommendations, worst to best: refer < switch < modify < continue < progress < discharge. They come from
a cascade whose every condition is monotone in the patient's improvement, so more improvement never gives a
worse recommendation (a property test checks this). The approach is the patient-response model of Baker,
Nasypany and colleagues (retest after each intervention; move on if no change — domain reference §5); no
source gives numeric stop/switch rules (§8 gap 5), so every N is a clinic setting, labelled "configurable
heuristic" when left at its default.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from strigil.catalog import Catalog, Measure, UnknownCode, load_catalog
from strigil.clinical.adverse import (
    DEFAULT_COURSES,
    HEURISTIC,
    AdverseJudgement,
    AdverseReport,
    FollowUpQuestion,
    follow_up_questions,
    judge,
)
from strigil.clinical.checks import problems_from

__all__ = [
    "RECOMMENDATIONS",
    "AdverseEntry",
    "ChangeThreshold",
    "Goal",
    "GoalEntry",
    "MeasureEntry",
    "MeasureResponse",
    "Reason",
    "Recommendation",
    "RespondDocument",
    "ResponseSettings",
    "SessionDateEntry",
    "SessionMeasurement",
    "recommend",
    "recommend_document",
    "recommendation_rank",
    "select_threshold",
]

RECOMMENDATIONS: tuple[str, ...] = ("refer", "switch", "modify", "continue", "progress", "discharge")


def recommendation_rank(recommendation: str) -> int:
    """0 for the worst recommendation (refer), 5 for the best (discharge): the rules' order."""
    return RECOMMENDATIONS.index(recommendation)


# ---- settings --------------------------------------------------------------------------------------

# Defaults that no source fixes, with the nearest source (domain reference §5, §8 gap 5).
_NEAREST = {
    "switch_after_sessions": (
        "Baker/Nasypany patient-response approach and SFMA: retest after every intervention, move to another "
        "tool if no change (✅ qualitative, §5); clinics claim Graston responders change by treatment 3–4 "
        "(myTrain, ProTouch ⚠️, §1.6); no published numeric rule (§8 gap 5)"
    ),
    "goal_kept_sessions": (
        "Baker RT et al. IJSPT 2015;10(5):723 case report: discharged once gains were maintained (✅, §5); "
        "no numeric rule"
    ),
    "flag_unresolved_without_dates": (
        "Baker & Baker 2017: petechiae/bruising resolve in a few days (§0); without dates the elapsed time "
        "is unknown, so a response still open at a later session is treated as beyond its window "
        "(conservative)"
    ),
    "adverse_lookback_sessions": (
        "Strigil's decision rules: every follow-up session asks about the previous session's responses; "
        "an earlier, resolved response stays a precaution in screening (prior_* findings) rather than a "
        "standing referral — no source fixes how long it should steer the recommendation"
    ),
    "population": (
        "MCIDs depend on population, baseline and method (Wright 2012; Wang 2011, §4): without a population "
        "(settings.population, or one named by the episode's condition) the catalogue's first verified MCID "
        "of each measure is used"
    ),
    "within_session_threshold": (
        "Cook CE et al. Man Ther 2012: a ≥2-point NPRS change within or between sessions by visit 2 was "
        "associated with outcome (✅, §5): the same MCID/MDC judges within- and between-session change"
    ),
}


@dataclass(frozen=True)
class ResponseSettings:
    """Clinic-configurable settings of the response model (every N and threshold)."""

    switch_after_sessions: int = 3
    goal_kept_sessions: int = 2
    population: str | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)  # measure code -> change in its units
    adverse_windows_days: Mapping[str, float] = field(default_factory=dict)  # adverse type -> days
    flag_unresolved_without_dates: bool = True
    adverse_lookback_sessions: int = 1  # responses after the latest session or this many before it count
    clinic_set: frozenset[str] = frozenset()  # which settings the clinic chose (the rest are defaults)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> ResponseSettings:
        """Settings from a JSON-like mapping; unknown or impossible settings raise ValueError."""
        data = dict(data or {})
        names = (
            "switch_after_sessions",
            "goal_kept_sessions",
            "population",
            "thresholds",
            "adverse_windows_days",
            "flag_unresolved_without_dates",
            "adverse_lookback_sessions",
        )
        for key in data:
            if key not in names:
                near = difflib.get_close_matches(key, names, n=2, cutoff=0.5)
                hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
                raise ValueError(f"settings.{key}: unknown setting{hint}; allowed: {', '.join(names)}")
        for key in ("switch_after_sessions", "goal_kept_sessions"):
            if key in data and (
                isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 1
            ):
                raise ValueError(f"settings.{key}: {data[key]!r} is not allowed; allowed: a whole number ≥ 1")
        lookback = data.get("adverse_lookback_sessions", 1)
        if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 0:
            raise ValueError(
                f"settings.adverse_lookback_sessions: {lookback!r} is not allowed; "
                "allowed: a whole number ≥ 0"
            )
        if "population" in data and data["population"] is not None and not str(data["population"]).strip():
            raise ValueError(
                "settings.population: empty text; allowed: words of a catalogue population, "
                "e.g. 'neck', 'low back'"
            )
        if "flag_unresolved_without_dates" in data and not isinstance(
            data["flag_unresolved_without_dates"], bool
        ):
            raise ValueError("settings.flag_unresolved_without_dates: allowed: true or false")
        thresholds = _positive_map(data.get("thresholds", {}), "settings.thresholds", allow_zero=False)
        windows = _positive_map(
            data.get("adverse_windows_days", {}), "settings.adverse_windows_days", allow_zero=True
        )
        catalog = load_catalog()
        for code in thresholds:
            _measure(catalog, code, f"settings.thresholds.{code}")
        for kind in windows:
            if kind not in DEFAULT_COURSES:
                raise ValueError(
                    f"settings.adverse_windows_days.{kind}: unknown adverse type; "
                    f"allowed: {', '.join(DEFAULT_COURSES)}"
                )
        return cls(
            switch_after_sessions=data.get("switch_after_sessions", 3),
            goal_kept_sessions=data.get("goal_kept_sessions", 2),
            population=data.get("population"),
            thresholds=thresholds,
            adverse_windows_days=windows,
            flag_unresolved_without_dates=data.get("flag_unresolved_without_dates", True),
            adverse_lookback_sessions=lookback,
            clinic_set=frozenset(data),
        )


def _positive_map(raw: Any, where: str, *, allow_zero: bool) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: allowed: an object mapping codes to numbers")
    out: dict[str, float] = {}
    for key, value in raw.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0 or (value == 0 and not allow_zero):
            bound = "≥ 0" if allow_zero else "> 0"
            raise ValueError(f"{where}.{key}: {value!r} is not allowed; allowed: a number {bound}")
        out[str(key)] = float(value)
    return out


# ---- inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionMeasurement:
    """One outcome value: measure code, session number (1, 2, …), before or after IASTM, value."""

    measure: str
    session: int
    timing: Literal["pre", "post"]
    value: float


@dataclass(frozen=True, slots=True)
class Goal:
    """The episode's goal: a measure and the value to reach (direction from the catalogue)."""

    measure: str
    target: float


# ---- thresholds ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeThreshold:
    """The change that counts as meaningful for one measure: MCID, MDC (labelled so) or a clinic setting."""

    kind: Literal["MCID", "MDC", "clinic setting"]
    value: float | None  # in the measure's units
    percent: float | None  # % of the episode baseline
    detail: str  # e.g. the catalogue's MDC kind (MDC95, SEM, …) or note
    population: str
    source: str
    verified: bool = True
    note: str = ""

    def units(self, baseline: float) -> float | None:
        """The threshold in the measure's units: the value, or the percentage of baseline if smaller.

        "2 points or 30%" (Ostelo 2008) means either suffices, so the smaller of the two is the bar. The
        percentage is of the episode's baseline (first pre-test), as the consensus defines it.
        """
        options = [] if self.value is None else [self.value]
        if self.percent is not None and baseline != 0:
            options.append(abs(baseline) * self.percent / 100.0)
        return min(options) if options else None

    def as_number(self, baseline: float) -> float | None:
        """The catalogue's absolute value when it has one, else the percentage turned into units."""
        if self.value is not None:
            return self.value
        return self.units(baseline)


def select_threshold(
    measure: Measure,
    population: str | None = None,
    override: float | None = None,
    condition_name: str | None = None,
) -> ChangeThreshold | None:
    """Choose the threshold for `measure`: clinic override, else a population-matching MCID, else the MDC.

    The population comes from the clinic's `population` text, else from the episode's condition (a catalogue
    population such as "neck pain" named in the condition's name); without either, or with no match, the
    first verified catalogue entry is used. None when the catalogue has neither an MCID nor an MDC (e.g. grip
    strength, FFI) and the clinic set none. MCIDs depend on the population (Wright 2012, §4).
    """
    if override is not None:
        return ChangeThreshold(
            "clinic setting", override, None, "settings.thresholds", "clinic", "clinic setting"
        )
    entries = [t for t in measure.mcids if t.value is not None or t.percent is not None]
    kind: Literal["MCID", "MDC"] = "MCID"
    if not entries:
        entries = [t for t in measure.mdcs if t.value is not None or t.percent is not None]
        kind = "MDC"
    if not entries:
        return None
    note = ""
    chosen = None
    if population:
        matches = [t for t in entries if population.lower() in t.population.lower()]
        chosen = next((t for t in matches if t.verified), matches[0] if matches else None)
        if chosen is None:
            note = f"no {kind} for population {population!r}; the catalogue's first is used"
    elif condition_name:
        name = condition_name.lower()
        matches = [t for t in entries if t.population.lower().split(" (")[0] in name]
        chosen = next((t for t in matches if t.verified), None)
        if chosen is not None:
            note = f"population chosen from the episode's condition ({condition_name})"
    if chosen is None:
        chosen = next((t for t in entries if t.verified), entries[0])
    if not chosen.verified:
        note = (note + "; " if note else "") + "❓ unverified value (domain reference marks it not confirmed)"
    detail = chosen.kind if kind == "MDC" else (chosen.note or "MCID")
    return ChangeThreshold(
        kind, chosen.value, chosen.percent, detail, chosen.population, chosen.source, chosen.verified, note
    )


# ---- outputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a recommendation: the rule, what was seen, and its source."""

    rule: str
    text: str
    source: str

    def to_json(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"rule": self.rule, "text": self.text, "source": self.source}


@dataclass(frozen=True, slots=True)
class MeasureResponse:
    """Within- and between-session change of one measure, judged against its threshold."""

    measure: str
    unit: str
    direction: str
    within_change: float | None
    between_change: float | None
    threshold: ChangeThreshold | None
    baseline: float
    meaningful_within: bool
    meaningful_between: bool
    worse_within: bool
    worse_between: bool
    first_session: int
    latest_pre_session: int
    note: str = ""

    @property
    def mcid(self) -> float | None:
        """The threshold as a number in the measure's units (the contract's `mcid`)."""
        return None if self.threshold is None else _r(self.threshold.as_number(self.baseline))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (the contract's keys first)."""
        t = self.threshold
        return {
            "measure": self.measure,
            "within_change": _r(self.within_change),
            "between_change": _r(self.between_change),
            "mcid": self.mcid,
            "meaningful_within": self.meaningful_within,
            "meaningful_between": self.meaningful_between,
            "threshold_kind": None if t is None else t.kind,
            "threshold_detail": None if t is None else t.detail,
            "threshold_effective": None if t is None else _r(t.units(self.baseline)),
            "mcid_percent": None if t is None else t.percent,
            "population": None if t is None else t.population,
            "source": None if t is None else t.source,
            "verified": None if t is None else t.verified,
            "unit": self.unit,
            "direction": self.direction,
            "baseline": self.baseline,
            "first_session": self.first_session,
            "latest_pre_session": self.latest_pre_session,
            "note": "; ".join(x for x in (self.note, "" if t is None else t.note) if x),
        }


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
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 9)


# ---- the model -------------------------------------------------------------------------------------

_SRC_RULES = "Strigil's recommendation rules (configurable heuristic)"
_SRC_RESPONSE = (
    "Baker RT, Nasypany A et al. patient-response approach (IJATT 2013; IJSPT 2015) and SFMA "
    "breakout logic: retest after each intervention; continue, modify or move on — domain "
    "reference §5"
)
_SRC_BAKER = "Baker R, Baker J. Training & Conditioning 2017 — domain reference §0"


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
) -> Recommendation:
    """Recommend refer | switch | modify | continue | progress | discharge from the episode's measurements.

    Bad input (unknown codes, impossible values, missing measures, contradictory sessions or dates) raises
    ValueError naming the field, the value and what is allowed. Method: test–treat–retest (domain reference
    §5), MCIDs/MDCs from the measure catalogue (§4), adverse courses from `strigil.clinical.adverse` (§0, §7).
    `condition` (a condition code) picks population-appropriate MCIDs unless settings.population is set.
    """
    cfg = settings or ResponseSettings()
    cat = catalog or load_catalog()
    table = _validate(measures, cat)
    latest = max(m.session for m in measures)
    dates = _validate_dates(session_dates or {})
    judged_adverse = _judge_adverse(adverse_responses, latest, dates, cfg)
    condition_name = None
    if condition is not None:
        try:
            condition_name = cat.require("conditions", condition).name
        except UnknownCode as exc:
            raise ValueError(f"condition: {exc}") from None
    if goal is not None:
        gm = _measure(cat, goal.measure, "goal.measure")
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

    responses = tuple(
        _measure_response(cat.measures[code], values, latest, cfg, condition_name)
        for code, values in table.items()
    )
    judged = [r for r in responses if r.threshold is not None]
    if not judged:
        raise ValueError(
            "measures: none of the measures has an MCID, an MDC or a clinic threshold "
            f"({', '.join(table)}); set settings.thresholds.<measure> to judge them"
        )
    trailing, evaluable = _trailing_sessions_without_change(table, cat, judged)

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
    facts = _Facts(judged, current, trailing, evaluable, latest, cfg)
    goal_reasons = (
        [] if goal is None else _discharge(cat.measures[goal.measure], table[goal.measure], goal, cfg)
    )
    # Worst first; the first tier with a reason decides. Each tier's condition is monotone in improvement.
    tiers = [
        ("refer", _refer(facts, red_flags)),
        ("discharge", goal_reasons),
        ("switch", _switch(facts)),
        ("modify", _modify(facts)),
        ("progress", _progress(facts, goal)),
        ("continue", _continue(facts)),
    ]
    chosen, reasons = next((name, rs) for name, rs in tiers if rs)
    also = (*(x for name, rs in tiers[:-1] if name != chosen for x in rs), *earlier)
    return Recommendation(
        chosen,
        tuple(reasons),
        responses,
        _heuristics(cfg, judged_adverse, judged),
        judged_adverse,
        also,
        latest,
        tuple(follow_up_questions(adverse_responses, latest)),
    )


@dataclass(frozen=True)
class _Facts:
    """What the recommendation tiers look at."""

    judged: Sequence[MeasureResponse]  # measures with a threshold
    adverse: Sequence[AdverseJudgement]  # current adverse responses
    trailing: int  # sessions in a row, ending with the latest, without a meaningful change
    evaluable: bool  # whether any change could be computed at all
    latest: int
    cfg: ResponseSettings


def _refer(f: _Facts, red_flags: Sequence[str]) -> list[Reason]:
    """A severe adverse response, worsening beyond the MCID, or a red flag."""
    out = [
        Reason(
            "respond.refer_severe_adverse",
            f"severe {a.response.type} after session {a.response.session}",
            _SRC_RULES,
        )
        for a in f.adverse
        if a.response.severity == "severe"
    ]
    for r in f.judged:
        if r.worse_between and r.threshold is not None:
            out.append(
                Reason(
                    "respond.refer_worsening",
                    f"{r.measure} worsened by {-(r.between_change or 0.0):g} {r.unit} between sessions "
                    f"{r.first_session} and {r.latest_pre_session}, beyond its {r.threshold.kind} of "
                    f"{r.threshold.units(r.baseline) or 0:g}",
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
    """N sessions in a row without a meaningful change, and none since the first session."""
    if f.trailing < f.cfg.switch_after_sessions or any(r.meaningful_between for r in f.judged):
        return []
    return [
        Reason(
            "respond.switch_no_change",
            f"{f.trailing} sessions in a row without a meaningful change (setting switch_after_sessions = "
            f"{f.cfg.switch_after_sessions}) and no meaningful change since the first session: use another "
            "intervention for this episode",
            _SRC_RESPONSE,
        )
    ]


def _modify(f: _Facts) -> list[Reason]:
    """A flagged adverse response, worsening within the session, or no change in the latest session."""
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
        if r.worse_within and r.threshold is not None:
            out.append(
                Reason(
                    "respond.modify_within_worsening",
                    f"{r.measure} worsened by {-(r.within_change or 0.0):g} {r.unit} during session "
                    f"{f.latest}, beyond its {r.threshold.kind}",
                    _SRC_BAKER,
                )
            )
    if f.trailing >= 1:
        out.append(
            Reason(
                "respond.modify_no_change",
                f"no meaningful change in session {f.latest} (within the session or since the previous one); "
                f"{f.trailing} such session(s) in a row: change technique or dose",
                _SRC_RESPONSE,
            )
        )
    return out


def _progress(f: _Facts, goal: Goal | None) -> list[Reason]:
    """A meaningful change since the first session (on the goal's measure when there is a goal)."""
    return [
        Reason(
            "respond.progress_between",
            f"{r.measure} improved by {r.between_change or 0.0:g} {r.unit} since session {r.first_session}, "
            f"at least its {r.threshold.kind if r.threshold else 'MCID'}",
            _SRC_RESPONSE,
        )
        for r in f.judged
        if r.meaningful_between and (goal is None or r.measure == goal.measure)
    ]


def _continue(f: _Facts) -> list[Reason]:
    """Otherwise: the latest session changed meaningfully, or nothing can be judged yet."""
    if f.evaluable:
        text = (
            f"meaningful change in session {f.latest} (within it or since the previous one); not yet a "
            "meaningful change since the first session"
        )
        return [Reason("respond.continue_within", text, _SRC_RESPONSE)]
    text = "no change can be computed yet (a single pre-test): retest after treatment"
    return [Reason("respond.continue_no_data", text, _SRC_RESPONSE)]


def _goal_text(m: Measure, target: float) -> str:
    return f"≤ {target:g}" if m.direction == "lower_is_better" else f"≥ {target:g}"


def _validate(
    measures: Sequence[SessionMeasurement], cat: Catalog
) -> dict[str, dict[tuple[int, str], float]]:
    if not measures:
        raise ValueError("measures: empty; allowed: at least one {measure, session, timing, value}")
    table: dict[str, dict[tuple[int, str], float]] = {}
    for i, m in enumerate(measures):
        where = f"measures[{i}]"
        entry = _measure(cat, m.measure, f"{where}.measure")
        if isinstance(m.session, bool) or not isinstance(m.session, int) or m.session < 1:
            raise ValueError(f"{where}.session: {m.session!r} is impossible; allowed: 1, 2, 3, …")
        if m.timing not in ("pre", "post"):
            raise ValueError(f"{where}.timing: {m.timing!r} is not allowed; allowed: pre, post")
        if not math.isfinite(m.value) or not entry.min <= m.value <= entry.max:
            raise ValueError(
                f"{where}.value: {m.value!r} is impossible for {entry.code}; allowed: "
                f"{entry.min:g} to {entry.max:g} {entry.unit}"
            )
        values = table.setdefault(m.measure, {})
        key = (m.session, m.timing)
        if key in values and values[key] != m.value:
            raise ValueError(
                f"{where}: {m.measure} has two {m.timing} values for session {m.session} "
                f"({values[key]:g} and {m.value:g}); allowed: one value per measure, session "
                "and timing"
            )
        values[key] = m.value
    for code, values in table.items():
        if not any(t == "pre" for _, t in values):
            raise ValueError(
                f"measures: {code} has no 'pre' value; changes are counted from the pre-test "
                "(before IASTM), so every measure needs at least one"
            )
    return table


def _measure(cat: Catalog, code: str, where: str) -> Measure:
    try:
        entry: Measure = cat.require("measures", code)
        return entry
    except UnknownCode as exc:
        raise ValueError(f"{where}: {exc}") from None


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


def _measure_response(
    m: Measure,
    values: Mapping[tuple[int, str], float],
    latest: int,
    cfg: ResponseSettings,
    condition_name: str | None = None,
) -> MeasureResponse:
    pres = sorted(s for s, t in values if t == "pre")
    first, last = pres[0], pres[-1]
    baseline = values[(first, "pre")]
    threshold = select_threshold(m, cfg.population, cfg.thresholds.get(m.code), condition_name)
    note = ""
    if m.kind == "global":
        # A global rating of change is itself a change since the episode began (Kamper 2009, §4).
        within = None
        rated = max(values)
        between: float | None = values[rated] if m.direction == "higher_is_better" else -values[rated]
        baseline, note = 0.0, "global rating of change: between_change is the latest rating itself"
    else:
        within = (
            m.improvement(values[(latest, "pre")], values[(latest, "post")])
            if (latest, "pre") in values and (latest, "post") in values
            else None
        )
        between = m.improvement(baseline, values[(last, "pre")]) if last != first else None
    if threshold is None:
        note = f"{m.code} has no MCID or MDC in the catalogue: not judged (set settings.thresholds.{m.code})"
    bar = None if threshold is None else threshold.units(baseline)
    return MeasureResponse(
        measure=m.code,
        unit=m.unit,
        direction=m.direction,
        within_change=within,
        between_change=between,
        threshold=threshold,
        baseline=baseline,
        meaningful_within=_meaningful(within, bar),
        meaningful_between=_meaningful(between, bar),
        worse_within=_meaningful(None if within is None else -within, bar),
        worse_between=_meaningful(None if between is None else -between, bar),
        first_session=first,
        latest_pre_session=last,
        note=note,
    )


def _meaningful(change: float | None, bar: float | None) -> bool:
    # A tiny tolerance keeps 6 - 4.5 = 1.5 ≥ 1.5 true despite binary floating point.
    return change is not None and bar is not None and change > 0 and change >= bar - 1e-9


def _trailing_sessions_without_change(
    table: Mapping[str, Mapping[tuple[int, str], float]], cat: Catalog, judged: Iterable[MeasureResponse]
) -> tuple[int, bool]:
    """Sessions in a row, ending with the latest, in which no measure changed meaningfully.

    A session counts when some change can be computed in it (pre and post, or pre and an earlier pre);
    sessions where none can are skipped. Global ratings are not session changes and are left out. Returns
    the count and whether any session was evaluable at all.
    """
    bars = {
        r.measure: r.threshold.units(r.baseline)
        for r in judged
        if r.threshold is not None and cat.measures[r.measure].kind != "global"
    }
    sessions = sorted({s for code in bars for s, _ in table[code]}, reverse=True)
    count, seen = 0, False
    for s in sessions:
        evaluable, responsive = False, False
        for code, bar in bars.items():
            m, v = cat.measures[code], table[code]
            if (s, "pre") not in v:
                continue
            changes = []
            if (s, "post") in v:
                changes.append(m.improvement(v[(s, "pre")], v[(s, "post")]))
            earlier = [p for p, t in v if t == "pre" and p < s]
            if earlier:
                changes.append(m.improvement(v[(max(earlier), "pre")], v[(s, "pre")]))
            evaluable = evaluable or bool(changes)
            responsive = responsive or any(_meaningful(c, bar) for c in changes)
        if not evaluable:
            continue
        seen = True
        if responsive:
            break
        count += 1
    return count, seen


def _goal_kept(m: Measure, values: Mapping[tuple[int, str], float], target: float, k: int) -> list[int]:
    pres = sorted(s for s, t in values if t == "pre")[-k:]
    if len(pres) < k:
        return []
    met = [
        values[(s, "pre")] <= target if m.direction == "lower_is_better" else values[(s, "pre")] >= target
        for s in pres
    ]
    return pres if all(met) else []


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
            add(name, getattr(cfg, name), _NEAREST[name])
    if "population" not in cfg.clinic_set:
        add("population", None, _NEAREST["population"])
    if any(r.threshold is not None and r.threshold.kind != "clinic setting" for r in judged):
        add("within_session_threshold", "the measure's MCID/MDC", _NEAREST["within_session_threshold"])
    for kind in sorted({a.response.type for a in adverse}):
        course = DEFAULT_COURSES[kind]
        if kind not in cfg.adverse_windows_days and course.heuristic:
            add(f"adverse_windows_days.{kind}", course.window_days, course.source)
    return tuple(out)


# ---- the JSON document of `strigil respond` ---------------------------------------------------------


class MeasureEntry(BaseModel):
    """One outcome value of one session."""

    model_config = ConfigDict(extra="forbid")
    measure: str = Field(description="Measure code (catalogue of measures), e.g. nprs, lefs, rom_deg.")
    session: int = Field(ge=1, description="Session number, 1 = first session of the episode.")
    timing: Literal["pre", "post"] = Field(description="Before (pre) or after (post) IASTM in that session.")
    value: float = Field(allow_inf_nan=False, description="The value in the measure's unit.")


class GoalEntry(BaseModel):
    """The goal of the episode: a measure and the value to reach."""

    model_config = ConfigDict(extra="forbid")
    measure: str
    target: float = Field(allow_inf_nan=False)


class AdverseEntry(BaseModel):
    """An adverse response after a session."""

    model_config = ConfigDict(extra="forbid")
    session: int = Field(ge=1)
    type: str = Field(
        description="petechiae, bruising, soreness, skin_irritation, pain_flare, paresthesia, other"
    )
    severity: Literal["mild", "moderate", "severe"]
    resolved_days: float | None = Field(
        None, ge=0, description="Days until it resolved; null = not resolved."
    )


class SessionDateEntry(BaseModel):
    """The date of a session."""

    model_config = ConfigDict(extra="forbid")
    session: int = Field(ge=1)
    date: dt.date


class RespondDocument(BaseModel):
    """Input of `strigil respond FILE.json`."""

    model_config = ConfigDict(extra="forbid", title="strigil respond input")
    measures: list[MeasureEntry]
    goal: GoalEntry | None = None
    adverse_responses: list[AdverseEntry] = Field(default_factory=list)
    settings: dict[str, Any] | None = Field(
        None,
        description="Clinic settings: switch_after_sessions, goal_kept_sessions, population, "
        "thresholds {measure: change}, adverse_windows_days {type: days}, "
        "flag_unresolved_without_dates, adverse_lookback_sessions.",
    )
    sessions: list[SessionDateEntry] = Field(default_factory=list, description="Optional session dates.")
    red_flags: list[str] = Field(default_factory=list, description="Red flags noted by the clinician.")
    condition: str | None = Field(
        None, description="The episode's condition code: picks population-appropriate MCIDs."
    )


def recommend_document(doc: Mapping[str, Any]) -> Recommendation:
    """Validate a `strigil respond` JSON document and run the response model; ValueError names bad fields."""
    try:
        parsed = RespondDocument.model_validate(doc)
    except ValidationError as exc:
        raise ValueError("; ".join(str(p) for p in problems_from(exc))) from None
    dates: dict[int, dt.date] = {}
    for s in parsed.sessions:
        if s.session in dates and dates[s.session] != s.date:
            raise ValueError(f"sessions: session {s.session} has two dates ({dates[s.session]} and {s.date})")
        dates[s.session] = s.date
    adverse = []
    for i, a in enumerate(parsed.adverse_responses):
        try:
            adverse.append(AdverseReport(a.type, a.severity, a.resolved_days, a.session))
        except ValueError as exc:
            raise ValueError(f"adverse_responses[{i}]: {exc}") from None
    return recommend(
        [SessionMeasurement(m.measure, m.session, m.timing, m.value) for m in parsed.measures],
        goal=None if parsed.goal is None else Goal(parsed.goal.measure, parsed.goal.target),
        adverse_responses=adverse,
        settings=ResponseSettings.from_mapping(parsed.settings),
        session_dates=dates,
        red_flags=parsed.red_flags,
        condition=parsed.condition,
    )
