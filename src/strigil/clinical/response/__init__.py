"""The test–treat–retest response model: is IASTM helping this patient, and what to do next.

- `settings`: the clinic's settings and the nearest source of every default (configurable heuristics);
- `thresholds`: the one threshold rule, `change_bar` — the larger of the MDC and the MCID for the episode's
  condition — used by every view (decision aid, episode page, command line, registry, discharge summary);
- `changes`: within- and between-session changes (gains counted pre-test to pre-test) and plateaus;
- `rules`: the recommendation cascade refer < switch < modify < continue < progress < discharge;
- `document`: the JSON document of `strigil respond`, its input and its published output.

Every rule, threshold and default is explained for clinicians in docs/decision-support.md.
"""

from strigil.clinical.response.changes import Goal, MeasureResponse, SessionMeasurement
from strigil.clinical.response.document import (
    AdverseEntry,
    ContraindicationEntry,
    GoalEntry,
    MeasureEntry,
    RespondDocument,
    RespondOutput,
    SessionDateEntry,
    recommend_document,
    respond_schema,
)
from strigil.clinical.response.rules import (
    ADVICE,
    RECOMMENDATIONS,
    Reason,
    Recommendation,
    StandingContraindication,
    recommend,
    recommendation_rank,
)
from strigil.clinical.response.settings import ResponseSettings
from strigil.clinical.response.thresholds import ChangeBar, ChosenThreshold, change_bar

__all__ = [
    "ADVICE",
    "RECOMMENDATIONS",
    "AdverseEntry",
    "ChangeBar",
    "ChosenThreshold",
    "ContraindicationEntry",
    "Goal",
    "GoalEntry",
    "MeasureEntry",
    "MeasureResponse",
    "Reason",
    "Recommendation",
    "RespondDocument",
    "RespondOutput",
    "ResponseSettings",
    "SessionDateEntry",
    "SessionMeasurement",
    "StandingContraindication",
    "change_bar",
    "recommend",
    "recommend_document",
    "recommendation_rank",
    "respond_schema",
]
