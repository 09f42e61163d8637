"""A private PostgreSQL cluster for fault tests: initdb/pg_ctl as the `postgres` user in a temp folder.

The shared server on 5432 is never touched: the cluster gets its own folder, its own free port and its own
socket directory, and is stopped and removed when the block ends.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from live import free_port


def pg_bin() -> str | None:
    """The newest PostgreSQL server binaries folder, or None when none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


def _as_postgres(*command: str, timeout: float = 60) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        check=True,
        timeout=timeout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@dataclass
class Cluster:
    """A running private cluster: its folder, port and the SQLAlchemy URL of its `strigil` database."""

    folder: str
    port: int
    bin: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/strigil"

    def _ctl(self, *args: str) -> None:
        _as_postgres(f"{self.bin}/pg_ctl", "-D", f"{self.folder}/data", "-w", "-t", "30", *args)

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._ctl(
            "start",
            "-l",
            f"{self.folder}/log",
            "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on",
        )


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """initdb + start on a free loopback port; yields the cluster; stops it and deletes the folder."""
    binaries = pg_bin()
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    folder = tempfile.mkdtemp(prefix="strigil-pg-")
    shutil.chown(folder, "postgres", "postgres")
    os.chmod(folder, 0o700)
    cluster = Cluster(folder=folder, port=free_port(), bin=binaries)
    try:
        _as_postgres(
            f"{binaries}/initdb", "-D", f"{folder}/data", "-A", "trust", "-U", "postgres", timeout=120
        )
        cluster.start()
        _as_postgres(
            f"{binaries}/createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "strigil"
        )
        yield cluster
    finally:
        try:
            cluster.stop()
        except Exception:
            time.sleep(0.1)
        shutil.rmtree(folder, ignore_errors=True)
