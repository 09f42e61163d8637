"""escalc: each measure against its textbook formula, computed independently here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strigil.meta import escalc


def test_risk_ratio_matches_the_log_ratio_formula(bcg, bcg_counts):
    BCG = bcg_counts
    yi, vi, _ = bcg
    es = escalc("RR", ai=BCG["tpos"], bi=BCG["tneg"], ci=BCG["cpos"], di=BCG["cneg"])
    np.testing.assert_allclose(es.yi, yi, rtol=1e-14)
    np.testing.assert_allclose(es.vi, vi, rtol=1e-14)


def test_odds_ratio_and_risk_difference_by_hand():
    a, b, c, d = 12.0, 38.0, 20.0, 30.0
    es = escalc("OR", ai=[a], bi=[b], ci=[c], di=[d])
    assert es.yi[0] == pytest.approx(math.log(a * d / (b * c)), rel=1e-14)
    assert es.vi[0] == pytest.approx(1 / a + 1 / b + 1 / c + 1 / d, rel=1e-14)
    rd = escalc("RD", ai=[a], bi=[b], ci=[c], di=[d])
    p1, p2 = a / (a + b), c / (c + d)
    assert rd.yi[0] == pytest.approx(p1 - p2, rel=1e-14)
    assert rd.vi[0] == pytest.approx(p1 * (1 - p1) / 50 + p2 * (1 - p2) / 50, rel=1e-14)


def test_zero_cell_gets_one_half_added_to_every_cell_of_that_table_only():
    es = escalc("OR", ai=[0, 5], bi=[10, 5], ci=[5, 5], di=[5, 5])
    assert es.yi[0] == pytest.approx(math.log(0.5 * 5.5 / (10.5 * 5.5)), rel=1e-14)
    assert es.yi[1] == pytest.approx(0.0, abs=1e-15)
    assert es.vi[1] == pytest.approx(4 / 5, rel=1e-14)


def test_smd_is_hedges_g_with_the_exact_correction():
    m1, sd1, n1, m2, sd2, n2 = 10.0, 2.0, 12, 8.0, 3.0, 15
    es = escalc("SMD", m1i=[m1], sd1i=[sd1], n1i=[n1], m2i=[m2], sd2i=[sd2], n2i=[n2])
    m = n1 + n2 - 2
    sp = math.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / m)
    cm = math.gamma(m / 2) / (math.sqrt(m / 2) * math.gamma((m - 1) / 2))
    g = cm * (m1 - m2) / sp
    assert es.yi[0] == pytest.approx(g, rel=1e-12)
    assert es.vi[0] == pytest.approx(1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2)), rel=1e-12)
    # the exact correction is close to Hedges' approximation 1 - 3/(4m - 1)
    assert cm == pytest.approx(1 - 3 / (4 * m - 1), rel=1e-3)


def test_mean_difference_and_ratio_of_means():
    args = {"m1i": [5.0], "sd1i": [1.5], "n1i": [20], "m2i": [4.0], "sd2i": [1.0], "n2i": [25]}
    md = escalc("MD", **args)
    assert md.yi[0] == pytest.approx(1.0)
    assert md.vi[0] == pytest.approx(1.5**2 / 20 + 1.0 / 25)
    cv1, cv2 = 1.5**2 / (20 * 25), 1.0 / (25 * 16)
    rom = escalc("ROM", **args)
    # bias-corrected by default since metafor 5.0-1 (Lajeunesse, 2015, eq. 8)
    assert rom.yi[0] == pytest.approx(math.log(5 / 4) + (cv1 - cv2) / 2, rel=1e-14)
    assert rom.vi[0] == pytest.approx(cv1 + cv2)
    assert escalc("ROM", correct=False, **args).yi[0] == pytest.approx(math.log(5 / 4), rel=1e-14)


def test_heteroscedastic_smds_follow_metafor_4_6():
    m1, sd1, n1, m2, sd2, n2 = 10.0, 2.0, 12, 8.0, 3.0, 15
    args = {"m1i": [m1], "sd1i": [sd1], "n1i": [n1], "m2i": [m2], "sd2i": [sd2], "n2i": [n2]}

    def c(m: float) -> float:
        return math.gamma(m / 2) / (math.sqrt(m / 2) * math.gamma((m - 1) / 2))

    # SMDH (Bonett, 2008, eq. 8): the corrected estimate in the variance, no factor c(m)² since 4.6-0
    s2 = (sd1**2 + sd2**2) / 2
    d = c(n1 + n2 - 2) * (m1 - m2) / math.sqrt(s2)
    smdh = escalc("SMDH", **args)
    assert smdh.yi[0] == pytest.approx(d, rel=1e-12)
    v = (d**2 * (sd1**4 / (n1 - 1) + sd2**4 / (n2 - 1)) / (8 * s2**2)
         + (sd1**2 / (n1 - 1) + sd2**2 / (n2 - 1)) / s2)
    assert smdh.vi[0] == pytest.approx(v, rel=1e-12)
    # SMD1H (eq. 12): standardised by group 2's SD, n − 1 in every term since 4.6-0
    d1 = c(n2 - 1) * (m1 - m2) / sd2
    smd1h = escalc("SMD1H", **args)
    assert smd1h.yi[0] == pytest.approx(d1, rel=1e-12)
    v1 = sd1**2 / sd2**2 / (n1 - 1) + 1 / (n2 - 1) + d1**2 / (2 * (n2 - 1))
    assert smd1h.vi[0] == pytest.approx(v1, rel=1e-12)
    # SMCRH (eq. 13)
    r, n = 0.6, 18
    pre_post = {"m1i": [m1], "m2i": [m2], "sd1i": [sd1], "sd2i": [sd2], "ri": [r], "ni": [n]}
    g = c(n - 1) * (m1 - m2) / sd1
    smcrh = escalc("SMCRH", **pre_post)
    assert smcrh.yi[0] == pytest.approx(g, rel=1e-12)
    var_d = sd1**2 + sd2**2 - 2 * r * sd1 * sd2
    assert smcrh.vi[0] == pytest.approx(var_d / (sd1**2 * (n - 1)) + g**2 / (2 * (n - 1)), rel=1e-12)


def test_single_groups_and_person_time_by_hand():
    pft = escalc("PFT", xi=[3], ni=[10])
    assert pft.yi[0] == pytest.approx((math.asin(math.sqrt(3 / 11)) + math.asin(math.sqrt(4 / 11))) / 2)
    assert pft.vi[0] == pytest.approx(1 / 42)
    plo = escalc("PLO", xi=[0], mi=[9])  # a zero cell: 1/2 added to both
    assert plo.yi[0] == pytest.approx(math.log(0.5 / 9.5)) and plo.vi[0] == pytest.approx(1 / 0.5 + 1 / 9.5)
    irr = escalc("IRR", x1i=[4], t1i=[100.0], x2i=[8], t2i=[160.0])
    assert irr.yi[0] == pytest.approx(math.log(0.04 / 0.05)) and irr.vi[0] == pytest.approx(1 / 4 + 1 / 8)
    ird = escalc("IRD", x1i=[4], t1i=[100.0], x2i=[8], t2i=[160.0])
    assert ird.yi[0] == pytest.approx(-0.01) and ird.vi[0] == pytest.approx(4 / 100**2 + 8 / 160**2)
    mn = escalc("MN", mi=[7.0], sdi=[2.0], ni=[16])
    assert (mn.yi[0], mn.vi[0]) == (7.0, 0.25)


def test_peto_odds_ratio_is_observed_minus_expected_over_the_hypergeometric_variance():
    a, b, c, d = 3.0, 17.0, 8.0, 12.0
    n1, n2, n = a + b, c + d, a + b + c + d
    e, v = (a + c) * n1 / n, (a + c) * (b + d) * n1 * n2 / (n**2 * (n - 1))
    es = escalc("PETO", ai=[a], bi=[b], ci=[c], di=[d])
    assert es.yi[0] == pytest.approx((a - e) / v, rel=1e-14) and es.vi[0] == pytest.approx(1 / v, rel=1e-14)


def test_pre_post_measures():
    m1, m2, sd1, sd2, r, n = 30.0, 25.0, 6.0, 5.0, 0.6, 18
    mc = escalc("MC", m1i=[m1], m2i=[m2], sd1i=[sd1], sd2i=[sd2], ri=[r], ni=[n])
    var_d = sd1**2 + sd2**2 - 2 * r * sd1 * sd2
    assert mc.yi[0] == pytest.approx(5.0)
    assert mc.vi[0] == pytest.approx(var_d / n)
    cm = math.gamma((n - 1) / 2) / (math.sqrt((n - 1) / 2) * math.gamma((n - 2) / 2))
    smcc = escalc("SMCC", m1i=[m1], m2i=[m2], sd1i=[sd1], sd2i=[sd2], ri=[r], ni=[n])
    g = cm * 5 / math.sqrt(var_d)
    assert smcc.yi[0] == pytest.approx(g, rel=1e-12)
    assert smcc.vi[0] == pytest.approx(1 / n + g**2 / (2 * n), rel=1e-12)
    smcr = escalc("SMCR", m1i=[m1], m2i=[m2], sd1i=[sd1], ri=[r], ni=[n])
    g = cm * 5 / sd1
    assert smcr.yi[0] == pytest.approx(g, rel=1e-12)
    assert smcr.vi[0] == pytest.approx(2 * (1 - r) / n + g**2 / (2 * n), rel=1e-12)


def test_correlations():
    z = escalc("ZCOR", ri=[0.5, 0.3], ni=[30, 3])
    assert z.yi[0] == pytest.approx(math.atanh(0.5))
    assert z.vi[0] == pytest.approx(1 / 27)
    assert math.isnan(z.vi[1])  # n <= 3: the variance does not exist (documented NaN, as metafor)
    r = escalc("COR", ri=[0.5], ni=[30])
    assert r.vi[0] == pytest.approx(0.75**2 / 29)


def test_reported_estimate_with_ci_or_se():
    lo, hi = 0.2, 1.0
    es = escalc("GEN", yi=[0.6], ci_lb=[lo], ci_ub=[hi])
    assert es.vi[0] == pytest.approx(((hi - lo) / (2 * 1.959963984540054)) ** 2, rel=1e-12)
    es = escalc("GEN", yi=[0.6], sei=[0.3])
    assert es.vi[0] == pytest.approx(0.09)
    ratio = escalc("GEN", yi=[2.0], ci_lb=[1.0], ci_ub=[4.0], log_scale=True)
    assert ratio.yi[0] == pytest.approx(math.log(2))
    assert ratio.vi[0] == pytest.approx((math.log(4) / (2 * 1.959963984540054)) ** 2, rel=1e-12)


def test_columns_may_name_fields_of_data_and_rows_are_kept():
    data = {"study": ["A", "B"], "e1": [3, 4], "f1": [7, 6], "e2": [5, 5], "f2": [5, 5]}
    es = escalc("RR", data=data, ai="e1", bi="f1", ci="e2", di="f2")
    rows = es.to_rows()
    assert rows[0]["study"] == "A" and rows[1]["study"] == "B"
    assert rows[0]["yi"] == pytest.approx(math.log(0.3 / 0.5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"measure": "XYZ"}, "not supported"),
        ({"measure": "OR", "ai": [-1], "bi": [1], "ci": [1], "di": [1]}, r"row 1: ai is negative \(-1\)"),
        ({"measure": "RR", "ai": [2, 9], "n1i": [5, 8], "ci": [1, 1], "n2i": [4, 4]},
         r"row 2: ai \(events\) is larger than n1i \(participants\): 9 of 8"),
        ({"measure": "RD", "ai": [0], "bi": [0], "ci": [1], "di": [3]}, "row 1: group 1 has no participants"),
        ({"measure": "IRR", "x1i": [1], "t1i": [0], "x2i": [1], "t2i": [5]},
         "row 1: group 1 has no person-time"),
        ({"measure": "PR", "xi": [3, 12], "ni": [10, 11]}, r"row 2: xi \(events\) is larger than ni"),
        ({"measure": "ZCOR", "ri": [1.5], "ni": [10]}, "ri must lie in"),
        (
            {"measure": "MD", "m1i": [1], "sd1i": [1], "n1i": [0], "m2i": [1], "sd2i": [1], "n2i": [3]},
            "n1i must be > 0",
        ),
        ({"measure": "OR", "ai": [1, 2], "bi": [1], "ci": [1], "di": [1]}, "has 1 values"),
        ({"measure": "GEN", "yi": [1.0]}, "needs yi and one of"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        escalc(**kwargs)


def test_escalc_takes_study_labels_and_rma_keeps_them() -> None:
    import pandas as pd

    from strigil.meta import escalc, rma

    table = pd.DataFrame(
        {"trial": ["Aronson", "Ferguson", "Rosenthal"], "ai": [4, 6, 3], "bi": [119, 300, 228],
         "ci": [11, 29, 11], "di": [128, 274, 209]}
    )  # fmt: skip
    by_column = escalc("RR", table, slab="trial")
    by_values = escalc("RR", ai=table.ai, bi=table.bi, ci=table.ci, di=table.di, slab=list(table.trial))
    assert by_column.slab == by_values.slab == ("Aronson", "Ferguson", "Rosenthal")
    assert list(by_column.to_frame().index) == ["Aronson", "Ferguson", "Rosenthal"]
    assert rma(by_column).slab == ("Aronson", "Ferguson", "Rosenthal")
    assert rma(by_column, slab=["a", "b", "c"]).slab == ("a", "b", "c")
    with pytest.raises(ValueError, match="slab has 2 labels for 3 rows"):
        escalc("RR", table, slab=["x", "y"])
    with pytest.raises(ValueError, match="slab 'study' names a column, but data has no such column"):
        escalc("RR", table, slab="study")
