"""Property tests: more improvement never gives a worse recommendation; a change inside the measurement error
is never meaningful; adding a contraindication (or any finding) never makes a screening verdict milder."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from strigil.catalog import load_catalog
from strigil.clinical.adverse import AdverseReport
from strigil.clinical.response import (
    Goal,
    ResponseSettings,
    SessionMeasurement,
    change_bar,
    recommend,
    recommendation_rank,
)
from strigil.clinical.screening import FindingAt, load_findings, screen, verdict_rank

CATALOG = load_catalog()
FINDINGS = load_findings()
REGIONS = sorted(CATALOG.regions)
CODES = sorted(FINDINGS.findings)
CONTRAINDICATIONS = sorted(c for c, f in FINDINGS.findings.items() if f.kind == "contraindication")

# Integer-valued measures (changes are exact), one per direction and threshold style: MCID with a
# percentage (nprs, odi), MCID only (lefs), MDC only (rom_deg).
MEASURES = ["nprs", "lefs", "odi", "rom_deg", "ndi", "dash"]
BOUNDS = {
    "nprs": (0, 10),
    "lefs": (0, 80),
    "odi": (0, 100),
    "rom_deg": (0, 180),
    "ndi": (0, 50),
    "dash": (0, 100),
}
CONDITIONS = sorted(CATALOG.conditions)

finding_items = st.lists(
    st.one_of(
        st.sampled_from(CODES),
        st.builds(FindingAt, st.sampled_from(CODES), st.one_of(st.none(), st.sampled_from(REGIONS))),
    ),
    max_size=5,
)
adverse_items = st.lists(
    st.builds(
        AdverseReport,
        st.sampled_from(["petechiae", "bruising", "soreness", "skin_irritation", "pain_flare", "other"]),
        st.sampled_from(["mild", "moderate", "severe"]),
        st.one_of(st.none(), st.integers(0, 14).map(float)),
        region=st.one_of(st.none(), st.sampled_from(REGIONS)),
    ),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(REGIONS), finding_items, adverse_items, st.booleans(), st.sampled_from(CONTRAINDICATIONS)
)
def test_adding_a_contraindication_never_makes_the_verdict_milder(
    region: str, findings: list[Any], prior: list[AdverseReport], intolerance: bool, extra: str
) -> None:
    before = screen(region, findings, prior, intolerance)
    after = screen(region, [*findings, extra], prior, intolerance)
    assert verdict_rank(after.verdict) <= verdict_rank(before.verdict)
    # A contraindication at the treated region (or systemic) always decides the verdict.
    assert after.verdict == "contraindicated"
    assert after.alternatives


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(REGIONS), finding_items, adverse_items, st.booleans(), finding_items)
def test_adding_any_finding_never_makes_the_verdict_milder(
    region: str, findings: list[Any], prior: list[AdverseReport], intolerance: bool, more: list[Any]
) -> None:
    before = screen(region, findings, prior, intolerance)
    after = screen(region, [*findings, *more], prior, intolerance)
    assert verdict_rank(after.verdict) <= verdict_rank(before.verdict)
    # nor drops a consultation or an urgent referral the fewer findings asked for
    assert after.consult_required or not before.consult_required
    assert after.referral == "urgent" or before.referral != "urgent"
    worse = screen(region, findings, prior, True)
    assert verdict_rank(worse.verdict) <= verdict_rank(before.verdict)


@st.composite
def episodes(draw: st.DrawFn) -> dict[str, Any]:
    """A complete episode: every chosen measure has pre and post in every session (integers)."""
    codes = draw(st.lists(st.sampled_from(MEASURES), min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 6))
    values = {}
    for code in codes:
        lo, hi = BOUNDS[code]
        for s in range(1, n + 1):
            for t in ("pre", "post"):
                values[(code, s, t)] = draw(st.integers(lo, hi))
    goal = None
    if draw(st.booleans()):
        code = draw(st.sampled_from(codes))
        goal = Goal(code, float(draw(st.integers(*BOUNDS[code]))))
    adverse = []
    if draw(st.booleans()):
        s = draw(st.integers(1, n))
        adverse.append(
            AdverseReport(
                draw(st.sampled_from(["petechiae", "bruising", "soreness", "paresthesia"])),
                draw(st.sampled_from(["mild", "moderate", "severe"])),
                draw(st.one_of(st.none(), st.integers(0, 10).map(float))),
                s,
            )
        )
    cfg = ResponseSettings.from_mapping(
        {
            "switch_after_sessions": draw(st.integers(1, 4)),
            "goal_kept_sessions": draw(st.integers(1, 3)),
            **({"population": draw(st.sampled_from(["neck", "low back"]))} if draw(st.booleans()) else {}),
        }
    )
    condition = draw(st.one_of(st.none(), st.sampled_from(CONDITIONS)))
    return {
        "values": values,
        "n": n,
        "goal": goal,
        "adverse": adverse,
        "settings": cfg,
        "condition": condition,
    }


def _better(code: str, value: int, by: int) -> int:
    return value - by if CATALOG.measures[code].direction == "lower_is_better" else value + by


def _headroom(code: str, value: int) -> int:
    lo, hi = BOUNDS[code]
    return value - lo if CATALOG.measures[code].direction == "lower_is_better" else hi - value


def _run(ep: dict[str, Any], values: dict[tuple[str, int, str], int]) -> int:
    measures = [SessionMeasurement(c, s, t, float(v)) for (c, s, t), v in sorted(values.items())]
    out = recommend(
        measures,
        goal=ep["goal"],
        adverse_responses=ep["adverse"],
        settings=ep["settings"],
        condition=ep["condition"],
    )
    assert out.reasons, "every recommendation lists its reasons"
    assert "exercise" in out.advice
    return recommendation_rank(out.recommendation)


@settings(max_examples=250, deadline=None)
@given(episodes(), st.data())
def test_sustained_improvement_from_some_session_on_never_gives_a_worse_recommendation(
    ep: dict[str, Any], data: st.DataObject
) -> None:
    """Every value from session k ≥ 2 on is better by the same amount (the baseline session unchanged)."""
    if ep["n"] < 2:
        return
    k = data.draw(st.integers(2, ep["n"]), label="k")
    code = data.draw(st.sampled_from(sorted({c for c, _, _ in ep["values"]})), label="measure")
    affected = [key for key in ep["values"] if key[0] == code and key[1] >= k]
    room = min(_headroom(code, ep["values"][key]) for key in affected)
    if room == 0:
        return
    by = data.draw(st.integers(1, room), label="by")
    improved = dict(ep["values"])
    for key in affected:
        improved[key] = _better(code, improved[key], by)
    assert _run(ep, improved) >= _run(ep, ep["values"])


@settings(max_examples=250, deadline=None)
@given(episodes(), st.data())
def test_a_better_post_test_in_the_latest_session_never_gives_a_worse_recommendation(
    ep: dict[str, Any], data: st.DataObject
) -> None:
    code = data.draw(st.sampled_from(sorted({c for c, _, _ in ep["values"]})), label="measure")
    key = (code, ep["n"], "post")
    room = _headroom(code, ep["values"][key])
    if room == 0:
        return
    by = data.draw(st.integers(1, room), label="by")
    improved = {**ep["values"], key: _better(code, ep["values"][key], by)}
    assert _run(ep, improved) >= _run(ep, ep["values"])


@settings(max_examples=100, deadline=None)
@given(episodes(), st.sampled_from(["petechiae", "bruising", "soreness", "pain_flare"]))
def test_a_red_flag_or_a_current_severe_response_always_refers(ep: dict[str, Any], kind: str) -> None:
    measures = [SessionMeasurement(c, s, t, float(v)) for (c, s, t), v in sorted(ep["values"].items())]
    flagged = recommend(measures, goal=ep["goal"], settings=ep["settings"], red_flags=["cauda equina signs"])
    assert flagged.recommendation == "refer"
    severe = AdverseReport(kind, "severe", None, ep["n"])
    out = recommend(measures, goal=ep["goal"], adverse_responses=[severe], settings=ep["settings"])
    assert out.recommendation == "refer"
    assert "respond.refer_severe_adverse" in {r.rule for r in out.reasons}


ALL_MEASURES = sorted(CATALOG.measures)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ALL_MEASURES),
    st.one_of(st.none(), st.sampled_from(CONDITIONS)),
    st.one_of(st.none(), st.sampled_from(["neck", "low back", "shoulder", "elbow"])),
    st.one_of(st.none(), st.floats(0.01, 50)),
    st.floats(0, 100),
    st.floats(0, 0.999),  # the rule tolerates 1e-9 of binary rounding at the bar itself
)
def test_a_change_inside_the_measurement_error_is_never_meaningful(
    measure: str,
    condition: str | None,
    population: str | None,
    clinic: float | None,
    baseline: float,
    share: float,
) -> None:
    """Better or worse: a change smaller than every applicable MDC never reaches the bar."""
    bar = change_bar(measure, condition=condition, population=population, clinic_value=clinic)
    if bar is None:
        return
    mdc = bar.mdc(baseline)
    limit = None if mdc is None else mdc.units(baseline)
    if limit is None:
        return
    change = share * limit
    assert not bar.meaningful(change, baseline)
    assert not bar.meaningful(-change, baseline)
    assert (bar.units(baseline) or 0) >= limit


@settings(max_examples=150, deadline=None)
@given(episodes(), st.data())
def test_a_change_inside_the_measurement_error_is_never_called_a_gain_or_a_loss(
    ep: dict[str, Any], data: st.DataObject
) -> None:
    """In whole episodes too: a between-session change inside the MDC is neither progress nor worsening."""
    measures = [SessionMeasurement(c, s, t, float(v)) for (c, s, t), v in sorted(ep["values"].items())]
    out = recommend(measures, settings=ep["settings"], condition=ep["condition"])
    for r in out.measures:
        if r.bar is None or r.between_change is None:
            continue
        mdc = r.bar.mdc(r.baseline)
        limit = None if mdc is None else mdc.units(r.baseline)
        if limit is not None and abs(r.between_change) < limit:
            assert not r.meaningful_between and not r.worse_between


@settings(max_examples=200, deadline=None)
@given(episodes(), st.data())
def test_no_progress_after_a_severe_reaction_in_the_episode(ep: dict[str, Any], data: st.DataObject) -> None:
    """Whatever the measures say and however long ago, after a severe reaction the aid never says progress."""
    session = data.draw(st.integers(1, ep["n"]), label="session")
    severe = AdverseReport(
        data.draw(st.sampled_from(["petechiae", "bruising", "soreness", "pain_flare"]), label="type"),
        "severe",
        data.draw(st.one_of(st.none(), st.integers(0, 10).map(float)), label="resolved_days"),
        session,
    )
    measures = [SessionMeasurement(c, s, t, float(v)) for (c, s, t), v in sorted(ep["values"].items())]
    out = recommend(
        measures,
        goal=ep["goal"],
        adverse_responses=[*ep["adverse"], severe],
        settings=ep["settings"],
        condition=ep["condition"],
    )
    assert out.recommendation != "progress"
