"""The JSON contract and the printable HTML page of a patient summary."""

from __future__ import annotations

import json
import re

from strigil.evidence.library import load_library
from strigil.evidence.patient_summary import build_summary, condition_info
from strigil.evidence.reading_level import visible_text
from strigil.evidence.render import render_clinician_html, render_html, study_json, summary_json

LIBRARY = load_library()
CONTRACT = ("condition", "outcomes", "published", "unknowns", "expectations", "reading_grade", "sources")
OUTCOME_KEYS = ("outcome", "k", "n", "measure", "effect", "ci", "certainty", "studies")


def test_summary_json_has_the_contract_keys_and_types() -> None:
    data = summary_json(build_summary(condition_info("chronic_low_back_pain"), LIBRARY), LIBRARY)
    json.dumps(data)  # serialisable
    assert all(k in data for k in CONTRACT)
    assert data["condition"] == "chronic_low_back_pain" and isinstance(data["reading_grade"], float)
    assert data["outcomes"]
    for o in data["outcomes"]:
        assert all(k in o for k in OUTCOME_KEYS)
        assert o["measure"] in ("MD", "SMD") and len(o["ci"]) == 2 and o["ci"][0] <= o["effect"] <= o["ci"][1]
        assert o["certainty"] in ("high", "moderate", "low", "very low") and o["studies"]
    tang = next(p for p in data["published"] if p["review"] == "tang2025" and p["outcome"] == "pain")
    assert (tang["effect"], tang["ci"]) == ("0.60", ["0.41", "0.80"])
    assert tang["source"].startswith("https://") and tang["reproduced"] is False
    assert "not reproduced" in tang["reproduction"]
    shin = next(p for p in data["published"] if p["review"] == "shin2022")
    assert shin["flags"] and "implausibly" in shin["flags"][0]


def test_every_cited_id_is_in_the_source_list() -> None:
    data = summary_json(build_summary(condition_info("neck_pain"), LIBRARY), LIBRARY)
    listed = {s["id"] for s in data["sources"]}
    cited = {src for sec in data["sections"] for s in sec["sentences"] for src in s["sources"]}
    assert cited == listed


def test_claimed_condition_json_says_so() -> None:
    data = summary_json(build_summary(condition_info("fibromyalgia"), LIBRARY), LIBRARY)
    assert data["claimed_only"] is True and data["studied"] is False and data["outcomes"] == []
    assert any(s["id"] == "catalog:fibromyalgia" for s in data["sources"])


def test_html_is_self_contained_printable_and_links_every_source() -> None:
    summary = build_summary(condition_info("chronic_low_back_pain"), LIBRARY)
    html = render_html(summary, LIBRARY)
    assert html.startswith("<!DOCTYPE html>") and "@media print" in html
    assert "<script" not in html and not re.search(r"<link[^>]+stylesheet", html)
    data = summary_json(summary, LIBRARY)
    for i, _ in enumerate(data["patient_sources"], 1):
        assert f'id="src-{i}"' in html and f'href="#src-{i}"' in html
    assert "petechiae" in html and "0.60" not in html  # numbers live in the clinician view
    clinician = render_clinician_html(summary, LIBRARY)
    assert "0.60" in clinician and "SMD" in clinician and "95% CI" in clinician


def test_html_escapes_text_from_imported_studies() -> None:
    from strigil.catalog import load_catalog
    from strigil.evidence.user_studies import parse_user_studies

    catalog = load_catalog()
    text = (
        "id,citation,source,design,condition,population,outcome,higher_is_better,n_t,mean_t,sd_t,n_c,mean_c,sd_c\n"
        "evil2024,<i>Evil</i> 2024,https://doi.org/10.5555/synthetic-evil,rct,neck_pain,neck,pain,false,10,1,1,10,2,1\n"
    )
    user = parse_user_studies(
        text, catalog.codes("conditions"), catalog.codes("measures"), set(LIBRARY.studies)
    )
    merged = LIBRARY.merged(user.studies, user.comparisons)
    html = render_html(build_summary(condition_info("neck_pain"), merged), merged)
    assert "&lt;i&gt;Evil&lt;/i&gt;" in html and "<i>Evil" not in html


def test_study_json_has_the_contract_keys() -> None:
    for study in LIBRARY.studies.values():
        data = study_json(study)
        assert all(k in data for k in ("id", "citation", "condition", "design", "source"))
    full = study_json(LIBRARY.study("markovic2015"), LIBRARY, full=True)
    assert full["dose_tidier"]["instruments"] == ["fascial_abrasion_technique"]
    assert any(r["yi"] == "0.16" and r["ci_low"] == "0.63" for r in full["printed_rows"])


def test_library_page_lists_every_study_with_its_flags() -> None:
    from strigil.evidence.render import render_library_html

    html = render_library_html(LIBRARY)
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    for study_id in LIBRARY.studies:
        assert f'id="{study_id}"' in html
    assert "cannot contain its own estimate 0.16" in html  # Markovic's printed interval
    assert "instruments: graston_set" in html and "PEDro" in html


def test_heuristic_thresholds_are_labelled_in_the_outputs() -> None:
    summary = build_summary(condition_info("chronic_low_back_pain"), LIBRARY)
    data = summary_json(summary, LIBRARY)
    assert all("configurable heuristic" in h for h in data["heuristics"])
    assert all("configurable heuristic" in o["grade"]["rules"] for o in data["outcomes"])
    assert "configurable heuristic" in render_html(summary, LIBRARY)  # the bruise window
    shown = visible_text(render_clinician_html(summary, LIBRARY))
    assert all(h in shown for h in data["heuristics"])
