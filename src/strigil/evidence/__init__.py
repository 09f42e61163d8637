"""strigil.evidence — the IASTM study library, GRADE certainty and plain-language patient summaries.

`load_library()` gives every review and trial with its printed numbers and flags; `study_effects()` the
between-group effect sizes (via strigil.meta); `summarise_condition()` the condition × outcome summaries
with GRADE certainty (`rate()`); `build_summary()` the patient summary, shown by `summary_json()` and
`render_html()` (the patient page) and `render_clinician_html()` (the numbers); `compare_libraries()` says
what an import changed. Every study is cited from the one bibliography (`strigil.catalog.load_bibliography`).
"""

from strigil.evidence.changes import LibraryChanges, compare_libraries
from strigil.evidence.effect_sizes import StudyEffect, study_effects
from strigil.evidence.grade import Grade, GradeInputs, GradeRules, rate
from strigil.evidence.library import Library, LibraryError, load_library
from strigil.evidence.patient_summary import PatientSummary, build_summary, condition_codes, condition_info
from strigil.evidence.pooling import OutcomeSummary, pool_effects, summarise_condition
from strigil.evidence.reading_level import page_grade, reading_grade
from strigil.evidence.records import Study
from strigil.evidence.render import (
    render_clinician_html,
    render_html,
    render_library_html,
    study_json,
    summary_json,
)
from strigil.evidence.seffrin import seffrin_checks, seffrin_interval
from strigil.evidence.user_studies import UserStudyError, parse_user_studies

__all__ = [
    "Grade",
    "GradeInputs",
    "GradeRules",
    "Library",
    "LibraryChanges",
    "LibraryError",
    "OutcomeSummary",
    "PatientSummary",
    "Study",
    "StudyEffect",
    "UserStudyError",
    "build_summary",
    "compare_libraries",
    "condition_codes",
    "condition_info",
    "load_library",
    "page_grade",
    "parse_user_studies",
    "pool_effects",
    "rate",
    "reading_grade",
    "render_clinician_html",
    "render_html",
    "render_library_html",
    "seffrin_checks",
    "seffrin_interval",
    "study_effects",
    "study_json",
    "summarise_condition",
    "summary_json",
]
