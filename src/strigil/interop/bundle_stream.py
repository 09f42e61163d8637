"""A FHIR Bundle read entry by entry, never whole, and cut into parts that can be planned one at a time.

A Bundle's references may point anywhere in it, so nothing can be planned before every entry is known; but
what an entry needs is only what it refers to. Reading is therefore two passes over the bytes:

1. the envelope (resourceType, type, whether `entry` is a list), from the JSON's first events;
2. the entries, one at a time (`ijson`, yajl's C parser), each checked as `read_bundle` checks an entry (a
   request that is not an add, no resource, a duplicate key) and spooled as compact JSON to a private
   temporary file, keeping only what names it (fullUrl, Type/id) and what it names (its references).

Entries that refer to each other, directly or through others, form a group (union–find over the references);
groups are packed in bundle order into parts of about `PART_BYTES` of JSON. The few resources a whole clinic
shares (`interop.bulk.CLINIC_TYPES`: Organization, Practitioner, Device, when they refer to nothing else) are
not group members: every part carries the Organizations and the shared resources its members refer to, and
the first part carries them all. Each part is a small Bundle of the original type whose entries keep their
place in the whole (`positions`), so `plan_import` names problems and entries as for the whole bundle. Memory
is one part's parsed JSON plus a small index, whatever the bundle's size; a bundle of one group (every
patient tied to every other) is one part, as before.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ijson
import orjson

from strigil.interop.bulk import CLINIC_TYPES
from strigil.interop.bundle import (
    BOM,
    NESTED_TOO_DEEP,
    NESTED_TOO_DEEP_TO_CHECK,
    NOT_A_LIST,
    UnreadableJson,
    bundle_type_problem,
    duplicate_key,
    entry_keys,
    entry_name,
    entry_resource,
    not_a_bundle,
    not_an_object,
    reference_texts,
)
from strigil.interop.r4 import FhirProblem

__all__ = ["PART_BYTES", "BundlePart", "SpooledBundle", "spool_bundle"]

# Spooled JSON per part: about 7 times that once parsed and planned. An engineering bound, not a clinical one.
PART_BYTES = 4 * 2**20

_READ = 1 << 16


class _Utf8Checked:
    """A binary stream as the parser reads it: a leading byte order mark skipped (RFC 8259 §8.1) and every
    byte checked to be UTF-8 as it passes, so a fault is named by its byte as `read_json` names it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # the parser's probe for bytes or text
        data = self._raw.read(size if size > 0 else _READ)
        if self._offset == 0 and data.startswith(BOM):
            data, self._offset = data[len(BOM) :], len(BOM)
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as bad:
            byte = self._offset - pending + bad.start
            raise UnreadableJson.not_utf8(byte) from None
        self._offset += len(data)
        return data


def _unreadable(error: Exception) -> UnreadableJson:
    """The parser's complaint in one line (its later lines quote the text, which may be a patient's)."""
    if isinstance(error, RecursionError):
        return UnreadableJson(NESTED_TOO_DEEP)
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UnreadableJson(f"not JSON ({first})")


@dataclass(frozen=True)
class BundlePart:
    """Some of a bundle's entries, as a Bundle of its own, and each entry's place in the whole bundle."""

    document: dict[str, Any]
    positions: list[int]
    members: int  # entries of its own groups (the rest are shared entries, which come with other parts too)


@dataclass(slots=True)
class _Entry:
    position: int
    offset: int
    length: int
    kind: str
    targets: list[str]


