"""Catalogue integrity: every entry has a source, codes are unique, ranges and cross-references are sane."""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

from strigil.catalog import KINDS, host_allowed, load_catalog

CATALOG = load_catalog()
ALL_ENTRIES = [(kind, e) for kind in KINDS for e in getattr(CATALOG, kind).values()]
TISSUES = {"tendon", "fascia", "muscle", "ligament", "nerve", "joint", "scar", "mixed"}
MATERIALS = {"stainless_steel", "aluminium", "plastic", "bone", "jade", "thermoplastic", "unknown"}
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def _raw_codes(filename: str, array: str) -> list[str]:
    text = resources.files("strigil.catalog").joinpath("data", filename).read_text(encoding="utf-8")
    return [item["code"] for item in tomllib.loads(text).get(array, [])]


@pytest.mark.parametrize("kind", list(KINDS))
def test_codes_are_unique_in_the_data_files(kind: str) -> None:
    codes = _raw_codes(*KINDS[kind])
    assert codes, f"{kind} is empty"
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    assert duplicates == []


@pytest.mark.parametrize(("kind", "entry"), ALL_ENTRIES, ids=lambda x: getattr(x, "code", x))
def test_every_entry_has_code_name_and_a_cited_source(kind: str, entry: object) -> None:
    assert CODE.match(entry.code), entry.code  # type: ignore[attr-defined]
    assert entry.name.strip()  # type: ignore[attr-defined]
    source = entry.source  # type: ignore[attr-defined]
    assert source.strip() and "@" not in source, f"{kind}:{entry.code} source is not a resolved citation"  # type: ignore[attr-defined]
    for address in re.findall(r"https?://\S+", source):
        assert host_allowed(address), f"{kind}:{entry.code} cites {address}, a host not allowed on pages"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("kind", "entry"), ALL_ENTRIES, ids=lambda x: getattr(x, "code", x))
def test_unverified_entries_say_why(kind: str, entry: object) -> None:
    if not entry.verified:  # type: ignore[attr-defined]
        assert entry.note.strip(), f"{kind}:{entry.code} is unverified but has no note"  # type: ignore[attr-defined]


def test_required_codes_are_present() -> None:
    required = {
        "measures": "nprs vas_mm psfs lefs dash quickdash prtee faam_adl faam_sport ffi ndi odi rmdq groc "
        "rom_deg ppt_kpa sit_reach_cm grip_kg",
        "regions": "neck upper_back low_back shoulder upper_arm elbow forearm wrist_hand hip thigh_anterior "
        "thigh_posterior knee lower_leg_posterior lower_leg_anterior ankle foot_plantar chest abdomen",
        "conditions": "lateral_elbow_tendinopathy carpal_tunnel_syndrome plantar_heel_pain "
        "chronic_ankle_instability thoracic_spine_pain chronic_low_back_pain neck_pain "
        "myofascial_trigger_points cervicogenic_headache posterior_shoulder_tightness adhesive_capsulitis "
        "hamstring_tightness tfl_shortness knee_osteoarthritis patellofemoral_pain patellar_tendinopathy "
        "lower_extremity_injury healthy_rom_limitation "
        "achilles_tendinopathy rotator_cuff_tendinopathy iliotibial_band_syndrome shin_splints "
        "de_quervain_tenosynovitis fibromyalgia painful_scar",
        "strokes": "sweep j_stroke strum scoop brushing framing fanning scanning cross_friction swivel",
        "protocol_steps": "examination warm_up instrument_treatment stretching strengthening cryotherapy",
        "edge_types": "single_bevel double_bevel concave convex",
    }
    for kind, codes in required.items():
        missing = set(codes.split()) - set(getattr(CATALOG, kind))
        assert not missing, f"{kind} missing {sorted(missing)}"
    assert CATALOG.sides == ("left", "right", "bilateral", "midline")


@pytest.mark.parametrize("measure", list(CATALOG.measures.values()), ids=lambda m: m.code)
def test_measure_ranges_and_thresholds_are_sane(measure: object) -> None:
    m = measure
    assert m.min < m.max  # type: ignore[attr-defined]
    assert m.direction in ("lower_is_better", "higher_is_better")  # type: ignore[attr-defined]
    assert m.kind in ("pain", "function", "rom", "ppt", "strength", "global")  # type: ignore[attr-defined]
    span = m.max - m.min  # type: ignore[attr-defined]
    for t in (*m.mcids, *m.mdcs):  # type: ignore[attr-defined]
        assert t.source.strip() and t.population.strip()
        if t.value is not None:
            assert 0 < t.value <= span, (m.code, t)  # type: ignore[attr-defined]
        if t.percent is not None:
            assert 0 < t.percent <= 100, (m.code, t)  # type: ignore[attr-defined]
        if t.value is None and t.percent is None:
            assert t.note.strip(), f"{m.code}: a threshold without a number must explain itself"  # type: ignore[attr-defined]
    for t in m.mdcs:  # type: ignore[attr-defined]
        assert t.kind != "MCID"
    if not m.mcids:  # type: ignore[attr-defined]
        # no MCID: the data must say so (and give the MDC where one exists)
        assert "MCID" in m.note, m.code  # type: ignore[attr-defined]


