"""A FHIR Bundle into the record, a part at a time: the one import the CLI and the API share.

The bundle is read entry by entry into a private temporary file (`interop.bundle_stream`), then planned and
written a part at a time — entries that refer to each other are always in the same part — in the caller's one
transaction: all or nothing, as for a bundle read whole. It is written in the order a bundle read whole is:
every part's own Strigil records, then every other system's measurement in bundle order (so where one lands
never depends on how the bundle was cut), then each entry's answer (a transaction refused names every entry
it cannot store). Once any part fails, the rest are still planned, so the sender hears every problem the
plans find, but nothing more is written and the caller rolls back.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy.orm import Session

from strigil.interop import bundle_stream
from strigil.interop.bundle import NESTED_TOO_DEEP_TO_CHECK, UnreadableJson
from strigil.interop.bundle_stream import spool_bundle
from strigil.interop.from_fhir import ForeignMeasurement, ImportPlan
from strigil.services.errors import RecordError
from strigil.services.exchange import (
    ImportReport,
    TransactionRefused,
    finish_plan,
    place_foreign,
    write_native,
    write_plan_bulk,
)

__all__ = ["BundleImport", "BundleRejected", "import_bundle"]


class BundleRejected(RecordError):
    """A bundle of which nothing may be kept: `issues` names every problem (where, why) as found."""

    def __init__(self, issues: Sequence[tuple[str, str]], *, rule: str | None = None) -> None:
        self.issues = list(dict.fromkeys(issues))  # a part shares its clinic's entries: each problem once
        self.rule = rule  # the rule that refused it, when it is not the problems alone
        shown = "; ".join(f"{where}: {message}" if where else message for where, message in self.issues[:10])
        more = f"; …and {len(self.issues) - 10} more" if len(self.issues) > 10 else ""
        lead = f"{rule}; " if rule else ""
        super().__init__(f"{lead}{len(self.issues)} problem(s), nothing imported: {shown}{more}")


@dataclass
class BundleImport:
    """What a bundle import wrote (or, on a dry run, would write), and what it did not understand."""

    report: ImportReport
    not_understood: list[str] = field(default_factory=list)
    bundle_type: str | None = None
    names: list[str] = field(default_factory=list)  # every entry's name, in bundle order (FHIR's answer)
    patients: int = 0  # planned: Strigil patients in the bundle
    foreign_measurements: int = 0  # planned: other systems' measurements
    parts: int = 0


def import_bundle(
    db: Session,
    source: IO[bytes],
    *,
    validate: bool = True,
    by: str = "fhir-import",
    patient_code: str | None = None,
    clinic_code: str | None = None,
    match_only: bool = False,
    bulk: bool = False,
    dry_run: bool = False,
    part_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BundleImport:
    """Import a Bundle read from `source` (seekable bytes) in the caller's transaction, or raise.

    `UnreadableJson`: the bytes are not JSON text (not UTF-8, not JSON, nested too deep). `BundleRejected`:
    every problem found; the caller rolls back what earlier parts wrote. `bulk`: new patients with bulk
    inserts (`exchange.write_plan_bulk`); otherwise through the record's services (`exchange.write_plan`:
    `patient_code`, `clinic_code` and `match_only` as there). `dry_run`: plan every part, write nothing.
    `progress`, if given, is told after each part how many of the bundle's entries are done, of how many.
    """
    from strigil.interop.from_fhir import plan_import

    with tempfile.TemporaryFile() as spool:  # 0600 and never named: patient data leaves no file behind
        read = spool_bundle(source, spool)
        issues = [(p.where, p.message) for p in read.problems]
        if not read.readable:
            raise BundleRejected(issues)
        done = BundleImport(ImportReport(), bundle_type=read.bundle_type, names=read.names)
        # parts whose own records are written, their other systems' measurements not yet placed
        waiting: list[tuple[ImportPlan, ImportReport]] = []
        finished = 0
        for part in read.parts(bundle_stream.PART_BYTES if part_bytes is None else part_bytes):
            if progress is not None:
                progress(finished, read.spooled)
            done.parts += 1
            finished += part.members
            try:
                plan = plan_import(part.document, validate=validate, positions=part.positions)
            except RecursionError:
                raise UnreadableJson(NESTED_TOO_DEEP_TO_CHECK) from None
            del part  # its parsed JSON is not needed once planned
            if plan.errors:
                issues.extend((p.where, p.message) for p in plan.errors)
                continue
            done.not_understood.extend(str(p) for p in plan.not_understood)
            done.patients += sum(len(c.patients) for c in plan.clinics)
            done.foreign_measurements += len(plan.foreign_measurements)
            if issues or dry_run:
                continue  # planned for its problems; nothing more is written
            try:
                if bulk:
                    done.report.add(write_plan_bulk(db, plan, by=by, clinic_code=clinic_code))
                else:
                    waiting.append(
                        (_without_records(plan), write_native(db, plan, by=by, clinic_code=clinic_code))
                    )
            except RecordError as error:
                issues.append(("", str(error)))
        if progress is not None:
            progress(read.spooled, read.spooled)
    rule: str | None = None
    if waiting and not issues:
        place = functools.partial(
            place_foreign, db, patient_code=patient_code, clinic_code=clinic_code, match_only=match_only
        )
        issues.extend(_place_in_bundle_order(waiting, read.names, place))
    if waiting and not issues:
        for plan, report in waiting:
            try:
                finish_plan(plan, report)
            except TransactionRefused as error:  # every part's refused entries are named, not the first's
                issues.extend(error.issues)
                rule = TransactionRefused.RULE
            done.report.add(report)
    if issues:
        raise BundleRejected(issues, rule=rule)
    done.not_understood = list(dict.fromkeys(done.not_understood))  # shared entries: reported once
    return done


def _without_records(plan: ImportPlan) -> ImportPlan:
    """A written part's plan without its Strigil records (written already: the memory they hold is let go),
    keeping what placing its other systems' measurements and answering for its entries need."""
    clinics = [dataclasses.replace(c, clinicians=(), patients=()) for c in plan.clinics]
    return dataclasses.replace(plan, clinics=clinics)


def _place_in_bundle_order(
    waiting: list[tuple[ImportPlan, ImportReport]],
    names: list[str],
    place: Callable[[ImportPlan, Sequence[ForeignMeasurement], ImportReport], None],
) -> list[tuple[str, str]]:
    """Place every part's measurements from other systems after every part's own records are written, in
    the order the bundle lists them — as one bundle planned whole places them, whatever part each is in (FHIR
    R4 http.html#transaction: the outcome does not depend on how Strigil cut the bundle). The problem that
    stops it, if any."""
    where = {name: i for i, name in enumerate(names)}
    queue = sorted(
        (
            (where.get(foreign.source, len(where)), k, foreign)
            for k, (plan, _) in enumerate(waiting)
            for foreign in plan.foreign_measurements
        ),
        key=lambda item: item[:2],
    )
    for _, k, foreign in queue:
        plan, report = waiting[k]
        try:
            place(plan, [foreign], report)
        except RecordError as error:
            return [("", str(error))]
    return []
