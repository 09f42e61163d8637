"""Rendering HTML pages: one Jinja2 environment, the signed-in person and the CSRF token in every page."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from strigil.clinical.vocabulary import display_name
from strigil.web.body_chart import body_chart_svg
from strigil.web.session_form import field_label

__all__ = ["TEMPLATES", "render", "render_error", "render_measured"]

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _pager_query(params: Any, page: int) -> str:
    """The current query string with another page number (filters kept)."""
    items = [(k, v) for k, v in params.multi_items() if k != "page"] + [("page", str(page))]
    return urlencode(items)


def _number(value: Any, places: int = 3) -> str:
    """A number with fixed decimals for a results table; a dash where the model gives none (None, NaN)."""
    if value is None or isinstance(value, str):
        return "—" if value is None else value
    number = float(value)
    return "—" if math.isnan(number) else f"{number:.{places}f}"


TEMPLATES.env.filters["pager_query"] = _pager_query
TEMPLATES.env.filters["num"] = _number
TEMPLATES.env.filters["words"] = display_name
TEMPLATES.env.filters["field_label"] = field_label
TEMPLATES.env.globals["body_chart"] = body_chart_svg


def render(
    request: Request, name: str, principal: Any = None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render a template with the principal (or None) and its CSRF token."""
    csrf = getattr(principal, "csrf_token", "") if principal is not None else ""
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {"principal": principal, "csrf_token": csrf, **context},
        status_code=status_code,
    )


def render_measured(
    request: Request, name: str, principal: Any = None, **context: Any
) -> HTMLResponse:
    """Render a page that shows its own reading grade (`reading_grade` in the template), measured on the
    page's visible text (strigil.evidence.reading_level)."""
    from strigil.evidence.reading_level import measured_page

    csrf = getattr(principal, "csrf_token", "") if principal is not None else ""
    template = TEMPLATES.env.get_template(name)
    base = {"request": request, "principal": principal, "csrf_token": csrf, **context}
    html, _ = measured_page(lambda grade: template.render({**base, "reading_grade": grade}))
    return HTMLResponse(html)


_TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    408: "The request took too long",
    413: "Too large",
    422: "Please check the form",
    429: "Too many attempts",
}


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    """A plain error page that says what went wrong and how to go on."""
    return render(
        request,
        "error.html",
        None,
        status_code=status_code,
        title=_TITLES.get(status_code, "Something went wrong"),
        message=message,
    )
