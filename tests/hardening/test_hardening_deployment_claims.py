"""docs/deployment.md and docs/RELIABILITY.md say what is true: each claim about Strigil names its test.

The claims without a test elsewhere are tested here; the last test checks that every test the two documents
name exists, and that every claim in the deployment page's table of what Strigil does names one.
"""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from strigil.cli.web import serve
from strigil.settings import Settings
from strigil.store.database import make_engine
from strigil.web.app import AdmissionGate, create_app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "deployment.md", ROOT / "docs" / "RELIABILITY.md"]
TEST_REFERENCE = re.compile(r"`((?:tests|bench)/[\w/]+\.py)(?:::(\w+))?`")


def test_serve_listens_on_loopback_by_default() -> None:
    host = inspect.signature(serve).parameters["host"].default
    assert host.default == "127.0.0.1"


def test_every_answer_carries_the_security_headers_and_server_timing(world: Any) -> None:
    client, _ = world.client("clinician")
    for path in ("/login", "/patients", "/api/v1/health", "/static/strigil.css", "/no-such-page"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert re.fullmatch(r"app;dur=\d+\.\d", headers["server-timing"]), path


def _gate_limit(app: Any) -> int:
    found = [m.kwargs["limit"] for m in app.user_middleware if m.cls is AdmissionGate]
    assert len(found) == 1
    return int(found[0])


def test_the_pool_and_the_gate_follow_the_thread_setting(tmp_path: Path) -> None:
    """8 threads by default; at most 2 × threads requests inside; a pool of 2 × threads + 2 (+10 overflow)."""
    assert Settings().web_threads == 8
    for threads in (1, 8):
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'clinic.sqlite'}", web_threads=threads)
        app = create_app(settings)
        assert _gate_limit(app) == 2 * threads
        pool = app.state.engine.pool
        assert pool.size() == 2 * threads + 2 and pool._max_overflow == 10
        app.state.engine.dispose()


def test_postgresql_connections_are_checked_before_use() -> None:
    """Pool pre-ping: a connection that died while idle is replaced at checkout (no server needed)."""
    engine = make_engine("postgresql+psycopg://user@127.0.0.1:1/none")
    assert engine.pool._pre_ping
    assert not create_engine("sqlite://").pool._pre_ping  # the check can fail: SQLite has none


@cache
def _functions(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


def test_every_test_the_documents_name_exists() -> None:
    missing = []
    for doc in DOCS:
        for file, name in TEST_REFERENCE.findall(doc.read_text(encoding="utf-8")):
            path = ROOT / file
            if not path.exists() or (name and name not in _functions(path)):
                missing.append(f"{doc.name}: {file}::{name}")
    assert not missing, "\n".join(missing)


def test_every_claim_of_the_deployment_table_names_its_test() -> None:
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    table = text.split("## What Strigil does", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| concern")]
    assert len(rows) >= 20
    unbacked = [row[:80] for row in rows if not TEST_REFERENCE.search(row.split("|")[3])]
    assert not unbacked, "\n".join(unbacked)
