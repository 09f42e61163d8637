"""The app's routers, in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from strigil.web.routes import (
    account,
    admin,
    analysis,
    audit,
    auth,
    discharge,
    evidence,
    fhir,
    force,
    handout_pages,
    home,
    meta_counts,
    notes,
    privacy,
    record_api,
    record_pages,
    session_pages,
)

__all__ = ["ROUTERS"]

ROUTERS: list[APIRouter] = [
    auth.router,
    home.pages,
    home.api,
    account.pages,
    account.api,
    admin.pages,
    admin.api,
    audit.pages,
    evidence.pages,
    audit.api,
    privacy.pages,
    privacy.api,
    record_pages.router,
    session_pages.router,
    handout_pages.router,
    record_api.router,
    notes.pages,
    notes.api,
    discharge.pages,
    discharge.api,
    analysis.pages,
    analysis.api,
    meta_counts.pages,
    meta_counts.api,
    force.pages,
    force.api,
    fhir.router,
]
