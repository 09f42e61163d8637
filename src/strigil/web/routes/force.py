"""The measured-dose page: upload a force recording, see its strokes, their force and your target.

Thin: the file is read and analysed by `strigil.services.force_recordings` (the path `strigil force analyse`
takes); the page shows the trace, the per-stroke chart, the numbers and the published context.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from strigil.force import (
    FORCE_UNITS,
    TIME_UNITS,
    RecordingError,
    SettingsError,
    TargetError,
    describe_settings,
    settings_from_pairs,
    stroke_chart,
    trace_plot,
)
from strigil.services.force_recordings import (
    MAX_UPLOAD_BYTES,
    RecordingAnalysis,
    Units,
    analyse_recording,
    choose_target,
    measured_force_summary,
)
from strigil.web.api_errors import FormChoice
from strigil.web.database import UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.routes.analysis import Analyst
from strigil.web.security import Principal

__all__ = ["ForceForm", "api", "force_analyse", "force_page", "force_page_analyse", "pages"]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["force"], route_class=UnitOfWorkRoute)
_PROBLEMS = (RecordingError, SettingsError, TargetError)


class ForceForm:
    """The form's fields as the page shows them again (text as typed), and what they mean for the analysis."""

    def __init__(self, form: dict[str, str]) -> None:
        self.values = form

    def get(self, name: str) -> str:
        """The field as typed ('' when absent)."""
        return self.values.get(name, "")

    def _number(self, name: str, label: str) -> float | None:
        text = self.get(name).strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise TargetError(f"{label}: {text!r} is not a number") from None

    def units(self) -> Units:
        """Units the user stated (blank: the file must say)."""
        return Units(force=self.get("unit") or None, time=self.get("time_unit") or None)

    def settings_pairs(self) -> dict[str, str]:
        """Settings changed from their defaults (blank fields keep the default)."""
        return {
            row["name"]: self.get(f"set-{row['name']}").strip()
            for row in describe_settings()
            if self.get(f"set-{row['name']}").strip()
        }

    def analyse(self, data: bytes, filename: str) -> RecordingAnalysis:
        """Analyse the uploaded bytes with the form's units, settings and target."""
        settings = settings_from_pairs(self.settings_pairs())
        kind = self.get("target") or "none"
        target = None
        if kind == "band":
            target = choose_target(
                self.get("metric") or "peak",
                low_n=self._number("low", "target low"),
                high_n=self._number("high", "target high"),
            )
            if target is None:
                raise TargetError("target: give the low and the high force of your band")
        elif kind == "around":
            around = self._number("around", "target force")
            if around is None:
                raise TargetError("target force: give the force you aim for")
            target = choose_target(
                self.get("metric") or "peak",
                around_n=around,
                tolerance_pct=self._number("tolerance", "tolerance"),
            )
        return analyse_recording(data, filename, units=self.units(), settings=settings, target=target)


async def _bytes(upload: UploadFile) -> bytes:
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise RecordingError(
            f"file: larger than {MAX_UPLOAD_BYTES // 1_000_000} MB; analyse it with `strigil force`"
        )
    if not data:
        raise RecordingError("file: the upload is empty")
    return data


def _pictures(result: RecordingAnalysis) -> dict[str, str]:
    target = result.feedback.target if result.feedback else None
    return {
        "trace_svg": trace_plot(result.analysis, target).svg(),
        "chart_svg": stroke_chart(result.analysis, target).svg(),
    }


def _summary_text(result: RecordingAnalysis) -> str:
    summary = measured_force_summary(result.analysis)
    return "" if summary is None else json.dumps({"measured_force": summary.model_dump()}, indent=1)


async def _run(upload: UploadFile, form: ForceForm) -> tuple[RecordingAnalysis, dict[str, str]]:
    data = await _bytes(upload)
    name = upload.filename or "upload.csv"

    def work() -> tuple[RecordingAnalysis, dict[str, str]]:
        result = form.analyse(data, name)
        return result, _pictures(result)

    # Reading, filtering and drawing take up to seconds on long recordings: off the event loop.
    return await run_in_threadpool(work)


def _page(request: Request, principal: Principal, form: ForceForm, **context: Any) -> Response:
    return render(
        request,
        "force.html",
        principal,
        form=form,
        settings=describe_settings(),
        force_units=list(FORCE_UNITS),
        time_units=list(TIME_UNITS),
        **context,
    )


@pages.get("/force")
def force_page(request: Request, principal: Analyst) -> Response:
    """The measured-dose page: the upload form."""
    return _page(request, principal, ForceForm({}), result=None, error=None)


@pages.post("/force")
async def force_page_analyse(
    request: Request,
    principal: Analyst,
    file: Annotated[UploadFile, File()],
) -> Response:
    """Analyse the uploaded recording and show the strokes, their force and the target (or what is wrong)."""
    raw = await request.form()
    form = ForceForm({k: v for k, v in raw.items() if isinstance(v, str)})
    try:
        result, pictures = await _run(file, form)
    except _PROBLEMS as exc:
        return _page(request, principal, form, status_code=422, result=None, error=str(exc))
    return _page(
        request,
        principal,
        form,
        result=result,
        error=None,
        filename=file.filename,
        measured_force=_summary_text(result),
        **pictures,
    )


@api.post("/force/analyse")
async def force_analyse(
    request: Request,
    principal: Analyst,
    file: Annotated[UploadFile, File(description="CSV or Parquet recording: time and normal force columns")],
    unit: FormChoice = "",
    time_unit: FormChoice = "",
) -> dict[str, Any]:
    """Analyse a recording: the numbers of `strigil force analyse --json`, plus the two pictures as SVG.

    Further form fields as on the page: `target` (none, band, around) with `low`, `high`, `around`,
    `tolerance`, `metric`; `set-NAME` for any setting.
    """
    raw = await request.form()
    form = ForceForm(
        {k: v for k, v in raw.items() if isinstance(v, str)} | {"unit": unit, "time_unit": time_unit}
    )
    try:
        result, pictures = await _run(file, form)
    except _PROBLEMS as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return {**result.to_json(), **pictures}
