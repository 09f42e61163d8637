"""ICC, SEM and Bland–Altman equal R's psych::ICC and base R on the committed fixtures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from strigil.force.reliability import ReliabilityError, bland_altman, reliability

FIXTURE = Path(__file__).parents[1] / "reference" / "psych" / "icc.json"
DATA = json.loads(FIXTURE.read_text())
CASES = DATA["cases"]


def _scores(case: dict[str, Any]) -> np.ndarray:
    return np.array(DATA["datasets"][case["dataset"]]["scores"], dtype=float)


def test_the_fixture_covers_the_published_example_and_force_tables() -> None:
    names = {c["dataset"] for c in CASES}
    assert "shrout_fleiss_1979" in names and len(names) >= 6
    # Shrout & Fleiss (1979) report ICC(1,1) = .17, ICC(2,1) = .29, ICC(3,1) = .71 for their table.
    sf = next(c for c in CASES if c["id"] == "shrout_fleiss_1979/alpha=0.05")
    assert [round(r["ICC"], 2) for r in sf["icc"][:3]] == [0.17, 0.29, 0.71]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_icc_equals_psych(case: dict[str, Any]) -> None:
    result = reliability(_scores(case), level=1 - case["alpha"])
    for row in case["icc"]:
        ours = result.get(row["type"])
        assert ours.value == pytest.approx(row["ICC"], rel=1e-10, abs=1e-12), row["type"]
        assert ours.f == pytest.approx(row["F"], rel=1e-10)
        assert (ours.df1, ours.df2) == (row["df1"], row["df2"])
        assert ours.p == pytest.approx(row["p"], rel=1e-8, abs=1e-14)
        assert ours.lower == pytest.approx(row["lower"], rel=1e-8, abs=1e-12), row["type"]
        assert ours.upper == pytest.approx(row["upper"], rel=1e-8, abs=1e-12), row["type"]
    ms = result.mean_squares
    assert ms["MSB"] == pytest.approx(case["MSB"], rel=1e-10)
    assert ms["MSJ"] == pytest.approx(case["MSJ"], rel=1e-10)
    assert ms["MSE"] == pytest.approx(case["MSE"], rel=1e-10)
    assert result.sem == pytest.approx(case["sem"], rel=1e-10)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bland_altman_equals_base_r(case: dict[str, Any]) -> None:
    result = reliability(_scores(case), level=1 - case["alpha"])
    assert len(result.bland_altman) == len(case["bland_altman"])
    for (_, _, ours), ref in zip(result.bland_altman, case["bland_altman"], strict=True):
        assert ours.bias == pytest.approx(ref["bias"], rel=1e-10, abs=1e-12)
        assert ours.sd == pytest.approx(ref["sd"], rel=1e-10)
        assert ours.lower_loa == pytest.approx(ref["lower_loa"], rel=1e-10)
        assert ours.upper_loa == pytest.approx(ref["upper_loa"], rel=1e-10)
        for name in ("bias_ci", "lower_loa_ci", "upper_loa_ci"):
            assert list(getattr(ours, name)) == pytest.approx(ref[name], rel=1e-9, abs=1e-12), name


def test_icc21_below_icc31_when_sessions_shift() -> None:
    case = next(c for c in CASES if c["id"] == "force_session_shift/alpha=0.05")
    result = reliability(_scores(case))
    assert result.get("ICC(2,1)").value < result.get("ICC(3,1)").value - 0.1


def test_missing_scores_and_tiny_tables_are_refused() -> None:
    with pytest.raises(ReliabilityError, match="missing value for subject row 2, session column 1"):
        reliability([[1.0, 2.0], [np.nan, 3.0], [2.0, 2.5]])
    with pytest.raises(ReliabilityError, match="at least 2 subjects and 2 sessions"):
        reliability([[1.0, 2.0]])
    with pytest.raises(ReliabilityError, match="at least 3 pairs"):
        bland_altman([1.0, 2.0], [1.5, 2.5])


def test_json_names_psych_rows_and_keeps_null_for_missing_numbers() -> None:
    result = reliability(_scores(CASES[0]))
    out = result.to_json()
    assert [r["psych_name"] for r in out["icc"]] == ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]
    assert out["bland_altman"][0]["first"] == "session 1"
    assert "ICC(2,1)" in result.summary() and "limits of agreement" in result.summary()


# Degenerate tables: psych::ICC returns NaN or infinite values there (IEEE arithmetic); Strigil gives the
# same numbers, reports the ones that do not exist as undefined (null in JSON) and says why.
PERFECT_SHIFT = [[1.0, 5.0, 5.0], [2.0, 6.0, 6.0], [3.0, 7.0, 7.0]]  # no residual, subjects differ
CONSTANT_SHIFT = [[5.0, 6.0]] * 3  # no residual and no between-subject variation
NO_BETWEEN = [[5.0, 6.0], [6.0, 5.0], [5.0, 6.0]]  # every subject's average is the same


def test_no_residual_variation_gives_icc3_of_one_and_undefined_intervals() -> None:
    result = reliability(PERFECT_SHIFT)
    icc3, icc2 = result.get("ICC(3,1)"), result.get("ICC(2,1)")
    assert icc3.value == 1.0 and math.isinf(icc3.f) and icc3.p == 0.0
    # With MSE = 0, ICC(2,1) = MSB / (MSB + k·MSJ/n), here k = n = 3.
    ms = result.mean_squares
    assert ms["MSE"] == 0.0
    assert icc2.value == pytest.approx(ms["MSB"] / (ms["MSB"] + 3 * ms["MSJ"] / 3), rel=1e-12)
    assert result.sem == 0.0 and result.mdc == 0.0
    text = result.summary()
    assert "ICC(3,1) = 1.000 (95 % CI undefined)" in text
    assert "no residual variation" in text
    doc = result.to_json()
    row = next(r for r in doc["icc"] if r["kind"] == "ICC(3,1)")
    assert row["value"] == 1.0 and row["F"] is None and row["lower"] is None
    assert any("no residual variation" in note for note in doc["notes"])


def test_constant_shift_and_no_between_subject_variance_report_undefined_iccs() -> None:
    shift = reliability(CONSTANT_SHIFT)
    assert math.isnan(shift.get("ICC(3,1)").value)  # 0/0, as psych gives NaN
    assert shift.get("ICC(2,1)").value == 0.0
    assert "ICC(3,1) = undefined" in shift.summary()
    assert len(shift.to_json()["notes"]) == 2
    flat = reliability(NO_BETWEEN)
    assert flat.mean_squares["MSB"] == 0.0
    assert flat.get("ICC(3,1)").value == pytest.approx(-1.0)  # (0 − MSE) / ((k − 1)·MSE) with k = 2
    assert math.isinf(flat.get("ICC(3,k)").value)  # (0 − MSE) / 0
    assert flat.to_json()["icc"][5]["value"] is None
    assert "no variation between subjects" in flat.summary()


def test_a_table_of_equal_scores_says_so() -> None:
    result = reliability([[4.0, 4.0], [4.0, 4.0], [4.0, 4.0]])
    assert result.notes == (
        "every score in the table is the same: there is no variation, so no ICC is defined",
    )
    assert "ICC(2,1) = undefined" in result.summary()


def test_an_ordinary_table_has_no_notes() -> None:
    result = reliability(_scores(CASES[0]))
    assert result.notes == () and "Note:" not in result.summary()
