"""Integer ids never leave the server (issue 18 item 9): the JSON API answers and takes only public ids, web
pages link by them, an integer URL or another clinic's public id is the same audited 404.

Database ids are global to the server, so a clinic that saw its own would see other clinics' activity in
the gaps between them. The walks below go through every kind of record a clinician creates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from web_schema import CONSENT, TODAY, seed_clinic, session_doc
from web_world import PASSWORD, World

from strigil.services import accounts as account_service
from strigil.services import audit as audit_service
from strigil.settings import Settings
from strigil.store.accounts import Account, ApiToken
from strigil.store.database import make_engine, migrate
from strigil.store.public_ids import is_public_id
from strigil.store.record import (
    AdverseResponseRow,
    ClinicRow,
    EpisodeRow,
    MeasurementRow,
    ScreeningRow,
    SessionRow,
)
from strigil.web.app import create_app

# Keys under which an integer is not a record's id. None so far: every `id`/`*_id` in an answer names a
# record (kept as an explicit, empty list so that an exception has to say why here).
NOT_RECORD_IDS: dict[str, str] = {}

PLAN = {
    "condition": "lateral_elbow_tendinopathy",
    "region": "elbow",
    "side": "right",
    "target_tissue": "tendon",
    "onset_date": (TODAY - dt.timedelta(days=100)).isoformat(),
    "opened_on": (TODAY - dt.timedelta(days=7)).isoformat(),
    "planned_iastm": True,
    "planned_co_interventions": ["strengthening"],
    "consent": {
        "given_on": (TODAY - dt.timedelta(days=7)).isoformat(),
        "explained": CONSENT,
    },
}


@pytest.fixture
def two_clinics(database_url: str, fast_hasher: None) -> Iterator[World]:
    """Two seeded clinics on a fresh SQLite or PostgreSQL database, every role in each."""
    engine = make_engine(database_url)
    migrate(engine)
    ids: dict[tuple[int, str], str] = {}
    rows: dict[tuple[int, str], int] = {}
    with sessionmaker(engine, expire_on_commit=False)() as db:
        records = {n: seed_clinic(db, n) for n in (1, 2)}
        for clinic in (1, 2):
            for role in ("admin", "clinician", "researcher", "spare"):
                account = account_service.create_account(
                    db,
                    username=f"{role}{clinic}",
                    display_name=f"{role} {clinic}",
                    role="clinician" if role == "spare" else role,
                    clinic_id=int(records[clinic]["clinic_id"]),
                    password=PASSWORD,
                )
                ids[(clinic, role)] = account.public_id
                rows[(clinic, role)] = account.id
        db.commit()
    app = create_app(Settings(database_url=database_url), engine=engine)
    yield World(app=app, engine=engine, ids=ids, records=records, account_rows=rows)
    engine.dispose()


def integer_ids(value: Any, where: str = "") -> list[str]:
    """Where, in a JSON answer, an integer sits under a key `id` or `*_id` (none may)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}"
            named_id = key == "id" or key.endswith("_id")
            if (
                named_id
                and isinstance(item, int)
                and not isinstance(item, bool)
                and key not in NOT_RECORD_IDS
            ):
                found.append(f"{here}={item}")
            found += integer_ids(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += integer_ids(item, f"{where}[{i}]")
    return found


class Walk:
    """A signed-in API client that checks every JSON answer on the way."""

    def __init__(self, world: World, role: str = "clinician", clinic: int = 1) -> None:
        self.client, self.csrf = world.client(role, clinic)
        self.answers = 0

    def __call__(self, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers={"X-CSRF-Token": self.csrf}, **kwargs)
        assert response.status_code == status, (method, url, response.text)
        body = response.json()
        assert integer_ids(body) == [], (method, url)
        self.answers += 1
        return body


def _public(world: World, table: Any, row_id: int) -> str:
    with world.db() as db:
        return str(db.scalar(select(table.public_id).where(table.id == row_id)))


def _row(world: World, table: Any, public_id: str) -> int:
    with world.db() as db:
        found = db.scalar(select(table.id).where(table.public_id == public_id))
        assert found is not None, (table.__tablename__, public_id)
        return int(found)


def test_the_api_answers_and_takes_only_public_ids(two_clinics: World) -> None:
    world = two_clinics
    api = Walk(world)
    patient = api(
        "POST", "/api/v1/patients", 201, json={"code": "PUB-1", "birth_year": 1980, "sex": "female"}
    )
    assert is_public_id(patient["id"]) and is_public_id(patient["clinic_id"])
    assert patient["clinic_id"] == _public(world, ClinicRow, int(world.records[1]["clinic_id"]))
    episode = api("POST", "/api/v1/patients/PUB-1/episodes", 201, json=PLAN)
    e = episode["id"]
    assert episode["patient_id"] == patient["id"] and _row(world, EpisodeRow, e)
    api("GET", "/api/v1/patients/PUB-1")
    api("GET", "/api/v1/patients", params={"q": "PUB"})
    stored = api("POST", f"/api/v1/episodes/{e}/screenings", 201, json={"region": "elbow", "findings": []})
    assert stored["episode_id"] == e and _row(world, ScreeningRow, stored["screening_id"])
    api("POST", f"/api/v1/episodes/{e}/screening", json={"findings": []})
    doc = {**session_doc(0, "c1", TODAY - dt.timedelta(days=7), 6, 4), "screening": {"findings": []}}
    session = api("POST", f"/api/v1/episodes/{e}/sessions", 201, json=doc)
    s = session["id"]
    assert session["episode_id"] == e and _row(world, SessionRow, s)
    measurement = api(
        "POST",
        f"/api/v1/episodes/{e}/measurements",
        201,
        json={"measure": "nprs", "value": 3, "taken_on": TODAY.isoformat(), "session_id": s},
    )
    assert measurement["session_id"] == s and _row(world, MeasurementRow, measurement["id"])
    adverse = api(
        "POST",
        f"/api/v1/episodes/{e}/adverse-responses",
        201,
        json={"kind": "soreness", "severity": "mild", "onset_on": TODAY.isoformat(), "session_id": s},
    )
    a = adverse["id"]
    assert adverse["session_id"] == s and _row(world, AdverseResponseRow, a)
    shown = api("GET", f"/api/v1/episodes/{e}")
    assert shown["id"] == e and [x["id"] for x in shown["sessions"]] == [s]
    assert {x["id"] for x in shown["measurements"]} >= {measurement["id"]}
    assert [x["id"] for x in shown["adverse_responses"]] == [a]
    assert _row(world, ScreeningRow, shown["latest_screening"]["id"])
    resolved = api(
        "POST",
        f"/api/v1/adverse-responses/{a}/resolve",
        json={"resolved_on": TODAY.isoformat(), "where": "phone"},
    )
    assert resolved["id"] == a
    api("GET", f"/api/v1/sessions/{s}/note")
    api(
        "POST",
        f"/api/v1/sessions/{s}/amendments",
        201,
        json={"changes": {"notes": "corrected"}, "reason": "typo in the note"},
    )
    api("POST", f"/api/v1/sessions/{s}/addenda", 201, json={"on": TODAY.isoformat(), "text": "rang: fine"})
    unsigned = api.client.post(f"/api/v1/sessions/{s}/sign", headers={"X-CSRF-Token": api.csrf})
    assert (
        unsigned.status_code == 409 and s in unsigned.text
    )  # only c1 signs; the message names the public id
    # the next session asks about the earlier response by its public id
    follow = {
        **session_doc(0, "c1", TODAY, 4, 3),
        "screening": {"findings": []},
        "follow_up": {"asked": True, "resolved": []},
    }
    api("POST", f"/api/v1/episodes/{e}/sessions", 201, json=follow)
    api("GET", f"/api/v1/episodes/{e}/discharge-summary")
    discharged = api(
        "POST", f"/api/v1/episodes/{e}/discharge", json={"on": TODAY.isoformat(), "reason": "goals_met"}
    )
    assert discharged["episode"]["id"] == e
    api("POST", f"/api/v1/episodes/{e}/reopen", json={"reason": "pain came back at work"})
    api("GET", "/api/v1/dashboard")
    me = api("GET", "/api/v1/me")
    assert is_public_id(me["clinic_id"])
    token = api("POST", "/api/v1/tokens", 201, json={"name": "scripts", "scopes": ["read"]})
    with world.db() as db:
        assert db.scalar(select(ApiToken.public_id).where(ApiToken.prefix == token["prefix"])) == token["id"]
    api("GET", "/api/v1/tokens")
    assert api("DELETE", f"/api/v1/tokens/{token['id']}")["revoked_at"]
    admin = Walk(world, "admin")
    accounts = admin("GET", "/api/v1/accounts")
    with world.db() as db:
        named = dict(db.execute(select(Account.username, Account.public_id)).all())
    assert all(x["id"] == named[x["username"]] for x in accounts)
    spare = world.ids[(1, "spare")]
    admin("POST", f"/api/v1/accounts/{spare}/reset-password", json={"password": "another fine passphrase 9"})
    admin("POST", f"/api/v1/accounts/{spare}/deactivate")
    assert api.answers + admin.answers >= 25


def test_integer_ids_and_other_clinics_public_ids_are_the_same_audited_404(two_clinics: World) -> None:
    world = two_clinics
    client, csrf = world.client("clinician")
    own, other = world.records[1], world.records[2]
    headers = {"X-CSRF-Token": csrf}
    for key in ("episode_row", "episode_id"):  # the database integer and the public id of clinic 2
        for url in (
            f"/api/v1/episodes/{other[key]}",
            f"/episodes/{other[key]}",
            f"/api/v1/sessions/{other[key.replace('episode', 'session')]}/note",
            f"/sessions/{other[key.replace('episode', 'session')]}",
        ):
            assert client.get(url).status_code == 404, url
        adverse = other[key.replace("episode", "adverse")]
        refused = client.post(
            f"/api/v1/adverse-responses/{adverse}/resolve",
            json={"resolved_on": TODAY.isoformat()},
            headers=headers,
        )
        assert refused.status_code == 404
    # even our own records are not found by their integers, and a malformed id is the same 404
    for url in (
        f"/api/v1/episodes/{own['episode_row']}",
        f"/episodes/{own['episode_row']}",
        "/episodes/x%27",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/api/v1/episodes/{own['episode_id']}").status_code == 200
    admin, admin_csrf = world.client("admin")
    for account in (world.account_rows[(1, "spare")], world.ids[(2, "spare")]):
        gone = admin.post(f"/api/v1/accounts/{account}/deactivate", headers={"X-CSRF-Token": admin_csrf})
        assert gone.status_code == 404
    with world.db() as db:
        events = audit_service.list_events(db, 1, per_page=500).events
        denied = [e for e in events if e.action == "denied" and e.username == "clinician1"]
        assert len(denied) >= 10 and all(e.detail.startswith("404") for e in denied), [
            e.detail for e in denied
        ]
        assert any(str(other["episode_id"]) in e.resource_id + e.detail for e in denied)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (method, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(("get", str(found["href"])))
        if tag == "form" and found.get("action"):
            self.links.append((str(found.get("method") or "get").lower(), str(found["action"])))
        for attr in ("hx-post", "formaction"):
            if found.get(attr):
                self.links.append(("post", str(found[attr])))


# A path segment of digits only, after a segment that names a kind of record: an integer id in a URL.
_INTEGER_SEGMENT = re.compile(
    r"/(episodes|sessions|adverse-responses|accounts|tokens|patients)/\d+(/|$|\?|#)"
)


def _crawl(client: Any, start: str, limit: int = 120) -> tuple[set[str], set[str]]:
    """Every same-site URL reachable by GET links from `start` (and the form actions seen), to `limit`."""
    seen: set[str] = set()
    actions: set[str] = set()
    queue = [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        path = urlsplit(url).path
        if path in seen or path.startswith(("/logout", "/static", "/api/")):
            continue
        seen.add(path)
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.headers.get("content-type", ""):
            continue
        parser = _Links()
        parser.feed(response.text)
        for method, link in parser.links:
            target = urljoin(url, link)
            parts = urlsplit(target)
            if parts.netloc not in ("", "testserver") or not parts.path.startswith("/"):
                continue
            if method == "get":
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
            else:
                actions.add(parts.path)
    return seen, actions


def test_web_pages_link_only_by_public_ids(two_clinics: World) -> None:
    world = two_clinics
    api = Walk(world)
    e = world.records[1]["episode_id"]
    api("POST", f"/api/v1/episodes/{e}/sessions", 201, json=session_doc(0, "c1", TODAY, 5, 3))
    api("POST", f"/api/v1/episodes/{e}/discharge", json={"on": TODAY.isoformat(), "reason": "goals_met"})
    api("POST", f"/api/v1/episodes/{e}/reopen", json={"reason": "pain came back at work"})
    client, _ = world.client("clinician")
    pages, actions = _crawl(client, "/")
    for start in (
        f"/patients/{world.records[1]['patient_code']}",
        f"/episodes/{e}",
        f"/episodes/{e}/handout",
    ):
        more_pages, more_actions = _crawl(client, start)
        pages |= more_pages
        actions |= more_actions
    admin, _ = world.client("admin")
    admin_pages, admin_actions = _crawl(admin, "/admin/accounts")
    for start in ("/admin/audit", "/admin/privacy", "/account"):
        more_pages, more_actions = _crawl(admin, start)
        admin_pages |= more_pages
        admin_actions |= more_actions
    everything = pages | actions | admin_pages | admin_actions
    # the crawl reached every kind of page that names a record
    for pattern in (
        r"^/episodes/[0-9a-f]{32}$",
        r"^/sessions/[0-9a-f]{32}$",
        r"^/episodes/[0-9a-f]{32}/discharge$",
        r"^/episodes/[0-9a-f]{32}/handout$",
        r"^/sessions/[0-9a-f]{32}/sign$",
        r"^/adverse-responses/[0-9a-f]{32}/resolve$",
        r"^/admin/accounts/[0-9a-f]{32}/deactivate$",
    ):
        assert any(re.match(pattern, u) for u in everything), pattern
    integer_urls = sorted(u for u in everything if _INTEGER_SEGMENT.search(u))
    assert integer_urls == []
    # and the old integer URLs answer 404
    own = world.records[1]
    for url in (
        f"/episodes/{own['episode_row']}",
        f"/episodes/{own['episode_row']}/discharge",
        f"/episodes/{own['episode_row']}/handout",
        f"/sessions/{own['session_row']}",
        f"/sessions/{own['session_row']}/print",
    ):
        assert client.get(url).status_code == 404, url


def test_the_privacy_export_holds_no_database_integer(two_clinics: World) -> None:
    """Every record of the patient, its kept versions and its audit rows, without one database id."""
    from strigil.services.privacy import export_patient
    from strigil.store.audit import AuditEvent
    from strigil.store.record import AmendmentRow, DoseStepRow, PatientRow

    world = two_clinics
    api = Walk(world)
    e, a = world.records[1]["episode_id"], world.records[1]["adverse_id"]
    session = api("POST", f"/api/v1/episodes/{e}/sessions", 201, json=session_doc(0, "c1", TODAY, 5, 3))
    api("POST", f"/api/v1/adverse-responses/{a}/resolve", json={"resolved_on": TODAY.isoformat()})
    api(
        "POST",
        f"/api/v1/sessions/{session['id']}/amendments",
        201,
        json={"changes": {"notes": "corrected"}, "reason": "typo in the note"},
    )
    api("POST", f"/api/v1/episodes/{e}/screenings", 201, json={"region": "elbow", "findings": []})
    admin, _ = world.client("admin")
    code = world.records[1]["patient_code"]
    answer = admin.get(f"/api/v1/patients/{code}/export")
    assert answer.status_code == 200
    with world.db() as db:
        doc = export_patient(db, 1, str(code), audit_service.Actor(None, "t", "admin", 1))
        patient = db.scalar(select(PatientRow).where(PatientRow.code == code))
        assert patient is not None
        owned = {
            "patient": {patient.id},
            "episodes": set(db.scalars(select(EpisodeRow.id).where(EpisodeRow.patient_id == patient.id))),
        }
        episodes = owned["episodes"]
        owned["sessions"] = set(db.scalars(select(SessionRow.id).where(SessionRow.episode_id.in_(episodes))))
        owned["dose_steps"] = set(
            db.scalars(select(DoseStepRow.id).where(DoseStepRow.session_id.in_(owned["sessions"])))
        )
        for name, table in (
            ("measurements", MeasurementRow),
            ("adverse", AdverseResponseRow),
            ("screenings", ScreeningRow),
        ):
            owned[name] = set(db.scalars(select(table.id).where(table.episode_id.in_(episodes))))
        owned["amendments"] = set(db.scalars(select(AmendmentRow.id)))
        owned["audit"] = set(db.scalars(select(AuditEvent.id).where(AuditEvent.patient_id == patient.id)))
        owned["accounts"] = set(db.scalars(select(Account.id)))
    assert all(
        owned[k] for k in ("dose_steps", "measurements", "adverse", "screenings", "amendments", "audit")
    )
    for exported in (doc, answer.json()):
        assert integer_ids(exported) == []
        # nor anywhere as text: the ids of the rows, written out, appear under no key that names a record
        named = _named_values(exported)
        rows = {str(i) for ids in owned.values() for i in ids}
        assert not named & rows, sorted(named & rows)
        assert exported["patient"]["id"] == patient.public_id
        assert {x["id"] for x in exported["sessions"]} >= {session["id"]}
        assert {x["entity_id"] for x in exported["amendments"]} <= {
            *(x["id"] for x in exported["sessions"]),
            *(x["id"] for x in exported["adverse_responses"]),
            *(x["id"] for x in exported["measurements"]),
            exported["patient"]["id"],
            *(x["id"] for x in exported["episodes"]),
        }
        assert all(is_public_id(x["patient_id"]) for x in exported["audit_events"])


def _named_values(value: Any) -> set[str]:
    """Every value under a key `id`, `*_id` or `*_ids`, as text."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" or key.endswith(("_id", "_ids")):
                found |= {str(x) for x in item} if isinstance(item, list) else {str(item)}
            found |= _named_values(item)
    elif isinstance(value, list):
        for item in value:
            found |= _named_values(item)
    return found
