"""Bounds on what a client puts in URLs and form fields: ids beyond what the database holds, and text longer
than its field's limit (`strigil.clinical.limits`), are refused as bad input (422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query

from strigil.clinical.limits import CODE_CHARS, LABEL_CHARS, LIST_ITEMS, REASON_CHARS, SEARCH_CHARS

# The limits are re-exported for the routes, which reach the core only through services and this module.
__all__ = [
    "CODE_CHARS",
    "LABEL_CHARS",
    "LIST_ITEMS",
    "MAX_ID",
    "MAX_PAGE",
    "QUERY_LIST_CHARS",
    "REASON_CHARS",
    "SEARCH_CHARS",
    "FormChoice",
    "FormLabel",
    "Id",
    "Page",
    "PatientCode",
    "Search",
]

# Ids are INTEGER columns: 32-bit on PostgreSQL, so the portable upper bound is 2**31 - 1.
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000
# A query parameter that lists several values (FHIR `_type`: every resource type fits).
QUERY_LIST_CHARS = 4096

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a record id")]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
PatientCode = Annotated[str, Path(max_length=CODE_CHARS, description="the patient's code")]
Search = Annotated[str, Query(max_length=SEARCH_CHARS)]
FormChoice = Annotated[str, Form(max_length=CODE_CHARS)]  # a choice or a unit
FormLabel = Annotated[str, Form(max_length=LABEL_CHARS)]  # a column name or a group label
