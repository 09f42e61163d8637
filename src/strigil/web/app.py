"""The FastAPI application: JSON API under /api/v1, HTML pages, static files."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, InternalError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strigil.services.accounts import AccountError, AccountNotFound
from strigil.services.errors import NotFound, RecordError, Refused
from strigil.settings import Settings
from strigil.store.database import DatabaseFileProblem
from strigil.web.fhir_errors import is_fhir_path, not_found, outcome_response
from strigil.web.limits import RequestBody
from strigil.web.pages import render_error
from strigil.web.retry import install_read_retry
from strigil.web.security import NotSignedIn, PasswordChangeRequired, record_denial, trusted_proxies

__all__ = [
    "API_PREFIX",
    "ERROR_RESPONSES",
    "STATIC",
    "AdmissionGate",
    "AllowedHosts",
    "Problem",
    "ResponseHeaders",
    "create_app",
    "iter_routes",
]

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
    413: {"model": Problem, "description": "the request body is larger than this operation accepts"},
    422: {"model": Problem, "description": "invalid input: each problem names the field and what is allowed"},
    503: {"model": Problem, "description": "the database is unavailable or full; nothing was written"},
}


_READ_ONLY = (
    "the database is read-only; nothing was written — pages with patient data are refused too, "
    "because every read is recorded in the audit trail. Ask the administrator"
)


def _database_problem(exc: OperationalError) -> str:
    text = str(exc.orig).lower()
    if "full" in text:
        return "the database is full (no space left); nothing was written — free space, then retry"
    if "readonly" in text or "read-only" in text:
        return _READ_ONLY
    if "unable to open" in text:
        return (
            "the database file cannot be opened (missing, or its folder or its -wal/-shm files are not "
            "writable by the server); nothing was written — ask the administrator"
        )
    if "disk i/o" in text:
        return "the disk reported an input/output error; nothing was written — ask the administrator"
    if "locked" in text:
        return "the database is busy; nothing was written — retry in a moment"
    return "the database is unavailable; nothing was written — retry in a moment"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or "application/json" in request.headers.get("accept", "")


def _api_error(
    request: Request, status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> Response:
    """An error answer of the JSON API: `{"detail": …}`, or on the FHIR routes an OperationOutcome."""
    if is_fhir_path(request.url.path):
        return outcome_response(status, detail, headers)
    return JSONResponse(
        jsonable_encoder({"detail": detail}), status, headers=dict(headers) if headers else None
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if _wants_json(request):
            return _api_error(request, 401, "sign in first (cookie or 'Authorization: Bearer' token)")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def password_change_required(request: Request, exc: PasswordChangeRequired) -> Response:
        message = "change your temporary password first (on the account page, /account)"
        await record_denial(request, 403, message)
        if _wants_json(request):
            return _api_error(request, 403, message)
        return RedirectResponse("/account?must_change=1", status_code=303)

    @app.exception_handler(AccountError)
    async def account_error(request: Request, exc: AccountError) -> Response:
        status = 404 if isinstance(exc, AccountNotFound) else 422
        if status == 404:
            await record_denial(request, status, str(exc))
        if _wants_json(request):
            return _api_error(request, status, str(exc))
        return render_error(request, status, str(exc))

    @app.exception_handler(RecordError)
    async def record_error(request: Request, exc: RecordError) -> Response:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Refused) else 422
        if status == 404:
            await record_denial(request, status, str(exc))
        problems = getattr(exc, "problems", None)
        if _wants_json(request):
            detail: object = (
                [{"field": p.field, "value": p.value, "message": p.message} for p in problems]
                if problems
                else str(exc)
            )
            return _api_error(request, status, detail)
        return render_error(request, status, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code in (403, 404):
            await record_denial(request, exc.status_code, str(exc.detail))
        if _wants_json(request):
            return _api_error(request, exc.status_code, exc.detail, headers=exc.headers)
        return render_error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(StarletteHTTPException)
    async def framework_error(request: Request, exc: StarletteHTTPException) -> Response:
        # The router's own 404 (no such path) and 405 (method not allowed): FastAPI's answer, except on
        # the FHIR routes, where it is an OperationOutcome like every other error there.
        path = request.url.path
        if is_fhir_path(path):
            detail = not_found(path) if exc.status_code == 404 else exc.detail
            return outcome_response(exc.status_code, detail, exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # Starlette's own answer to a bug (the exception is still raised and logged after it is sent).
        if is_fhir_path(request.url.path):
            return outcome_response(
                500, "the server failed while answering (a fault, logged for the administrator)"
            )
        return PlainTextResponse("Internal Server Error", status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "message": e["msg"]}
            for e in exc.errors()
        ]
        if _wants_json(request):
            return _api_error(request, 422, errors)
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return render_error(request, 422, text)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> Response:
        # An id or number beyond what the database column holds (2**63 in a path) is bad input, not a crash.
        message = "a number in the request is out of range for the database (ids are at most 2147483647)"
        if _wants_json(request):
            return _api_error(request, 422, message)
        return render_error(request, 422, message)

    @app.exception_handler(IntegrityError)
    async def conflict(request: Request, exc: IntegrityError) -> Response:
        # Two writes raced for the same unique slot (e.g. two sessions of one episode at once): the
        # transaction was rolled back whole, so the honest answer is "conflict, retry", not a crash.
        message = "another change to the same record happened at the same moment; nothing was written — retry"
        if _wants_json(request):
            return _api_error(request, 409, message)
        return render_error(request, 409, message)

    @app.exception_handler(InternalError)
    async def read_only_server(request: Request, exc: InternalError) -> Response:
        # PostgreSQL refuses writes on a standby or with default_transaction_read_only (SQLSTATE 25006).
        if getattr(exc.orig, "sqlstate", None) != "25006":
            raise exc
        server = "the database server is read-only (a standby, or read-only by setting)"
        message = _READ_ONLY.replace("the database is read-only", server)
        if _wants_json(request):
            return _api_error(request, 503, message)
        return render_error(request, 503, message)

    @app.exception_handler(DatabaseFileProblem)
    async def database_files(request: Request, exc: DatabaseFileProblem) -> Response:
        # Not transient: no Retry-After, and the read-retry does not run it again.
        if _wants_json(request):
            return _api_error(request, 503, str(exc))
        return render_error(request, 503, str(exc))

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> Response:
        # A clear, retryable answer instead of a 500 while the database restarts, is full or read-only.
        message = _database_problem(exc)
        if _wants_json(request):
            return _api_error(request, 503, message, headers={"Retry-After": "5"})
        return render_error(request, 503, message)


class ResponseHeaders:
    """Security headers on every answer, `no-store` on patient data, and `Server-Timing` (pure ASGI)."""

    _SECURITY = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            b"frame-ancestors 'none'",
        ),
    )
    # Everything but the static files may show patient data or secrets (pages, the API, sign-in forms).
    _PUBLIC_PREFIXES = ("/static/",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start; time the request from arrival to the first byte."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        private = not str(scope["path"]).startswith(self._PUBLIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self._SECURITY if k not in present]
                if private and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                # Server-Timing lets a load test tell time spent in the server from time spent on the wire.
                headers.append(
                    (b"server-timing", f"app;dur={(time.perf_counter() - start) * 1000:.1f}".encode())
                )
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AllowedHosts:
    """Answer 400 to a request whose Host header names a host not in the list (DNS rebinding: a web page
    whose name an attacker points at this server's address must not reach it under that name)."""

    def __init__(self, app: ASGIApp, hosts: str) -> None:
        self.app = app
        names = [h.strip().lower().strip("[]") for h in hosts.split(",") if h.strip()]
        self.any = not names or "*" in names
        self.exact = frozenset(n for n in names if not n.startswith("*."))
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))

    def allows(self, host_header: str) -> bool:
        """Is the host in a Host header (with or without a port; IPv6 in brackets) allowed?"""
        if self.any:
            return True
        value = host_header.strip().lower()
        host = value[1:].split("]", 1)[0] if value.startswith("[") else value.rsplit(":", 1)[0]
        return host in self.exact or (bool(host) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an unknown host before anything else runs."""
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        body = b"unknown host name; the administrator lists the allowed ones in STRIGIL_ALLOWED_HOSTS"
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class AdmissionGate:
    """At most `limit` requests inside the application at once; later ones wait their turn, unserved.

    A request takes a pooled database connection in its first dependency and keeps it until its answer
    is built, waiting meanwhile for a worker thread. Unbounded admission let more requests hold
    connections than the pool had, while the threads waited for a connection: a deadlock. Waiting
    here holds nothing, so every admitted request can finish.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: anyio.Semaphore | None = None  # made on first use, inside the server's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wait for a slot, then serve the request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = anyio.Semaphore(self.limit, fast_acquire=True)
        async with self._slots:
            await self.app(scope, receive, send)


def _warm_up(engine: Engine, connections: int) -> None:
    """Load the catalogues, compile the templates and open the pool's connections before the first request.

    Otherwise the first users after a start wait for all of it (0.3-0.5 s measured at 50 clients).
    """
    from strigil.catalog import load_catalog
    from strigil.clinical.screening import load_findings
    from strigil.web.pages import TEMPLATES

    load_catalog()
    load_findings()
    for name in TEMPLATES.env.list_templates(extensions=["html"]):
        TEMPLATES.env.get_template(name)
    opened = [engine.connect() for _ in range(connections)]
    for connection in opened:
        connection.close()


def _expire_bulk_jobs(sessions: Any, settings: Settings) -> None:
    """At start, remove the Bulk Data export jobs whose time ran out while no server was up (audited)."""
    from strigil.services.bulk_jobs import expire_jobs

    with sessions.begin() as db:
        expire_jobs(db, settings.resolved_bulk_folder(), expiry=settings.bulk_expiry())


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the web application over the settings' database (or the given engine)."""
    from sqlalchemy.orm import sessionmaker

    from strigil.store.database import make_engine
    from strigil.store.serving import serving
    from strigil.web import routes

    settings = settings or Settings()
    url = settings.resolved_database_url()
    # At most 2 × threads requests are inside the app at once (AdmissionGate), each holding at most one
    # pooled connection, so the pool never runs dry while a request that holds a connection waits for a
    # worker thread (that circle deadlocked at 50 clients with 40 connections). SQLite in WAL lets readers
    # run beside one writer.
    admitted = 2 * settings.web_threads
    engine = engine or make_engine(url, pool_size=admitted + 2, max_overflow=10)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # One process serves on one core (the GIL): a few threads keep the database busy while one renders;
        # forty (anyio's default) only queue for the GIL and for SQLite's single writer, and lengthen tails.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        with serving(url):  # while this server holds the SQLite file, a restore is refused
            await anyio.to_thread.run_sync(_warm_up, engine, settings.web_threads)
            await anyio.to_thread.run_sync(_expire_bulk_jobs, app.state.sessionmaker, settings)
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="Strigil",
        summary="Evidence-based IASTM: clinical record, decision support, meta-analysis.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.trusted_proxies = trusted_proxies(settings.trusted_proxies)
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routes.ROUTERS:
        app.include_router(router)

    app.add_middleware(AdmissionGate, limit=admitted)
    # Outside the gate: a body arrives whole (or is refused) before its request may take a slot.
    app.add_middleware(RequestBody, timeout_s=settings.body_timeout_s, min_rate=settings.body_min_rate)
    app.add_middleware(AllowedHosts, hosts=settings.allowed_hosts)
    app.add_middleware(ResponseHeaders)
    install_read_retry(app)  # outermost: a retried read's pause holds no admission slot
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
