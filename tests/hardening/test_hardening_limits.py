"""Request sizes are limited before the body is read, per route in one place; every text and list has a limit.

A 300 MB upload is refused from its `Content-Length` alone; a body without a length is cut off at its
route's limit; a large upload within its limit reaches the route through a temporary file, not memory. Every
string and list a client can send — in the API's published schemas and in the documents the services
validate (sessions, episode plans, screenings, adverse responses, the CLI's documents) — has a maximum.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from web_schema import session_doc

from strigil.clinical.episode import EpisodePlan
from strigil.clinical.people import Clinic, Clinician, Patient
from strigil.clinical.response.document import RespondDocument
from strigil.clinical.screening import ScreenDocument
from strigil.clinical.session import AdverseResponse, SessionRecord
from strigil.services import episodes, sessions
from strigil.services.errors import InvalidInput
from strigil.web import limits
from strigil.web.app import iter_routes

# The API's free-form JSON bodies and the core model that validates each (its schema is walked instead).
DOCUMENT_BODIES: dict[tuple[str, str], type[BaseModel] | None] = {
    ("POST", "/api/v1/episodes/{episode_id}/sessions"): SessionRecord,
    ("POST", "/api/v1/patients/{patient_code}/episodes"): EpisodePlan,
    ("POST", "/api/v1/episodes/{episode_id}/adverse-responses"): AdverseResponse,
    ("POST", "/api/v1/episodes/{episode_id}/screenings"): ScreenDocument,
    # A FHIR bundle is bounded by its body limit; what it holds is mapped into the documents above.
    ("POST", "/api/v1/fhir"): None,
}
# Documents read by the CLI (and the import of other systems' data): the same rule holds for them.
CLI_DOCUMENTS: tuple[type[BaseModel], ...] = (RespondDocument, Clinic, Clinician, Patient)


def _unbounded(schema: dict[str, Any], where: str, defs: dict[str, Any]) -> list[str]:
    """Every string without maxLength (nor enum/const/date) and every list without maxItems in `schema`."""
    while "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += _unbounded(sub, where, defs)
    kind = schema.get("type")
    bounded_text = {"maxLength", "enum", "const", "contentMediaType"} & schema.keys() or schema.get(
        "format"
    ) in (
        "date",
        "date-time",
        "binary",  # a file: its route's body limit bounds it (checked below)
    )
    if kind == "string" and not bounded_text:
        found.append(f"{where}: text without maxLength")
    if kind == "array":
        if "maxItems" not in schema:
            found.append(f"{where}: list without maxItems")
        found += _unbounded(schema.get("items", {}), f"{where}[]", defs)
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            found += _unbounded(sub, f"{where}.{name}", defs)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            found += _unbounded(extra, f"{where}.*", defs)
    return found


def _app() -> FastAPI:
    from sqlalchemy import create_engine

    from strigil.settings import Settings
    from strigil.web.app import create_app

    return create_app(Settings(database_url="sqlite://"), engine=create_engine("sqlite://"))


def test_every_text_and_list_a_client_sends_has_a_limit() -> None:
    """Every text and list in the API's parameters and bodies, and the documents behind them, has a maximum.

    The documents are those the free-form JSON bodies and the CLI's files are validated with.
    """
    spec = _app().openapi()
    defs = spec["components"]["schemas"]
    problems: list[str] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                problems += _unbounded(parameter["schema"], f"{where} {parameter['name']}", defs)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schema = media["schema"]
                resolved = defs[schema["$ref"].split("/")[-1]] if "$ref" in schema else schema
                if resolved.get("type") == "object" and "properties" not in resolved:
                    if (method.upper(), path) not in DOCUMENT_BODIES:
                        problems.append(f"{where}: free-form body with no document model listed here")
                    continue
                problems += _unbounded(schema, f"{where} body", defs)
    for model in [m for m in DOCUMENT_BODIES.values() if m is not None] + list(CLI_DOCUMENTS):
        schema = model.model_json_schema()
        problems += _unbounded(schema, model.__name__, schema.get("$defs", {}))
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_limits_table_names_real_routes_and_every_upload_has_its_own_limit() -> None:
    app = _app()
    served = {(method, path) for method, path, _ in iter_routes(app)}
    assert set(limits.ROUTE_LIMITS) <= served, set(limits.ROUTE_LIMITS) - served
    assert set(DOCUMENT_BODIES) <= served
    spec = app.openapi()
    uploads = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
    }
    assert uploads and uploads <= set(limits.ROUTE_LIMITS), uploads - set(limits.ROUTE_LIMITS)


async def _call(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, bytes, int]:
    """Run one request through the ASGI app: its status, body, and how many body messages were read."""
    read = 0
    pieces = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return pieces.pop(0) if pieces else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return answer["status"], answer["body"], read


def test_a_300_mb_upload_is_refused_before_a_byte_of_it_is_read() -> None:
    """`Content-Length: 300 MB` on the meta-analysis upload: 413 naming the limit, the body never read."""
    app = _app()
    headers = {"content-type": "multipart/form-data; boundary=x", "content-length": str(300_000_000)}
    status, body, read = asyncio.run(_call(app, "POST", "/api/v1/meta/fit", headers, [b"x" * 1000]))
    assert status == 413
    assert read == 0
    assert "at most 2.0 MB" in json.loads(body)["detail"]


@pytest.mark.parametrize("media_type", ["application/fhir+json", "application/json"])
def test_a_fhir_bundle_over_its_limit_is_refused_before_it_is_read(media_type: str) -> None:
    """The FHIR import route (the API's only FHIR route with a body; Bulk Data import is the CLI's) takes at
    most `FHIR_BUNDLE_BYTES`: a larger declared body is refused unread, a chunked one cut off at the limit."""
    app = _app()
    fhir_body_routes = {
        (method.upper(), path)
        for method, path, route in iter_routes(app)
        if path.startswith("/api/v1/fhir") and method.upper() in ("POST", "PUT", "PATCH")
    }
    assert fhir_body_routes == {("POST", "/api/v1/fhir")} and fhir_body_routes <= set(limits.ROUTE_LIMITS)
    declared = {"content-type": media_type, "content-length": str(limits.FHIR_BUNDLE_BYTES + 1)}
    status, body, read = asyncio.run(_call(app, "POST", "/api/v1/fhir", declared, [b"{}"]))
    assert (status, read) == (413, 0)
    outcome = json.loads(body)  # an OperationOutcome, as every error on the FHIR routes
    assert outcome["resourceType"] == "OperationOutcome"
    assert "a FHIR bundle" in outcome["issue"][0]["diagnostics"]
    piece = b"x" * 1024 * 1024
    chunked = {"content-type": media_type, "transfer-encoding": "chunked"}
    offered = [piece] * (limits.FHIR_BUNDLE_BYTES // len(piece) + 8)
    status, _, read = asyncio.run(_call(app, "POST", "/api/v1/fhir", chunked, offered))
    assert status == 413 and read <= limits.FHIR_BUNDLE_BYTES // len(piece) + 1


def test_a_body_without_a_length_is_cut_off_at_its_routes_limit() -> None:
    """A chunked body to a JSON route is read only up to the route's limit, then refused (413)."""
    app = _app()
    chunks = [b"x" * 64 * 1024] * 100  # 6.4 MB offered, the route takes 256 kB
    headers = {"content-type": "application/json", "transfer-encoding": "chunked"}
    status, _, read = asyncio.run(_call(app, "POST", "/api/v1/patients", headers, chunks))
    assert status == 413
    assert read <= limits.DEFAULT_LIMIT.max_bytes // (64 * 1024) + 1


