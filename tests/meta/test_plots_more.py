"""RevMan-layout forest, L'Abbé, bubble, radial and GOSH plots: what each draws, and that it draws."""

from __future__ import annotations

import numpy as np
import pytest
from metafor_reference import load, numbers

from strigil.meta import rma, rma_mh, rma_peto
from strigil.meta.glmm import rma_glmm
from strigil.meta.gosh import gosh
from strigil.meta.revman import forest_revman
from strigil.meta.study_plots import labbe, radial, regplot

BCG = load("binary")["tables"]["bcg"]
CELLS = {k: numbers(v) for k, v in BCG["columns"].items()}
TAB = {k: CELLS[k] for k in ("ai", "bi", "ci", "di")}
ALLOC = BCG["alloc"]


def _log_rr() -> tuple[np.ndarray, np.ndarray]:
    a, b, c, d = (CELLS[k] for k in ("ai", "bi", "ci", "di"))
    return np.log(a / (a + b)) - np.log(c / (c + d)), 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)


def test_revman_forest_of_mantel_haenszel_subgroups(tmp_path):
    overall = rma_mh(**TAB, measure="RR", slab=BCG["slab"])
    subgroups = {}
    for g in sorted(set(ALLOC)):
        m = np.array([a == g for a in ALLOC])
        subgroups[g] = rma_mh(**{k: v[m] for k, v in TAB.items()}, measure="RR",
                              slab=[s for s, keep in zip(BCG["slab"], m, strict=True) if keep])
    plot = forest_revman(overall, subgroups=subgroups, groups=("BCG", "Control"),
                         columns={"Latitude": CELLS["ablat"].astype(int).tolist()})
    assert plot.columns[:4] == ("BCG Events", "BCG Total", "Control Events", "Control Total")
    assert plot.columns[4] == "Latitude" and plot.columns[-1] == "RR M-H, Fixed, 95% CI"
    assert plot.ratio
    kinds = [r.kind for r in plot.rows]
    assert kinds.count("heading") == 3 and kinds.count("subtotal") == 3 and kinds.count("total") == 1
    assert kinds.count("study") == 13  # each study once, inside its subgroup
    total = next(r for r in plot.rows if r.kind == "total")
    assert total.estimate == pytest.approx(overall.estimate)
    assert total.cells[1] == f"{(CELLS['ai'] + CELLS['bi']).sum():g}" and total.cells[-2] == "100.0%"
    # weights are each study's share of the overall MH estimate
    aronson = next(r for r in plot.rows if r.label == "Aronson 1948")
    assert aronson.weight == pytest.approx(overall.weights[0])
    assert aronson.cells[:5] == ("4", "123", "11", "139", "44")
    assert aronson.cells[-1] == "0.41 [0.13, 1.26]"  # the RR, not its log
    text = [r.label for r in plot.rows if r.kind == "text"]
    assert any(t.startswith("Test for subgroup differences: Chi² = ") for t in text)
    assert "Total events" in text
    out = plot.save(tmp_path / "revman.svg")
    assert "Aronson 1948" in out.read_text()


def test_revman_forest_of_an_inverse_variance_fit_uses_its_subgroups():
    yi, vi = _log_rr()
    res = rma(yi, vi, subgroup=ALLOC, slab=BCG["slab"])
    plot = forest_revman(res, ratio=True)
    assert [r.label for r in plot.rows if r.kind == "heading"] == ["alternate", "random", "systematic"]
    last = plot.rows[-1].label
    assert last.startswith(f"Test for subgroup differences: Chi² = {res.Q_between:.2f}, df = 2")
    het = next(r.label for r in plot.rows if r.kind == "text" and r.label.startswith("Heterogeneity"))
    assert "Tau² = " in het and "(REML)" in het
    with pytest.raises(ValueError, match="one value per study"):
        forest_revman(res, columns={"x": [1, 2]})


def test_revman_forest_of_peto_and_glmm_results():
    peto = forest_revman(rma_peto(**TAB, slab=BCG["slab"]))
    assert peto.columns[-1] == "OR Peto, Fixed, 95% CI" and peto.ratio
    glmm = forest_revman(rma_glmm(**TAB, slab=BCG["slab"]))
    assert glmm.columns[-1] == "OR GLMM, Random, 95% CI"
    assert all(r.weight is None for r in glmm.rows)  # a GLMM has no per-study weights


def test_labbe_plot_of_a_mantel_haenszel_fit(tmp_path):
    res = rma_mh(**TAB, measure="OR")
    plot = labbe(res)
    a, b, c, d = (CELLS[k] for k in ("ai", "bi", "ci", "di"))
    np.testing.assert_allclose(plot.x, np.log(c / d))
    np.testing.assert_allclose(plot.y, np.log(a / b))
    assert plot.psize.min() == pytest.approx(0.5) and plot.psize.max() == pytest.approx(3.0)
    assert plot.save(tmp_path / "labbe.png").stat().st_size > 1000


def test_bubble_plot_needs_a_moderator_and_names_the_choice():
    yi, vi = _log_rr()
    with pytest.raises(ValueError, match="needs a meta-regression"):
        regplot(rma(yi, vi))
    two = rma(yi, vi, mods={"ablat": CELLS["ablat"], "year": CELLS["year"]})
    with pytest.raises(ValueError, match="several moderators"):
        regplot(two)
    plot = regplot(two, "year")
    # the other moderator held at its mean
    expected = two.predict(np.column_stack([np.full(100, CELLS["ablat"].mean()), plot.grid])).pred
    np.testing.assert_allclose(plot.pred, expected)


def test_radial_plot_slope_is_the_pooled_estimate():
    yi, vi = _log_rr()
    res = rma(yi, vi, method="DL")
    plot = radial(res)
    w = 1 / (vi + res.tau2)
    # the least-squares slope through the origin of y on x is the inverse-variance estimate
    assert float(plot.x @ plot.y / (plot.x @ plot.x)) == pytest.approx(float(w @ yi / w.sum()))


def test_gosh_samples_subsets_when_there_are_too_many():
    yi, vi = _log_rr()
    res = rma(yi, vi, method="EE")
    g = gosh(res, max_subsets=500, seed=3)
    assert not g.exhaustive and len(g) == 500
    assert len({row.tobytes() for row in g.incl}) == 500 and g.incl.any(axis=1).all()
    k = g.incl.sum(axis=1)
    assert (np.diff(k) >= 0).all()  # ordered by subset size
    # each sampled subset's estimate is its own equal-effects fit
    row = int(np.flatnonzero(k == 5)[0])
    idx = np.flatnonzero(g.incl[row])
    assert g.estimate[row] == pytest.approx(rma(yi[idx], vi[idx], method="EE").beta[0].estimate)
    assert gosh(res, max_subsets=500, seed=3).incl.tobytes() == g.incl.tobytes()  # seeded
    with pytest.raises(ValueError, match="without moderators"):
        gosh(rma(yi, vi, mods={"ablat": CELLS["ablat"]}))
