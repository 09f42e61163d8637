"""Reading level of patient text: the Flesch–Kincaid grade (Kincaid et al. 1975), computed by textstat.

textstat 0.7.3 counts syllables with pyphen's bundled dictionaries, so it works offline (newer releases
download data at run time). It imports the deprecated `pkg_resources`, whose warning is silenced here only.
"""

from __future__ import annotations

import warnings

__all__ = ["MAX_GRADE", "reading_grade"]

MAX_GRADE = 8.0  # patient summaries read at grade 8 or below


def reading_grade(text: str) -> float:
    """Flesch–Kincaid grade level of `text` (0.7.3 textstat)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import textstat

        return float(textstat.flesch_kincaid_grade(text))