def test_a_large_upload_reaches_the_route_whole_through_a_temporary_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 3 MB body within its route's limit is kept on disk while it arrives and reaches the app intact."""
    spools: list[Any] = []

    class Recording(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            spools.append(self)

        def __exit__(self, *exc: object) -> None:
            self.was_on_disk = self._rolled
            super().__exit__(*exc)

    monkeypatch.setattr(limits.tempfile, "SpooledTemporaryFile", Recording)
    received: list[bytes] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            received.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    data = bytes(range(256)) * (3 * 4096)  # 3 MB
    gate = limits.RequestBody(inner, timeout_s=20, min_rate=50_000)
    chunks = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    status, _, _ = asyncio.run(
        _call(gate, "POST", "/api/v1/force/analyse", {"content-length": str(len(data))}, chunks)
    )
    assert status == 204
    assert b"".join(received) == data
    assert len(received) > 1  # handed on in pieces
    assert spools and spools[0].was_on_disk


def test_a_session_with_thousands_of_measurements_is_refused(world: Any) -> None:
    """A session with 180,000 measurements: 413 from the API; 1,000 refused by the service, naming the field.

    It was accepted (its episode page became 12 MB); the service's refusal covers the CLI and imports too.
    """
    client, csrf = world.client("clinician")
    records = world.records[1]
    episode_id = str(records["episode_id"])
    document = session_doc(episode_id, str(records["clinician"]), dt.date.today(), 5, 3)
    document["measurements"] = [{"measure": "nprs", "timing": "pre", "value": 5}] * 180_000
    answer = client.post(
        f"/api/v1/episodes/{episode_id}/sessions", json=document, headers={"x-csrf-token": csrf}
    )
    assert answer.status_code == 413, answer.text[:300]
    document["measurements"] = [{"measure": "nprs", "timing": "pre", "value": 5}] * 1_000
    with world.db() as db, pytest.raises(InvalidInput) as refused:
        sessions.record_session(db, 1, document, by="c1")
    assert any(p.field == "measurements" for p in refused.value.problems), refused.value.problems


def test_a_long_close_reason_is_refused(world: Any) -> None:
    """A 1 MB close reason gets 413, one of 5,000 characters 422 (API and service); it was accepted."""
    client, csrf = world.client("clinician")
    episode_id = str(world.records[1]["episode_id"])
    url = f"/api/v1/episodes/{episode_id}/close"
    today = dt.date.today().isoformat()
    huge = client.post(
        url, json={"closed_on": today, "reason": "x" * 1_000_000}, headers={"x-csrf-token": csrf}
    )
    assert huge.status_code == 413, huge.text[:300]
    long = client.post(url, json={"closed_on": today, "reason": "x" * 5_000}, headers={"x-csrf-token": csrf})
    assert long.status_code == 422, long.text[:300]
    assert long.json()["detail"][0]["field"] == "reason"
    with world.db() as db, pytest.raises(InvalidInput) as refused:
        episodes.close_episode(db, 1, int(world.records[1]["episode_row"]), dt.date.today(), "x" * 5_000)
    # Words that are not a discharge code are kept as the text of "other", which has its own maximum.
    assert refused.value.problems[0].field in ("reason", "text")
