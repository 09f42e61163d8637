"""Reads survive a dropped database connection: a GET/HEAD that failed on one is run again on a fresh one.

When PostgreSQL restarts, every pooled connection dies; pool pre-ping replaces them at checkout, but a
request already holding one fails mid-way. A read can simply be run again: its transaction was rolled back
(or, if the connection died while committing, only its audit row may have been stored), so it is retried
once or twice after a short pause before the client gets the 503. Writes (POST, PUT, PATCH, DELETE) are
never retried: whether a write whose connection dropped was committed is unknown, and the client decides.

Only connection-level failures count (a connection closed, refused, or the server shutting down or starting
up). "Database is full", read-only and locked are not: running again would meet the same wall.

How it fits FastAPI: the `OperationalError` handler turns the exception into a 503 inside the app, so the
handler is wrapped to mark the attempt as retryable; the middleware sees the mark when the response starts
and, if a retry is left, swallows that response and runs the app again. Every other response passes through
as it is produced (streaming included): nothing is buffered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "RETRY_AFTER_S",
    "RETRY_DELAYS_S",
    "SAFE_METHODS",
    "Handler",
    "ReadRetryMiddleware",
    "install_read_retry",
    "is_disconnect",
]

Handler = Callable[[Request, Exception], Awaitable[Response]]

# Pauses before the first and second retry: long enough for a pool to reconnect, short for the client.
RETRY_DELAYS_S: tuple[float, ...] = (0.2, 0.5)
SAFE_METHODS = frozenset({"GET", "HEAD"})
# The scope key of the per-attempt mark (a mutable dict, so scope copies made by mounts still share it).
_MARK = "strigil.read_retry"
# Connection-level SQLSTATEs: class 08 (connection exception); admin/crash shutdown and "cannot connect now"
# (the server is starting up or shutting down).
_SHUTDOWN_STATES = frozenset({"57P01", "57P02", "57P03"})
# Never retried, whatever else the error says: the same wall would be met again.
_NOT_TRANSIENT = ("full", "read-only", "readonly", "locked")
RETRY_AFTER_S = "5"


def is_disconnect(exc: BaseException) -> bool:
    """True for a database error that means the connection dropped or could not be made (worth a retry)."""
    orig: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if any(word in str(orig).lower() for word in _NOT_TRANSIENT):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite-only installs still work
        return False
    if not isinstance(orig, psycopg.OperationalError):
        return False
    # No SQLSTATE: a client-side failure (connection failed, closed, or lost while reading the answer);
    # a server-side one with a state is retried only when the state says connection or shutdown.
    state = orig.sqlstate
    return state is None or state.startswith("08") or state in _SHUTDOWN_STATES


class _ReplayReceive:
    """The request's `receive`, recording its body messages so that a retry can read the body again."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._seen: list[Message] = []
        self._position = 0

    def rewind(self) -> None:
        """Start the body over for the next attempt."""
        self._position = 0

    async def __call__(self) -> Message:
        """The next body message (replayed if an earlier attempt read it), else the client's next message."""
        if self._position < len(self._seen):
            self._position += 1
            return self._seen[self._position - 1]
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen.append(message)
            self._position += 1
        return message


class _Attempt:
    """One run of the app; holds back its answer when the handler marked it retryable and a retry is left."""

    def __init__(self, send: Send, *, last: bool) -> None:
        self._send = send
        self._last = last
        self.mark: dict[str, bool] = {}  # set by the wrapped error handler
        self.started = False  # the client has the response start: no retry from here on
        self.swallowed = False  # this answer (a 503) is replaced by the retry's

    async def send(self, message: Message) -> None:
        """Forward the app's message, unless this attempt's answer is being replaced."""
        if message["type"] == "http.response.start":
            if self.mark.get("retryable"):
                if not self._last:
                    self.swallowed = True
                    return
                message = _with_retry_after(message)
            self.started = True
        if not self.swallowed:
            await self._send(message)


class ReadRetryMiddleware:
    """Runs a GET/HEAD again (after a pause) when its database connection dropped, before answering 503."""

    def __init__(self, app: ASGIApp, delays: Sequence[float] = RETRY_DELAYS_S) -> None:
        self.app = app
        self.delays = tuple(delays)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything but safe HTTP methods straight through; retry those on a dropped connection."""
        if scope["type"] != "http" or scope.get("method") not in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        replay = _ReplayReceive(receive)
        for delay in (*self.delays, None):
            run = _Attempt(send, last=delay is None)
            # A fresh copy per attempt: the app writes routing results and request state into its scope.
            attempt_scope: Scope = {**scope, _MARK: run.mark}
            if "state" in scope:
                attempt_scope["state"] = dict(scope["state"])
            replay.rewind()
            try:
                await self.app(attempt_scope, replay, run.send)
            except Exception as exc:
                # A disconnect no exception handler turned into an answer: retry if the client has nothing
                # yet, else let it surface as before.
                if run.started or delay is None or not is_disconnect(exc):
                    raise
            else:
                if not run.swallowed:
                    return
            if delay is None:  # not reached: the last attempt's answer is never held back
                return
            await anyio.sleep(delay)


def _with_retry_after(message: Message) -> Message:
    """The response start with a Retry-After header (the JSON 503 has one; the HTML page may not)."""
    headers = list(message.get("headers", []))
    if not any(name.lower() == b"retry-after" for name, _ in headers):
        headers.append((b"retry-after", RETRY_AFTER_S.encode()))
    return {**message, "headers": headers}


def install_read_retry(app: FastAPI, delays: Sequence[float] = RETRY_DELAYS_S) -> None:
    """Retry reads whose database connection dropped: mark them in the error handler, add the middleware.

    Call after the app's exception handlers are installed (it wraps the `OperationalError` handler).
    """
    handler: Handler | None = app.exception_handlers.get(OperationalError)  # type: ignore[assignment]
    if handler is not None:
        inner = handler

        async def marking_handler(request: Request, exc: Exception) -> Response:
            mark = request.scope.get(_MARK)
            if mark is not None and is_disconnect(exc):
                mark["retryable"] = True
            return await inner(request, exc)

        app.add_exception_handler(OperationalError, marking_handler)
    app.add_middleware(ReadRetryMiddleware, delays=delays)
