"""The exact exchange without a network: the same requests and answers as files (e.g. sent by e-mail).

The analyst's side keeps every answer received. Each time answers arrive, the whole fit is replayed from the
start with those answers (the fit is deterministic, so it asks the same questions again); where it asks a
question no clinic has answered yet, the replay stops with that request, to be sent to the clinics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strigil.registry.exact_growth import ExactGrowthFit, GrowthModelSpec, fit_exact_growth

__all__ = ["AnswersNeeded", "replay_exact_growth"]


class AnswersNeeded(Exception):
    """The fit needs the clinics' answers to `request` (from the clinics in `missing`)."""

    def __init__(self, request: dict[str, Any], missing: Sequence[str]) -> None:
        super().__init__(
            f"request {request['id']} ({request['kind']}) awaits answers from {', '.join(missing)}"
        )
        self.request = request
        self.missing = tuple(missing)


def replay_exact_growth(
    spec: GrowthModelSpec, answers: Sequence[dict[str, Any]], expected_sites: Sequence[str]
) -> ExactGrowthFit:
    """Fit from the answers received so far, or raise `AnswersNeeded` with the next request to send."""
    if not expected_sites:
        raise ValueError("name the clinics expected to answer (at least one)")

    def ask(request: dict[str, Any]) -> list[dict[str, Any]]:
        got = {str(a.get("site")): a for a in answers if a.get("request") == request["id"]}
        errors = [a for a in got.values() if a.get("error")]
        if errors:
            return errors
        needed = list(expected_sites) if request["kind"] == "enrol" else list(request.get("sites", []))
        missing = [s for s in needed if s not in got]
        if missing:
            raise AnswersNeeded(request, missing)
        return [got[s] for s in needed]

    return fit_exact_growth(spec, ask)
