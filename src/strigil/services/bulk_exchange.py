"""Whole clinics in and out as FHIR Bulk Data (NDJSON, one file per resource type), streamed.

Export reads the record a batch of patients at a time with Core queries (`exchange.patient_dossiers`, the
store's one mapping), turns each patient into resources (`interop.to_fhir`) and appends each resource to the
file of its type as one orjson line: memory stays flat whatever the clinic's size. Import reads the files the
same way, a chunk of patients at a time (the files are in the order of `Patient.ndjson`, as Strigil writes
them), rebuilds each chunk through the same checks as a Bundle import (`interop.from_fhir`) and writes it with
bulk inserts (`exchange.write_plan_bulk`), all in the caller's one transaction: all or nothing per run — or,
with declared batches (`batch_size`), all or nothing per batch, each committed by the caller as it lands.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from strigil.interop.bulk import (
    CLINIC_TYPES,
    PATIENT_REFERENCE,
    BulkManifest,
    Sampler,
    encode_line,
    file_name,
    patient_of,
)
from strigil.interop.r4 import FhirProblem
from strigil.services.errors import RecordError, Refused
from strigil.services.exchange import (
    ImportReport,
    clinic_header,
    clinic_scope,
    patient_dossiers,
    write_plan_bulk,
)
from strigil.store.bulk import page_cache
from strigil.store.files import open_private, private_folder

__all__ = [
    "CHUNK",
    "MAX_LINE_BYTES",
    "Batch",
    "BatchesPartlyLanded",
    "BulkRejected",
    "export_bulk",
    "import_bulk",
]

# Patients read, planned and written per round of an import: about 1 MB of parsed resources per patient
# (the demo's ten sessions), so 100 keep an import near 200 MB whatever the clinic's size.
CHUNK = 100
# A line longer than this is refused before it is parsed (a whole patient's Procedure is a few KB).
MAX_LINE_BYTES = 4 * 2**20


class BulkRejected(Refused):
    """A bulk file set that cannot be imported (or an export that failed validation), with every problem."""

    def __init__(self, problems: Sequence[FhirProblem | str]) -> None:
        self.problems = [str(p) for p in problems]
        shown = "; ".join(self.problems[:20])
        more = f"; …and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} problem(s), nothing imported: {shown}{more}")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _without_cycle_collection(run: Callable[_P, _R]) -> Callable[_P, _R]:
    """Pause Python's cycle collector while a bulk run builds and drops millions of small dicts.

    Each collection walks every live container, and a chunk of parsed resources holds hundreds of thousands
    of them: left on, the collector costs about a quarter of an import's time (measured). Nothing in a bulk
    run makes cycles that must be freed early; the collector runs once at the end.
    """

    @functools.wraps(run)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return run(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()
            gc.collect()

    return paused


# ---- export ---------------------------------------------------------------------------------------------


@_without_cycle_collection
def export_bulk(
    db: Session,
    clinic_code: str,
    folder: Path,
    *,
    types: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    validation: str = "sample",
    request: str = "",
    patient_ids: Callable[[list[int]], None] | None = None,
) -> BulkManifest:
    """Write the clinic (or the patients with anything recorded since `since`) as one NDJSON file per
    resource type into `folder`, which must hold no NDJSON yet; return the manifest.

    `types` keeps only those resource types (the Bulk Data `_type`). `validation`: "sample" (default), "all"
    or "none". A resource that fails validation fails the export and its files are removed. `patient_ids`,
    if given, is told the database ids of each batch of patients written (for the audit trail).
    """
    from strigil.interop.to_fhir import stream_resources

    private_folder(folder)  # patient data: a folder made here is 0700, each file 0600
    if any(folder.glob("*.ndjson")):
        raise Refused(f"{folder} already holds NDJSON files; export into an empty folder")
    started = dt.datetime.now(dt.UTC)
    clinic_id, clinic, clinicians = clinic_header(db, clinic_code)
    wanted = set(types) if types else None
    sampler = Sampler(validation)
    manifest = BulkManifest(started, request)
    problems: list[FhirProblem] = []
    files: dict[str, IO[bytes]] = {}

    def patients() -> Iterator[Any]:
        yield from patient_dossiers(db, clinic_id, since=since, id_batches=patient_ids)

    try:
        for resource in manifest.add(
            r
            for r in stream_resources(clinic, clinicians, patients(), scope=clinic_scope(db, clinic_id))
            if wanted is None or r["resourceType"] in wanted
        ):
            if len(problems) < 100:
                problems.extend(sampler.problems(resource))
            kind = resource["resourceType"]
            out = files.get(kind)
            if out is None:
                out = files[kind] = open_private(folder / file_name(kind), "wb", buffering=1 << 20)
            out.write(encode_line(resource))
        if problems:
            raise BulkRejected(["exported resources failed FHIR R4 validation (files removed)", *problems])
    except BaseException:
        _remove(folder, files)  # never leave a partial export that looks whole
        raise
    finally:
        for out in files.values():
            out.close()
    manifest.validation = sampler.describe()
    return manifest


def _remove(folder: Path, files: dict[str, IO[bytes]]) -> None:
    for kind, out in files.items():
        out.close()
        (folder / file_name(kind)).unlink(missing_ok=True)


# ---- import ---------------------------------------------------------------------------------------------


@dataclass
class _Lines:
    """One NDJSON file read a resource at a time, with one resource of look-ahead."""

    path: Path
    handle: IO[bytes]
    number: int = 0
    ahead: dict[str, Any] | None = None
    done: bool = False

    def where(self) -> str:
        return f"{self.path.name} line {self.number}"

    def peek(self) -> dict[str, Any] | None:
        while self.ahead is None and not self.done:
            raw = self.handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                self.done = True
                break
            self.number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise BulkRejected([f"{self.where()}: longer than {MAX_LINE_BYTES} bytes; refused unread"])
            if not raw.strip():
                continue
            self.ahead = _parse(raw, self.where())
            kind = self.path.name.removesuffix(".ndjson")
            if self.ahead["resourceType"] != kind:  # one file per type: anything else is a mix-up
                found = self.ahead["resourceType"]
                raise BulkRejected([f"{self.where()}: a {found} in the file of {kind}"])
        return self.ahead

    def take(self) -> dict[str, Any]:
        found = self.peek()
        assert found is not None
        self.ahead = None
        return found


def _parse(raw: bytes, where: str) -> dict[str, Any]:
    """One line as a JSON object, or a clear refusal (not UTF-8, not JSON, nested too deep, not an object)."""
    from strigil.interop.bundle import UnreadableJson, read_json

    try:
        value = read_json(raw, what="NDJSON")  # the one reader of FHIR JSON (a leading BOM is ignored)
    except UnreadableJson as error:
        raise BulkRejected([f"{where}: {error}"]) from None
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise BulkRejected([f"{where}: expected a FHIR resource (a JSON object with resourceType)"])
    return value


@dataclass(frozen=True)
class Batch:
    """One declared batch of an import (`batch_size` patients, all their resources), committed on its own."""

    number: int  # from 1
    patients: int
    first: str  # the Patient ids of its first and last patient, as in Patient.ndjson
    last: str

    def __str__(self) -> str:
        return f"batch {self.number}: {self.patients} patients, Patient/{self.first} … Patient/{self.last}"


class BatchesPartlyLanded(BulkRejected):
    """A batched import that failed in one batch: the batches before it are committed, it and the rest not."""

    def __init__(
        self, landed: Sequence[Batch], failed: int | None, problems: Sequence[FhirProblem | str]
    ) -> None:
        super().__init__(problems)
        self.landed = list(landed)
        self.failed = failed  # None: every batch landed; what failed came after the last
        patients = sum(b.patients for b in landed)
        kept = f"batches 1–{len(landed)} landed ({patients} patients)" if landed else "no batch landed"
        lost = (
            "resources after the last batch not imported"
            if failed is None
            else f"batch {failed} and every batch after it not imported"
        )
        self.summary = f"{kept}; {lost}"
        shown = "; ".join(self.problems[:20])
        more = f"; …and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        self.args = (f"{self.summary}: {len(self.problems)} problem(s): {shown}{more}",)


@_without_cycle_collection
def import_bulk(
    db: Session,
    folder: Path,
    *,
    validation: str = "sample",
    by: str = "fhir-import",
    chunk: int = CHUNK,
    batch_size: int | None = None,
    committed: Callable[[Batch, ImportReport], None] | None = None,
    clinic_code: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[ImportReport, list[str]]:
    """Import a folder of NDJSON files (one per resource type, as `export_bulk` writes): new patients only,
    a chunk of patients at a time. Returns the report and what was not understood.

    Default: all in the caller's one transaction; on the first chunk with any problem, raise `BulkRejected`
    naming every problem of it (the caller rolls back; nothing is kept). With `batch_size` N, every N
    patients (with all their resources) are a batch: at its end `committed(batch, its report)` is called,
    which must record what it needs and commit; a failure raises `BatchesPartlyLanded`, naming the
    batches committed before it (the caller rolls back the failed one). `clinic_code`: the clinic to import
    into (default: the files' own clinic, never another that shares its code; `exchange.write_plan`).
    `progress`, if given, is told how many patients each chunk wrote.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError("batch_size must be 1 or more")
    if batch_size is not None and committed is None:
        raise ValueError("a batched import needs `committed`, which commits each batch")
    paths = sorted(folder.glob("*.ndjson"))
    if not paths:
        raise BulkRejected([f"{folder}: no .ndjson files"])
    by_type = {p.name.removesuffix(".ndjson"): p for p in paths}
    not_understood: list[str] = []
    unknown = sorted(set(by_type) - set(CLINIC_TYPES) - set(PATIENT_REFERENCE) - {"Patient"})
    for kind in unknown:
        not_understood.append(f"{file_name(kind)}: {kind} is not imported in bulk; the file was not read")
    if "Patient" not in by_type:
        raise BulkRejected([f"{folder}: no Patient.ndjson; bulk import reads patients and what they hold"])
    reading = _Reading(validation, by, clinic_code, folder=folder, files=by_type, progress=progress)
    return _import_files(db, folder, by_type, reading, not_understood, chunk, batch_size, committed)


def _import_files(
    db: Session,
    folder: Path,
    by_type: dict[str, Path],
    reading: _Reading,
    not_understood: list[str],
    chunk: int,
    batch_size: int | None,
    committed: Callable[[Batch, ImportReport], None] | None,
) -> tuple[ImportReport, list[str]]:
    """The reading and writing of `import_bulk`, once its files are known."""
    report = ImportReport()
    landed: list[Batch] = []
    try:
        for kind in CLINIC_TYPES:
            if kind in by_type:
                reader = reading.open(by_type[kind])
                while reader.peek() is not None:
                    reading.clinic_level.append(_checked(reader, kind, reading.sampler))
        patients = reading.open(by_type["Patient"])
        others = [reading.open(by_type[kind]) for kind in sorted(by_type) if kind in PATIENT_REFERENCE]
        while patients.peek() is not None:
            size = batch_size or 0
            try:
                # one transaction per batch (the whole run without batches), with a page cache to match
                with page_cache(db):
                    part, first, last = reading.batch(db, patients, others, size, chunk, not_understood)
                batch = Batch(len(landed) + 1, part.patients_created, first, last)
                if committed is not None:
                    committed(batch, part)
            except (BulkRejected, RecordError) as error:
                if batch_size is None:
                    raise
                problems = error.problems if isinstance(error, BulkRejected) else [str(error)]
                raise BatchesPartlyLanded(landed, len(landed) + 1, problems) from error
            landed.append(batch)
            report.add(part)
        for reader in others:
            if (ahead := reader.peek()) is not None:
                problems = [
                    f"{reader.where()}: {ahead['resourceType']}/{ahead.get('id')} names "
                    f"Patient/{patient_of(ahead)}, which is not in Patient.ndjson or not in its order",
                    _ORDER,
                ]
                if batch_size is None:
                    raise BulkRejected(problems)
                raise BatchesPartlyLanded(landed, None, problems)
    finally:
        for handle in reading.handles:
            handle.close()
    return report, not_understood


@dataclass
class _Reading:
    """The state of one bulk import: open files, the clinic-level resources, the patients seen."""

    validation: str
    by: str
    clinic_code: str | None = None
    folder: Path = Path()
    files: dict[str, Path] = field(default_factory=dict)  # the folder's NDJSON files, by resource type
    progress: Callable[[int], None] | None = None
    sampler: Sampler = field(init=False)
    handles: list[IO[bytes]] = field(default_factory=list)
    clinic_level: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.sampler = Sampler(self.validation)

    def open(self, path: Path) -> _Lines:
        handle = path.open("rb")
        self.handles.append(handle)
        return _Lines(path, handle)

    def batch(
        self,
        db: Session,
        patients: _Lines,
        others: list[_Lines],
        size: int,
        chunk: int,
        not_understood: list[str],
    ) -> tuple[ImportReport, str, str]:
        """Read, check and write the next `size` patients (all that are left if 0), a chunk at a time;
        their report and the ids of the first and last."""
        from strigil.interop.from_fhir import plan_import

        part = ImportReport()
        first = last = ""
        taken = 0
        while patients.peek() is not None and (size == 0 or taken < size):
            resources = list(self.clinic_level)
            ids: set[str] = set()
            wanted = chunk if size == 0 else min(chunk, size - taken)
            while len(ids) < wanted and patients.peek() is not None:
                resource = _checked(patients, "Patient", self.sampler)
                rid = str(resource.get("id"))
                if rid in self.seen:
                    raise BulkRejected([f"{patients.where()}: duplicate Patient id {rid!r} in this import"])
                self.seen.add(rid)
                ids.add(rid)
                first, last = first or rid, rid
                resources.append(resource)
            taken += len(ids)
            for reader in others:
                while (ahead := reader.peek()) is not None and (owner := patient_of(ahead)) in ids:
                    resources.append(_checked(reader, ahead["resourceType"], self.sampler))
                if ahead is not None and owner in self.seen:  # its patient's chunk is already written
                    raise BulkRejected(
                        [
                            f"{reader.where()}: {ahead['resourceType']}/{ahead.get('id')} names "
                            f"Patient/{owner}, which came earlier in Patient.ndjson",
                            _ORDER,
                        ]
                    )
            bundle = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in resources],
            }
            plan = plan_import(bundle, validate=False)
            if plan.errors:
                dangling = {p.dangling for p in plan.errors if p.dangling}
                if dangling:
                    raise BulkRejected([*self._missing_files(dangling), _ORDER, *plan.errors])
                raise BulkRejected(plan.errors)
            # clinic-level resources come with every chunk: what they hold is reported once
            not_understood.extend(
                str(p)
                for p in plan.not_understood
                if not (self.seen - ids and _clinic_level(p, self.clinic_level))
            )
            part.add(write_plan_bulk(db, plan, by=self.by, clinic_code=self.clinic_code))
            if self.progress is not None:
                self.progress(len(ids))
        return part, first, last


    def _missing_files(self, dangling: set[str]) -> list[str]:
        """The files the folder lacks that resources refer to: one sentence each, before the dangling
        references themselves."""
        kinds = {target.rstrip("/").split("/")[-2] for target in dangling if target.count("/") >= 1}
        return [
            f"{self.folder}: no {file_name(kind)}, though its resources refer to {kind}s"
            for kind in sorted(kinds)
            if kind not in self.files
        ]


_ORDER = (
    "bulk files are read a chunk of patients at a time: each file lists its resources patient by patient, "
    "in the order of Patient.ndjson (a resource out of that order, or naming a patient not in "
    "Patient.ndjson, is not found with its patient)"
)


def _checked(reader: _Lines, kind: str, sampler: Sampler) -> dict[str, Any]:
    where = reader.where()
    resource = reader.take()  # of the file's type: `_Lines.peek` checked
    problems = sampler.problems(resource, f"{where} {kind}/{resource.get('id', '?')}")
    if problems:
        raise BulkRejected(problems)
    return resource


def _clinic_level(problem: FhirProblem, clinic_level: list[dict[str, Any]]) -> bool:
    """Whether a problem is about a clinic-level resource (reported once, not once per chunk)."""
    return any(problem.where == f"{r['resourceType']}/{r.get('id', '?')}" for r in clinic_level)
