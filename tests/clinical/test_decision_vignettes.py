"""Every vignette of vignettes.toml, run against the pure rules (screening, response, adverse, exercise
first, the session gates, consent)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from vignettes import load

from strigil.clinical.adverse import ADVERSE_TYPES, AdverseReport, follow_up_questions, judge
from strigil.clinical.episode import Consent, consent_problem
from strigil.clinical.exercise_first import check_exercise_first
from strigil.clinical.gates import check_session
from strigil.clinical.response import recommend_document
from strigil.clinical.screening import screen_document


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [f"{v['id']}-{v['rule']}" for v in items]


def _expect_error(run: Any, expect: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        run()
    for word in expect.get("error_mentions", []):
        assert word in str(info.value), f"error message lacks {word!r}: {info.value}"


SCREEN = load("screen")


@pytest.mark.parametrize("v", SCREEN, ids=_ids(SCREEN))
def test_screen_vignette(v: dict[str, Any]) -> None:
    expect = v["expect"]
    if expect.get("error"):
        _expect_error(lambda: screen_document(v["input"]), expect)
        return
    out = screen_document(v["input"]).to_json()
    assert out["verdict"] == expect["verdict"]
    assert sorted(r["code"] for r in out["reasons"]) == sorted(expect["reason_codes"])
    if "alternatives" in expect:
        assert out["alternatives"] == expect["alternatives"]
    for alt in expect.get("alternatives_include", []):
        assert alt in out["alternatives"]
    if out["verdict"] == "contraindicated":
        assert out["alternatives"], "a contraindication must come with something to do instead"
    if "reason_kind" in expect:
        assert out["reasons"][0]["kind"] == expect["reason_kind"]
    if "reason_scope" in expect:
        assert out["reasons"][0]["scope"] == expect["reason_scope"]
    if "advice_mentions" in expect:
        assert any(expect["advice_mentions"] in r["advice"] for r in out["reasons"])
    if "note_codes" in expect:
        assert [n["code"] for n in out["notes"]] == expect["note_codes"]
    assert out["referral"] == expect.get("referral")
    if "consult_required" in expect:
        assert out["consult_required"] is expect["consult_required"]
    if "detail_mentions" in expect:
        assert any(expect["detail_mentions"] in r["detail"] for r in out["reasons"]), out["reasons"]
    if "assumptions_mention" in expect:
        assert any(expect["assumptions_mention"] in a for a in out["assumptions"]), out["assumptions"]
    if "by_region" in expect:
        assert [[b["region"], b["verdict"]] for b in out["by_region"]] == expect["by_region"]
    for r in out["reasons"]:
        assert r["source"].strip() and r["advice"].strip()
        assert r["kind"] in ("contraindication", "precaution") and r["scope"] in ("local", "systemic")


RESPOND = load("respond")


@pytest.mark.parametrize("v", RESPOND, ids=_ids(RESPOND))
def test_respond_vignette(v: dict[str, Any]) -> None:
    expect = v["expect"]
    if expect.get("error"):
        _expect_error(lambda: recommend_document(v["input"]), expect)
        return
    out = recommend_document(v["input"]).to_json()
    assert out["recommendation"] == expect["recommendation"], out["reasons"]
    rules = {r["rule"] for r in out["reasons"]}
    noted = rules | {r["rule"] for r in out["also_noted"]}
    for rule in expect.get("rules_include", []):
        assert rule in rules
    for rule in expect.get("rules_exclude", []):
        assert rule not in noted
    assert out["reasons"], "every recommendation lists its reasons"
    if "measure" in expect:
        want = dict(expect["measure"])
        got = next(m for m in out["measures"] if m["measure"] == want.pop("measure"))
        for key, value in want.items():
            if isinstance(value, float) and got[key] is not None:
                assert got[key] == pytest.approx(value), key
            else:
                assert got[key] == value, key
    settings = {h["setting"] for h in out["heuristics"]}
    for name in expect.get("heuristics_include", []):
        assert name in settings
    for name in expect.get("heuristics_exclude", []):
        assert name not in settings
    assert all(h["label"] == "configurable heuristic" and h["nearest_source"] for h in out["heuristics"])
    # Whatever the recommendation, the plan keeps exercise as the cornerstone.
    assert "exercise" in out["advice"] and out["advice_sources"]
    if "advice_mentions" in expect:
        assert expect["advice_mentions"] in out["advice"]
    for word in expect.get("reasons_mention", []):
        assert any(word in r["text"] for r in out["reasons"]), (word, out["reasons"])
    for code in expect.get("reasons_never_mention", []):  # a reason is read by people: words, not codes
        assert all(code not in r["text"] for r in out["reasons"]), (code, out["reasons"])
    if "bar" in expect:
        want = dict(expect["bar"])
        got = next(m for m in out["measures"] if m["measure"] == want.pop("measure"))["bar"]
        for key, value in want.items():
            part, _, name = key.partition(".")
            actual = got[part][name] if name else got[part]
            if isinstance(value, float):
                assert actual == pytest.approx(value), key
            elif isinstance(actual, list):
                assert any(value in item for item in actual), (key, actual)
            elif isinstance(actual, str):
                assert value in actual, (key, actual)
            else:
                assert actual == value, key


ADVERSE = load("adverse")


@pytest.mark.parametrize("v", ADVERSE, ids=_ids(ADVERSE))
def test_adverse_vignette(v: dict[str, Any]) -> None:
    i = v["input"]
    j = judge(AdverseReport(i["type"], i["severity"], i["resolved_days"], days_since=i.get("days_since")))
    assert j.flagged is v["expect"]["flagged"], j.reasons
    assert bool(j.reasons) is j.flagged
    if "heuristic" in v["expect"]:
        assert j.course.heuristic is v["expect"]["heuristic"]
        assert j.to_json()["expected_course"]["label"] == "configurable heuristic"


FOLLOW_UP = load("follow_up")


@pytest.mark.parametrize("v", FOLLOW_UP, ids=_ids(FOLLOW_UP))
def test_follow_up_vignette(v: dict[str, Any]) -> None:
    i = v["input"]
    responses = [
        AdverseReport(r["type"], r["severity"], r["resolved_days"], r["session"]) for r in i["responses"]
    ]
    asked = follow_up_questions(responses, i["previous_session"])
    specific = sorted(q.about for q in asked if q.session is not None)
    assert specific == sorted(v["expect"]["asks_about_recorded"])
    general = {q.about for q in asked if q.session is None}
    assert (general == set(ADVERSE_TYPES)) is v["expect"]["asks_about_all_types"]
    assert all(q.question.endswith("?") for q in asked)
    assert not any(" a " in q.question.split(":")[0] and q.question.startswith("The") for q in asked)
    for words in v["expect"].get("question_mentions", []):
        assert any(words in q.question for q in asked), [q.question for q in asked]


EXERCISE = load("exercise_first")


@pytest.mark.parametrize("v", EXERCISE, ids=_ids(EXERCISE))
def test_exercise_first_vignette(v: dict[str, Any]) -> None:
    i, expect = v["input"], v["expect"]
    if expect.get("error"):
        _expect_error(lambda: check_exercise_first(i["planned_care"], i.get("reason")), expect)
        return
    check = check_exercise_first(i["planned_care"], i.get("reason"))
    assert check.allowed is expect["allowed"], check.message
    if "overridden" in expect:
        assert check.overridden is expect["overridden"]
    for word in expect.get("message_mentions", []):
        assert word in check.message
    if check.applies:
        assert check.sources and "Cheatham" in " ".join(check.sources)


GATES = load("gate")


@pytest.mark.parametrize("v", GATES, ids=_ids(GATES))
def test_gate_vignette(v: dict[str, Any]) -> None:
    i, expect = v["input"], v["expect"]
    check = check_session(
        steps=[SimpleNamespace(**s) for s in i["steps"]],
        planned_iastm=i["planned_iastm"],
        verdicts=[tuple(x) for x in i["verdicts"]],
        recommendation=i.get("recommendation"),
        decision=i.get("decision"),
        override_reason=i.get("override_reason"),
        dose_confirmed=i.get("dose_confirmed", False),
        exercise_delivered=i.get("exercise_delivered"),
        exercise_not_delivered_reason=i.get("exercise_not_delivered_reason"),
    )
    assert check.allowed is expect["allowed"], check.refusals
    assert sorted({r.rule for r in check.refusals}) == sorted(expect.get("rules", []))
    if "overridden" in expect:
        assert len(check.overridden) == expect["overridden"]
    if "doses" in expect:
        assert len(check.doses) == expect["doses"]
        assert all(d.source and d.quality for d in check.doses)
    for r in check.refusals:
        assert r.field and r.message


CONSENTS = load("consent")


@pytest.mark.parametrize("v", CONSENTS, ids=_ids(CONSENTS))
def test_consent_vignette(v: dict[str, Any]) -> None:
    problem = consent_problem(Consent.model_validate({"given_on": "2026-03-01", **v["input"]}))
    assert (problem is None) is v["expect"]["allowed"], problem
    for word in v["expect"].get("message_mentions", []):
        assert word in (problem or "")


def test_suite_covers_every_verdict_recommendation_and_rule() -> None:
    """At least 40 vignettes covering every rule, verdict and recommendation, each sourced."""
    items = load()
    assert len(items) >= 40
    assert all(v["source"].strip() and v["rule"].strip() for v in items)
    verdicts = {v["expect"].get("verdict") for v in SCREEN} - {None}
    assert verdicts == {"contraindicated", "precautions", "clear"}
    recs = {v["expect"].get("recommendation") for v in RESPOND} - {None}
    assert recs == {"refer", "switch", "modify", "continue", "progress", "discharge"}
    named = {v["rule"] for v in items}
    for rules in (SCREEN_RULES, RESPOND_RULES, OTHER_RULES):
        assert rules <= named, rules - named


# The rules the code implements (the `rule` values it emits); each must have a vignette.
SCREEN_RULES = {
    "screen.clear",
    "screen.contraindication",
    "screen.precaution",
    "screen.worst_wins",
    "screen.local_elsewhere",
    "screen.region_contraindication",
    "screen.intolerance",
    "screen.prior_severe",
    "screen.prior_prolonged",
    "screen.prior_within_course",
    "screen.prior_unresolved",
    "screen.unresolved_bruise",
    "screen.prior_paresthesia",
    "screen.unknown_code",
    "screen.bad_input",
    "screen.adjacent_region",
    "screen.elsewhere_precaution",
    "screen.at_site",
    "screen.consult_required",
}
RESPOND_RULES = {
    "respond.refer_severe_adverse",
    "respond.refer_worsening",
    "respond.refer_red_flag",
    "respond.discharge_goal_kept",
    "respond.goal_not_kept",
    "respond.switch_no_change",
    "respond.modify_adverse_flagged",
    "respond.modify_within_worsening",
    "respond.modify_no_change",
    "respond.progress_between",
    "respond.continue_within",
    "respond.mdc_fallback",
    "respond.percent_rule",
    "respond.population_mcid",
    "respond.direction",
    "respond.settings_override",
    "respond.bad_input",
    "respond.continue_no_data",
    "respond.global_rating",
    "respond.modify_relief_not_kept",
    "respond.switch_exercise",
    "respond.progress_plateau",
    "respond.continue_kept_elsewhere",
    "respond.condition_bar",
    "respond.mdc_floor",
    "respond.rom_fallback",
    "respond.no_progress_after_severe",
    "respond.refer_paresthesia_persists",
    "respond.adverse_this_session",
}
OTHER_RULES = {
    "adverse.expected_course",
    "adverse.beyond_window",
    "adverse.unresolved_beyond_window",
    "adverse.severe",
    "adverse.paresthesia",
    "adverse.follow_up_questions",
    "exercise_first.active_component",
    "exercise_first.stretching_only",
    "exercise_first.no_active",
    "exercise_first.override_reason",
    "exercise_first.no_iastm",
    "exercise_first.unknown_code",
    "gate.contraindicated",
    "gate.refer",
    "gate.dose_confirmation",
    "gate.plan_without_iastm",
    "gate.exercise_delivered",
    "gate.exercise_not_delivered",
    "consent.choices",
    "consent.covers",
}


def test_every_rule_the_code_emits_has_a_vignette() -> None:
    """The rule names in the source (reasons' `rule` fields) all appear in the vignette suite."""
    import re
    from pathlib import Path

    import strigil.clinical.gates as gates
    import strigil.clinical.response as response
    import strigil.clinical.screening as screening

    emitted: set[str] = set()
    sources = [
        Path(screening.__file__ or ""),
        Path(gates.__file__ or ""),
        *Path(response.__file__ or "").parent.glob("*.py"),
    ]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        emitted |= set(re.findall(r'"((?:screen|respond|gate)\.[a-z_]+)"', text))
    emitted |= {"screen.contraindication", "screen.precaution"}  # built as f"screen.{kind}"
    assert len(emitted) > 15
    named = {v["rule"] for v in load()} | {r for v in RESPOND for r in v["expect"].get("rules_include", [])}
    assert emitted <= named, emitted - named
