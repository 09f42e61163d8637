"""How big a request body may be, per route, and how long it may take to arrive: the one place for both.

`RequestBody` (ASGI middleware, outside the admission gate) reads each request's body whole before the
request goes further, so a client that sends its body slowly holds no admission slot, no worker thread and
no database connection while it does:

- a body declared larger than its route's limit (`Content-Length`) is answered 413 before a byte of it is
  read; one without a length (chunked) is counted as it comes and cut off at the limit, also 413;
- the body must keep pace: it may take `Settings.body_timeout_s` plus one second for every
  `Settings.body_min_rate` bytes received; a client that falls behind is answered 408 and disconnected;
- bodies up to `SPOOL_IN_MEMORY` bytes are kept in memory, larger ones (force recordings, FHIR bundles)
  are written to a temporary file as they arrive, then handed to the route in pieces.

Routes not listed in `ROUTE_LIMITS` take `DEFAULT_LIMIT`. A test checks that every listed route exists.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import anyio
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strigil.interop.bundle import MAX_BUNDLE_BYTES
from strigil.services.count_meta_analysis import MAX_BYTES as COUNTS_TABLE_BYTES
from strigil.services.force_recordings import MAX_UPLOAD_BYTES as FORCE_FILE_BYTES
from strigil.services.meta_analysis import MAX_BYTES as META_TABLE_BYTES
from strigil.web.fhir_errors import FHIR_JSON, is_fhir_path, outcome_body

__all__ = [
    "DEFAULT_LIMIT",
    "FHIR_BUNDLE_BYTES",
    "FORM_OVERHEAD",
    "ROUTE_LIMITS",
    "SPOOL_IN_MEMORY",
    "BodyLimit",
    "RequestBody",
    "body_limit",
]

_KIB = 1024
_MIB = 1024 * _KIB
# Room for a multipart upload's boundaries, part headers and the small form fields beside the file.
FORM_OVERHEAD = 64 * _KIB
# A FHIR bundle posted to the API: the one limit of a Bundle, the CLI's too (whole clinics move as Bulk Data).
FHIR_BUNDLE_BYTES = MAX_BUNDLE_BYTES
SPOOL_IN_MEMORY = 1 * _MIB
_PIECE = 64 * _KIB


@dataclass(frozen=True)
class BodyLimit:
    """The largest body a route accepts, and what it is (for the 413 sentence)."""

    max_bytes: int
    what: str


DEFAULT_LIMIT = BodyLimit(256 * _KIB, "a form or JSON document")

# (method, path template) → limit; path templates as the routes declare them.
ROUTE_LIMITS: dict[tuple[str, str], BodyLimit] = {
    ("POST", "/login"): BodyLimit(8 * _KIB, "the sign-in form"),
    ("POST", "/logout"): BodyLimit(8 * _KIB, "the sign-out form"),
    ("POST", "/meta"): BodyLimit(META_TABLE_BYTES + FORM_OVERHEAD, "a table of studies (CSV)"),
    ("POST", "/api/v1/meta/fit"): BodyLimit(META_TABLE_BYTES + FORM_OVERHEAD, "a table of studies (CSV)"),
    ("POST", "/meta/counts"): BodyLimit(COUNTS_TABLE_BYTES + FORM_OVERHEAD, "a table of counts (CSV)"),
    ("POST", "/api/v1/meta/counts"): BodyLimit(COUNTS_TABLE_BYTES + FORM_OVERHEAD, "a table of counts (CSV)"),
    ("POST", "/force"): BodyLimit(FORCE_FILE_BYTES + FORM_OVERHEAD, "a force recording"),
    ("POST", "/api/v1/force/analyse"): BodyLimit(FORCE_FILE_BYTES + FORM_OVERHEAD, "a force recording"),
    ("POST", "/api/v1/fhir"): BodyLimit(FHIR_BUNDLE_BYTES, "a FHIR bundle"),
}

_COMPILED: list[tuple[str, re.Pattern[str], BodyLimit]] = [
    (method, compile_path(path)[0], limit) for (method, path), limit in ROUTE_LIMITS.items()
]


def body_limit(method: str, path: str) -> BodyLimit:
    """The limit for a request to `path` with `method`."""
    for route_method, pattern, limit in _COMPILED:
        if route_method == method and pattern.match(path):
            return limit
    return DEFAULT_LIMIT


def _size(n: int) -> str:
    return f"{n / _MIB:.1f} MB" if n >= _MIB else f"{n // _KIB} kB"


class _TooSlow(Exception):
    pass


class _TooLarge(Exception):
    pass


class RequestBody:
    """Read the whole body (within its size limit and time allowance) before the request goes further."""

    def __init__(self, app: ASGIApp, timeout_s: float, min_rate: int) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413/408 for a body too large or too slow; otherwise hand the request on with its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if declared is None and not chunked:  # no body
            await self.app(scope, receive, send)
            return
        limit = body_limit(str(scope["method"]), str(scope["path"]))
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit.max_bytes):
            await self._refuse(scope, send, 413, self._too_large(limit))
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            try:
                size = await self._read(receive, spool, limit)
            except _TooLarge:
                await self._refuse(scope, send, 413, self._too_large(limit))
                return
            except _TooSlow:
                allowance = f"{self.timeout_s:g} s plus 1 s for every {_size(self.min_rate)}"
                message = f"the request body arrived too slowly (allowed: {allowance}); send again"
                await self._refuse(scope, send, 408, message)
                return
            if size is None:  # the client went away
                return
            spool.seek(0)
            await self.app(scope, _Replay(spool, receive), send)

    async def _read(self, receive: Receive, spool: IO[bytes], limit: BodyLimit) -> int | None:
        """Copy the body into `spool`; its size, or None when the client disconnected."""
        start = time.monotonic()
        size = 0
        while True:
            remaining = start + self.timeout_s + size / self.min_rate - time.monotonic()
            if remaining <= 0:
                raise _TooSlow
            message: Message | None = None
            with anyio.move_on_after(remaining):
                message = await receive()
            if message is None:
                raise _TooSlow
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit.max_bytes:
                raise _TooLarge
            spool.write(chunk)
            if not message.get("more_body", False):
                return size

    @staticmethod
    def _too_large(limit: BodyLimit) -> str:
        return f"the request is too large: {limit.what} may have at most {_size(limit.max_bytes)}"

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
        """A JSON answer for the API (an OperationOutcome on the FHIR routes), a page otherwise; the
        connection is closed after it (the client may still be sending the body)."""
        path = str(scope["path"])
        accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
        if is_fhir_path(path):
            body = json.dumps(outcome_body(status, message)).encode()
            content_type = FHIR_JSON.encode()
        elif path.startswith("/api/") or "application/json" in accept:
            body = json.dumps({"detail": message}).encode()
            content_type = b"application/json"
        else:
            from strigil.web.pages import render_error

            page = render_error(Request(scope), status, message)
            body = bytes(page.body)
            content_type = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Replay:
    """The app's `receive`: the stored body in pieces, then the client's own messages (a disconnect)."""

    def __init__(self, spool: IO[bytes], receive: Receive) -> None:
        self._pieces = self._read(spool)
        self._receive = receive
        self._done = False

    @staticmethod
    def _read(spool: IO[bytes]) -> Iterator[Message]:
        piece = spool.read(_PIECE)
        while True:
            following = spool.read(_PIECE)
            yield {"type": "http.request", "body": piece, "more_body": bool(following)}
            if not following:
                return
            piece = following

    async def __call__(self) -> Message:
        """The next piece of the body, or what the client sends after it."""
        if not self._done:
            message = next(self._pieces, None)
            if message is not None:
                self._done = not message["more_body"]
                return message
            self._done = True
        return await self._receive()
