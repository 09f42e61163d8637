"""How `strigil serve` runs the app: uvicorn with a deadline for each request's headers.

uvicorn (h11) waits for a request's headers as long as the client keeps sending bytes: its keep-alive timer
is cancelled by every byte, so a client that sends one header byte every few seconds holds its connection
forever. `HeaderDeadlineProtocol` closes a connection whose request headers have not arrived whole within
`Settings.header_timeout_s` of the connection opening (or of the previous answer), with a 408 when part of
a request had come. The body's own deadline is the app's (`strigil.web.limits.RequestBody`), which reads it
before the request is admitted.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from strigil.settings import Settings

__all__ = ["APP_FACTORY", "TIMEOUT_ANSWER", "HeaderDeadlineProtocol", "run", "uvicorn_options"]

APP_FACTORY = "strigil.web.app:create_app"
TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 46\r\n\r\nthe request did not arrive in time; send again"
)


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers (Settings.header_timeout_s)."""

    header_timeout_s: float | None = None  # read from the settings on first use, in each worker process
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Stop the clock once the headers are in (the app has the request)."""
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        """The next request on this connection has its own deadline."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        if HeaderDeadlineProtocol.header_timeout_s is None:
            HeaderDeadlineProtocol.header_timeout_s = Settings().header_timeout_s
        self._header_timer = self.loop.call_later(
            HeaderDeadlineProtocol.header_timeout_s, self._headers_too_slow
        )

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial, _ = self.conn.trailing_data
        if partial:  # part of a request came: say why it is cut off; an idle connection just closes
            self.transport.write(TIMEOUT_ANSWER)
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """The uvicorn settings `strigil serve` uses (besides the app, host, port and workers)."""
    return {
        "http": HeaderDeadlineProtocol,
        "log_level": "warning",
        # The app decides whose X-Forwarded-For to believe (Settings.trusted_proxies); uvicorn's own rule
        # would believe any request from 127.0.0.1, so anyone on the machine could pose as anyone.
        "proxy_headers": False,
        # Headers above 16 kB are refused by h11 (400) before they reach the app.
        "h11_max_incomplete_event_size": 16 * 1024,
    }


def run(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve the app over `settings` until interrupted; several worker processes share the port."""
    import faulthandler

    import uvicorn

    faulthandler.enable()  # a fatal signal (SIGBUS, SIGSEGV) leaves a traceback in the log, not silence
    if workers == 1:
        from strigil.web.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, **uvicorn_options())
        return
    # Each worker process builds its own app from the environment: hand the settings on through it.
    for name, value in settings.model_dump().items():
        os.environ[f"STRIGIL_{name.upper()}"] = str(value)
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, **uvicorn_options())
