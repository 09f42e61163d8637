"""vcalc against metafor's vcalc on every case of tests/reference/metafor/vcalc.json, and its errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from metafor_reference import assert_close, number
from mv_reference import cases, matrix

from strigil.meta import BlockCovariance, vcalc

CASES = cases("vcalc")


def _call(case: dict[str, Any]) -> BlockCovariance:
    data = case["data"]
    kwargs: dict[str, Any] = {}
    for name, value in case["args"].items():
        if isinstance(value, str):  # a column of the data
            kwargs[name] = data[value]
        elif isinstance(value, list):
            kwargs[name] = tuple(number(v) for v in value)
        else:
            kwargs[name] = number(value)
    vi = np.array([number(v) for v in kwargs.pop("vi")])
    return vcalc(vi, kwargs.pop("cluster"), **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vcalc_matches_metafor(case: dict[str, Any]) -> None:
    V = _call(case)
    assert_close(V.to_dense(), matrix(case["V"]), case["id"])


def test_blocks_follow_the_clusters_in_data_order() -> None:
    V = vcalc([0.1, 0.2, 0.3, 0.4], ["b", "a", "b", "a"], obs=[1, 1, 2, 2], rho=0.5)
    assert [r.tolist() for r in V.rows] == [[0, 2], [1, 3]]
    assert V.to_dense()[0, 2] == pytest.approx(0.5 * np.sqrt(0.1 * 0.3))
    assert V.to_dense()[0, 1] == 0.0


def test_impossible_correlations_are_an_error_naming_the_cluster() -> None:
    # the same outcome twice in one cluster is perfectly correlated: singular
    with pytest.raises(ValueError, match="not positive definite in cluster 'A'"):
        vcalc([0.1, 0.2, 0.3], ["A", "A", "B"], obs=["pain", "pain", "pain"], rho=0.5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"obs": [1, 2, 1, 2]}, "rho is needed"),
    ({"obs": [1, 2, 1, 2], "rho": 1.5}, r"rho must be a correlation in \[-1, 1\]"),
    ({"time1": [1, 2, 1, 2]}, "phi is needed"),
    ({"obs": [1, 2, 1, 2], "type": [1, 1, 2, 2], "rho": 0.5}, "rho is a pair"),
    ({"grp2": ["c", "c", "c", "c"]}, "grp2 needs grp1"),
])
def test_bad_arguments_say_what_is_missing(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vcalc([0.1, 0.2, 0.3, 0.4], [1, 1, 2, 2], **kwargs)
