"""ICC, SEM and Bland–Altman equal R's psych::ICC and base R on the committed fixtures."""

from __future__ import annotations

import json
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
