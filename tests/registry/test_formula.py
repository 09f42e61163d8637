"""The simple-formula reader names and builds columns exactly as formulaic does (the reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from formulaic import model_matrix

from strigil.registry.design import Coded, fixed_design
from strigil.registry.formula import read_simple_formula

FORMULAS = [
    "pain ~ session + session:minutes",
    "pain ~ session + session:minutes + session:exercise + phase",
    "pain ~ b:a + a",
    "pain ~ a*b",
    "pain ~ a*b*c",
    "pain ~ c + a:b + b",
    "pain ~ phase + a",
    "pain ~ a + phase + a:b",
    "pain ~ 0 + a + b",
    "pain ~ a - 1",
    "pain ~ -1 + a",
    "pain ~ a + a:b + b:a",
    "pain ~ 1 + a",
    "pain ~ a:b:c + c:a + a",
    "pain ~ b + a",
    "pain ~ 1",
    "pain~a+technique+phase",
]
# Outside the subset: formulaic must build these (text columns in interactions, functions, no intercept).
FALLBACK = ["pain ~ a:phase", "pain ~ np.log(b) + a", "pain ~ 0 + phase", "pain ~ a + a:technique"]


@pytest.fixture(scope="module")
def frame() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 40
    return {
        "pain": rng.normal(5, 1, n),
        "a": rng.integers(0, 6, n).astype(float),
        "b": rng.uniform(0.5, 3, n),
        "session": rng.integers(0, 6, n).astype(float),
        "minutes": rng.integers(1, 5, n).astype(float),
        "exercise": rng.integers(0, 2, n).astype(float),
        "c": rng.integers(0, 2, n).astype(float),
        "phase": rng.choice(["chronic", "acute"], n),
        "technique": rng.choice(["sweep", "strum", "scoop"], n),
    }


@pytest.mark.parametrize("formula", FORMULAS)
def test_simple_reader_matches_formulaic(formula: str, frame: dict[str, np.ndarray]) -> None:
    assert read_simple_formula(formula) is not None
    ref = model_matrix(formula, pd.DataFrame(frame))
    ours = fixed_design(formula, frame)
    assert ours.fast_path
    assert list(ours.names) == list(ref.rhs.columns)
    np.testing.assert_array_equal(ours.X, np.asarray(ref.rhs, dtype=float))
    np.testing.assert_array_equal(ours.y, np.asarray(ref.lhs, dtype=float).ravel())


@pytest.mark.parametrize("formula", FORMULAS[:8])
def test_coded_text_columns_give_the_same_matrix(formula: str, frame: dict[str, np.ndarray]) -> None:
    coded = dict(frame)
    for name in ("phase", "technique"):
        levels, codes = np.unique(frame[name][::-1], return_inverse=True)  # another level order
        coded[name] = Coded(codes=codes[::-1], levels=levels.astype(object))
    a, b = fixed_design(formula, frame), fixed_design(formula, coded)
    assert a.names == b.names
    np.testing.assert_array_equal(a.X, b.X)


@pytest.mark.parametrize("formula", FALLBACK)
def test_other_formulas_go_through_formulaic(formula: str, frame: dict[str, np.ndarray]) -> None:
    ref = model_matrix(formula, pd.DataFrame(frame))
    ours = fixed_design(formula, frame)
    assert list(ours.names) == list(ref.rhs.columns)
    np.testing.assert_allclose(ours.X, np.asarray(ref.rhs, dtype=float))


def test_reader_rejects_what_it_does_not_know() -> None:
    assert read_simple_formula("pain ~ np.log(a)") is None
    assert read_simple_formula("pain ~ a - b") is None
    assert read_simple_formula("pain") is None
    assert read_simple_formula("pain ~ a:a") is None


def test_missing_column_is_named(frame: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="'dose'"):
        fixed_design("pain ~ dose", frame)