@dataclass
class SpooledBundle:
    """A Bundle after the reading passes: its type, every entry's name in order, the problems found while
    reading, and the spooled entries from which `parts` rebuilds it a part at a time."""

    spool: IO[bytes]
    bundle_type: Any = None
    names: list[str] = field(default_factory=list)
    problems: list[FhirProblem] = field(default_factory=list)
    # False when the envelope is not a Bundle's: nothing else is read or planned
    readable: bool = True
    _entries: list[_Entry] = field(default_factory=list)
    _keys: dict[str, int] = field(default_factory=dict)

    @property
    def spooled(self) -> int:
        """How many entries were read into the spool (every entry with a resource to import)."""
        return len(self._entries)

    def parts(self, part_bytes: int = PART_BYTES) -> Iterator[BundlePart]:
        """The bundle's entries as parts, in bundle order (see the module's doc); one part for a small one."""
        if not self.readable:
            return
        entries = self._entries
        links = [[j for t in e.targets if (j := self._find(t)) is not None] for e in entries]
        shared = self._shared(links)
        groups = _Groups(len(entries))
        for i, targets in enumerate(links):
            if i not in shared:
                for j in targets:
                    if j not in shared:
                        groups.join(i, j)
        members: dict[int, list[int]] = {}
        for i in range(len(entries)):
            if i not in shared:
                members.setdefault(groups.root(i), []).append(i)
        organizations = [i for i in sorted(shared) if entries[i].kind == "Organization"]
        part: list[int] = []
        size = 0
        first = True
        for group in members.values():  # in order of each group's first entry
            part.extend(group)
            size += sum(entries[i].length for i in group)
            if size >= part_bytes:
                yield self._part(part, shared if first else self._needed(part, links, shared, organizations))
                part, size, first = [], 0, False
        if part or first:
            yield self._part(part, shared if first else self._needed(part, links, shared, organizations))

    def _find(self, target: str) -> int | None:
        """The entry a reference points at, as `ReadBundle.resolve` finds it (an exact key, else the last
        "Type/id" of an absolute reference)."""
        if target.startswith("#"):
            return None
        found = self._keys.get(target)
        if found is None:
            found = self._keys.get("/".join(target.rstrip("/").split("/")[-2:]))
        return found

    def _shared(self, links: list[list[int]]) -> set[int]:
        """The clinic-level entries that refer only to clinic-level entries (a Device naming a patient is
        that patient's): shared by every part instead of joining a group."""
        shared = {i for i, e in enumerate(self._entries) if e.kind in CLINIC_TYPES}
        changed = True
        while changed:  # a Practitioner naming such a Device is no longer shared either
            changed = False
            for i in sorted(shared):
                if any(j not in shared for j in links[i]):
                    shared.discard(i)
                    changed = True
        return shared

    @staticmethod
    def _needed(
        part: list[int], links: list[list[int]], shared: set[int], organizations: list[int]
    ) -> set[int]:
        """The shared entries a part refers to, directly or through other shared entries, and every
        Organization (a clinic's patients are planned under it)."""
        needed = set(organizations)
        todo = [j for i in part for j in links[i] if j in shared]
        while todo:
            j = todo.pop()
            if j not in needed:
                needed.add(j)
                todo.extend(k for k in links[j] if k in shared)
        return needed

    def _part(self, members: list[int], shared: set[int]) -> BundlePart:
        chosen = sorted({*members, *shared})  # bundle order, as a whole bundle is planned
        entries = []
        for i in chosen:
            self.spool.seek(self._entries[i].offset)
            entries.append(orjson.loads(self.spool.read(self._entries[i].length)))
        document = {"resourceType": "Bundle", "type": self.bundle_type, "entry": entries}
        return BundlePart(document, [self._entries[i].position for i in chosen], len(members))


class _Groups:
    """Union–find over entry indices (path halving, union by size)."""

    def __init__(self, n: int) -> None:
        self._parent = list(range(n))
        self._size = [1] * n

    def root(self, i: int) -> int:
        parent = self._parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        a, b = self.root(a), self.root(b)
        if a == b:
            return
        if self._size[a] < self._size[b]:
            a, b = b, a
        self._parent[b] = a
        self._size[a] += self._size[b]


