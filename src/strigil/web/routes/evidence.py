"""The evidence library in the browser: every study with its citation, and each condition's clinician page
(the numbers and every source) or patient page (plain words), as the core renders them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from strigil.catalog import UnknownCode
from strigil.services.patient_summary import EVIDENCE_VIEWS, evidence_page
from strigil.web.database import UnitOfWorkRoute
from strigil.web.security import Principal, allow

__all__ = ["Reader", "evidence", "pages"]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
Reader = Annotated[Principal, allow("clinician", "researcher")]


@pages.get("/evidence", response_class=HTMLResponse)
def evidence(
    principal: Reader,
    condition: Annotated[str | None, Query(description="A condition code; none: the whole library.")] = None,
    view: Annotated[
        str, Query(description="clinician (the numbers) or patient (plain words).")
    ] = "clinician",
) -> HTMLResponse:
    """The study library, or one condition's evidence page for clinicians or for patients (printable)."""
    if view not in EVIDENCE_VIEWS:
        raise HTTPException(
            status_code=422, detail=f"view: {view!r} is not allowed; use clinician or patient"
        )
    try:
        return HTMLResponse(evidence_page(condition or None, view))
    except UnknownCode as exc:
        raise HTTPException(status_code=422, detail=f"condition: {exc}") from None
