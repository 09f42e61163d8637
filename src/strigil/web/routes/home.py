"""The start page after sign-in (each role lands where its work is) and the health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import text

from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.security import Principal, allow

__all__ = [
    "Health",
    "api",
    "health",
    "home",
    "pages",
]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["health"], route_class=UnitOfWorkRoute)


class Health(BaseModel):
    """The server answers and its database too."""

    status: str


@api.get("/health", response_model=Health)
def health(db: DB) -> Health:
    """Liveness and database check (public: it reveals nothing about patients)."""
    db.execute(text("SELECT 1"))
    return Health(status="ok")


@pages.get("/")
def home(
    request: Request, db: DB, principal: Annotated[Principal, allow("admin", "clinician", "researcher")]
) -> Response:
    """Admins land on accounts, researchers on clinic outcomes, clinicians on today's dashboard."""
    if principal.role == "admin":
        return RedirectResponse("/admin/accounts", status_code=303)
    if principal.role == "researcher":
        return RedirectResponse("/research", status_code=303)
    from strigil.web.routes.record_pages import dashboard_page

    return dashboard_page(request, db, principal)
