"""Integrity of the findings catalogue (contraindications and precautions): sources, classes, references."""

from __future__ import annotations

import pytest

from strigil.catalog import UnknownCode, load_catalog
from strigil.clinical.screening import load_findings

FINDINGS = load_findings()
REGIONS = set(load_catalog().regions)


@pytest.mark.parametrize("code", sorted(FINDINGS.findings))
def test_every_finding_is_sourced_classified_and_consistent(code: str) -> None:
    f = FINDINGS.findings[code]
    assert f.source.strip() and f.name.strip() and f.advice.strip() and f.quality.strip()
    assert f.kind in ("contraindication", "precaution") and f.scope in ("local", "systemic")
    assert f.classified_by, "record what each source says"
    assert set(f.alternatives) <= set(FINDINGS.alternatives)
    assert set(f.contraindicated_regions) <= REGIONS
    if f.kind == "contraindication":
        assert f.alternatives, "a contraindication says what to do instead"
    if "DISAGREE" in f.quality:
        assert f.choice.strip(), "a disagreement between sources needs a documented choice"


def test_practitioner_sources_are_marked_and_the_delphi_is_not_claimed() -> None:
    text = " ".join(f.source for f in FINDINGS.findings.values())
    assert "Practitioner opinion: " in text and "⚠" not in text  # labelled in words, no symbol
    assert "Cheatham SW, Baker RT, Loghmani" not in text  # the Delphi list was not retrievable (❓)


def test_unknown_finding_lists_close_matches() -> None:
    with pytest.raises(UnknownCode) as info:
        FINDINGS.require("anticoagulants")
    assert "anticoagulant_medication" in info.value.suggestions


def test_the_neighbour_map_names_real_regions_and_reads_both_ways() -> None:
    from strigil.clinical.screening import load_neighbours

    near = load_neighbours()
    assert set(near) == REGIONS, "every region has its neighbours listed (or is listed as one)"
    for region, others in near.items():
        assert region not in others and others <= REGIONS
        assert all(region in near[o] for o in others)
    assert "upper_arm" in near["shoulder"] and "knee" not in near["shoulder"]


def test_items_no_iastm_source_classifies_say_so_and_name_the_nearest_source() -> None:
    for code in ("suspected_dvt", "fever_or_systemic_infection", "malignancy_at_site"):
        f = FINDINGS.findings[code]
        assert f.kind == "contraindication"
        assert "conservative choice, configurable heuristic" in f.source
        assert "nearest sources follow" in f.source
        assert f.source.count("; ") >= 2, "the nearest sources are cited"
    assert FINDINGS.findings["suspected_dvt"].referral == "urgent"
    bleeding = {c for c, f in FINDINGS.findings.items() if f.bleeding_risk}
    assert bleeding == {"anticoagulant_medication", "bleeding_disorder", "fragile_skin"}
    assert FINDINGS.findings["cancer"].contraindicated_at_site
