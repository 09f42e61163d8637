"""Presenting library and patient summaries: JSON-ready dicts and a printable, self-contained HTML page.

Pure functions (no files written): the CLI prints their output, and the web app can serve `render_html`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from strigil.evidence.effect_sizes import StudyEffect
from strigil.evidence.library import Library
from strigil.evidence.patient_summary import SMALL_STUDY, PatientSummary, Sentence
from strigil.evidence.pooling import OutcomeSummary
from strigil.evidence.records import PublishedFigure, Study

__all__ = [
    "GRADE_RULES_NOTE",
    "HEURISTICS",
    "effect_json",
    "render_html",
    "render_library_html",
    "study_json",
    "summary_json",
]

GRADE_RULES_NOTE = (
    "Strigil's fixed GRADE rules (docs/evidence.md); every threshold is a configurable heuristic"
)
HEURISTICS = (
    GRADE_RULES_NOTE,
    "size words for standardized effects: < 0.2 very small, < 0.5 small, < 0.8 medium, else large "
    "(Cohen's conventions; configurable heuristic)",
    f"a trial under {SMALL_STUDY} people is called small in patient text (configurable heuristic)",
)
_NOT_REPRODUCED = (
    "not reproduced: the review's study-level data are not available to us (iastm_trials.md §4), "
    "so our studies cannot recompute this figure"
)


def study_json(study: Study, library: Library | None = None, full: bool = False) -> dict[str, Any]:
    """A study as a JSON object: the contract keys (id, citation, condition, design, source) and more."""
    out: dict[str, Any] = {
        "id": study.id,
        "citation": study.citation,
        "condition": study.condition,
        "design": study.design,
        "source": study.source,
        "year": study.year,
        "population": study.population,
        "origin": study.origin,
        "pedro": study.pedro,
        "n": study.total_n,
        "flags": len(study.flags),
    }
    if not full:
        return out
    out.update(study.model_dump(mode="json", exclude={"rows", "flags", "arms", "dose"}))
    out["sources"] = list(study.sources)
    out["arms"] = [a.model_dump(mode="json") for a in study.arms]
    out["dose_tidier"] = study.dose.model_dump(mode="json") if study.dose else None
    out["flags"] = [f.model_dump(mode="json") for f in study.flags]
    out["printed_rows"] = [r.model_dump(mode="json") for r in study.rows]
    if library is not None:
        from strigil.evidence.effect_sizes import effect_of

        comparisons = library.comparisons_of(study.id)
        out["comparisons"] = [c.model_dump(mode="json") for c in comparisons]
        out["effects"] = [effect_json(effect_of(c, library.row(c.row))) for c in comparisons]
    return out


def _r(x: float | None) -> float | None:
    # 4 decimals: enough for any clinical reading, and no binary-float noise (13.799999999999997)
    return None if x is None else round(x, 4)


def _outcome_json(o: OutcomeSummary) -> dict[str, Any]:
    return {
        "outcome": o.outcome,
        "label": o.label,
        "k": o.k,
        "n": o.n,
        "measure": o.measure,
        "unit": o.unit,
        "effect": _r(o.effect),
        "ci": [_r(o.ci[0]), _r(o.ci[1])],
        "certainty": o.certainty,
        "studies": list(o.studies),
        "favours": o.favours,
        "effect_direction": "IASTM minus comparison; "
        + ("higher is better" if o.higher_is_better else "lower is better"),
        "smd": _r(o.smd),
        "I2": _r(o.i2),
        "tau2": _r(o.tau2),
        "model": o.model,
        "grade": {
            "start": o.grade.start,
            "downgrades": o.grade.downgrades,
            "reasons": list(o.grade.reasons),
            "rules": GRADE_RULES_NOTE,
        },
    }


def _published_json(f: PublishedFigure, library: Library) -> dict[str, Any]:
    review = library.studies[f.review]
    out = f.model_dump(mode="json", exclude={"plain", "plain_certainty"})
    out["citation"] = review.citation
    out["review_label"] = _short_label(review)
    out["sign_convention"] = "as printed by the review"
    out["source"] = review.source
    out["reproduced"] = False
    out["reproduction"] = _NOT_REPRODUCED if f.effect is not None else "a statement, not a pooled figure"
    out["flags"] = [fl.explanation for fl in review.flags if f.row is not None and f.row in fl.rows]
    return out


def _short_label(study: Study) -> str:
    surname = study.citation.split(",")[0].split(" ")[0]
    return f"{surname} {study.year}" if study.year else f"{surname} (updated review)"


def _sentence_json(s: Sentence) -> dict[str, Any]:
    return {"text": s.text, "sources": list(s.sources), "finding": s.finding, "certainty": s.certainty}


def effect_json(e: StudyEffect) -> dict[str, Any]:
    """One comparison's effect sizes (IASTM minus comparison), or why there are none."""
    return {
        "study": e.study,
        "outcome": e.outcome,
        "label": e.label,
        "row": e.row,
        "usable": e.usable,
        "reason": e.reason,
        "n": e.n,
        "primary": e.primary,
        "MD": _r(e.md),
        "MD_ci": [_r(x) for x in e.md_ci] if e.md_ci else None,
        "SMD": _r(e.smd),
        "SMD_ci": [_r(x) for x in e.smd_ci] if e.smd_ci else None,
        "unit": e.unit,
        "higher_is_better": e.higher_is_better,
    }