def test_nprs_mcids_match_the_domain_reference() -> None:
    by_population = {(t.population, t.value) for t in CATALOG.measures["nprs"].mcids}
    assert ("neck pain", 1.3) in by_population
    assert ("lateral elbow tendinopathy", 2.3) in by_population
    ostelo = [t for t in CATALOG.measures["nprs"].mcids if "Ostelo" in t.source]
    assert [(t.value, t.percent) for t in ostelo] == [(2.0, 30.0)]
    assert CATALOG.measures["nprs"].mcids[0]["value"] == 1.0  # mapping-style access works too


def test_only_verified_loinc_codes_are_marked_verified() -> None:
    verified = {m.code: m.loinc for m in CATALOG.measures.values() if m.loinc and m.loinc_verified}
    assert verified == {"nprs": "72514-3", "odi": "97909-6"}
    ndi = CATALOG.measures["ndi"]
    assert ndi.loinc == "82237-9" and ndi.loinc_verified is False and "verify" in ndi.loinc_note


def test_copyrighted_questionnaires_note_their_licence() -> None:
    for code in ("odi", "dash", "ffi"):
        assert CATALOG.measures[code].licence, code
    assert "Fairbank" in (CATALOG.measures["odi"].licence or "")


def test_unconfirmed_prtee_mcid_is_marked_unverified() -> None:
    poltawski = [t for t in CATALOG.measures["prtee"].mcids if "Poltawski" in t.source]
    assert len(poltawski) == 1 and poltawski[0].verified is False


def test_condition_regions_and_instrument_edges_refer_to_catalogue_codes() -> None:
    for c in CATALOG.conditions.values():
        assert set(c.regions) <= set(CATALOG.regions), c.code
        assert c.tissue in TISSUES, c.code
        assert c.evidence in ("studied", "claimed")
    for i in CATALOG.instruments.values():
        assert i.edge_types and set(i.edge_types) <= set(CATALOG.edge_types), i.code
        assert i.material in MATERIALS, i.code
        if i.material == "unknown":
            assert not i.verified


def test_clinic_claimed_conditions_cite_the_clinic_page() -> None:
    claimed = {c.code for c in CATALOG.conditions.values() if c.evidence == "claimed"}
    assert claimed == {
        "achilles_tendinopathy", "rotator_cuff_tendinopathy", "iliotibial_band_syndrome", "shin_splints",
        "de_quervain_tenosynovitis", "fibromyalgia", "painful_scar",
    }
    for code in claimed:
        assert CATALOG.conditions[code].source.startswith("Practitioner opinion: Chicago Sports Doctors")


def test_stroke_angles_lie_within_the_taught_30_to_90_degrees() -> None:
    for s in CATALOG.strokes.values():
        if s.angle_min is not None or s.angle_max is not None:
            assert s.angle_min is not None and s.angle_max is not None
            assert 30 <= s.angle_min <= s.angle_max <= 90, s.code
    assert CATALOG.strokes["swivel"].verified is False
    assert (CATALOG.strokes["strum"].angle_min, CATALOG.strokes["strum"].angle_max) == (60, 90)


def test_stow_sequence_is_in_order() -> None:
    steps = [s for s in CATALOG.protocol_steps.values() if s.sequence == "stow_2011"]
    stow = sorted(steps, key=lambda s: s.order or 0)
    assert [s.code for s in stow] == [
        "examination", "warm_up", "instrument_treatment", "stretching", "strengthening", "cryotherapy",
    ]


def test_threshold_conditions_and_defaults_refer_to_the_catalogue() -> None:
    """Each MCID/MDC's conditions are condition codes; at most one default MCID per measure."""
    for m in CATALOG.measures.values():
        for t in (*m.mcids, *m.mdcs):
            assert set(t.conditions) <= set(CATALOG.conditions), (m.code, t.conditions)
            assert t.joint is None or t.joint in CATALOG.regions, (m.code, t.joint)
        assert sum(t.default for t in m.mcids) <= 1, m.code
        assert not any(t.default for t in m.mdcs), m.code
    nprs_default = [t for t in CATALOG.measures["nprs"].mcids if t.default]
    assert [(t.value, t.percent) for t in nprs_default] == [(2.0, 30.0)]
