"""escalc's count and single-group measures against metafor (binary.json, metafor 3.8.1) and the
measures metafor changed after 3.8 against metafor 5.0-1 (escalc_current.json).

Agreement: 1e-6 relative or 1e-8 absolute; NaN (R's NA) must meet NaN.
"""

from __future__ import annotations

from typing import Any

import pytest
from metafor_reference import CHANGED_SINCE_3_8, assert_close, escalc_as_metafor_3_8, load, numbers

from strigil.meta import escalc

BINARY = load("binary")["escalc"]
CURRENT = load("escalc_current")["cases"]


def _options(case: dict[str, Any]) -> dict[str, Any]:
    # R writes an empty list() as []
    return dict(case["options"]) if isinstance(case["options"], dict) else {}


@pytest.mark.parametrize("case", BINARY, ids=[c["id"] for c in BINARY])
def test_count_and_single_group_measures_match_metafor(case):
    inputs = {name: numbers(values) for name, values in case["inputs"].items()}
    if case["measure"] in CHANGED_SINCE_3_8:
        yi, vi = escalc_as_metafor_3_8(case["measure"], inputs)
    else:
        es = escalc(case["measure"], **inputs, **_options(case))
        yi, vi = es.yi, es.vi
    assert_close(yi, case["yi"], f"{case['id']} yi")
    assert_close(vi, case["vi"], f"{case['id']} vi")


def test_the_current_fixtures_come_from_a_metafor_after_the_changes():
    version = load("escalc_current")["meta"]["metafor"]
    major, minor, *_ = (int(x) for x in version.replace("-", ".").split("."))
    assert (major, minor) >= (5, 0)


@pytest.mark.parametrize("case", CURRENT, ids=[c["id"] for c in CURRENT])
def test_measures_changed_after_metafor_3_8_match_metafor_5(case):
    inputs = {name: numbers(values) for name, values in case["inputs"].items()}
    es = escalc(case["measure"], **inputs, **_options(case))
    assert_close(es.yi, case["yi"], f"{case['id']} yi")
    assert_close(es.vi, case["vi"], f"{case['id']} vi")