def spool_bundle(source: IO[bytes], spool: IO[bytes]) -> SpooledBundle:
    """Read a Bundle from `source` (seekable bytes) entry by entry into `spool` (a private temporary file),
    checking what `read_bundle` checks before it validates: raise `UnreadableJson` for bytes that are not
    JSON text; put every other fault in `problems`."""
    read = SpooledBundle(spool)
    start = source.tell()
    _read_envelope(_Utf8Checked(source), read)
    if not read.readable:
        return read
    source.seek(start)
    try:
        for i, entry in enumerate(ijson.items(_Utf8Checked(source), "entry.item", use_float=True)):
            _spool_entry(read, i, entry)
    except ijson.JSONError as error:
        raise _unreadable(error) from None
    except RecursionError as error:
        raise _unreadable(error) from None
    return read


_JSON_TYPE = {"start_array": "list", "string": "str", "boolean": "bool", "null": "NoneType"}


def _read_envelope(source: _Utf8Checked, read: SpooledBundle) -> None:
    """Check the bundle's resourceType, type and entry list from the JSON's events, stopping as soon as all
    three are seen (Strigil and most senders write them first)."""
    seen: dict[str, tuple[str, Any]] = {}
    try:
        events = ijson.parse(source, use_float=True)
        for prefix, event, value in events:
            if prefix == "" and event != "start_map":
                if event in ("map_key", "end_map"):
                    continue
                _read_to_the_end(events, event)  # text that is not JSON is told as such first
                kind = _JSON_TYPE.get(event, type(value).__name__)
                read.problems.append(not_an_object(kind))
                read.readable = False
                return
            if prefix in ("resourceType", "type", "entry") and prefix not in seen:
                seen[prefix] = (event, value)
                if len(seen) == 3:
                    break
    except ijson.JSONError as error:
        raise _unreadable(error) from None
    resource_type = seen.get("resourceType", ("null", None))[1]
    if resource_type != "Bundle":
        read.problems.append(not_a_bundle(resource_type))
        read.readable = False
        return
    read.bundle_type = seen.get("type", ("null", None))[1]
    if (wrong_type := bundle_type_problem(read.bundle_type)) is not None:
        read.problems.append(wrong_type)
    if "entry" in seen and seen["entry"][0] != "start_array":
        read.problems.append(NOT_A_LIST)
        read.readable = False


# orjson's limit, as `read_json` reads a whole document
_MAX_DEPTH = 1024


def _read_to_the_end(events: Iterator[tuple[str, str, Any]], first: str) -> None:
    """Parse the rest of a document that is not an object, so that bad JSON or JSON nested deeper than a
    whole-document reader reads is named as such, as `read_json` names it."""
    depth = 1 if first in ("start_map", "start_array") else 0
    for _, event, _ in events:
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > _MAX_DEPTH:
                raise UnreadableJson(NESTED_TOO_DEEP)
        elif event in ("end_map", "end_array"):
            depth -= 1


def _spool_entry(read: SpooledBundle, i: int, entry: Any) -> None:
    """Check one entry as `read_bundle` does before validating it, and spool it with its keys and links."""
    read.names.append(entry_name(entry, i))
    resource, refusal = entry_resource(entry, i)
    if resource is None:
        assert refusal is not None
        read.problems.append(refusal)
        return
    try:
        compact = orjson.dumps(entry)
    except orjson.JSONEncodeError as error:
        # deeper than orjson writes (254 levels), and so deeper than the checks walk
        message = (
            NESTED_TOO_DEEP_TO_CHECK if "ecursion" in str(error) else f"not JSON Strigil can read ({error})"
        )
        raise UnreadableJson(message) from None
    where = f"entry[{i}] {resource.get('resourceType')}/{resource.get('id')}"
    index = len(read._entries)
    for key in entry_keys(entry, resource):
        if key in read._keys:
            read.problems.append(duplicate_key(where, key))
        else:
            read._keys[key] = index
    offset = read.spool.seek(0, 2)
    read.spool.write(compact)
    # most references name the same few targets (the patient, the clinician): one string each, shared
    targets = [sys.intern(t) for t in reference_texts(compact)]
    kind = sys.intern(str(resource.get("resourceType")))
    read._entries.append(_Entry(i, offset, len(compact), kind, targets))
