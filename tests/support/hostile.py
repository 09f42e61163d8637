"""Hostile values and document mutations shared by the hardening tests (hypothesis strategies)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, text

XSS = '"><script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
SQLI = ("' OR '1'='1", "'; DROP TABLE patients; --", '" OR ""="', "1 OR 1=1", "%' OR 1=1 --", "\\'; --")

HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", " ", "\x00", "9" * 400, "1e309", "-0", "NaN", "2026-02-30", XSS, *SQLI]),
    st.text(max_size=30),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-3, 3), max_size=2),
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any, max_changes: int = 3) -> Any:
    """`document` with 1..max_changes values replaced by hostile ones, removed, or given an unknown key."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, max_changes))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "__proto__", "id", "clinic_id"]))] = draw(HOSTILE)
        else:
            parent[path[-1]] = draw(HOSTILE)
    return doc


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table (a partial write shows up as a changed count)."""
    with engine.connect() as conn:
        return {
            table: conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            for table in inspect(conn).get_table_names()
        }


def without_audit(counts: dict[str, int]) -> dict[str, int]:
    """Counts of the clinical and account tables (the audit trail and sign-in attempts grow by design)."""
    return {k: v for k, v in counts.items() if k not in ("web_audit_events", "web_login_attempts")}
