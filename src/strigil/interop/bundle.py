"""FHIR Bundles as plain JSON: assemble one from resources, and read one back into a resolved index.

Reading checks the envelope (a Bundle of a known type, entries with resources), validates every
resource against FHIR R4 and resolves references inside the bundle. Problems are collected, not
raised one by one, so a sender sees every reason a bundle was rejected in one answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from strigil.interop.r4 import FhirProblem, is_resource_type, resource_problems
from strigil.interop.systems import BASE

__all__ = [
    "ACCEPTED_BUNDLE_TYPES",
    "BOM",
    "MAX_BUNDLE_BYTES",
    "NESTED_TOO_DEEP",
    "NESTED_TOO_DEEP_TO_CHECK",
    "NOT_A_LIST",
    "EntryOutcome",
    "ReadBundle",
    "UnreadableJson",
    "bundle_type_problem",
    "duplicate_key",
    "entry_for",
    "entry_keys",
    "entry_name",
    "entry_resource",
    "make_bundle",
    "not_a_bundle",
    "not_an_object",
    "operation_outcome",
    "read_bundle",
    "read_json",
    "reference_texts",
    "reference_to",
    "response_bundle",
    "stream_bundle",
    "unsupported_method",
]

# Bundle types Strigil imports: files (collection), $everything answers (searchset) and POSTed
# transactions/batches. Every one is imported as one transaction, all or nothing.
ACCEPTED_BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset")

_Resource = dict[str, Any]

# The largest Bundle the CLI and the API take: a bound on one request's and one transaction's work (a Bundle
# is read a part at a time, `bundle_stream`, so not a bound on memory). Whole clinics move as Bulk Data
# NDJSON.
# An engineering limit, not a clinical one.
MAX_BUNDLE_BYTES = 64 * 2**20

# RFC 8259 §8.1: a parser may ignore a leading byte order mark, and EMRs often write one.
BOM = b"\xef\xbb\xbf"


class UnreadableJson(ValueError):
    """A file or request body that is not JSON text Strigil can read, with the sentence that says why."""

    @classmethod
    def not_utf8(cls, byte: int, what: str = "FHIR JSON") -> UnreadableJson:
        """Bytes that are not UTF-8, from the byte (counted from the file's first) where they stop being."""
        return cls(f"not UTF-8 text (byte {byte}); {what} is UTF-8")


# What a reader says of JSON nested deeper than it reads (orjson and the whole-document readers: 1024
# levels), and deeper than the checks walk; no FHIR resource nests anywhere near either.
NESTED_TOO_DEEP = "JSON nested too deep to read (no FHIR resource nests like this)"
NESTED_TOO_DEEP_TO_CHECK = "JSON nested too deep to check (no FHIR resource nests like this)"


def read_json(raw: bytes, *, what: str = "FHIR JSON") -> Any:
    """Parse JSON text (UTF-8, a leading BOM ignored) or raise `UnreadableJson` with a sentence: not UTF-8
    (and at which byte), nested too deep, or not JSON. The reader of bulk NDJSON lines; a Bundle is read
    entry by entry (`bundle_stream`), with the same sentences."""
    skipped = len(BOM) if raw.startswith(BOM) else 0
    try:
        return orjson.loads(raw[skipped:] if skipped else raw)
    except orjson.JSONDecodeError as error:
        try:
            raw[skipped:].decode("utf-8")
        except UnicodeDecodeError as bad:
            raise UnreadableJson.not_utf8(bad.start + skipped, what) from None
        if "depth limit" in str(error):
            raise UnreadableJson(NESTED_TOO_DEEP) from None
        raise UnreadableJson(f"not JSON ({error})") from None


def operation_outcome(
    messages: Iterable[tuple[str, str]], *, severity: str = "error", code: str = "invalid"
) -> _Resource:
    """An OperationOutcome with one issue per (where, message): FHIR's way to say what went wrong."""
    issues = []
    for where, message in messages:
        issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
        if where:
            issue["expression"] = [where]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


@dataclass(frozen=True)
class EntryOutcome:
    """What was done with one entry of a posted Bundle: its FHIR response status, where the record it made or
    matched lives (a relative reference), and a sentence."""

    status: str  # "201 Created", "200 OK", "422 Unprocessable Entity"
    message: str
    location: str | None = None

    @property
    def stored(self) -> bool:
        """True when the entry was written or is already present (a 2xx answer)."""
        return self.status.startswith("2")


def entry_name(entry: Any, index: int) -> str:
    """How an import names an entry in what it reports: "Type/id", else its fullUrl, else "entry[i]" —
    unique within a bundle that reads (duplicates are refused), so every entry is listed."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if isinstance(resource, dict) and isinstance(resource.get("id"), str):
        return f"{resource.get('resourceType')}/{resource['id']}"
    if isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str):
        return str(entry["fullUrl"])
    return f"entry[{index}]"


def response_bundle(
    bundle_type: str | None, names: Sequence[str], outcomes: dict[str, EntryOutcome]
) -> _Resource:
    """The answer to a POSTed Bundle of `bundle_type`: a transaction-response (or batch-response) with one
    entry per entry, in order. `names` are the entries' names (`entry_name`) in bundle order; `outcomes` maps
    each to what was done with it."""
    kind = "transaction-response" if bundle_type == "transaction" else "batch-response"
    entries = []
    for name in names:
        outcome = outcomes[name]
        response: dict[str, Any] = {"status": outcome.status}
        if outcome.location:
            response["location"] = outcome.location
        response["outcome"] = operation_outcome(
            [(name, outcome.message)],
            severity="information" if outcome.stored else "error",
            code="informational" if outcome.stored else "not-supported",
        )
        entries.append({"response": response})
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def unsupported_method(entry: Any) -> str | None:
    """The sentence refusing an entry whose request is not an add (DELETE, PATCH, a read), else None."""
    request = entry.get("request") if isinstance(entry, dict) else None
    method = request.get("method") if isinstance(request, dict) else None
    if method in (None, "POST", "PUT"):
        return None
    return (
        f"{method} is not supported: an import only adds records (POST or PUT); nothing is deleted, patched "
        "or read through a bundle"
    )


def reference_to(resource: _Resource) -> str:
    """The relative reference ("Patient/p-1") Strigil uses for a resource it exported."""
    return f"{resource['resourceType']}/{resource['id']}"


def entry_for(resource: _Resource, bundle_type: str = "collection") -> dict[str, Any]:
    """One Bundle entry: the resource under a full URL below Strigil's base (a request in a transaction)."""
    entry: dict[str, Any] = {"fullUrl": f"{BASE}/{reference_to(resource)}", "resource": resource}
    if bundle_type == "transaction":
        entry["request"] = {"method": "PUT", "url": reference_to(resource)}
    elif bundle_type == "searchset":
        entry["search"] = {"mode": "match" if resource["resourceType"] == "Patient" else "include"}
    return entry


def make_bundle(
    resources: Iterable[_Resource], bundle_type: str = "collection", timestamp: str | None = None
) -> _Resource:
    """A Bundle of `bundle_type` holding `resources` in the order given."""
    entries = [entry_for(r, bundle_type) for r in resources]
    bundle: _Resource = {"resourceType": "Bundle", "type": bundle_type}
    if timestamp:
        bundle["timestamp"] = timestamp
    if bundle_type == "searchset":
        bundle["total"] = sum(1 for e in entries if e["resource"]["resourceType"] == "Patient")
    bundle["entry"] = entries
    return bundle


@dataclass
class ReadBundle:
    """A bundle after reading: its resources in order, an index to resolve references, and the problems."""

    resources: list[_Resource] = field(default_factory=list)
    index: dict[str, _Resource] = field(default_factory=dict)
    problems: list[FhirProblem] = field(default_factory=list)
    # each resource's entry name (`entry_name`), by the resource's identity
    names: dict[int, str] = field(default_factory=dict)
    _by_type: dict[Any, list[_Resource]] | None = field(default=None, repr=False, compare=False)
    _indexed: int = field(default=0, repr=False, compare=False)

    def name_of(self, resource: _Resource) -> str:
        """The name of the entry that holds `resource` (as the import reports it)."""
        return self.names[id(resource)]

    def resolve(self, reference: Any) -> _Resource | None:
        """The resource a Reference points at inside this bundle, or None."""
        if not isinstance(reference, dict):
            return None
        target = reference.get("reference")
        if not isinstance(target, str):
            return None
        if target in self.index:
            return self.index[target]
        # An absolute reference ("https://host/fhir/Patient/1") falls back to its last "Type/id".
        tail = "/".join(target.rstrip("/").split("/")[-2:])
        return self.index.get(tail)

    def of_type(self, kind: str) -> Iterator[_Resource]:
        """The resources of one type, in bundle order."""
        if self._by_type is None or self._indexed != len(self.resources):
            # indexed once the bundle is read (a plan asks for several types, each once per bulk chunk)
            self._by_type = {}
            for r in self.resources:
                self._by_type.setdefault(r.get("resourceType"), []).append(r)
            self._indexed = len(self.resources)
        return iter(self._by_type.get(kind, []))


def _references(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every Reference.reference string inside a resource, with where it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield path, value
            else:
                yield from _references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _references(value, f"{path}[{i}]")


# A Reference's "reference" string in compact JSON (inner quotes of text are escaped, so never match).
# The string's body as runs of plain bytes between escapes ("unrolled"): the same matches as
# (?:[^"\\]|\\.)*, in half the time (measured on the bulk files), as no alternation is tried per byte.
_REFERENCE_TEXT = re.compile(rb'"reference":"([^"\\]*(?:\\.[^"\\]*)*)"')


def _reference_texts(resource: _Resource) -> Iterator[str]:
    """Every Reference.reference string inside a resource, found in its JSON text (fast; no paths)."""
    return reference_texts(orjson.dumps(resource))


def reference_texts(compact: bytes) -> Iterator[str]:
    """Every Reference.reference string in compact JSON text (as orjson writes it), in order."""
    for raw in _REFERENCE_TEXT.findall(compact):
        yield orjson.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()


def _resolves(read: ReadBundle, target: str) -> bool:
    return target.startswith("#") or read.resolve({"reference": target}) is not None


def _type_problems(resource: _Resource, where: str) -> list[FhirProblem]:
    """The cheap check kept without validation: a known R4 resource type and a text id."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or not isinstance(resource.get("id", ""), str):
        return [FhirProblem(where, "missing 'resourceType' (a FHIR resource name) or a non-text id")]
    if not is_resource_type(kind):
        return [FhirProblem(where, f"resourceType {kind!r} is not a FHIR R4 resource")]
    return []


def not_an_object(kind: str) -> FhirProblem:
    """The problem of a document that is not a JSON object (`kind`: its JSON type, as Python names it)."""
    return FhirProblem("bundle", f"expected a JSON object, got {kind}")


def not_a_bundle(resource_type: Any) -> FhirProblem:
    """The problem of a JSON object that is not a Bundle."""
    return FhirProblem("bundle.resourceType", f"expected 'Bundle', got {resource_type!r}")


def bundle_type_problem(bundle_type: Any) -> FhirProblem | None:
    """The problem of a Bundle type Strigil does not import, else None."""
    if bundle_type in ACCEPTED_BUNDLE_TYPES:
        return None
    allowed = ", ".join(ACCEPTED_BUNDLE_TYPES)
    return FhirProblem("bundle.type", f"{bundle_type!r} is not accepted; allowed: {allowed}")


NOT_A_LIST = FhirProblem("bundle.entry", "expected a list of entries")


def entry_resource(entry: Any, position: int) -> tuple[_Resource | None, FhirProblem | None]:
    """An entry's resource to import, or why it has none: a request that is not an add (named whether or not a
    resource comes with it; FHIR sends DELETE and GET without one), or no resource at all."""
    where = f"entry[{position}]"
    refusal = unsupported_method(entry)
    if refusal is not None:
        return None, FhirProblem(f"{where}.request", refusal)
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(resource, dict):
        return None, FhirProblem(where, "entry has no resource (a JSON object)")
    return resource, None


def entry_keys(entry: dict[str, Any], resource: _Resource) -> list[str]:
    """What names an entry inside its bundle, in order: its fullUrl and its resource's "Type/id"."""
    keys = {entry["fullUrl"]} if isinstance(entry.get("fullUrl"), str) else set()
    if resource.get("id") is not None:
        keys.add(f"{resource.get('resourceType')}/{resource['id']}")
    return sorted(keys)


def duplicate_key(where: str, key: str) -> FhirProblem:
    """The problem of a second entry under a key already taken."""
    return FhirProblem(where, f"duplicate resource {key!r} in the bundle")


def read_bundle(
    document: Any, *, validate: bool = True, positions: Sequence[int] | None = None
) -> ReadBundle:
    """Check a Bundle's envelope, every resource and every internal reference; index the resources.

    `validate=False` skips only the check of each resource against the R4 models (the costliest step, about
    a millisecond per resource), for bundles Strigil itself wrote; resource types must still be known.
    `positions`: each entry's place in the whole bundle, when `document` is a part of one
    (`bundle_stream`), so problems and names say `entry[i]` of the bundle as sent.
    """
    read = ReadBundle()
    if not isinstance(document, dict):
        read.problems.append(not_an_object(type(document).__name__))
        return read
    if document.get("resourceType") != "Bundle":
        read.problems.append(not_a_bundle(document.get("resourceType")))
        return read
    if (wrong_type := bundle_type_problem(document.get("type"))) is not None:
        read.problems.append(wrong_type)
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        read.problems.append(NOT_A_LIST)
        return read
    for i, entry in enumerate(entries):
        if positions is not None:
            i = positions[i]
        resource, refusal = entry_resource(entry, i)
        if resource is None:
            assert refusal is not None
            read.problems.append(refusal)
            continue
        where = f"entry[{i}] {resource.get('resourceType')}/{resource.get('id')}"
        read.names[id(resource)] = entry_name(entry, i)
        for key in entry_keys(entry, resource):
            if key in read.index:
                read.problems.append(duplicate_key(where, key))
            # indexed even when invalid, so references to it are not reported a second time as dangling
            read.index[key] = resource
        found = resource_problems(resource, where) if validate else _type_problems(resource, where)
        if found:
            read.problems.extend(found)
            continue
        read.resources.append(resource)
    index = read.index
    for resource in read.resources:
        # the common case, checked on the resource's JSON text (a reference by its exact key first, as
        # `resolve` does); the walk below names paths
        if all(t in index or _resolves(read, t) for t in _reference_texts(resource)):
            continue
        where = f"{resource['resourceType']}/{resource.get('id', '?')}"
        for path, target in _references(resource, ""):
            if target.startswith("#"):
                continue  # a contained resource
            if read.resolve({"reference": target}) is None:
                message = f"reference {target!r} points at no resource in this bundle"
                read.problems.append(FhirProblem(f"{where}{path}", message, dangling=target))
    return read


def stream_bundle(
    resources: Iterable[_Resource],
    write: Callable[[str], object],
    bundle_type: str = "collection",
    timestamp: str | None = None,
) -> int:
    """Write a Bundle as JSON piece by piece through `write` (a whole clinic never sits in memory at once);
    return the number of entries written."""
    head: _Resource = {"resourceType": "Bundle", "type": bundle_type}
    if timestamp:
        head["timestamp"] = timestamp
    write(json.dumps(head, ensure_ascii=False)[:-1] + ', "entry": [\n')
    count = 0
    for resource in resources:
        write((",\n" if count else "") + json.dumps(entry_for(resource, bundle_type), ensure_ascii=False))
        count += 1
    write("\n]}\n")
    return count
