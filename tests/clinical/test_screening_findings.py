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
