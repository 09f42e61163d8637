"""Reads retried after a dropped database connection (strigil.web.retry), on toy apps that fail on purpose."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.errors
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from starlette.types import Message, Receive, Scope, Send

from strigil.web.retry import ReadRetryMiddleware, install_read_retry, is_disconnect

FAST = (0.01, 0.02)


def dropped() -> OperationalError:
    """What SQLAlchemy raises when PostgreSQL went away under a pooled connection."""
    orig = psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")
    return OperationalError("SELECT 1", {}, orig, connection_invalidated=True)


def refused() -> OperationalError:
    """What SQLAlchemy raises when a new connection cannot be made (server still down)."""
    orig = psycopg.OperationalError("connection failed: Connection refused")
    return OperationalError("SELECT 1", {}, orig)


def full() -> OperationalError:
    return OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))


class Flaky:
    """Fails the first `failures` calls with `error()`, then answers; counts the calls."""

    def __init__(self, failures: int, error: Any = dropped) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> dict[str, int]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error()
        return {"calls": self.calls}


def toy_app(flaky: Flaky, delays: tuple[float, ...] = FAST) -> FastAPI:
    """An app shaped like Strigil's: an OperationalError handler answering 503 (here without Retry-After)."""
    app = FastAPI()

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> Response:
        return JSONResponse({"detail": "the database is unavailable"}, 503)

    @app.api_route("/thing", methods=["GET", "HEAD"])
    def read() -> dict[str, int]:
        return flaky()

    @app.api_route("/thing", methods=["POST", "PUT", "PATCH", "DELETE"])
    def write() -> dict[str, int]:
        return flaky()

    @app.get("/stream")
    def stream() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            flaky.calls += 1
            for i in range(5):
                yield f"row {i}\n".encode()
                if i == 2 and flaky.calls <= flaky.failures:
                    raise dropped()  # mid-stream: the client already has the start, so no retry

        return StreamingResponse(chunks(), media_type="text/csv")

    install_read_retry(app, delays=delays)
    return app


def test_a_read_whose_connection_dropped_is_retried_and_succeeds() -> None:
    flaky = Flaky(failures=2)
    with TestClient(toy_app(flaky)) as client:
        r = client.get("/thing")
    assert r.status_code == 200 and r.json() == {"calls": 3}
    assert flaky.calls == 3


def test_head_is_retried_too() -> None:
    flaky = Flaky(failures=1)
    with TestClient(toy_app(flaky)) as client:
        assert client.head("/thing").status_code == 200
    assert flaky.calls == 2


def test_a_connection_that_could_not_be_made_is_retried() -> None:
    flaky = Flaky(failures=1, error=refused)
    with TestClient(toy_app(flaky)) as client:
        assert client.get("/thing").status_code == 200
    assert flaky.calls == 2


def test_retries_pause_before_each_attempt() -> None:
    flaky = Flaky(failures=2)
    with TestClient(toy_app(flaky, delays=(0.1, 0.2))) as client:
        started = time.monotonic()
        assert client.get("/thing").status_code == 200
        took = time.monotonic() - started
    assert took >= 0.3


def test_exhausted_retries_answer_503_with_retry_after() -> None:
    flaky = Flaky(failures=10)
    with TestClient(toy_app(flaky)) as client:
        r = client.get("/thing")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.json() == {"detail": "the database is unavailable"}
    assert flaky.calls == 3  # the first try and two retries


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_is_never_retried(method: str) -> None:
    flaky = Flaky(failures=1)
    with TestClient(toy_app(flaky)) as client:
        r = client.request(method.upper(), "/thing")
    assert r.status_code == 503
    assert flaky.calls == 1


def test_a_full_database_is_not_retried() -> None:
    flaky = Flaky(failures=1, error=full)
    with TestClient(toy_app(flaky)) as client:
        r = client.get("/thing")
    assert r.status_code == 503
    assert flaky.calls == 1


def test_a_stream_passes_through_and_is_not_retried_once_started() -> None:
    whole = Flaky(failures=0)
    with TestClient(toy_app(whole)) as client:
        r = client.get("/stream")
    assert r.status_code == 200 and r.text == "".join(f"row {i}\n" for i in range(5))

    broken = Flaky(failures=1)
    # Starlette reports a handled error after the start as a RuntimeError; either way it is not retried.
    with TestClient(toy_app(broken)) as client, pytest.raises((OperationalError, RuntimeError)):
        client.get("/stream")
    assert broken.calls == 1


def test_an_unhandled_disconnect_is_retried_with_the_request_body_replayed() -> None:
    # A pure ASGI app with no exception handler: the disconnect reaches the middleware as an exception.
    bodies: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        bodies.append(message.get("body", b""))
        if len(bodies) == 1:
            raise dropped()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    # No `with`: the toy app does not speak the lifespan protocol.
    r = TestClient(ReadRetryMiddleware(app, delays=FAST)).request("GET", "/", content=b"query")
    assert r.status_code == 200 and r.text == "ok"
    assert bodies == [b"query", b"query"]


def test_an_unhandled_error_that_is_not_a_disconnect_is_not_retried() -> None:
    calls: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append({})
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        TestClient(ReadRetryMiddleware(app, delays=FAST)).get("/")
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (dropped(), True),
        (refused(), True),
        (OperationalError("SELECT 1", {}, psycopg.errors.AdminShutdown("terminating connection")), True),
        (OperationalError("SELECT 1", {}, psycopg.errors.CannotConnectNow("starting up")), True),
        (psycopg.OperationalError("the connection is closed"), True),
        (full(), False),
        (OperationalError("INSERT", {}, psycopg.errors.DiskFull("could not extend file")), False),
        (OperationalError("SELECT 1", {}, psycopg.errors.LockNotAvailable("lock timeout")), False),
        (OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")), False),
        (
            OperationalError("INSERT", {}, sqlite3.OperationalError("attempt to write a readonly database")),
            False,
        ),
        (
            OperationalError(
                "SELECT", {}, psycopg.OperationalError("x: read-only"), connection_invalidated=True
            ),
            False,
        ),
        (RuntimeError("connection failed"), False),
    ],
)
def test_what_counts_as_a_dropped_connection(error: BaseException, expected: bool) -> None:
    assert is_disconnect(error) is expected
