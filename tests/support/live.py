"""A real HTTP server (uvicorn) for one app in a background thread, on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve `app` on loopback until the block ends; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start within 20 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Served(str):
    """The base URL of a running `strigil serve`, with its process."""

    process: subprocess.Popen[bytes]


@contextmanager
def strigil_serve(home: Path, *options: str, user: int | None = None, **env: str) -> Iterator[Served]:
    """`strigil serve` (its own process, default settings) on a fresh SQLite clinic in `home`, as `user`
    (a uid, through util-linux's setpriv; default: this process's user)."""
    port = free_port()
    log = home / "server.log"
    command = [sys.executable, "-c", "from strigil.cli import main; main()", "serve", "--port", str(port)]
    command += options
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    environment = {**os.environ, "STRIGIL_HOME": str(home), **env}
    if "STRIGIL_DATABASE_URL" not in env:
        environment.pop("STRIGIL_DATABASE_URL", None)
    with log.open("ab") as errors:
        process = subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=errors, cwd=home
        )
    base = Served(f"http://127.0.0.1:{port}")
    base.process = process
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"strigil serve did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        if process.poll() is not None and process.returncode < 0:  # killed by a signal: show its traceback
            print(log.read_text()[-4000:])
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
