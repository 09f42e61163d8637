"""Errors on the FHIR routes speak FHIR: every 4xx/5xx under `/api/v1/fhir` is an OperationOutcome
(`application/fhir+json`), whichever layer answers it — the route, the framework (404, 405, 422), the security
layer (401, 403) or the body limits (413, 408). The rest of the API keeps its `{"detail": …}` JSON.

The one place that decides, by path prefix, and builds the answer; `web.app`'s handlers and
`web.limits.RequestBody` call it (Bulk Data IG: a 4XX/5XX body SHOULD be an OperationOutcome).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from strigil.interop.bundle import operation_outcome

__all__ = [
    "FHIR_JSON",
    "FHIR_PREFIX",
    "OUTCOME_RESPONSES",
    "is_fhir_path",
    "not_found",
    "outcome_body",
    "outcome_response",
]

FHIR_PREFIX = "/api/v1/fhir"
FHIR_JSON = "application/fhir+json"

# FHIR's IssueType codes (https://hl7.org/fhir/R4/valueset-issue-type.html) for the HTTP statuses answered.
_ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    408: "timeout",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    501: "not-supported",
    503: "transient",
}

_OUTCOME = {"description": "an OperationOutcome saying what is wrong", "content": {FHIR_JSON: {}}}
# Published for the FHIR routes in place of the API's `{"detail": …}` error answers.
OUTCOME_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: dict(_OUTCOME) for status in (400, 401, 403, 404, 405, 409, 413, 422, 503)
}


def is_fhir_path(path: str) -> bool:
    """True for a path on the FHIR routes (`/api/v1/fhir` and below)."""
    return path == FHIR_PREFIX or path.startswith(FHIR_PREFIX + "/")


# A Group-level kick-off (Bulk Data IG: GET [base]/Group/[id]/$export) finds no route: there are no Groups.
_GROUP_EXPORT = re.compile(rf"^{re.escape(FHIR_PREFIX)}/Group/[^/]+/\$export$")


def not_found(path: str) -> str:
    """What a 404 from the router says on a FHIR path: why a Group export is not there, else "Not Found"."""
    if _GROUP_EXPORT.match(path):
        return (
            "a Group-level export is not supported: Strigil keeps no FHIR Groups; export the whole clinic "
            f"(GET {FHIR_PREFIX}/$export) or all its patients (GET {FHIR_PREFIX}/Patient/$export)"
        )
    return "Not Found"


def _issues(detail: Any) -> list[tuple[str, str]]:
    """(where, message) pairs from an error's detail: a sentence, or the API's list of field problems."""
    if isinstance(detail, list) and detail:
        found = []
        for item in detail:
            if isinstance(item, Mapping) and item.get("field"):
                where = str(item["field"])
                found.append((where, f"{where}: {item.get('message', '')}"))
            else:
                found.append(("", str(item.get("message", item) if isinstance(item, Mapping) else item)))
        return found
    return [("", str(detail))]


def outcome_body(status: int, detail: Any) -> dict[str, Any]:
    """The OperationOutcome for an error answer with this status and detail."""
    code = _ISSUE_CODE.get(status, "exception" if status >= 500 else "processing")
    return operation_outcome(_issues(detail), severity="error", code=code)


def outcome_response(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error answer on a FHIR route: the OperationOutcome as `application/fhir+json`."""
    return JSONResponse(
        outcome_body(status, detail), status, headers=dict(headers or {}), media_type=FHIR_JSON
    )
