"""The meta-analysis page for 2×2 and count data: Mantel–Haenszel, Peto or a GLMM, with the forest
(RevMan layout), funnel, L'Abbé and bubble plots and the results to download."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import Response

from strigil.services.count_meta_analysis import MODELS, CountsReport, counts_report
from strigil.services.meta_analysis import MetaInputError
from strigil.web.api_errors import FormChoice, FormLabel
from strigil.web.database import UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.routes.analysis import Analyst, _text

__all__ = ["api", "counts_fit", "counts_page", "counts_page_fit", "pages"]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["analysis"], route_class=UnitOfWorkRoute)
_MEASURES = ("OR", "RR", "RD", "IRR", "IRD")
_DEFAULTS = {"model": "MH", "measure": "OR", "subgroup": "", "moderator": "", "group1": "Treatment",
             "group2": "Control"}


def _report(text: str, chosen: dict[str, str]) -> CountsReport:
    groups = (chosen["group1"].strip() or "Group 1", chosen["group2"].strip() or "Group 2")
    return counts_report(text, model=chosen["model"], measure=chosen["measure"],
                         subgroup=chosen["subgroup"].strip() or None,
                         moderator=chosen["moderator"].strip() or None, groups=groups)


def _download(text: str, media: str) -> str:
    """A data: address, so the browser saves the result without a second request or stored state."""
    return f"data:{media};base64,{base64.b64encode(text.encode()).decode()}"


def _page(request: Request, principal: Any, chosen: dict[str, str], report: CountsReport | None = None,
          error: str | None = None, filename: str | None = None) -> Response:
    downloads = None
    if report is not None:
        downloads = {"csv": _download(report.studies_csv, "text/csv"),
                     "json": _download(json.dumps(report.result, indent=2), "application/json")}
    return render(request, "meta_counts.html", principal, status_code=422 if error else 200, report=report,
                  error=error, models=MODELS, measures=_MEASURES, chosen=chosen, downloads=downloads,
                  filename=filename)


@pages.get("/meta/counts")
def counts_page(request: Request, principal: Analyst) -> Response:
    """The page for 2×2 and count data."""
    return _page(request, principal, dict(_DEFAULTS))


@pages.post("/meta/counts")
async def counts_page_fit(
    request: Request,
    principal: Analyst,
    file: Annotated[UploadFile, File()],
    model: FormChoice = "MH",
    measure: FormChoice = "OR",
    subgroup: FormLabel = "",
    moderator: FormLabel = "",
    group1: FormLabel = "Treatment",
    group2: FormLabel = "Control",
) -> Response:
    """Pool the uploaded tables and show the plots and numbers (or say what is wrong with the file)."""
    chosen = {"model": model, "measure": measure, "subgroup": subgroup, "moderator": moderator,
              "group1": group1, "group2": group2}
    try:
        report = _report(await _text(file), chosen)
    except MetaInputError as exc:
        return _page(request, principal, chosen, error=str(exc))
    return _page(request, principal, chosen, report, filename=file.filename)


@api.post("/meta/counts")
async def counts_fit(
    principal: Analyst,
    file: Annotated[UploadFile, File(description="CSV: ai, bi, ci, di (or ai, n1i, ci, n2i) or x1i, t1i, "
                                                 "x2i, t2i")],
    model: FormChoice = "MH",
    measure: FormChoice = "OR",
    subgroup: FormLabel = "",
    moderator: FormLabel = "",
) -> dict[str, Any]:
    """Pool 2×2 or person-time tables: numbers as `strigil meta counts --json`, plus the plots as SVG."""
    chosen = {**_DEFAULTS, "model": model, "measure": measure, "subgroup": subgroup, "moderator": moderator}
    try:
        report = _report(await _text(file), chosen)
    except MetaInputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return {**report.result, "forest_svg": report.forest_svg, "funnel_svg": report.funnel_svg,
            "labbe_svg": report.labbe_svg, "bubble_svg": report.bubble_svg, "studies_csv": report.studies_csv}
