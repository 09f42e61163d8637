"""The bibliography and its one formatter: sources cited themselves, addresses only on allowed hosts, copies
never shown, practitioner opinion labelled, source fields that hold nothing but citations."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from strigil.catalog import CitationError, address_host, host_allowed, load_bibliography, load_hosts
from strigil.catalog._citations import build_bibliography

BIBLIOGRAPHY = load_bibliography()
KEYS = sorted(BIBLIOGRAPHY.sources)


def _raw(filename: str) -> dict[str, object]:
    return tomllib.loads(resources.files("strigil.catalog").joinpath("data", filename).read_text("utf-8"))


@pytest.mark.parametrize("key", KEYS)
def test_every_citation_is_on_an_allowed_host_or_has_no_address(key: str) -> None:
    citation = BIBLIOGRAPHY.cite(key)
    assert citation.text.strip()
    if citation.address is not None:
        assert host_allowed(citation.address), citation.address
        assert host_allowed(citation.address, patient=True) != citation.practitioner
    source = BIBLIOGRAPHY.source(key)
    for copy in source.read_in:  # a copy is where it was read, never what is shown
        assert copy not in str(citation)


def test_the_address_is_the_sources_own_in_order_doi_pubmed_pmc_registry_publisher() -> None:
    assert BIBLIOGRAPHY.cite("tang2025").address == "https://doi.org/10.1186/s12891-025-08492-4"
    assert BIBLIOGRAPHY.cite("salaffi2004").address == "https://pubmed.ncbi.nlm.nih.gov/15207508/"
    assert BIBLIOGRAPHY.cite("ptp2025").address == "https://doi.org/10.1080/09593985.2025.2450090"
    assert BIBLIOGRAPHY.cite("bailey2017").address == "https://pubmed.ncbi.nlm.nih.gov/28402756/"
    assert BIBLIOGRAPHY.cite("seffrin2019").address == "https://pmc.ncbi.nlm.nih.gov/articles/PMC6709755/"
    assert BIBLIOGRAPHY.cite("nct05698108").address == "https://clinicaltrials.gov/study/NCT05698108"
    assert BIBLIOGRAPHY.cite("sevier2015").address == "https://peerj.com/articles/967/"


def test_a_source_with_no_known_address_is_cited_without_one() -> None:
    # the domain reference gives only copies (a document-sharing site) for Burke 2007 and Stow 2011
    for key in ("burke2007", "stow2011", "baker2017", "nazari2019", "poltawski2011", "brainscape"):
        assert BIBLIOGRAPHY.cite(key).address is None, key


def test_the_prtee_mcid_cites_pubmed_not_the_translation_proxy() -> None:
    from strigil.catalog import load_catalog

    prtee = load_catalog().measures["prtee"]
    text = " ".join(t.source for t in (*prtee.mcids, *prtee.mdcs))
    assert "https://doi.org/10.1080/09593985.2025.2450090" in text and "weglot" not in text


def test_a_study_known_from_a_review_says_so_and_points_to_the_review() -> None:
    citation = BIBLIOGRAPHY.cite("heinecke2014")
    assert "As reported in Seffrin CB" in citation.text
    assert citation.address == "https://pmc.ncbi.nlm.nih.gov/articles/PMC6709755/"


def test_practitioner_sources_are_labelled_in_words() -> None:
    text = str(BIBLIOGRAPHY.cite("chicago_sports_doctors", "absolute"))
    assert text.startswith("Practitioner opinion: Chicago Sports Doctors") and "(absolute)" in text
    assert "⚠" not in text


def test_a_source_field_holds_only_citations() -> None:
    rendered = BIBLIOGRAPHY.render_field("@salaffi2004; @bartsch2021 (foam rolling: 73%)")
    assert rendered.startswith("Salaffi F, et al. Eur J Pain 2004") and "(foam rolling: 73%)" in rendered
    for bad in (
        "Salaffi F et al. — https://pubmed.ncbi.nlm.nih.gov/15207508/",
        "@salaffi2004 — domain reference §4",
        "@salaffi2004 (nested (parentheses))",
        "",
    ):
        with pytest.raises(CitationError, match="cite sources as"):
            BIBLIOGRAPHY.render_field(bad)
    with pytest.raises(CitationError, match="no source with key 'nobody1999'"):
        BIBLIOGRAPHY.render_field("@nobody1999")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"key": "x", "kind": "research", "title": "X", "address": "https://www.scribd.com/doc/1"}, "not in"),
        (
            {"key": "x", "kind": "research", "title": "X", "address": "https://www.spine-health.com/x"},
            "practitioner",
        ),
        ({"key": "x", "kind": "practitioner", "title": "X", "doi": "10.1/x"}, "doi host"),
        ({"key": "x", "kind": "research"}, "neither authors, title nor journal"),
        ({"key": "x", "kind": "research", "title": "X", "reported_in": "nobody"}, "reported_in"),
    ],
)
def test_the_bibliography_refuses_a_bad_entry(entry: dict[str, object], message: str) -> None:
    with pytest.raises(CitationError, match=message):
        build_bibliography([entry])


def test_the_allowed_hosts_are_one_list_and_hold_no_copy_site() -> None:
    hosts = load_hosts()
    assert len(_raw("citation_hosts.toml")["host"]) == len(hosts)  # type: ignore[arg-type]
    copies = ("scribd", "slideshare", "studylib", "weglot", "booksci", "hutech", "brainscape", "doczz",
              "ai-bt", "readkong", "pdfslide", "vdocuments", "deno.dev", "paperexplained")  # fmt: skip
    assert not [h for h in hosts if any(c in h for c in copies)]
    assert address_host("https://DOI.org/10.1/x") == "doi.org"


@pytest.mark.parametrize(
    "filename", ["conditions.toml", "regions.toml", "measures.toml", "instruments.toml", "strokes.toml",
                 "protocol_steps.toml", "findings.toml"]
)  # fmt: skip
def test_every_catalogue_source_field_cites_the_bibliography(filename: str) -> None:
    def fields(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [str(v) for k, v in node.items() if k == "source"]
            return found + [f for v in node.values() for f in fields(v)]
        if isinstance(node, list):
            return [f for v in node for f in fields(v)]
        return []

    found = fields(_raw(filename))
    assert found
    for field in found:
        assert BIBLIOGRAPHY.cite_field(field), field
