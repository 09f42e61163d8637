"""Looking codes up: `require`, UnknownCode suggestions, caching and immutability."""

from __future__ import annotations

import dataclasses

import pytest

from strigil.catalog import Catalog, CatalogError, UnknownCode, _loader, load_catalog


def test_load_catalog_is_cached_and_frozen() -> None:
    a, b = load_catalog(), load_catalog()
    assert a is b and isinstance(a, Catalog)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.measures["nprs"].unit = "x"  # type: ignore[misc]


def test_require_returns_the_entry() -> None:
    assert load_catalog().require("regions", "knee").name.startswith("Knee")
    assert load_catalog().require("sides", "left") == "left"


def test_unknown_code_lists_closest_matches() -> None:
    with pytest.raises(UnknownCode) as info:
        load_catalog().require("conditions", "plantar_heal_pain")
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.kind, err.code) == ("conditions", "plantar_heal_pain")
    assert err.suggestions[0] == "plantar_heel_pain"
    assert "plantar_heel_pain" in str(err)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(UnknownCode) as info:
        load_catalog().require("measure", "nprs")
    assert "measures" in info.value.suggestions


def test_improvement_follows_the_measure_direction() -> None:
    cat = load_catalog()
    assert cat.measures["nprs"].improvement(7, 4) == 3
    assert cat.measures["lefs"].improvement(40, 52) == 12


def test_loader_refuses_duplicate_codes_and_missing_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _loader._read

    def duplicated(filename: str) -> dict:  # type: ignore[type-arg]
        doc = real(filename)
        if filename == "strokes.toml":
            doc["stroke"].append(dict(doc["stroke"][0]))
        return doc

    monkeypatch.setattr(_loader, "_read", duplicated)
    _loader.load_catalog.cache_clear()
    try:
        with pytest.raises(CatalogError, match="duplicate strokes code"):
            _loader.load_catalog()

        def sourceless(filename: str) -> dict:  # type: ignore[type-arg]
            doc = real(filename)
            if filename == "regions.toml":
                doc["region"][0] = {**doc["region"][0], "source": " "}
            return doc

        monkeypatch.setattr(_loader, "_read", sourceless)
        with pytest.raises(CatalogError, match="has no 'source'"):
            _loader.load_catalog()
    finally:
        _loader.load_catalog.cache_clear()
