"""The one threshold rule: the larger of the MDC and the MCID for the episode's condition or population."""

from __future__ import annotations

import pytest

from strigil.catalog import Measure, Threshold, UnknownCode, load_catalog
from strigil.clinical.adverse import AdverseReport
from strigil.clinical.response import ChosenThreshold, SessionMeasurement, change_bar, recommend

CATALOG = load_catalog()


def _bar(measure: str, baseline: float = 6.0, **kw: object) -> float | None:
    bar = change_bar(measure, **kw)  # type: ignore[arg-type]
    assert bar is not None
    return bar.units(baseline)


def test_the_nprs_default_is_ostelo_two_points_or_thirty_percent_above_the_mdc() -> None:
    bar = change_bar("nprs")
    assert bar is not None and bar.mcid is not None
    assert (bar.mcid.value, bar.mcid.percent) == (2.0, 30.0) and "Ostelo" in bar.mcid.source
    assert "default" in bar.mcid.basis
    # baseline 8: 2 points (< 30 % = 2.4); baseline 3: 30 % = 0.9 points, but the MDC (1.77) is larger
    assert bar.units(8.0) == pytest.approx(2.0) and bar.deciding(8.0) is bar.mcid
    assert bar.units(3.0) == pytest.approx(1.77) and bar.deciding(3.0) is bar.mdc(3.0)


@pytest.mark.parametrize(
    ("condition", "mcid", "bar"),
    [
        ("lateral_elbow_tendinopathy", 2.3, 2.3),  # its own MDC90 is 1.4
        ("neck_pain", 1.3, 1.77),  # no neck-pain MDC: the largest listed (1.77) is above the MCID
        ("chronic_low_back_pain", 2.0, 2.0),
    ],
)
def test_the_condition_picks_its_population(condition: str, mcid: float, bar: float) -> None:
    chosen = change_bar("nprs", condition=condition)
    assert chosen is not None and chosen.mcid is not None
    assert chosen.mcid.value == mcid and condition in chosen.mcid.basis
    assert chosen.units(8.0) == pytest.approx(bar)


def test_a_condition_without_a_studied_population_uses_the_default_and_says_so() -> None:
    bar = change_bar("nprs", condition="plantar_heel_pain")
    assert bar is not None and bar.mcid is not None and "Ostelo" in bar.mcid.source
    assert any("no MCID for condition plantar_heel_pain" in n for n in bar.notes)


def test_the_clinic_population_setting_comes_before_the_condition() -> None:
    bar = change_bar("nprs", condition="lateral_elbow_tendinopathy", population="neck")
    assert bar is not None and bar.mcid is not None and bar.mcid.value == 1.3


def test_a_clinic_mcid_replaces_the_catalogue_mcid_but_never_the_measurement_error() -> None:
    assert _bar("nprs", clinic_value=2.5) == pytest.approx(2.5)
    bar = change_bar("nprs", clinic_value=0.5)
    assert bar is not None and bar.units(6.0) == pytest.approx(1.77)
    assert bar.deciding(6.0) is bar.mdc(6.0)


def test_ndi_follows_its_authors_not_the_mcid_within_error() -> None:
    bar = change_bar("ndi", condition="neck_pain")
    assert bar is not None and bar.mcid is not None
    assert bar.mcid.value == 10.0 and "advise" in bar.mcid.note
    assert bar.units(20.0) == pytest.approx(10.2)  # the MDC the study reports is larger still
    assert not bar.meaningful(8.0, 20.0)


def test_rom_without_a_joint_is_judged_by_the_largest_error_labelled_a_fallback() -> None:
    bar = change_bar("rom_deg")
    assert bar is not None and bar.mcid is None
    assert bar.units(90.0) == pytest.approx(20.0)
    assert any("fallback" in n and "no joint or motion" in n for n in bar.notes)
    knee = change_bar("rom_deg", joint="knee", motion="extension")
    assert knee is not None and knee.units(0.0) == pytest.approx(10.4) and not knee.notes
    ankle = change_bar("rom_deg", joint="ankle")
    assert ankle is not None and ankle.units(10.0) == pytest.approx(20.0)
    assert any("no measurement error listed for ankle" in n for n in ankle.notes)


def test_measures_without_mcid_use_the_mdc_and_measures_without_either_are_not_judged() -> None:
    bar = change_bar("ppt_kpa")
    assert bar is not None and bar.mcid is None and bar.units(300.0) == pytest.approx(160.0)
    assert change_bar("grip_kg") is None
    assert change_bar("grip_kg", clinic_value=5.0) is not None


def test_percent_only_mdcs_scale_with_the_baseline() -> None:
    bar = change_bar("sit_reach_cm")
    assert bar is not None and bar.units(20.0) == pytest.approx(20 * 0.0694)


def test_unverified_values_are_labelled() -> None:
    shaky = Threshold(11.0, 37.0, "lateral elbow pain", "Poltawski & Watson 2011 (not read)", verified=False)
    m = Measure("x", "X", "src", kind="function", unit="points", min=0, max=100, mcids=(shaky,))
    bar = change_bar(m)
    assert bar is not None and bar.mcid is not None
    assert not bar.mcid.verified and "unverified" in bar.mcid.note


def test_value_or_percent_means_the_smaller_of_the_two() -> None:
    t = ChosenThreshold("MCID", "MCID", 2.0, 30.0, "low back pain", "Ostelo 2008", "test")
    assert t.units(3.0) == pytest.approx(0.9)
    assert t.units(10.0) == pytest.approx(2.0)
    assert t.units(0.0) == 2.0  # a percentage of a zero baseline is no threshold at all
    assert ChosenThreshold("MDC", "MDC", None, 6.94, "", "", "test").units(0.0) is None


def test_unknown_codes_name_the_close_matches() -> None:
    with pytest.raises(UnknownCode, match="neck_pain"):
        change_bar("nprs", condition="neck_pian")
    with pytest.raises(UnknownCode, match="nprs"):
        change_bar("nprz")


def test_describe_names_what_sets_the_bar_and_the_other_threshold() -> None:
    bar = change_bar("nprs", condition="lateral_elbow_tendinopathy")
    assert bar is not None
    text = bar.describe(7.0)
    assert text.startswith("2.3 points (MCID, lateral elbow tendinopathy")
    assert "MDC90 1.4 points" in text


def test_respond_lists_what_to_ask_at_the_next_session() -> None:
    out = recommend(
        [SessionMeasurement("nprs", 1, "pre", 6), SessionMeasurement("nprs", 1, "post", 3)],
        adverse_responses=[AdverseReport("petechiae", "mild", None, 1)],
    ).to_json()
    specific = [q for q in out["follow_up_questions"] if q["session"] == 1]
    assert [q["about"] for q in specific] == ["petechiae"]
    assert len(out["follow_up_questions"]) == 1 + 7


def test_an_mcid_taken_from_another_condition_says_it_is_a_fallback() -> None:
    """Plantar heel pain has no NPRS MCID of its own: the low-back-pain one applies, and every view says so
    (as a range of motion's borrowed error already did)."""
    bar = change_bar("nprs", condition="plantar_heel_pain")
    assert bar is not None and bar.mcid is not None
    assert bar.mcid.basis.startswith("fallback:") and "another condition" in bar.mcid.basis
    assert bar.mcid.basis in bar.notes
    shown = bar.describe(6.0)
    assert "fallback: no MCID for condition plantar_heel_pain" in shown and "low back pain" in shown
    own = change_bar("nprs", condition="chronic_low_back_pain")
    assert own is not None and "fallback" not in own.describe(6.0).split(";")[0]
