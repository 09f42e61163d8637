"""Long (one row per arm) ↔ wide (one row per study) layouts, as metafor's to.long / to.wide."""

from __future__ import annotations

import pytest

from strigil.meta import rma_mh
from strigil.meta.layout import to_long, to_wide

WIDE = {"study": ["A", "B", "C"], "ai": [3, 0, 12], "bi": [17, 25, 38], "ci": [8, 2, 15], "di": [12, 23, 35]}


def test_two_by_two_tables_go_long_and_back():
    long = to_long(WIDE, groups=("IASTM", "control"))
    assert long["study"] == ["A", "A", "B", "B", "C", "C"]
    assert long["group"] == ["IASTM", "control"] * 3
    assert long["events"] == [3, 8, 0, 2, 12, 15] and long["total"] == [20, 20, 25, 25, 50, 50]
    back = to_wide(long)
    assert back == WIDE
    # the order of the arms in the rows does not matter when the groups are named
    shuffled = {k: list(reversed(v)) for k, v in long.items()}
    assert to_wide(shuffled, groups=("IASTM", "control"))["ai"] == [12, 0, 3]
    # the wide table pools as before
    assert rma_mh(**{k: v for k, v in back.items() if k != "study"}).estimate == pytest.approx(
        rma_mh(**{k: v for k, v in WIDE.items() if k != "study"}).estimate)


def test_person_time_and_means():
    pt = {"study": ["A"], "x1i": [4], "t1i": [100.0], "x2i": [9], "t2i": [120.0]}
    long = to_long(pt, kind="person-time")
    assert long == {"study": ["A", "A"], "group": [1, 2], "events": [4, 9], "time": [100.0, 120.0]}
    assert to_wide(long, kind="person-time") == pt
    means = {"study": ["A"], "m1i": [5.0], "sd1i": [1.0], "n1i": [20],
             "m2i": [4.0], "sd2i": [1.5], "n2i": [22]}
    assert to_wide(to_long(means, kind="means"), kind="means") == means


def test_a_study_with_one_arm_is_an_error_naming_it():
    long = to_long(WIDE)
    one_arm = {k: v[:-1] for k, v in long.items()}
    with pytest.raises(ValueError, match=r"study 'C' has only one arm \(no row for group 2\)"):
        to_wide(one_arm)
    twice = {k: [*v, v[0]] for k, v in long.items()}
    with pytest.raises(ValueError, match=r"study 'A' has two rows for group 1 \(rows 1 and 7\)"):
        to_wide(twice)
    with pytest.raises(ValueError, match="group 3 is neither"):
        to_wide({**long, "group": [1, 2, 1, 3, 1, 2]})
    with pytest.raises(ValueError, match="column 'total' is missing"):
        to_wide({k: v for k, v in long.items() if k != "total"})
