"""Research pages: the meta-analysis page (upload a CSV, choose the method, forest plot and numbers) and the
clinic's outcome aggregates for researchers (groups of at least five patients only)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response

from strigil.services import audit as audit_service
from strigil.services.clinic_outcomes import MIN_GROUP, clinic_outcomes
from strigil.services.meta_analysis import MEASURES, METHODS, STRUCTS, TESTS, MetaInputError, fit_csv
from strigil.web.api_errors import LABEL_CHARS, FormChoice, FormLabel
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.security import Principal, allow

__all__ = [
    "Analyst",
    "api",
    "meta_fit",
    "meta_page",
    "meta_page_fit",
    "pages",
    "research_outcomes",
    "research_page",
]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["analysis"], route_class=UnitOfWorkRoute)
Analyst = Annotated[Principal, allow("clinician", "researcher")]


async def _text(upload: UploadFile) -> str:
    raw = await upload.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MetaInputError("file: is not UTF-8 text; save the table as CSV (UTF-8)") from None


@api.post("/meta/fit")
async def meta_fit(
    principal: Analyst,
    file: Annotated[UploadFile, File(description="CSV, one row per study (yi,vi or metafor's columns)")],
    measure: FormChoice = "given",
    method: FormChoice = "REML",
    test: FormChoice = "z",
    trial: Annotated[
        str,
        Form(max_length=LABEL_CHARS, description="column naming each row's trial (several effects a trial)"),
    ] = "",
    outcome: Annotated[
        str,
        Form(max_length=LABEL_CHARS, description="column naming each row's outcome (correlated outcomes)"),
    ] = "",
    struct: FormChoice = "CS",
    rho: Annotated[
        str, Form(max_length=LABEL_CHARS, description="assumed correlation of sampling errors within a trial")
    ] = "",
    robust: Annotated[bool, Form(description="cluster-robust (CR2) tests by trial")] = False,
) -> dict[str, Any]:
    """Fit a meta-analysis to an uploaded CSV: numbers as `strigil meta fit --json`, plus the forest SVG
    (empty for a model of several effects per trial)."""
    try:
        fit = fit_csv(await _text(file), measure=measure, method=method, test=test, trial=trial,
                      outcome=outcome, struct=struct, rho=rho, robust=robust)
    except MetaInputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return {**fit.result, "left_out": fit.left_out, "forest_svg": fit.forest_svg}


@pages.get("/meta")
def meta_page(request: Request, principal: Analyst) -> Response:
    """The meta-analysis page."""
    return render(
        request,
        "meta.html",
        principal,
        fit=None,
        error=None,
        measures=MEASURES,
        methods=METHODS,
        tests=TESTS,
        structs=STRUCTS,
        chosen={"measure": "given", "method": "REML", "test": "z", "trial": "", "outcome": "", "struct": "CS",
                "rho": "", "robust": False},
    )


@pages.post("/meta")
async def meta_page_fit(
    request: Request,
    principal: Analyst,
    file: Annotated[UploadFile, File()],
    measure: FormChoice = "given",
    method: FormChoice = "REML",
    test: FormChoice = "z",
    trial: FormLabel = "",
    outcome: FormLabel = "",
    struct: FormChoice = "CS",
    rho: FormLabel = "",
    robust: Annotated[bool, Form()] = False,
) -> Response:
    """Fit the uploaded file and show the forest plot and numbers (or say what is wrong with the file)."""
    chosen = {"measure": measure, "method": method, "test": test, "trial": trial, "outcome": outcome,
              "struct": struct, "rho": rho, "robust": robust}
    try:
        fit = fit_csv(await _text(file), measure=measure, method=method, test=test, trial=trial,
                      outcome=outcome, struct=struct, rho=rho, robust=robust)
    except MetaInputError as exc:
        return render(
            request,
            "meta.html",
            principal,
            status_code=422,
            fit=None,
            error=str(exc),
            measures=MEASURES,
            methods=METHODS,
            tests=TESTS,
            structs=STRUCTS,
            chosen=chosen,
        )
    return render(
        request,
        "meta.html",
        principal,
        fit=fit,
        error=None,
        measures=MEASURES,
        methods=METHODS,
        tests=TESTS,
        structs=STRUCTS,
        chosen=chosen,
        filename=file.filename,
    )


@api.get("/research/outcomes")
def research_outcomes(db: DB, principal: Annotated[Principal, allow("researcher")]) -> dict[str, Any]:
    """Outcomes by condition and measure in my clinic, only for groups of at least five patients."""
    view = clinic_outcomes(db, principal.clinic_id)
    audit_service.record(db, principal.actor, "read", "aggregate", "outcomes")
    return {
        "min_group": MIN_GROUP,
        "withheld": view.withheld,
        "groups": [dataclasses.asdict(g) for g in view.groups],
    }


@pages.get("/research")
def research_page(request: Request, db: DB, principal: Annotated[Principal, allow("researcher")]) -> Response:
    """The clinic's outcomes for researchers."""
    view = clinic_outcomes(db, principal.clinic_id)
    audit_service.record(db, principal.actor, "read", "aggregate", "outcomes")
    return render(request, "research.html", principal, view=view, min_group=MIN_GROUP)
