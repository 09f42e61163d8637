"""Slow clients cannot freeze the server: `strigil serve` with its defaults, no proxy in front, on SQLite.

An attacker opens many connections and sends a request's headers (or its body) a byte at a time. Each such
request must hold nothing the server needs for others: it is admitted to the application only once its body
has arrived whole, and a client that is too slow is cut off (408). Meanwhile the health check answers
within a second, every time.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from live import strigil_serve

DRIPPERS = 50
HEALTH_LIMIT_S = 1.0


class Drippers:
    """`count` connections that each send a request a byte at a time; reconnect when the server cuts them."""

    def __init__(self, port: int, head: bytes, count: int, interval_s: float) -> None:
        self.port, self.head, self.count, self.interval_s = port, head, count, interval_s
        self.stop = threading.Event()
        self.cut_off = 0  # connections the server closed or answered
        self.answers: list[bytes] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(self.head)
        s.setblocking(False)
        return s

    def _run(self) -> None:
        sockets = [self._connect() for _ in range(self.count)]
        while not self.stop.wait(self.interval_s):
            for i, s in enumerate(sockets):
                try:
                    s.send(b"a")
                    answer = s.recv(4096)  # non-blocking: raises when nothing came back
                except BlockingIOError:
                    continue
                except OSError:
                    answer = b""
                self.cut_off += 1
                if answer:
                    self.answers.append(answer)
                s.close()
                sockets[i] = self._connect()
        for s in sockets:
            s.close()

    def __enter__(self) -> Drippers:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=30)


def _health_times(base: str, seconds: float) -> list[float]:
    """Ask for /api/v1/health every quarter second for `seconds`; the time each answer took.

    The garbage collector of this (test) process is paused meanwhile: after a long test session its heap
    is large, and a full collection here would be counted as the server's time.
    """
    gc.collect()
    gc.disable()
    try:
        return _timed_health_checks(base, seconds)
    finally:
        gc.enable()


def _timed_health_checks(base: str, seconds: float) -> list[float]:
    times: list[float] = []
    end = time.monotonic() + seconds
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < end:
            start = time.monotonic()
            try:
                response = client.get(f"{base}/api/v1/health", headers={"connection": "close"})
            except httpx.TimeoutException:
                times.append(float("inf"))  # no answer within 10 s
                continue
            times.append(time.monotonic() - start)
            assert response.status_code == 200, response.text
            time.sleep(0.25)
    return times


def _slow_login(length: int = 100_000) -> bytes:
    return (
        f"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _dripping_bodies_leave_health_fast(tmp_path: Path, seconds: float) -> None:
    with strigil_serve(tmp_path) as base:
        port = int(base.rsplit(":", 1)[1])
        # A body small enough for /login's limit, so it is waited for rather than refused at once.
        with Drippers(port, _slow_login(length=4000), DRIPPERS, interval_s=0.5):
            time.sleep(1.0)  # every dripper is connected and has sent its headers
            times = _health_times(base, seconds)
    slow = [round(t, 2) for t in times if t >= HEALTH_LIMIT_S]
    assert times and not slow, f"{len(slow)} of {len(times)} health checks took ≥ 1 s: {slow[:10]}"


@pytest.mark.timeout(90)
def test_health_answers_fast_while_fifty_connections_drip_bodies(tmp_path: Path) -> None:
    """While 50 connections drip request bodies, every /api/v1/health answers in under 1 s (quick variant)."""
    _dripping_bodies_leave_health_fast(tmp_path, seconds=8)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_health_answers_fast_while_fifty_connections_drip_bodies_for_a_minute(tmp_path: Path) -> None:
    """`strigil serve` defaults, SQLite, no proxy: 50 connections drip bodies for 60 s, health stays < 1 s."""
    _dripping_bodies_leave_health_fast(tmp_path, seconds=60)


@pytest.mark.timeout(90)
def test_a_body_that_arrives_too_slowly_is_cut_off_with_408(tmp_path: Path) -> None:
    """A request body that arrives slower than the allowance is answered 408 and its connection closed."""
    with strigil_serve(tmp_path, STRIGIL_BODY_TIMEOUT_S="2") as base:
        port = int(base.rsplit(":", 1)[1])
        with Drippers(port, _slow_login(length=4000), 3, interval_s=0.5) as drippers:
            deadline = time.monotonic() + 15
            while drippers.cut_off < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
    assert drippers.cut_off >= 3, "the slow bodies were never cut off"
    assert drippers.answers and all(a.startswith(b"HTTP/1.1 408") for a in drippers.answers), drippers.answers


@pytest.mark.timeout(90)
def test_headers_that_arrive_too_slowly_are_cut_off(tmp_path: Path) -> None:
    """A client that sends its request headers a byte at a time is cut off after the header allowance."""
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with strigil_serve(tmp_path, STRIGIL_HEADER_TIMEOUT_S="2") as base:
        port = int(base.rsplit(":", 1)[1])
        with Drippers(port, head, 3, interval_s=0.5) as drippers:
            deadline = time.monotonic() + 15
            while drippers.cut_off < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
    assert drippers.cut_off >= 3, "the slow headers were never cut off"
    assert all(a.startswith(b"HTTP/1.1 408") for a in drippers.answers), drippers.answers


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_several_worker_processes_keep_the_same_protections(tmp_path: Path, pg_server_url: str) -> None:
    """`strigil serve --workers 2` (PostgreSQL): each worker cuts off slow headers and checks host names."""
    with strigil_serve(
        tmp_path, "--workers", "2", STRIGIL_DATABASE_URL=pg_server_url, STRIGIL_HEADER_TIMEOUT_S="2"
    ) as base:
        port = int(base.rsplit(":", 1)[1])
        assert httpx.get(f"{base}/api/v1/health", headers={"host": "attacker.example"}).status_code == 400
        head = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        with Drippers(port, head, 4, interval_s=0.5) as drippers:
            deadline = time.monotonic() + 15
            while drippers.cut_off < 4 and time.monotonic() < deadline:
                time.sleep(0.2)
        assert drippers.cut_off >= 4 and all(a.startswith(b"HTTP/1.1 408") for a in drippers.answers)


def test_sqlite_is_served_by_one_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from strigil.cli import main; main()", "serve", "--workers", "2"],
        env={**os.environ, "STRIGIL_HOME": str(tmp_path), "STRIGIL_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--workers" in done.stderr, done.stderr
