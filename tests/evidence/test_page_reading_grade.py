"""Reading grade measured honestly: on the visible text of the whole rendered page, each heading, list item
and table cell a sentence of its own; every patient page at grade 8 or below; each page shows its own
figure."""

from __future__ import annotations

import re

import pytest

from strigil.evidence.library import load_library
from strigil.evidence.patient_summary import build_summary, condition_codes, condition_info
from strigil.evidence.reading_level import MAX_GRADE, measured_page, page_grade, reading_grade, visible_text
from strigil.evidence.render import render_clinician_html, render_html, summary_json

LIBRARY = load_library()
CODES = condition_codes()
SHOWN = re.compile(r"reads at school grade (\d+\.\d)")
SHOWN_CLINICIAN = re.compile(r"Reading grade of this page: (\d+\.\d)")


@pytest.mark.parametrize("code", CODES)
def test_the_whole_patient_page_reads_at_grade_8_or_below_and_shows_its_own_grade(code: str) -> None:
    summary = build_summary(condition_info(code), LIBRARY)
    html = render_html(summary, LIBRARY)
    measured = page_grade(html)
    assert measured <= MAX_GRADE, (code, measured)
    shown = SHOWN.search(visible_text(html))
    assert shown is not None and float(shown.group(1)) == round(measured, 1)
    assert summary_json(summary, LIBRARY)["reading_grade"] == round(measured, 1)
    # the page is harder than its sentences alone: headings, citations and lists count
    assert measured > summary.reading_grade


@pytest.mark.parametrize("code", ["chronic_low_back_pain", "fibromyalgia", "healthy_rom_limitation"])
def test_the_clinician_page_shows_its_own_figure(code: str) -> None:
    summary = build_summary(condition_info(code), LIBRARY)
    html = render_clinician_html(summary, LIBRARY)
    shown = SHOWN_CLINICIAN.search(visible_text(html))
    assert shown is not None and float(shown.group(1)) == round(page_grade(html), 1)
    assert summary_json(summary, LIBRARY)["reading_grade_clinician"] == float(shown.group(1))


def test_visible_text_leaves_out_what_a_reader_does_not_see_and_ends_every_block() -> None:
    html = (
        "<html><head><title>Hidden title</title><style>p{color:red}</style></head><body>"
        "<h1>Heading</h1><p>One sentence</p><ul><li>first item</li><li>second item.</li></ul>"
        "<table><tr><td>cell one</td><td>cell two</td></tr></table>"
        "<svg><title>tooltip</title></svg><script>var x = 1;</script>"
        "<div hidden>not shown</div></body></html>"
    )
    assert visible_text(html).split("\n") == [
        "Heading.",
        "One sentence.",
        "first item.",
        "second item.",
        "cell one.",
        "cell two.",
    ]


def test_the_page_measure_counts_the_list_items_and_headings() -> None:
    long_words = (
        "<li>Instrument-assisted mobilization characteristically facilitates neuromuscular "
        "reorganization</li>"
    )
    page = f"<html><body><p>We went out. It was fun.</p><ul>{long_words * 5}</ul></body></html>"
    assert page_grade(page) > reading_grade("We went out. It was fun.") + 5


def test_a_page_that_shows_its_grade_is_rendered_until_the_figure_is_its_own() -> None:
    def render(grade: float) -> str:
        return f"<p>This page reads at grade {grade:.1f}.</p><p>The cat sat on the mat.</p>"

    html, grade = measured_page(render, start=12.0)
    assert grade == round(page_grade(html), 1) and f"{grade:.1f}" in html
