"""strigil.force — measured dose from instrument-force recordings (pure: arrays in, results out).

- `Recording.from_arrays` (recording): checks a recording and converts its stated units.
- `analyse` (analysis) with `clean`, `segment_strokes`, `stroke_doses`, `summarise`: tare, drift, hum and
  noise removed with stated `ForceSettings`; strokes found with hysteresis, gap merging and splitting at
  force minima; per-stroke peak and mean force, duration, impulse, rate, shear ratio and tool angle; per set
  and per session counts, totals and CVs.
- `reliability`, `icc`, `bland_altman` (reliability): ICC(2,1), ICC(3,1) and the other Shrout–Fleiss ICCs
  with intervals, SEM, Bland–Altman (checked against R's psych).
- `Target`, `target_from_earlier`, `give_feedback` (feedback) with `published_studies` (published): strokes
  against the clinician's own target, published forces as context with their sources and warning.
- `trace_plot`, `stroke_chart` (plots): the force trace with strokes, the per-stroke chart with the target.
- `generate_recording`, `match_strokes` (synthetic): synthetic recordings with known truth.
"""

from strigil.force.analysis import ForceAnalysis, analyse
from strigil.force.clean import CleanedSignal, clean
from strigil.force.dose import DoseSummary, StrokeTable, stroke_doses, summarise
from strigil.force.feedback import (
    DEFAULT_TOLERANCE_PCT,
    Feedback,
    Target,
    TargetError,
    give_feedback,
    target_from_earlier,
)
from strigil.force.plots import ForcePlot, stroke_chart, trace_plot
from strigil.force.published import PublishedFigure, PublishedStudy, published_studies, simulant_warning
from strigil.force.recording import FORCE_UNITS, TIME_UNITS, Recording, RecordingError, unit_factor
from strigil.force.reliability import (
    BlandAltman,
    Icc,
    Reliability,
    ReliabilityError,
    bland_altman,
    icc,
    reliability,
)
from strigil.force.segment import Segments, segment_strokes
from strigil.force.settings import (
    HEURISTIC,
    ForceSettings,
    SettingsError,
    describe_settings,
    settings_from_pairs,
)
from strigil.force.synthetic import (
    StrokeMatch,
    SyntheticRecording,
    SyntheticSpec,
    TrueStrokes,
    generate_recording,
    match_strokes,
)

__all__ = [
    "DEFAULT_TOLERANCE_PCT",
    "FORCE_UNITS",
    "HEURISTIC",
    "TIME_UNITS",
    "BlandAltman",
    "CleanedSignal",
    "DoseSummary",
    "Feedback",
    "ForceAnalysis",
    "ForcePlot",
    "ForceSettings",
    "Icc",
    "PublishedFigure",
    "PublishedStudy",
    "Recording",
    "RecordingError",
    "Reliability",
    "ReliabilityError",
    "Segments",
    "SettingsError",
    "StrokeMatch",
    "StrokeTable",
    "SyntheticRecording",
    "SyntheticSpec",
    "Target",
    "TargetError",
    "TrueStrokes",
    "analyse",
    "bland_altman",
    "clean",
    "describe_settings",
    "generate_recording",
    "give_feedback",
    "icc",
    "match_strokes",
    "published_studies",
    "reliability",
    "segment_strokes",
    "settings_from_pairs",
    "simulant_warning",
    "stroke_chart",
    "stroke_doses",
    "summarise",
    "target_from_earlier",
    "trace_plot",
    "unit_factor",
]
