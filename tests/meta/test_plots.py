"""Forest and funnel plots: what is drawn equals the model, files come out in the asked format."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metafor_reference import dataset, numbers

from strigil.meta import rma
from strigil.meta.plots import forest, funnel
from strigil.meta.trimfill import trimfill


@pytest.fixture(scope="module")
def bcg():
    d = dataset("bcg_rr")
    return numbers(d["yi"]), numbers(d["vi"]), d["slab"], d["groups"]["alloc"]


def test_forest_rows_carry_studies_weights_and_summary(bcg):
    yi, vi, slab, _ = bcg
    res = rma(yi, vi, slab=slab)
    plot = forest(res)
    studies = [r for r in plot.rows if r.kind == "study"]
    assert [r.label for r in studies] == slab
    assert [r.estimate for r in studies] == pytest.approx(yi.tolist())
    half = 1.959963984540054 * np.sqrt(vi)
    assert [r.ci_lb for r in studies] == pytest.approx((yi - half).tolist())
    assert [r.ci_ub for r in studies] == pytest.approx((yi + half).tolist())
    w = 1 / (vi + res.tau2)
    assert [r.weight for r in studies] == pytest.approx((100 * w / w.sum()).tolist())
    summary = plot.rows[-1]
    assert summary.kind == "summary"
    assert (summary.estimate, summary.ci_lb, summary.ci_ub) == pytest.approx(
        (res.beta[0].estimate, res.beta[0].ci_lb, res.beta[0].ci_ub))
    assert plot.pi == pytest.approx((res.pi_lb, res.pi_ub))
    assert plot.to_json()["rows"][0]["label"] == slab[0]


def test_forest_has_one_block_per_subgroup_and_the_between_test(bcg):
    yi, vi, slab, alloc = bcg
    res = rma(yi, vi, slab=slab, subgroup=alloc)
    plot = forest(res)
    headings = [r.label for r in plot.rows if r.kind == "heading"]
    assert sorted(headings) == sorted(set(alloc))
    diamonds = [r for r in plot.rows if r.kind == "subgroup"]
    assert [d.estimate for d in diamonds] == pytest.approx([g.estimate for g in res.subgroups])
    assert sum(r.kind == "study" for r in plot.rows) == len(yi)
    assert "Subgroup differences: Q(2)" in plot.rows[-1].note


def test_equal_effects_forest_has_no_prediction_interval(bcg):
    yi, vi, slab, _ = bcg
    assert forest(rma(yi, vi, method="EE", slab=slab)).pi is None


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_forest_and_funnel_files_take_the_extensions_format(tmp_path, bcg, suffix, magic):
    yi, vi, slab, _ = bcg
    res = rma(yi, vi, slab=slab)
    for name, plot in (("forest", forest(res)), ("funnel", funnel(res))):
        out = plot.save(tmp_path / f"{name}{suffix}")
        assert out.read_bytes().startswith(magic)


def test_svg_keeps_labels_as_text_and_is_reproducible(tmp_path, bcg):
    yi, vi, slab, _ = bcg
    plot = forest(rma(yi, vi, slab=slab))
    a = plot.save(tmp_path / "a.svg").read_text()
    b = plot.save(tmp_path / "b.svg").read_text()
    assert "Aronson 1948" in a
    assert a == b


def test_unknown_image_format_is_refused(tmp_path, bcg):
    yi, vi, _, _ = bcg
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf"):
        forest(rma(yi, vi)).save(tmp_path / "plot.gif")


def test_funnel_points_contours_and_filled_studies():
    d = dataset("egger2001_or")
    yi, vi = numbers(d["yi"]), numbers(d["vi"])
    res = rma(yi, vi)
    tf = trimfill(res)
    plot = funnel(res, fill=tf, contours=(99, 90, 95))
    assert plot.contours == (90.0, 95.0, 99.0)
    assert plot.sei == pytest.approx(np.sqrt(vi))
    assert plot.fill_yi.tolist() == pytest.approx(list(tf.fill_yi))
    assert len(plot.fill_yi) == tf.k0 > 0
    assert math.isclose(plot.estimate, res.beta[0].estimate)
    assert plot.to_json()["refline"] == 0.0


def test_plots_refuse_meta_regression_and_bad_contours(bcg):
    yi, vi, _, _ = bcg
    reg = rma(yi, vi, mods=np.arange(len(yi), dtype=float))
    with pytest.raises(ValueError, match="without moderators"):
        forest(reg)
    with pytest.raises(ValueError, match="without moderators"):
        funnel(reg)
    with pytest.raises(ValueError, match="contours"):
        funnel(rma(yi, vi), contours=(95, 100))


def test_forest_xlim_clips_wide_intervals_with_arrows(tmp_path):
    d = dataset("hard_extremevar")
    plot = forest(rma(numbers(d["yi"]), numbers(d["vi"]), method="DL"), xlim=(-5.0, 5.0))
    ax = plot.figure.axes[1]
    assert ax.get_xlim() == (-5.0, 5.0)
    arrows = [line for line in ax.lines if line.get_marker() in ("<", ">")]
    # study 6 (-2.0 ± 6.2) leaves on the left only; studies 7 to 9 (vi 100 to 1e4) on both sides
    assert len(arrows) == 7
    with pytest.raises(ValueError, match="xlim"):
        forest(rma(numbers(d["yi"]), numbers(d["vi"])), xlim=(1.0, -1.0))
