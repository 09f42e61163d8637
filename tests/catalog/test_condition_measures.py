"""Each condition's default measures: catalogue codes, with their source or the heuristic label."""

from __future__ import annotations

from strigil.catalog import HEURISTIC, load_catalog


def test_every_condition_offers_measures_with_a_source_or_the_heuristic_label() -> None:
    catalog = load_catalog()
    for condition in catalog.conditions.values():
        assert condition.measures, condition.code
        assert all(m in catalog.measures for m in condition.measures), condition.code
        assert condition.measures_source == HEURISTIC or "http" in condition.measures_source or "(" in (
            condition.measures_source
        ), condition.code


def test_the_sourced_defaults_are_those_of_the_domain_reference() -> None:
    c = load_catalog().conditions
    # JOSPT CPG 2022 (doi 10.2519/jospt.2022.0302): PRTEE and/or DASH, PSFS for high-demand patients
    assert c["lateral_elbow_tendinopathy"].measures[0] == "prtee"
    assert "10.2519/jospt.2022.0302" in c["lateral_elbow_tendinopathy"].measures_source
    # Schaefer & Sandrey 2012: FAAM ADL and Sport
    assert {"faam_adl", "faam_sport"} <= set(c["chronic_ankle_instability"].measures)
    assert not c["chronic_ankle_instability"].measures_heuristic
    # no study of the neck in §3 measured the NDI: offered, but labelled a heuristic
    assert "ndi" in c["neck_pain"].measures and c["neck_pain"].measures_heuristic
