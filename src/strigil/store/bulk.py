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

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

__all__ = ["BULK_PAGE_CACHE_MIB", "insert_rows", "page_cache"]

_Value = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the parameters in the driver's order
    values: tuple[_Value, ...]  # each parameter's value from a row (processed, or the column's default)
    positional: bool


_PLANS: dict[tuple[int, str, tuple[str, ...]], _Plan] = {}


def _value(table: Table, name: str, given: bool, dialect: Any) -> _Value:
    column = table.c[name]
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if given:
        if process is None:
            return lambda row: row[name]
        return lambda row: process(row[name])
    default: Any = column.default  # a ScalarElementColumnDefault or CallableColumnDefault: both have .arg
    if default is None or not (default.is_scalar or default.is_callable):
        raise ValueError(f"{table.name}.{name}: bulk rows must name it (no Python default)")
    if default.is_scalar:
        constant = default.arg if process is None else process(default.arg)
        return lambda row: constant
    make = default.arg  # Core's wrapper: takes the execution context, which these defaults do not use
    if process is None:
        return lambda row: make(None)
    return lambda row: process(make(None))


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
    plan = _Plan(str(compiled), names, tuple(_value(table, n, n in keys, dialect) for n in names), positional)
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
    values = plan.values
    parameters: list[Any] = [tuple([value(row) for value in values]) for row in rows]
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
