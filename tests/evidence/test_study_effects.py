"""Between-group effect sizes from the printed arm-level rows vs R metafor 3.8.1.

Reference: tests/reference/metafor/study_effects.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strigil.evidence.effect_sizes import StudyEffect, study_effects
from strigil.evidence.library import load_library
from strigil.evidence.pooling import pool_effects
from strigil.evidence.records import Study

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "reference" / "metafor" / "study_effects.json").read_text()
)
EFFECTS = study_effects(load_library())


def effect_at(row: int, study: str):  # type: ignore[no-untyped-def]
    return next(e for e in EFFECTS if e.row == row and e.study == study)


@pytest.mark.parametrize("i", range(len(REFERENCE["rows"])))
def test_md_and_smd_match_metafor(i: int) -> None:
    row = REFERENCE["rows"][i]
    study = "lee2016" if row < 68 else ("elhafez2020" if row < 72 else "kivlan2015")
    e = effect_at(row, study)
    assert e.usable
    assert e.md == pytest.approx(REFERENCE["md_yi"][i], abs=1e-10)
    assert e.md_vi == pytest.approx(REFERENCE["md_vi"][i], rel=1e-10)
    assert e.smd == pytest.approx(REFERENCE["smd_yi"][i], rel=1e-8)
    assert e.smd_vi == pytest.approx(REFERENCE["smd_vi"][i], rel=1e-8)


def test_a_printed_difference_with_its_interval_matches_metafor() -> None:
    braun = next(e for e in EFFECTS if e.study == "braun2011")
    assert braun.md == pytest.approx(REFERENCE["braun"]["yi"])
    assert braun.md_vi == pytest.approx(REFERENCE["braun"]["vi"], rel=1e-9)
    assert braun.n == 48 and braun.smd is None


def test_every_study_with_arm_level_means_and_sds_gets_an_effect() -> None:
    usable = {e.study for e in EFFECTS if e.usable}
    assert usable == {"lee2016", "elhafez2020", "kivlan2015", "braun2011"}


def test_unusable_comparisons_say_why() -> None:
    unusable = {e.study: e.reason for e in EFFECTS if not e.usable}
    assert "truncated" in unusable["elhafez2020"]
    assert "baseline" in unusable["crothers2016"]
    assert "without SDs" in unusable["mylonas2021"]
    assert set(unusable) >= {"laudner2014", "bailey2017", "jmmt2024", "ikeda2019"}


def test_pooling_two_library_pain_smds_matches_metafor_reml_knha() -> None:
    lee, elhafez = effect_at(57, "lee2016"), effect_at(69, "elhafez2020")
    # pool on the SMD scale: the two pain scales differ (mm vs 0-10)
    pooled = pool_effects([lee, elhafez], load_library().studies)
    ref = REFERENCE["pool_lee_elhafez_smd"]
    assert pooled.measure == "SMD" and pooled.k == 2 and pooled.n == 70
    assert pooled.effect == pytest.approx(ref["estimate"], rel=1e-5)
    assert pooled.ci[0] == pytest.approx(ref["ci_lb"], rel=1e-4)
    assert pooled.ci[1] == pytest.approx(ref["ci_ub"], rel=1e-4)
    assert pooled.tau2 == pytest.approx(ref["tau2"], rel=1e-4)
    assert pooled.i2 == pytest.approx(ref["I2"], rel=1e-4)
    assert pooled.certainty == "very low"  # I² 94% and a CI across zero


def test_effects_without_a_common_scale_are_refused_by_pool_effects() -> None:
    braun = next(e for e in EFFECTS if e.study == "braun2011")  # MD only (no SDs printed)
    elhafez = effect_at(69, "elhafez2020")  # VAS 0-10, not the same scale as Braun's mm
    with pytest.raises(ValueError, match="cannot be pooled"):
        pool_effects([braun, elhafez], load_library().studies)


def _constructed(yi: list[float], vi: list[float]) -> tuple[list[StudyEffect], dict[str, Study]]:
    effects, studies = [], {}
    for i, (y, v) in enumerate(zip(yi, vi, strict=True)):
        sid = f"s{i}"
        studies[sid] = Study(id=sid, citation=sid, design="rct", population="p", pedro=8)
        effects.append(
            StudyEffect(
                study=sid,
                outcome="pain",
                label="pain",
                row=i,
                higher_is_better=False,
                measure_code="vas_mm",
                unit="mm",
                primary=True,
                usable=True,
                n=100,
                md=y,
                md_vi=v,
                smd=y / 10,
                smd_vi=v / 100,
            )
        )
    return effects, studies


def test_ten_or_more_studies_get_an_egger_test_that_can_rate_down() -> None:
    from strigil.meta import rma

    # small studies (large variance) show larger benefits: a funnel-plot asymmetry
    vi = [1, 2, 4, 8, 16, 32, 64, 100, 150, 200, 250, 300]
    asym = [-3 - 0.9 * v**0.5 for v in vi]
    effects, studies = _constructed(asym, [float(v) for v in vi])
    pooled = pool_effects(effects, studies)
    expected_p = rma(asym, vi, method="REML", test="knha").regtest().pval
    assert expected_p < 0.10
    assert pooled.grade.downgrades["publication_bias"] == 1
    assert any(f"p={expected_p:.3f}" in r for r in pooled.grade.reasons)
    # the same studies without the asymmetry are not rated down
    sym = [-3 + (0.5 if i % 2 else -0.5) for i in range(len(vi))]
    effects, studies = _constructed(sym, [float(v) for v in vi])
    assert pool_effects(effects, studies).grade.downgrades["publication_bias"] == 0


def test_every_trial_with_printed_rows_is_accounted_for_by_a_comparison() -> None:
    library = load_library()
    with_rows = {s.id for s in library.studies.values() if s.rows and not s.is_review}
    accounted = {e.study for e in EFFECTS}
    assert with_rows == accounted, sorted(with_rows ^ accounted)
