"""Bulk inserts of plain row dicts at Core speed, through the columns' own types and defaults.

`db.execute(insert(table), rows)` turns every row into a parameter dict of its own and processes it value
by value (about half of a bulk import's insert time, measured). Here the INSERT is compiled once per table
and set of columns; a column the rows do not name gets its Python default as Core would give it (a
constant, or the default function called once per row); only the columns whose type converts a value
(dates on SQLite, `UTCTimestamp`, JSON) go through that type's own bind processor; and the rows reach the
driver's executemany as plain tuples (dicts for drivers with named parameters): the same values as
through Core, which `tests/store/test_bulk_insert.py` checks column by column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

__all__ = ["BULK_PAGE_CACHE_MIB", "insert_rows", "page_cache"]

_Process = Callable[[Any], Any]


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the parameters in the driver's order
    row_values: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values in that order, unprocessed
    # (position, the column type's bind processor, whether its values are dates/times: immutable, and the
    # same value object recurs row after row — the import's timestamp — so the last result is reused)
    processed: tuple[tuple[int, _Process, bool], ...]
    defaults: tuple[tuple[str, Callable[[], Any]], ...]  # columns the rows leave out: Core's defaults
    positional: bool


_PLANS: dict[tuple[int, str, tuple[str, ...]], _Plan] = {}


def _default(table: Table, name: str) -> Callable[[], Any]:
    """The Python default of a column the rows leave out, as Core gives it: a constant, or its function
    called once per row."""
    default: Any = table.c[name].default  # Scalar- or CallableColumnDefault: both have .arg
    if default is None or not (default.is_scalar or default.is_callable):
        raise ValueError(f"{table.name}.{name}: bulk rows must name it (no Python default)")
    if default.is_scalar:
        constant = default.arg
        return lambda: constant
    make = default.arg  # Core's wrapper: takes the execution context, which these defaults do not use
    return lambda: make(None)


def _is_temporal(column: Any) -> bool:
    try:
        return issubclass(column.type.python_type, dt.date)  # datetime is a date too
    except NotImplementedError:
        return False


def _plan(db: Session, table: Table, keys: tuple[str, ...]) -> _Plan:
    dialect = db.get_bind().dialect
    found = _PLANS.get((id(dialect), table.name, keys))
    if found is not None:
        return found
    unknown = sorted(set(keys) - set(table.c.keys()))
    if unknown:
        raise ValueError(f"{table.name}: bulk rows name no such column: {', '.join(unknown)}")
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    positional = bool(dialect.positional)
    names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.params)
    processed = []
    for i, name in enumerate(names):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processed.append((i, process, _is_temporal(table.c[name])))
    getter = itemgetter(*names)
    plan = _Plan(
        sql=str(compiled),
        names=names,
        row_values=getter if len(names) > 1 else lambda row: (getter(row),),
        processed=tuple(processed),
        defaults=tuple((n, _default(table, n)) for n in names if n not in keys),
        positional=positional,
    )
    _PLANS[id(dialect), table.name, keys] = plan
    return plan


def insert_rows(db: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (dicts naming the same columns) into `table` in the session's transaction."""
    if not rows:
        return
    keys = tuple(rows[0])
    plan = _plan(db, table, keys)
    if any(len(row) != len(keys) for row in rows):  # a missing key fails below; an extra one must not pass
        raise ValueError(f"{table.name}: bulk rows must all name the same columns")
    if plan.defaults:
        rows = [{**row, **{name: make() for name, make in plan.defaults}} for row in rows]
    row_values = plan.row_values
    parameters: list[Any]
    if not plan.processed:
        parameters = [row_values(row) for row in rows]
    else:
        parameters = []
        missing = object()
        last_in: list[Any] = [missing] * len(plan.names)
        last_out: list[Any] = [None] * len(plan.names)
        for row in rows:
            values = list(row_values(row))
            for i, process, temporal in plan.processed:
                value = values[i]
                if not temporal:
                    values[i] = process(value)
                elif value is last_in[i]:
                    values[i] = last_out[i]
                else:
                    last_in[i], last_out[i] = value, process(value)
                    values[i] = last_out[i]
            parameters.append(tuple(values))
    if not plan.positional:
        parameters = [dict(zip(plan.names, p, strict=True)) for p in parameters]
    db.connection().exec_driver_sql(plan.sql, parameters)


# SQLite's page cache during a bulk import (MiB). The default (2 MiB) is far smaller than the indexes a
# whole-clinic import writes into in one transaction (public ids are random, so every insert lands on a
# different index page): pages are evicted to the WAL and read back again. 64 MiB took a 10,000-patient
# import from 62 s to 55 s of CPU (measured; 200 MiB gained little more) and keeps its peak under 500 MB.
BULK_PAGE_CACHE_MIB = 64


@contextmanager
def page_cache(db: Session, mib: int = BULK_PAGE_CACHE_MIB) -> Iterator[None]:
    """A larger SQLite page cache on this session's connection for the duration (nothing on PostgreSQL)."""
    if db.get_bind().dialect.name != "sqlite":
        yield
        return
    connection = db.connection()
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size={-1024 * int(mib)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")