def _unusable_json(e: StudyEffect) -> dict[str, Any]:
    return {"study": e.study, "outcome": e.outcome, "label": e.label, "reason": e.reason}


def _source_list(summary: PatientSummary) -> list[dict[str, Any]]:
    out = [
        {"id": s.id, "citation": s.citation, "source": s.source, "addresses": list(s.sources)}
        for s in summary.sources
    ]
    if any(
        f"catalog:{summary.condition.code}" in s.sources for sec in summary.sections for s in sec.sentences
    ):
        out.append(
            {
                "id": f"catalog:{summary.condition.code}",
                "citation": "Clinic claim (not evidence)",
                "source": summary.condition.source,
                "addresses": [],
            }
        )
    return out


def summary_json(summary: PatientSummary, library: Library) -> dict[str, Any]:
    """The summary as its JSON contract (condition, outcomes, published, unknowns, ...)."""
    return {
        "condition": summary.condition.code,
        "condition_name": summary.condition.name,
        "plain_name": summary.plain_name,
        "studied": bool(summary.studies),
        "claimed_only": summary.condition.evidence == "claimed" and not summary.studies,
        "outcomes": [_outcome_json(o) for o in summary.outcomes],
        "published": [_published_json(f, library) for f in summary.published],
        "unknowns": [_sentence_json(s) for s in summary.section("unknowns").sentences],
        "expectations": [_sentence_json(s) for s in summary.section("expectations").sentences],
        "reading_grade": round(summary.reading_grade, 2),
        "sources": _source_list(summary),
        "studies": list(summary.studies),
        "not_usable": [_unusable_json(e) for e in summary.unusable],
        "heuristics": list(HEURISTICS),
        "sections": [
            {"key": sec.key, "heading": sec.heading, "sentences": [_sentence_json(s) for s in sec.sentences]}
            for sec in summary.sections
        ],
    }


_ENV = Environment(
    loader=PackageLoader("strigil.evidence", "data"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(summary: PatientSummary, library: Library) -> str:
    """A printable, self-contained HTML page (inline CSS, no scripts) of the patient summary."""
    data = summary_json(summary, library)
    numbers = {src["id"]: i for i, src in enumerate(data["sources"], 1)}
    return _ENV.get_template("summary.html").render(s=data, numbers=numbers)


def render_library_html(library: Library) -> str:
    """A printable, self-contained HTML table of every study: citation, flags, arms, PEDro, dose, sources."""
    studies = [
        {
            **s.model_dump(mode="json", exclude={"rows", "dose"}),
            "dose": s.dose.model_dump(mode="json") if s.dose else None,
        }
        for s in library.studies.values()
    ]
    return _ENV.get_template("library.html").render(studies=studies)
