"""Reading level of patient text: the Flesch–Kincaid grade (Kincaid et al. 1975), computed by textstat.

textstat 0.7.3 counts syllables with pyphen's bundled dictionaries, so it works offline (newer releases
download data at run time). It imports the deprecated `pkg_resources`, whose warning is silenced here only.

A page's grade is measured on what a reader sees: the visible text of the rendered HTML (not the head,
styles, scripts or tooltips), with every heading, paragraph, list item, table cell and caption ended as a
sentence of its own, so short headings and list items count the way a reader meets them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from html.parser import HTMLParser

__all__ = ["MAX_GRADE", "measured_page", "page_grade", "reading_grade", "visible_text"]

MAX_GRADE = 8.0  # patient summaries read at grade 8 or below

# Elements whose text a reader does not see on the page (tooltips, metadata, code).
_HIDDEN = frozenset({"head", "title", "style", "script", "template", "noscript", "desc"})
# Elements that end a sentence: each is read as a unit of its own.
_BLOCKS = frozenset(
    {
        "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "caption", "figcaption", "dt", "dd",
        "summary", "div", "section", "header", "footer", "nav", "tr", "label", "button", "option", "legend",
    }
)  # fmt: skip
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "source", "wbr"})


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.stack: list[str] = []
        self.units: list[list[str]] = [[]]

    def _close_unit(self) -> None:
        if self.units[-1]:
            self.units.append([])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self._close_unit()
            return
        hidden = tag in _HIDDEN or any(k == "hidden" for k, _ in attrs)
        self.stack.append(tag if not hidden else f"!{tag}")
        if hidden:
            self.hidden += 1
        if tag in _BLOCKS:
            self._close_unit()

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self.stack:
            top = self.stack.pop()
            if top.startswith("!"):
                self.hidden -= 1
            if top.lstrip("!") == tag:
                break
        if tag in _BLOCKS:
            self._close_unit()

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.units[-1].append(data)


def visible_text(html: str) -> str:
    """The text a reader sees on the page, one sentence per block (a full stop added where none ends it)."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    sentences = []
    for unit in parser.units:
        text = " ".join(" ".join(unit).split())
        if text:
            sentences.append(text if text[-1] in ".!?:" else f"{text}.")
    return "\n".join(sentences)


def reading_grade(text: str) -> float:
    """Flesch–Kincaid grade level of `text` (0.7.3 textstat)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import textstat

        return float(textstat.flesch_kincaid_grade(text))


def page_grade(html: str) -> float:
    """Flesch–Kincaid grade of a rendered page's visible text."""
    return reading_grade(visible_text(html))


def measured_page(render: Callable[[float], str], start: float = 0.0) -> tuple[str, float]:
    """Render a page that shows its own reading grade, until the grade it shows is the grade it measures.

    The figure is part of the text it measures, so the page is rendered again with the measured figure
    (a few rounds at most: one number changes the text very little). Returns the page and its grade.
    """
    shown = round(start, 1)
    for _ in range(6):
        html = render(shown)
        measured = round(page_grade(html), 1)
        if measured == shown:
            return html, measured
        shown = measured
    html = render(shown)
    return html, round(page_grade(html), 1)
