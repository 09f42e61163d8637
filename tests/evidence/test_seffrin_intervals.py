"""Seffrin 2019 Table 3: per-arm intervals reproduced to ±0.01 where the arm size is known (md §2)."""

from __future__ import annotations

import pytest

from strigil.evidence.library import load_library
from strigil.evidence.seffrin import SeffrinCheck, seffrin_checks, seffrin_interval

CHECKS = seffrin_checks(load_library())
TESTED = [c for c in CHECKS if c.status == "tested"]


def test_all_50_table_rows_are_accounted_for() -> None:
    assert len(CHECKS) == 50
    assert {c.status for c in CHECKS} == {"tested", "inferred_size", "printed_error"}


@pytest.mark.parametrize("check", TESTED, ids=[f"row{c.row}-{c.study}" for c in TESTED])
def test_printed_interval_is_reproduced_to_one_hundredth(check: SeffrinCheck) -> None:
    assert check.n is not None and check.recomputed is not None
    lo, hi = check.recomputed
    assert abs(lo - float(check.ci[0])) <= 0.01 + 1e-9, (check.row, lo, check.ci)
    assert abs(hi - float(check.ci[1])) <= 0.01 + 1e-9, (check.row, hi, check.ci)


def test_the_rows_with_printed_sizes_are_the_ones_tested() -> None:
    assert {c.study for c in TESTED} == {"bailey2015", "laudner2014", "markovic2015", "vardiman2015"}
    sizes = {(c.study, c.arm.split(" ")[0]): c.n for c in TESTED}
    assert sizes[("bailey2015", "IASTM+stretch")] == 30
    assert sizes[("laudner2014", "IASTM")] == 17
    assert sizes[("laudner2014", "comparison")] == 18
    assert sizes[("markovic2015", "IASTM")] == 10
    assert sizes[("vardiman2015", "IASTM")] == 11


def test_heinecke_rows_are_listed_with_their_inferred_size_not_tested() -> None:
    heinecke = [c for c in CHECKS if c.study == "heinecke2014"]
    assert len(heinecke) == 24
    assert all(c.status in ("inferred_size", "printed_error") for c in heinecke)
    assert all("n≈7" in c.why for c in heinecke if c.status == "inferred_size")


def test_printed_errors_are_flagged_and_not_tested() -> None:
    errors = {(c.study, c.d, c.ci) for c in CHECKS if c.status == "printed_error"}
    assert errors == {("markovic2015", "0.16", ("0.63", "2.65")), ("heinecke2014", "0.33", ("-0.72", "1.36"))}
    markovic = next(c for c in CHECKS if c.d == "0.16" and c.study == "markovic2015")
    assert markovic.max_error is not None and markovic.max_error > 0.5  # it truly cannot be reproduced


def test_the_formula_itself() -> None:
    # d = 0, n = 8: ± 1.96 · √(2/8) = ± 0.98
    lo, hi = seffrin_interval(0.0, 8)
    assert lo == pytest.approx(-0.97998, abs=1e-4) and hi == pytest.approx(0.97998, abs=1e-4)
    with pytest.raises(ValueError, match="n must be >= 1"):
        seffrin_interval(0.5, 0)
