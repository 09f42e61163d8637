"""Public ids in and out: the one place where a record's name outside the server meets its integer id.

In: `resolve` turns a public id a client gave (a URL segment, a form field, a CLI argument) into the row's
integer id, within one clinic. Anything else — a malformed id, an unknown one, another clinic's — is the
same `NotFound`, so a client learns nothing about records it may not see. The CLI may give a unique
prefix of at least `MIN_PREFIX` hex digits (32 are hard to type); the web takes only whole ids.

Out: `outward` turns a service's answer (views, dataclasses, dicts) into JSON-ready data in which every
integer under a key `id` or `*_id` is replaced by that record's public id. Inside the server integers stay
as they are (foreign keys, audit rows).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from strigil.services import views
from strigil.services.errors import NotFound, invalid
from strigil.store.accounts import Account, ApiToken
from strigil.store.public_ids import PUBLIC_ID_LENGTH, is_public_id
from strigil.store.record import (
    AdverseResponseRow,
    ClinicianRow,
    ClinicRow,
    ClinicTemplateRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    ScreeningRow,
    SessionRow,
)

__all__ = [
    "KINDS",
    "MIN_PREFIX",
    "inward_document",
    "outward",
    "outward_resource_id",
    "public_id_of",
    "public_ids",
    "resolve",
]

MIN_PREFIX = 8  # hex digits a CLI prefix needs: 32 bits, so a clinic's records rarely share one

# What each kind of record is called in messages, and its table.
KINDS: dict[str, Any] = {
    "clinic": ClinicRow,
    "patient": PatientRow,
    "episode": EpisodeRow,
    "session": SessionRow,
    "measurement": MeasurementRow,
    "adverse_response": AdverseResponseRow,
    "screening": ScreeningRow,
    "clinician": ClinicianRow,
    "clinic_template": ClinicTemplateRow,
    "account": Account,
    "token": ApiToken,
}

# Keys in answers that hold another record's id, and the kind of that record.
_REFERENCES = {
    "clinic_id": "clinic",
    "patient_id": "patient",
    "episode_id": "episode",
    "open_episode_id": "episode",
    "session_id": "session",
    "measurement_id": "measurement",
    "adverse_id": "adverse_response",
    "adverse_response_id": "adverse_response",
    "screening_id": "screening",
    "confirms_id": "screening",
    "clinician_id": "clinician",
    "template_id": "clinic_template",
    "account_id": "account",
    "token_id": "token",
}

# What `id` names in each view.
_VIEW_KINDS: dict[type, str] = {
    views.ClinicView: "clinic",
    views.ClinicianView: "clinician",
    views.PatientView: "patient",
    views.EpisodeSummary: "episode",
    views.EpisodeView: "episode",
    views.SessionView: "session",
    views.MeasurementView: "measurement",
    views.AdverseView: "adverse_response",
    views.ScreeningView: "screening",
}

_PREFIX = re.compile(r"[0-9a-f]+")


def _in_clinic(kind: str, clinic_id: int) -> Select[Any]:
    """(id, public_id) of the records of `kind` that belong to the clinic."""
    table = KINDS[kind]
    query = select(table.id, table.public_id)
    if kind == "clinic":
        return query.where(ClinicRow.id == clinic_id)
    if kind in ("patient", "clinician", "clinic_template", "account"):
        return query.where(table.clinic_id == clinic_id)
    if kind == "token":
        return query.join(Account, Account.id == ApiToken.account_id).where(Account.clinic_id == clinic_id)
    if kind == "episode":
        return query.join(PatientRow, PatientRow.id == EpisodeRow.patient_id).where(
            PatientRow.clinic_id == clinic_id
        )
    # sessions, measurements, adverse responses and screenings belong to an episode
    return (
        query.join(EpisodeRow, EpisodeRow.id == table.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(PatientRow.clinic_id == clinic_id)
    )


def _words(kind: str) -> str:
    return kind.replace("_", " ")


def resolve(db: Session, clinic_id: int, kind: str, text: object, *, prefix: bool = False) -> int:
    """The integer id of the clinic's record of `kind` whose public id is `text` (with `prefix`: starts with
    `text`, at least MIN_PREFIX hex digits, and only one record does); NotFound otherwise."""
    given = text.strip().lower() if prefix and isinstance(text, str) else text
    whole = is_public_id(given)
    if not whole and not (
        prefix
        and isinstance(given, str)
        and MIN_PREFIX <= len(given) < PUBLIC_ID_LENGTH
        and _PREFIX.fullmatch(given)
    ):
        shown = "".join(c for c in str(text)[:40] if c.isprintable())
        if prefix:
            raise NotFound(
                f"no {_words(kind)} {shown} in this clinic: give its public id "
                f"(32 hex digits, or a unique prefix of at least {MIN_PREFIX})"
            )
        raise NotFound(f"no {_words(kind)} {shown} in this clinic")
    table = KINDS[kind]
    assert isinstance(given, str)  # both branches above checked it
    condition = table.public_id == given if whole else table.public_id.startswith(given, autoescape=True)
    found = db.execute(_in_clinic(kind, clinic_id).where(condition).limit(2)).all()
    if not found:
        raise NotFound(f"no {_words(kind)} {given} in this clinic")
    if len(found) > 1:
        raise invalid(
            kind,
            given,
            f"ambiguous: more than one {_words(kind)} of this clinic starts with {given}; give more digits",
        )
    return int(found[0][0])


def public_ids(db: Session, kind: str, ids: Iterable[int], *, clinic_id: int | None = None) -> dict[int, str]:
    """The public ids of the records of `kind` with these integer ids (those that exist; with `clinic_id`,
    only the clinic's own: an audit row may hold another clinic's id, whose name is not ours to give)."""
    wanted = sorted(set(ids))
    table = KINDS[kind]
    query = select(table.id, table.public_id) if clinic_id is None else _in_clinic(kind, clinic_id)
    out: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        out.update((int(i), p) for i, p in db.execute(query.where(table.id.in_(chunk))))
    return out


def outward_resource_id(db: Session, resource: str, resource_id: str) -> str:
    """An audit event's `resource_id` (the database id, as text) as the record's public id; "" when the record
    is gone or the resource is not a record with one (the audit trail itself keeps the integer)."""
    if resource not in KINDS or not resource_id.isdigit():
        return "" if resource_id.isdigit() else resource_id
    return public_ids(db, resource, [int(resource_id)]).get(int(resource_id), "")


def public_id_of(db: Session, kind: str, row_id: int) -> str:
    """The public id of one record (it exists: the caller just read or wrote it)."""
    return public_ids(db, kind, [row_id])[row_id]


def _plain(value: Any) -> tuple[Any, str | None]:
    """A dataclass as a dict of its fields (not deep: nested views keep their type), and what `id` names."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return fields, _VIEW_KINDS.get(type(value), getattr(value, "RECORD_KIND", None))
    return value, None


