"""Bounds on numbers in URLs: ids beyond what the database holds are refused as bad input (422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

__all__ = ["MAX_ID", "MAX_PAGE", "Id", "Page"]

# Ids are INTEGER columns: 32-bit on PostgreSQL, so the portable upper bound is 2**31 - 1.
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a record id")]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
