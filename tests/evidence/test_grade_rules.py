"""Strigil's explicit GRADE rules on constructed bodies of evidence (docs/evidence.md, "GRADE rules")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strigil.evidence.grade import LEVELS, GradeInputs, GradeRules, rate

# A body of evidence that no rule rates down: three large, well-rated RCTs, consistent, precise.
CLEAN = GradeInputs(designs=("rct",) * 3, pedro=(8, 7, 7), n=(200, 150, 150), ci=(0.2, 0.6), i2=10.0)


def with_(**changes: object) -> GradeInputs:
    fields = {**CLEAN.__dict__, **changes}
    return GradeInputs(**fields)  # type: ignore[arg-type]


def test_randomized_evidence_without_problems_is_high() -> None:
    grade = rate(CLEAN)
    assert grade.certainty == "high" and grade.start == "high"
    assert sum(grade.downgrades.values()) == 0


def test_non_randomized_evidence_starts_low() -> None:
    grade = rate(with_(designs=("rct", "case_series", "rct")))
    assert grade.start == "low" and grade.certainty == "low"


@pytest.mark.parametrize(
    ("changes", "domain", "steps", "certainty"),
    [
        ({"pedro": (5, 5, 6)}, "risk_of_bias", 1, "moderate"),  # mean 5.3 < 6
        ({"pedro": (8, None, 7)}, "risk_of_bias", 1, "moderate"),  # not assessed
        ({"pedro": (5, None, 7), "flagged_numbers": ("x row 1: ci",)}, "risk_of_bias", 2, "low"),
        ({"i2": 60.0}, "inconsistency", 1, "moderate"),
        ({"i2": 80.0}, "inconsistency", 2, "low"),
        ({"indirectness": ("related technique",)}, "indirectness", 1, "moderate"),
        ({"n": (100, 100, 100)}, "imprecision", 1, "moderate"),  # 300 < 400
        ({"ci": (-0.1, 0.6)}, "imprecision", 1, "moderate"),  # includes no effect
        ({"n": (10, 10, 10), "ci": (-0.1, 0.6)}, "imprecision", 2, "low"),
    ],
)
def test_each_domain_rates_down_by_its_rule(
    changes: dict[str, object], domain: str, steps: int, certainty: str
) -> None:
    grade = rate(with_(**changes))
    assert grade.downgrades[domain] == steps
    assert grade.certainty == certainty
    assert any(r.startswith(domain.replace("_", " ")) for r in grade.reasons)


def test_thresholds_sit_exactly_where_documented() -> None:
    assert rate(with_(pedro=(6, 6, 6))).downgrades["risk_of_bias"] == 0
    assert rate(with_(i2=50.0)).downgrades["inconsistency"] == 0
    assert rate(with_(i2=75.0)).downgrades["inconsistency"] == 1
    assert rate(with_(n=(200, 100, 100))).downgrades["imprecision"] == 0
    assert rate(with_(ci=(0.0, 0.5))).downgrades["imprecision"] == 1  # touching zero counts as including it


def test_publication_bias_needs_ten_studies() -> None:
    few = rate(with_(small_study_p=0.01))
    assert few.downgrades["publication_bias"] == 0
    assert any("not assessable" in r for r in few.reasons)
    many = GradeInputs(
        designs=("rct",) * 10, pedro=(7,) * 10, n=(60,) * 10, ci=(0.2, 0.5), i2=0.0, small_study_p=0.03
    )
    assert rate(many).downgrades["publication_bias"] == 1
    assert rate(GradeInputs(**{**many.__dict__, "small_study_p": 0.5})).downgrades["publication_bias"] == 0


def test_a_single_study_is_not_rated_for_inconsistency_but_is_imprecise() -> None:
    grade = rate(GradeInputs(designs=("rct",), pedro=(7,), n=(150,), ci=(-5.0, -1.0)))
    assert grade.downgrades["inconsistency"] == 0 and grade.downgrades["imprecision"] == 1
    assert grade.certainty == "moderate"


def test_a_single_small_study_is_very_seriously_imprecise() -> None:
    # configurable heuristic: one study under 100 participants rates imprecision down two levels
    small = rate(GradeInputs(designs=("rct",), pedro=(7,), n=(30,), ci=(-5.0, -1.0)))
    assert small.downgrades["imprecision"] == 2 and small.certainty == "low"
    assert "imprecision: a single study of 30 participants < 100" in small.reasons
    at_threshold = rate(GradeInputs(designs=("rct",), pedro=(7,), n=(100,), ci=(-5.0, -1.0)))
    assert at_threshold.downgrades["imprecision"] == 1
    one_small = GradeInputs(designs=("rct",), pedro=(7,), n=(30,), ci=(-5.0, -1.0))
    relaxed = rate(one_small, GradeRules(single_small_study_n=20))
    assert relaxed.downgrades["imprecision"] == 1
    # two levels is the most one domain takes off, even when the interval also includes no effect
    crossing = rate(GradeInputs(designs=("rct",), pedro=(7,), n=(30,), ci=(-5.0, 1.0)))
    assert crossing.downgrades["imprecision"] == 2


def test_the_floor_is_very_low() -> None:
    grade = rate(
        GradeInputs(
            designs=("case_series", "rct"),
            pedro=(None, 3),
            n=(5, 5),
            ci=(-1.0, 1.0),
            i2=90.0,
            indirectness=("x",),
        )
    )
    assert grade.certainty == "very low"


def test_rules_are_configurable() -> None:
    strict = GradeRules(optimal_information_size=1000)
    assert rate(CLEAN, strict).downgrades["imprecision"] == 1


def test_malformed_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one study"):
        rate(GradeInputs(designs=(), pedro=(), n=(), ci=(0.0, 1.0)))
    with pytest.raises(ValueError, match="one entry per study"):
        rate(GradeInputs(designs=("rct",), pedro=(), n=(1,), ci=(0.0, 1.0)))


# ---- properties: the rules only ever rate down, and each added problem can only lower the rating ----------

designs = st.sampled_from(["rct", "pilot_rct", "randomized_crossover", "case_series", "within_subject_trial"])


@st.composite
def bodies(draw: st.DrawFn) -> GradeInputs:
    k = draw(st.integers(1, 12))
    lo = draw(st.floats(-2, 2))
    return GradeInputs(
        designs=tuple(draw(designs) for _ in range(k)),
        pedro=tuple(draw(st.one_of(st.none(), st.integers(0, 10))) for _ in range(k)),
        n=tuple(draw(st.integers(2, 500)) for _ in range(k)),
        ci=(lo, lo + draw(st.floats(0, 3))),
        i2=draw(st.floats(0, 100)) if k > 1 else None,
        small_study_p=draw(st.one_of(st.none(), st.floats(0, 1))),
    )


@given(bodies())
def test_certainty_never_exceeds_the_start(body: GradeInputs) -> None:
    grade = rate(body)
    assert LEVELS.index(grade.certainty) <= LEVELS.index(grade.start)
    assert LEVELS.index(grade.start) - LEVELS.index(grade.certainty) <= sum(grade.downgrades.values())


@given(bodies(), st.sampled_from(["flag", "indirect", "worse_i2", "fewer_people"]))
def test_adding_a_problem_never_raises_the_certainty(body: GradeInputs, problem: str) -> None:
    changes: dict[str, object] = {
        "flag": {"flagged_numbers": ("row 1: ci",)},
        "indirect": {"indirectness": ("related technique",)},
        "worse_i2": {"i2": 100.0 if body.k > 1 else None},
        "fewer_people": {"n": tuple(max(2, x // 10) for x in body.n)},
    }[problem]  # type: ignore[assignment]
    worse = GradeInputs(**{**body.__dict__, **changes})  # type: ignore[arg-type]
    assert LEVELS.index(rate(worse).certainty) <= LEVELS.index(rate(body).certainty)
