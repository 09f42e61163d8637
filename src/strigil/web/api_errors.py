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
    "AccountRef",
    "AdverseRef",
    "EpisodeRef",
    "FormChoice",
    "FormLabel",
    "Id",
    "Page",
    "PatientCode",
    "PublicId",
    "Search",
    "SessionRef",
    "TokenRef",
]

# Ids are INTEGER columns: 32-bit on PostgreSQL, so the portable upper bound is 2**31 - 1.
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000
# A query parameter that lists several values (FHIR `_type`: every resource type fits).
QUERY_LIST_CHARS = 4096

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a record id")]
# A record's public id (strigil.services.record_ids resolves it; a malformed one is the same 404 as an unknown
# one, so the bound here only keeps a hostile URL short).
PublicId = Annotated[str, Path(max_length=64, description="a record's public id (32 lowercase hex digits)")]
# A route names its parameter after what it gets once resolved (`episode_id`, an integer inside the server);
# the URL keeps the segment's name (`{episode_id}`), which holds the public id.
EpisodeRef = Annotated[str, Path(alias="episode_id", max_length=64, description="the episode's public id")]
SessionRef = Annotated[str, Path(alias="session_id", max_length=64, description="the session's public id")]
AdverseRef = Annotated[
    str, Path(alias="adverse_id", max_length=64, description="the adverse response's public id")
]
AccountRef = Annotated[str, Path(alias="account_id", max_length=64, description="the account's public id")]
TokenRef = Annotated[str, Path(alias="token_id", max_length=64, description="the API token's public id")]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
PatientCode = Annotated[str, Path(max_length=CODE_CHARS, description="the patient's code")]
Search = Annotated[str, Query(max_length=SEARCH_CHARS)]
FormChoice = Annotated[str, Form(max_length=CODE_CHARS)]  # a choice or a unit
FormLabel = Annotated[str, Form(max_length=LABEL_CHARS)]  # a column name or a group label
