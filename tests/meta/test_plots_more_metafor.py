"""GOSH, radial, L'Abbé and bubble plots against metafor (everyday.json): the numbers each plot draws."""

from __future__ import annotations

import numpy as np
import pytest
from metafor_reference import assert_close, load, numbers

from strigil.meta import rma
from strigil.meta.counts import two_by_two
from strigil.meta.gosh import gosh
from strigil.meta.study_plots import _arm_outcomes, radial, regplot

EVERYDAY = load("everyday")
BCG = {k: numbers(v) for k, v in EVERYDAY["data"]["bcg_rr"].items() if k != "alloc"}


@pytest.mark.parametrize("case", EVERYDAY["gosh"], ids=lambda c: c["method"])
def test_gosh_fits_every_subset_as_metafor(case):
    res = rma(BCG["yi"][:8], BCG["vi"][:8], method=case["method"])
    g = gosh(res)
    assert g.exhaustive and len(g) == 2**8 - 1 == len(case["incl"])
    ours = {tuple(np.flatnonzero(row)): i for i, row in enumerate(g.incl)}
    order = np.array([ours[tuple(int(j) for j in incl)] for incl in case["incl"]])
    assert (order == np.arange(len(order))).all()  # metafor's order: by size, then colexicographic
    for name in ("estimate", "QE", "I2", "H2", "tau2"):
        assert_close(getattr(g, "Q" if name == "QE" else name), case[name], f"gosh {case['method']} {name}")


@pytest.mark.parametrize("case", EVERYDAY["radial"], ids=lambda c: c["method"])
def test_radial_coordinates_match_metafor(case):
    plot = radial(rma(BCG["yi"], BCG["vi"], method=case["method"]))
    assert_close(plot.x, case["x"], "radial x")
    assert_close(plot.y, case["y"], "radial y")


@pytest.mark.parametrize("case", EVERYDAY["labbe"], ids=lambda c: c["measure"])
def test_labbe_coordinates_match_metafor(case):
    cols = {k: numbers(v) for k, v in load("binary")["tables"]["bcg"]["columns"].items()}
    table = two_by_two(cols["ai"], cols["bi"], cols["ci"], cols["di"])
    treated, control = _arm_outcomes(table, case["measure"])
    assert_close(control, case["x"], "labbe x")
    assert_close(treated, case["y"], "labbe y")


def test_bubble_plot_line_and_point_sizes_match_metafor():
    case = EVERYDAY["regplot"]
    res = rma(BCG["yi"], BCG["vi"], mods={"ablat": BCG["ablat"]})
    plot = regplot(res, show_pi=True)
    assert_close(plot.psize, case["psize"], "psize")
    pred = res.predict(numbers(case["x"]))
    for name in ("pred", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
        assert_close(getattr(pred, name), case[name], f"regplot {name}")
    # the drawn line is that prediction over the moderator's range
    assert plot.grid[0] == BCG["ablat"].min() and plot.grid[-1] == BCG["ablat"].max()
    np.testing.assert_allclose(plot.pred, res.predict(plot.grid).pred)
