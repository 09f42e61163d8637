"""Every symbol on the pages that show evidence renders in Chromium: no empty boxes.

Each distinct non-ASCII character of a page's visible text is drawn on a canvas in the font of the element
that holds it, and compared with the box Chromium draws for a character no installed font has (a private-use
code point). A character drawn like that box, or not drawn at all, fails. Screenshots go to
artifacts/screenshots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_session import sign_in

from strigil.evidence.library import load_library
from strigil.evidence.patient_summary import build_summary, condition_codes, condition_info
from strigil.evidence.render import render_clinician_html, render_html, render_library_html

pytestmark = pytest.mark.browser

LIBRARY = load_library()

# Runs in the page: returns [char, font, problem] for every non-ASCII character that does not render.
_CHECK = """
(extra) => {
  const box = "\\uE000";  // private use: no installed font has it, so Chromium draws its missing-glyph box
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const draw = (ch, font) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = "40px " + font;
    ctx.fillStyle = "#000";
    ctx.textBaseline = "middle";
    ctx.fillText(ch, 4, 32);
    return ctx.getImageData(0, 0, 64, 64).data.join(",");
  };
  const blank = draw(" ", "serif");
  const found = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || !el.getClientRects().length) continue;  // not displayed
    const font = getComputedStyle(el).fontFamily;
    for (const ch of node.textContent) {
      if (ch.codePointAt(0) > 127 && !/\\s/.test(ch)) found.set(ch + "|" + font, [ch, font]);
    }
  }
  for (const ch of extra) found.set(ch + "|serif", [ch, "serif"]);
  const problems = [];
  for (const [ch, font] of found.values()) {
    const image = draw(ch, font);
    if (image === blank) problems.push([ch, font, "draws nothing"]);
    else if (image === draw(box, font)) problems.push([ch, font, "draws the missing-glyph box"]);
  }
  return problems;
}
"""


def _problems(page: Any, extra: str = "") -> list[list[str]]:
    return list(page.evaluate(_CHECK, extra))


def _pages() -> dict[str, str]:
    pages = {"library": render_library_html(LIBRARY)}
    for code in condition_codes():
        summary = build_summary(condition_info(code), LIBRARY)
        pages[f"patient-{code}"] = render_html(summary, LIBRARY)
        pages[f"clinician-{code}"] = render_clinician_html(summary, LIBRARY)
    return pages


def test_the_check_finds_a_missing_glyph(browser: Any) -> None:
    page = browser.new_page()
    page.set_content("<p>plain text — with a dash</p>")
    assert _problems(page) == []
    missing = _problems(page, "\ue001")
    assert [p[0] for p in missing] == ["\ue001"], missing
    page.close()


def test_every_symbol_on_the_evidence_pages_renders(browser: Any, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1024, "height": 900})
    problems = {}
    for name, html in _pages().items():
        page.set_content(html)
        found = _problems(page)
        if found:
            problems[name] = found
    page.set_content(render_html(build_summary(condition_info("chronic_low_back_pain"), LIBRARY), LIBRARY))
    page.screenshot(path=str(shots / "evidence-patient-low-back.png"), full_page=True)
    page.set_content(render_clinician_html(build_summary(condition_info("fibromyalgia"), LIBRARY), LIBRARY))
    page.screenshot(path=str(shots / "evidence-clinician-fibromyalgia.png"), full_page=True)
    page.close()
    assert problems == {}


def test_every_symbol_on_the_clinic_pages_renders(
    browser: Any, server: str, password: str, shots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, server, password)
    problems = {}
    for path in ("/", "/patients/A003/summary", "/evidence", "/evidence?condition=neck_pain"):
        page.goto(f"{server}{path}")
        found = _problems(page)
        if found:
            problems[path] = found
    page.goto(f"{server}/patients/A003")
    page.get_by_role("link", name="Episode").first.click()
    # screening with findings whose sources are practitioner pages and trials: the reasons show citations
    page.check("input[name=findings][value=open_wound]")
    page.check("input[name=findings][value=anticoagulant_medication]")
    page.get_by_role("button", name="Screen").click()
    page.wait_for_selector("#screening-result ul")
    found = _problems(page)
    if found:
        problems["episode + screening"] = found
    page.screenshot(path=str(shots / "evidence-episode-screening.png"), full_page=True)
    context.close()
    assert problems == {}
