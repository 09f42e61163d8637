"""The FastAPI application: JSON API under /api/v1, HTML pages, static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from strigil.services.accounts import AccountError, AccountNotFound
from strigil.services.errors import NotFound, RecordError, Refused
from strigil.settings import Settings
from strigil.web.pages import render_error
from strigil.web.security import NotSignedIn

__all__ = ["API_PREFIX", "create_app", "iter_routes"]

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parent / "static"


class Problem(BaseModel):
    """Every error answer: a sentence, or a list of {field, message[, value]} for bad input."""

    detail: str | list[dict[str, Any]]


# Published for every API operation so that clients (and the schema-driven tests) know every answer's shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "not signed in, or the API token is unknown/revoked/expired"},
    403: {"model": Problem, "description": "this role or token scope may not do this (or CSRF token wrong)"},
    404: {"model": Problem, "description": "no such record in your clinic"},
    409: {"model": Problem, "description": "refused: the record's state does not allow this"},
    422: {"model": Problem, "description": "invalid input: each problem names the field and what is allowed"},
    503: {"model": Problem, "description": "the database is unavailable or full; nothing was written"},
}


def _database_problem(exc: OperationalError) -> str:
    text = str(exc.orig).lower()
    if "full" in text:
        return "the database is full (no space left); nothing was written — free space, then retry"
    if "readonly" in text or "read-only" in text:
        return "the database is read-only; nothing was written — ask the administrator"
    if "locked" in text:
        return "the database is busy; nothing was written — retry in a moment"
    return "the database is unavailable; nothing was written — retry in a moment"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or "application/json" in request.headers.get("accept", "")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "sign in first (cookie or 'Authorization: Bearer' token)"}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(AccountError)
    async def account_error(request: Request, exc: AccountError) -> Response:
        status = 404 if isinstance(exc, AccountNotFound) else 422
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status)
        return render_error(request, status, str(exc))

    @app.exception_handler(RecordError)
    async def record_error(request: Request, exc: RecordError) -> Response:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Refused) else 422
        problems = getattr(exc, "problems", None)
        if _wants_json(request):
            detail: object = (
                [{"field": p.field, "value": p.value, "message": p.message} for p in problems]
                if problems
                else str(exc)
            )
            return JSONResponse(jsonable_encoder({"detail": detail}), status)
        return render_error(request, status, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        return render_error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "message": e["msg"]}
            for e in exc.errors()
        ]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, 422)
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return render_error(request, 422, text)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> Response:
        # An id or number beyond what the database column holds (2**63 in a path) is bad input, not a crash.
        message = "a number in the request is out of range for the database (ids are at most 2147483647)"
        if _wants_json(request):
            return JSONResponse({"detail": message}, 422)
        return render_error(request, 422, message)

    @app.exception_handler(IntegrityError)
    async def conflict(request: Request, exc: IntegrityError) -> Response:
        # Two writes raced for the same unique slot (e.g. two sessions of one episode at once): the
        # transaction was rolled back whole, so the honest answer is "conflict, retry", not a crash.
        message = "another change to the same record happened at the same moment; nothing was written — retry"
        if _wants_json(request):
            return JSONResponse({"detail": message}, 409)
        return render_error(request, 409, message)

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> Response:
        # A clear, retryable answer instead of a 500 while the database restarts, is full or read-only.
        message = _database_problem(exc)
        if _wants_json(request):
            return JSONResponse({"detail": message}, 503, headers={"Retry-After": "5"})
        return render_error(request, 503, message)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the web application over the settings' database (or the given engine)."""
    from sqlalchemy.orm import sessionmaker

    from strigil.store.database import make_engine
    from strigil.web import routes

    settings = settings or Settings()
    url = settings.resolved_database_url()
    # Threads of the server share the pool; SQLite in WAL lets readers run beside one writer.
    engine = engine or make_engine(url, pool_size=20, max_overflow=20)
    app = FastAPI(
        title="Strigil",
        summary="Evidence-based IASTM: clinical record, decision support, meta-analysis.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routes.ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'",
        )
        if request.url.path.startswith(API_PREFIX) or request.url.path.startswith(("/patients", "/episodes")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def iter_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """Every (method, path, route) the app serves through its routers, flattened (for tests and docs)."""
    found: list[tuple[str, str, APIRoute]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, _IncludedRouter):
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute):
                found.extend((method, prefix + route.path, route) for method in sorted(route.methods or ()))

    walk(list(app.routes), "")
    return found
