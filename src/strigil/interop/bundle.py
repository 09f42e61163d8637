"""FHIR Bundles as plain JSON: assemble one from resources, and read one back into a resolved index.

Reading checks the envelope (a Bundle of a known type, entries with resources), validates every
resource against FHIR R4 and resolves references inside the bundle. Problems are collected, not
raised one by one, so a sender sees every reason a bundle was rejected in one answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from strigil.interop.r4 import FhirProblem, is_resource_type, resource_problems
from strigil.interop.systems import BASE

__all__ = [
    "ACCEPTED_BUNDLE_TYPES",
    "MAX_BUNDLE_BYTES",
    "ReadBundle",
    "entry_for",
    "make_bundle",
    "operation_outcome",
    "read_bundle",
    "reference_to",
    "response_bundle",
    "stream_bundle",
]

# Bundle types Strigil imports: files (collection), $everything answers (searchset) and POSTed
# transactions/batches. Every one is imported as one transaction, all or nothing.
ACCEPTED_BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset")

_Resource = dict[str, Any]

# A Bundle is read whole (about 7 times its size in memory): larger ones move as Bulk Data NDJSON, which is
# read a chunk of patients at a time. An engineering limit, not a clinical one.
MAX_BUNDLE_BYTES = 64 * 2**20


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


def response_bundle(document: dict[str, Any], outcomes: dict[str, tuple[str, str | None, str]]) -> _Resource:
    """The answer to a POSTed Bundle: a transaction-response (or batch-response) with one entry per entry,
    in order. `outcomes` maps "Type/id" to (HTTP status, location or None, what happened)."""
    kind = "transaction-response" if document.get("type") == "transaction" else "batch-response"
    entries = []
    for entry in document.get("entry", []):
        resource = entry.get("resource", {})
        label = f"{resource.get('resourceType')}/{resource.get('id', '?')}"
        status, location, message = outcomes.get(label, ("200 OK", None, "read; nothing to write"))
        response: dict[str, Any] = {"status": status}
        if location:
            response["location"] = location
        severity = "information" if status.startswith("2") else "error"
        response["outcome"] = operation_outcome(
            [(label, message)],
            severity=severity,
            code="informational" if severity == "information" else "processing",
        )
        entries.append({"response": response})
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


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
        return (r for r in self.resources if r.get("resourceType") == kind)


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
_REFERENCE_TEXT = re.compile(rb'"reference":"((?:[^"\\]|\\.)*)"')


def _reference_texts(resource: _Resource) -> Iterator[str]:
    """Every Reference.reference string inside a resource, found in its JSON text (fast; no paths)."""
    for raw in _REFERENCE_TEXT.findall(orjson.dumps(resource)):
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


def read_bundle(document: Any, *, validate: bool = True) -> ReadBundle:
    """Check a Bundle's envelope, every resource and every internal reference; index the resources.

    `validate=False` skips only the check of each resource against the R4 models (the costliest step, about
    a millisecond per resource), for bundles Strigil itself wrote; resource types must still be known.
    """
    read = ReadBundle()
    if not isinstance(document, dict):
        read.problems.append(FhirProblem("bundle", f"expected a JSON object, got {type(document).__name__}"))
        return read
    if document.get("resourceType") != "Bundle":
        read.problems.append(
            FhirProblem("bundle.resourceType", f"expected 'Bundle', got {document.get('resourceType')!r}")
        )
        return read
    if document.get("type") not in ACCEPTED_BUNDLE_TYPES:
        read.problems.append(
            FhirProblem(
                "bundle.type",
                f"{document.get('type')!r} is not accepted; allowed: " + ", ".join(ACCEPTED_BUNDLE_TYPES),
            )
        )
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        read.problems.append(FhirProblem("bundle.entry", "expected a list of entries"))
        return read
    for i, entry in enumerate(entries):
        where = f"entry[{i}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            read.problems.append(FhirProblem(where, "entry has no resource (a JSON object)"))
            continue
        kind, rid = resource.get("resourceType"), resource.get("id")
        where = f"{where} {kind}/{rid}"
        keys = {entry["fullUrl"]} if isinstance(entry.get("fullUrl"), str) else set()
        if rid is not None:
            keys.add(f"{kind}/{rid}")
        for key in sorted(keys):
            if key in read.index:
                read.problems.append(FhirProblem(where, f"duplicate resource {key!r} in the bundle"))
            # indexed even when invalid, so references to it are not reported a second time as dangling
            read.index[key] = resource
        found = resource_problems(resource, where) if validate else _type_problems(resource, where)
        if found:
            read.problems.extend(found)
            continue
        read.resources.append(resource)
    for resource in read.resources:
        if all(_resolves(read, target) for target in _reference_texts(resource)):
            continue  # the common case, checked on the resource's JSON text; the walk below names paths
        where = f"{resource['resourceType']}/{resource.get('id', '?')}"
        for path, target in _references(resource, ""):
            if target.startswith("#"):
                continue  # a contained resource
            if read.resolve({"reference": target}) is None:
                read.problems.append(
                    FhirProblem(
                        f"{where}{path}", f"reference {target!r} points at no resource in this bundle"
                    )
                )
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
