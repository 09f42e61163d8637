"""A FHIR Bundle read entry by entry, never whole, and cut into parts that can be planned one at a time.

A Bundle's references may point anywhere in it, so nothing can be planned before every entry is known; but
what an entry needs is only what it refers to. Reading is therefore two passes over the bytes:

1. every JSON event, building nothing: the envelope (a JSON object, resourceType, type, `entry` a list), no
   top-level key twice, nothing nested deeper than a whole-document reader reads, and UTF-8 text whose `\\u`
   escapes are whole characters (`_CheckedText`);
2. the entries, one at a time (`ijson`, yajl's C parser), each checked as `read_bundle` checks an entry (a
   request that is not an add, no resource, a duplicate key) and spooled as compact JSON to a private
   temporary file, keeping only what names it (fullUrl, Type/id) and what it names (its references).

Entries that refer to each other, directly or through others, form a group (union–find over the references);
groups are packed in bundle order into parts of about `PART_BYTES` of JSON. The few resources a whole clinic
shares (`interop.bulk.CLINIC_TYPES`: Organization, Practitioner, Device, when they refer to nothing else) are
not group members: every part carries the Organizations and the shared resources its members refer to, and
the first part carries them all. Each part is a small Bundle of the original type whose entries keep their
place in the whole (`positions`), so `plan_import` names problems and entries as for the whole bundle. Memory
is one part's parsed JSON plus an index of names and references (about 0.7 KB an entry); a bundle of one
group (every patient tied to every other) is one part, as before.
"""

from __future__ import annotations

import codecs
import re
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


# A backslash escape in JSON text: `\\uXXXX` (its four hex digits captured) or `\\` and one character.
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


class _CheckedText:
    """A binary stream as the parser reads it: a leading byte order mark skipped (RFC 8259 §8.1), and every
    byte checked as it passes to be UTF-8 (a fault named by its byte, as `read_json` names it) and, with
    `surrogates`, every `\\u` escape to be a whole character: yajl turns a lone UTF-16 surrogate into "?" or
    fails, where a whole-document reader refuses the text (RFC 8259 §8.2)."""

    def __init__(self, raw: IO[bytes], *, surrogates: bool = False) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0
        self._surrogates = surrogates
        self._held = b""  # the end of the last read from an escape that may go on in the next one
        self._held_at = 0  # where the held bytes start in the file
        self._high_pending = False  # the text checked so far ends with a high surrogate's escape

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # the parser's probe for bytes or text
        data = self._raw.read(size if size > 0 else _READ)
        if self._offset == 0 and data.startswith(BOM):
            data, self._offset = data[len(BOM) :], len(BOM)
            self._held_at = self._offset
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as bad:
            byte = self._offset - pending + bad.start
            raise UnreadableJson.not_utf8(byte) from None
        self._offset += len(data)
        if self._surrogates:
            self._check_escapes(data, final=not data)
        return data

    def _check_escapes(self, data: bytes, *, final: bool) -> None:
        text = self._held + data
        cut = len(text)
        near = text.rfind(b"\\", max(0, len(text) - 6))  # an escape is at most 6 bytes: \\uXXXX
        if near >= 0 and not final:
            run = near
            while run > 0 and text[run - 1] == 0x5C:
                run -= 1
            if (near - run) % 2 == 0:  # an even number of backslashes before it: it starts an escape
                cut = near  # that may go on in the next read: checked then, in step
        checked, self._held = text[:cut], text[cut:]
        start, self._held_at = self._held_at, self._held_at + cut
        if not self._high_pending and b"\\u" not in checked:
            return
        expect_low = 0 if self._high_pending else None  # where the low half of a high surrogate must be
        for escape in _ESCAPE.finditer(checked):
            digits = escape.group(1)
            code = int(digits, 16) if digits else None
            if expect_low is not None:
                if escape.start() != expect_low or code is None or not 0xDC00 <= code <= 0xDFFF:
                    raise _lone_surrogate(start + expect_low - 6)
                expect_low = None
            elif code is not None and 0xD800 <= code <= 0xDBFF:
                expect_low = escape.end()
            elif code is not None and 0xDC00 <= code <= 0xDFFF:
                raise _lone_surrogate(start + escape.start())
        self._high_pending = expect_low is not None and expect_low == len(checked) and not final
        if expect_low is not None and not self._high_pending:
            raise _lone_surrogate(start + expect_low - 6)


