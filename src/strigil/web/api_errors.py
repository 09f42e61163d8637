"""The one shape of every JSON error, published in the OpenAPI document for each API route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["API_ERRORS", "ErrorBody", "Problem"]


class Problem(BaseModel):
    """One bad field: where, what is wrong (and allowed), and the value given when there is one."""

    field: str
    message: str
    value: Any = None


class ErrorBody(BaseModel):
    """An error: a sentence, or a list of field-level problems."""

    detail: str | list[Problem]


API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorBody,
        "description": "not signed in, or the API token is unknown, revoked or expired",
    },
    403: {
        "model": ErrorBody,
        "description": "the role or the token's scopes do not allow this, or CSRF failed",
    },
    404: {"model": ErrorBody, "description": "no such record in your clinic"},
    409: {
        "model": ErrorBody,
        "description": "the record refuses this (e.g. closed episode, exercise-first rule)",
    },
    422: {
        "model": ErrorBody,
        "description": "invalid input; each problem names the field and what is allowed",
    },
}
