"""The public surface of strigil.meta: what other areas import and call."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import strigil.meta as meta
from strigil.meta import RMAResult, rma


def test_public_names_are_sorted_and_importable():
    assert meta.__all__ == sorted(meta.__all__)
    for name in meta.__all__:
        assert getattr(meta, name) is not None


def test_result_is_immutable_and_carries_the_json_names():
    res = rma([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.03, 0.04])
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.tau2 = 1.0  # type: ignore[misc]
    fields = {f.name for f in dataclasses.fields(RMAResult)}
    always = {"k", "method", "test", "dist", "df", "tau2", "tau2_se", "I2", "H2", "Q", "Q_df", "Q_p", "beta",
              "pi_lb", "pi_ub", "QM", "QM_df", "QM_ddf", "QM_p", "R2"}
    with_subgroups = {"subgroups", "Q_between", "Q_between_df", "Q_between_p"}
    assert always | with_subgroups <= fields
    assert set(res.to_json()) >= always | {"tau2_ci"}


def test_to_json_holds_plain_numbers_and_null_only():
    import json

    res = rma([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.03, 0.04], method="EE", test="t")
    doc = json.loads(json.dumps(res.to_json(), allow_nan=False))  # raises on NaN/inf
    assert doc["tau2_ci"] is None and doc["tau2_se"] is None and doc["df"] == 3


def test_refit_on_a_subset_equals_a_fresh_fit():
    y = np.array([0.1, 0.3, 0.5, 0.2, 0.9])
    v = np.array([0.01, 0.02, 0.03, 0.04, 0.05])
    res = rma(y, v, mods={"x": [1.0, 2.0, 3.0, 4.0, 6.0]}, test="knha")
    sub = res.refit([True, True, False, True, True])
    fresh = rma(y[[0, 1, 3, 4]], v[[0, 1, 3, 4]], mods={"x": [1.0, 2.0, 4.0, 6.0]}, test="knha")
    assert sub.tau2 == pytest.approx(fresh.tau2, rel=1e-12, abs=1e-15)
    assert [c.estimate for c in sub.beta] == pytest.approx([c.estimate for c in fresh.beta], rel=1e-12)