def _kind_of(key: str, id_kind: str | None) -> str | None:
    if key == "id":
        return id_kind
    return _REFERENCES.get(key)


def _collect(value: Any, id_kind: str | None, wanted: dict[str, set[int]]) -> None:
    value, own = _plain(value)
    if isinstance(value, Mapping):
        kind_here = own or id_kind
        for key, item in value.items():
            kind = _kind_of(str(key), kind_here)
            if kind is not None and isinstance(item, int) and not isinstance(item, bool):
                wanted[kind].add(item)
            elif not isinstance(item, (str, int, float, bool, dt.date, type(None))):
                _collect(item, None, wanted)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _collect(item, id_kind, wanted)


def _rebuild(value: Any, id_kind: str | None, names: Mapping[str, Mapping[int, str]], strict: bool) -> Any:
    value, own = _plain(value)
    if isinstance(value, Mapping):
        kind_here = own or id_kind
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            if key.endswith("public_id"):
                continue  # a view's own copy: `id` (or the reference) carries it below
            kind = _kind_of(key, kind_here)
            integer = isinstance(item, int) and not isinstance(item, bool)
            if kind is not None and integer:
                public = names[kind].get(item)
                if public is None and strict:
                    raise LookupError(f"{key}={item}: no {_words(kind)} with that id to name it by")
                out[key] = public  # not strict: a record since erased or re-recorded is named by nothing
            elif (key == "id" or key.endswith("_id")) and integer:
                if strict:
                    raise LookupError(f"{key}={item}: an integer id without a known kind of record")
                # not strict: dropped (a part of its record, such as a dose step, has no name of its own)
            else:
                out[key] = _rebuild(item, None, names, strict)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_rebuild(item, id_kind, names, strict) for item in value]
    return value


def outward(db: Session, value: Any, *, id_kind: str | None = None, strict: bool = True) -> Any:
    """`value` as JSON-ready data (dicts, lists, scalars), every record's integer id replaced by its public id
    (`id_kind`: what a top-level dict's `id` names, when it is not a view).

    Strict (answers about records that exist): an integer id this cannot name is an error. Not strict (an
    export of stored rows, old versions included): it becomes None, or is left out when nothing says what
    it names; either way no database integer leaves."""
    wanted: dict[str, set[int]] = defaultdict(set)
    _collect(value, id_kind, wanted)
    names = {kind: public_ids(db, kind, ids) for kind, ids in wanted.items()}
    return _rebuild(value, id_kind, names, strict)


def inward_document(
    db: Session, clinic_id: int, doc: dict[str, Any], *, prefix: bool = False
) -> dict[str, Any]:
    """A session or screening document with the public ids a client wrote (`episode_id`, `session_id`, the
    follow-up's `adverse_id`s) turned into the clinic's integer ids; integers are refused as unknown."""
    out = dict(doc)
    for key in ("episode_id", "session_id"):
        if key in out and out[key] is not None:
            out[key] = resolve(db, clinic_id, _REFERENCES[key], out[key], prefix=prefix)
    follow_up = out.get("follow_up")
    if isinstance(follow_up, dict) and isinstance(follow_up.get("resolved"), list):
        resolved = []
        for item in follow_up["resolved"]:
            if isinstance(item, dict) and item.get("adverse_id") is not None:
                item = {
                    **item,
                    "adverse_id": resolve(
                        db, clinic_id, "adverse_response", item["adverse_id"], prefix=prefix
                    ),
                }
            resolved.append(item)
        out["follow_up"] = {**follow_up, "resolved": resolved}
    return out