def _lone_surrogate(byte: int) -> UnreadableJson:
    half = "a \\u escape of half a UTF-16 surrogate pair, not a character"
    return UnreadableJson(f"not JSON Strigil can read (byte {byte}: {half})")


def _unreadable(error: Exception) -> UnreadableJson:
    """The parser's complaint in one line (its later lines quote the text, which may be a patient's)."""
    if isinstance(error, RecursionError):
        return UnreadableJson(NESTED_TOO_DEEP)
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "integer overflow" in first:
        return UnreadableJson("not JSON Strigil can read (an integer beyond 64 bits; FHIR's are 32-bit)")
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
    _read_envelope(_CheckedText(source, surrogates=True), read)  # the whole text, checked
    if not read.readable:
        return read
    source.seek(start)
    try:
        for i, entry in enumerate(ijson.items(_CheckedText(source), "entry.item", use_float=True)):
            _spool_entry(read, i, entry)
    except (ijson.JSONError, RecursionError, UnicodeDecodeError) as error:
        raise _unreadable(error) from None
    return read


class _Shown(str):
    """A JSON value shown by its kind ("a JSON array") where a problem quotes a value."""

    def __repr__(self) -> str:
        return str(self)


_KIND = {"start_map": _Shown("a JSON object"), "start_array": _Shown("a JSON array")}
_PYTHON_TYPE = {
    "start_map": "dict",
    "start_array": "list",
    "string": "str",
    "boolean": "bool",
    "null": "NoneType",
}
_OPEN, _CLOSE = ("start_map", "start_array"), ("end_map", "end_array")
# orjson's limit, as `read_json` reads a whole document
_MAX_DEPTH = 1024


def _read_envelope(source: _CheckedText, read: SpooledBundle) -> None:
    """Check the envelope from every JSON event of the document (one pass of yajl's parser; nothing is built):
    a JSON object whose keys appear once each (RFC 8259 §4: a reader could take either of two), a Bundle of a
    type Strigil imports, a list of entries, and nothing nested deeper than a whole-document reader reads."""
    depth = 0
    root: tuple[str, Any] | None = None
    values: dict[str, tuple[str, Any]] = {}  # the top-level keys, each with its value's first event
    twice: list[str] = []
    key: str | None = None
    try:
        for event, value in ijson.basic_parse(source, use_float=True):
            if root is None:
                root = (event, value)
            if depth == 1:
                if event == "map_key":
                    (twice if value in values else []).append(value)
                    values.setdefault(value, ("null", None))
                    key = value
                    continue
                if key is not None:
                    if key not in twice:
                        values[key] = (event, _KIND.get(event, value))
                    key = None
            if event in _OPEN:
                depth += 1
                if depth > _MAX_DEPTH:
                    raise UnreadableJson(NESTED_TOO_DEEP)
            elif event in _CLOSE:
                depth -= 1
    except (ijson.JSONError, UnicodeDecodeError) as error:
        raise _unreadable(error) from None
    if root is None or root[0] != "start_map":
        event, value = root or ("null", None)
        read.problems.append(not_an_object(_PYTHON_TYPE.get(event, type(value).__name__)))
        read.readable = False
        return
    for name in dict.fromkeys(twice):
        read.problems.append(
            FhirProblem(f"bundle.{name}", f"{name!r} appears more than once; a reader could take either")
        )
        read.readable = False
    if not read.readable:
        return
    resource_type = values.get("resourceType", ("null", None))[1]
    if resource_type != "Bundle":
        read.problems.append(not_a_bundle(resource_type))
        read.readable = False
        return
    read.bundle_type = values.get("type", ("null", None))[1]
    if (wrong_type := bundle_type_problem(read.bundle_type)) is not None:
        read.problems.append(wrong_type)
    if "entry" in values and values["entry"][0] != "start_array":
        read.problems.append(NOT_A_LIST)
        read.readable = False


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
