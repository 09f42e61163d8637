"""Presenting library and patient summaries: JSON-ready dicts and printable, self-contained HTML pages.

Two views of a condition's evidence: the patient page (plain words, no statistical abbreviations, no
practitioner sources; `render_html`) and the clinician page (the numbers, GRADE reasons, every source with
practitioner opinion labelled; `render_clinician_html`). Each page shows the reading grade measured on its
own visible text. Pure functions (no files written): the CLI prints their output, the web app serves it.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from strigil.evidence.effect_sizes import StudyEffect
from strigil.evidence.library import Library
from strigil.evidence.patient_summary import NO_NUMBERS_CERTAINTY, SMALL_STUDY, PatientSummary
from strigil.evidence.patient_text import Sentence
from strigil.evidence.pooling import OutcomeSummary
from strigil.evidence.reading_level import measured_page, reading_grade
from strigil.evidence.records import PublishedFigure, Study

__all__ = [
    "GRADE_RULES_NOTE",
    "HEURISTICS",
    "effect_json",
    "patient_fragment",
    "render_clinician_html",
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
    f"a condition whose trials give no usable between-group numbers is rated {NO_NUMBERS_CERTAINTY} overall "
    "(configurable heuristic)",
)
_NOT_REPRODUCED = (
    "not reproduced: the review's study-level data are not available to us, so our studies cannot "
    "recompute this figure"
)


def study_json(study: Study, library: Library | None = None, full: bool = False) -> dict[str, Any]:
    """A study as a JSON object: the contract keys (id, citation, condition, design, source) and more."""
    out: dict[str, Any] = {
        "id": study.id,
        "citation": study.citation,
        "condition": study.condition,
        "design": study.design,
        "source": study.source,
        "address": study.address,
        "practitioner_opinion": study.practitioner,
        "year": study.year,
        "population": study.population,
        "origin": study.origin,
        "pedro": study.pedro,
        "n": study.total_n,
        "flags": len(study.flags),
    }
    if not full:
        return out
    # read_in and the rows' source_address are the copies the text was read in: never shown
    out.update(study.model_dump(mode="json", exclude={"rows", "flags", "arms", "dose", "read_in"}))
    out["arms"] = [a.model_dump(mode="json") for a in study.arms]
    out["dose_tidier"] = study.dose.model_dump(mode="json") if study.dose else None
    out["flags"] = [f.model_dump(mode="json") for f in study.flags]
    out["printed_rows"] = [
        r.model_dump(mode="json", exclude={"source_address", "where_in_source"}) for r in study.rows
    ]
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
    surname = study.citation.split(",")[0].split(" ")[0].rstrip(".")
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
    """Every source the summary cites, in order of first citation (the clinician view lists them all)."""
    out = [
        {
            "id": s.id,
            "citation": s.citation,
            "source": s.source,
            "address": s.address,
            "practitioner_opinion": s.practitioner,
        }
        for s in summary.sources
    ]
    claim = f"catalog:{summary.condition.code}"
    if any(claim in s.sources for sec in summary.sections for s in sec.sentences):
        # a clinic's claim for a condition no study tested: the catalogue cites the clinic's page (⚠️)
        out.append(
            {
                "id": claim,
                "citation": summary.condition.source,
                "source": "",
                "address": None,
                "practitioner_opinion": summary.condition.evidence == "claimed",
            }
        )
    return out


def summary_json(summary: PatientSummary, library: Library) -> dict[str, Any]:
    """The summary as its JSON contract (condition, outcomes, published, unknowns, ...).

    `reading_grade` is the grade of the whole rendered patient page; `reading_grade_clinician` the
    clinician page's; `reading_grade_text` the patient sentences' alone.
    """
    _, patient_grade = _patient_page(summary, library)
    _, clinician_grade = _clinician_page(summary, library)
    return {
        **_summary_data(summary, library),
        "reading_grade": patient_grade,
        "reading_grade_clinician": clinician_grade,
    }


def _summary_data(summary: PatientSummary, library: Library) -> dict[str, Any]:
    sources = _source_list(summary)
    return {
        "condition": summary.condition.code,
        "condition_name": summary.condition.name,
        "plain_name": summary.plain_name,
        "studied": bool(summary.studies),
        "claimed_only": summary.condition.evidence == "claimed" and not summary.studies,
        "certainty": summary.certainty,
        "trials": len(summary.studies),
        "participants": summary.participants,
        "trials_of_unknown_size": summary.unknown_size,
        "bruise_days": summary.bruise_days,
        "outcomes": [_outcome_json(o) for o in summary.outcomes],
        "published": [_published_json(f, library) for f in summary.published],
        "unknowns": [_sentence_json(s) for s in summary.section("unknowns").sentences],
        "expectations": [_sentence_json(s) for s in summary.section("expectations").sentences],
        "reading_grade_text": round(summary.reading_grade, 2),
        "sources": sources,
        "patient_sources": [s for s in sources if not s["practitioner_opinion"]],
        "studies": list(summary.studies),
        "not_usable": [_unusable_json(e) for e in summary.unusable],
        "heuristics": [*HEURISTICS, _bruise_heuristic(summary)],
        "sections": [
            {"key": sec.key, "heading": sec.heading, "sentences": [_sentence_json(s) for s in sec.sentences]}
            for sec in summary.sections
        ],
    }


def _bruise_heuristic(summary: PatientSummary) -> str:
    return (
        f"a bruise lasting more than {summary.bruise_days:g} days is to be reported: configurable heuristic "
        "(the founding article says bruising typically resolves in a few days; the same window as the "
        "decision aid's adverse-response rules)"
    )


_ENV = Environment(
    loader=PackageLoader("strigil.evidence", "data"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def patient_fragment(summary: PatientSummary, library: Library, level: int = 2) -> Markup:
    """The patient text as an HTML fragment (sections, numbered sources without practitioner opinion).

    The one markup of the patient summary: the standalone page and the web app's printable summary embed it.
    `level` is the heading level of the section headings.
    """
    data = _summary_data(summary, library)
    numbers = {src["id"]: i for i, src in enumerate(data["patient_sources"], 1)}
    html = _ENV.get_template("patient_evidence.html").render(s=data, numbers=numbers, level=level)
    return Markup(html)


def _patient_page(summary: PatientSummary, library: Library) -> tuple[str, float]:
    fragment = patient_fragment(summary, library)
    template = _ENV.get_template("summary.html")
    return measured_page(
        lambda grade: template.render(plain_name=summary.plain_name, body=fragment, grade=grade),
        reading_grade(summary.text),
    )


def _clinician_page(summary: PatientSummary, library: Library) -> tuple[str, float]:
    data = _summary_data(summary, library)
    numbers = {src["id"]: i for i, src in enumerate(data["sources"], 1)}
    template = _ENV.get_template("summary_clinician.html")
    return measured_page(lambda grade: template.render(s=data, numbers=numbers, grade=grade))


def render_html(summary: PatientSummary, library: Library) -> str:
    """The printable patient page (inline CSS, no scripts): plain words, its own reading grade."""
    return _patient_page(summary, library)[0]


def render_clinician_html(summary: PatientSummary, library: Library) -> str:
    """The clinician page: the numbers, GRADE reasons, every source (practitioner opinion labelled)."""
    return _clinician_page(summary, library)[0]


def render_library_html(library: Library) -> str:
    """A printable, self-contained HTML table of every study: citation, flags, arms, PEDro, dose, address."""
    studies = [
        {
            **s.model_dump(mode="json", exclude={"rows", "dose", "read_in"}),
            "dose": s.dose.model_dump(mode="json") if s.dose else None,
        }
        for s in library.studies.values()
    ]
    return _ENV.get_template("library.html").render(studies=studies)
