"""Tissue phase from onset (cut-offs are a configurable heuristic)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strigil.clinical.phase import DEFAULT_PHASE_CUTOFFS, PhaseCutoffs, tissue_phase

ONSET = dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("days", "phase"),
    [(0, "acute"), (42, "acute"), (43, "subacute"), (84, "subacute"), (85, "chronic"), (400, "chronic")],
)
def test_default_cutoffs(days: int, phase: str) -> None:
    assert tissue_phase(ONSET, ONSET + dt.timedelta(days=days)) == phase


def test_cutoffs_are_labelled_and_configurable() -> None:
    assert DEFAULT_PHASE_CUTOFFS.label == "configurable heuristic"
    assert tissue_phase(ONSET, ONSET + dt.timedelta(days=20), PhaseCutoffs(14, 28)) == "subacute"
    with pytest.raises(ValueError, match="acute_max_days"):
        PhaseCutoffs(30, 10)


def test_onset_after_the_date_is_refused() -> None:
    with pytest.raises(ValueError, match="after"):
        tissue_phase(ONSET, ONSET - dt.timedelta(days=1))


@given(st.integers(0, 2000), st.integers(0, 2000))
def test_phase_never_goes_back_in_time(a: int, b: int) -> None:
    order = {"acute": 0, "subacute": 1, "chronic": 2}
    early, late = sorted((a, b))
    assert (
        order[tissue_phase(ONSET, ONSET + dt.timedelta(days=early))]
        <= order[tissue_phase(ONSET, ONSET + dt.timedelta(days=late))]
    )
