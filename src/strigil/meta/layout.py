"""Between arm-level rows (long: one row per study arm) and study tables (wide: one row per study),
as metafor's `to.long` and `to.wide`, for 2×2 tables, person-time data and two-group means.

Long columns: `study`, `group` and, per arm, `events` and `total` (2×2), `events` and `time`
(person-time) or `mean`, `sd` and `n` (means). Wide columns are metafor's: `ai, bi, ci, di`;
`x1i, t1i, x2i, t2i`; `m1i, sd1i, n1i, m2i, sd2i, n2i`. Both are plain mappings of column → list, ready
for `escalc(data=...)`, `rma_mh(...)` or a CSV writer. A study with one arm (or more than two) is an
error naming the study.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["KINDS", "to_long", "to_wide"]

# kind -> (wide columns of group 1, of group 2, the long columns they become)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "2x2": (("ai", "n1i"), ("ci", "n2i"), ("events", "total")),
    "person-time": (("x1i", "t1i"), ("x2i", "t2i"), ("events", "time")),
    "means": (("m1i", "sd1i", "n1i"), ("m2i", "sd2i", "n2i"), ("mean", "sd", "n")),
}


def _kind(kind: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not supported; allowed: {', '.join(KINDS)}")
    return KINDS[kind]


def _values(data: Mapping[str, Sequence[Any]], name: str) -> list[Any]:
    if name not in data:
        raise ValueError(f"column {name!r} is missing; the data have {', '.join(map(str, data))}")
    return list(data[name])


def to_long(data: Mapping[str, Sequence[Any]], *, kind: str = "2x2", study: str = "study",
            groups: tuple[Any, Any] = (1, 2)) -> dict[str, list[Any]]:
    """One row per arm from one row per study (metafor's `to.long`). 2×2 tables may give `bi`, `di`
    (non-events) instead of `n1i`, `n2i`; the arms are labelled `groups`."""
    first, second, long_names = _kind(kind)
    cols = dict(data)
    if kind == "2x2":
        for events, cell, size in (("ai", "bi", "n1i"), ("ci", "di", "n2i")):
            if size not in cols and cell in cols:
                cols[size] = [a + b for a, b in zip(_values(cols, events), _values(cols, cell), strict=True)]
    arm1 = [_values(cols, c) for c in first]
    arm2 = [_values(cols, c) for c in second]
    k = len(arm1[0])
    labels = _values(cols, study) if study in cols else [f"Study {i + 1}" for i in range(k)]
    out: dict[str, list[Any]] = {"study": [], "group": [], **{n: [] for n in long_names}}
    for i in range(k):
        for label, arm in ((groups[0], arm1), (groups[1], arm2)):
            out["study"].append(labels[i])
            out["group"].append(label)
            for name, col in zip(long_names, arm, strict=True):
                out[name].append(col[i])
    return out


def to_wide(rows: Mapping[str, Sequence[Any]], *, kind: str = "2x2", study: str = "study",
            group: str = "group", groups: tuple[Any, Any] | None = None) -> dict[str, list[Any]]:
    """One row per study from one row per arm (metafor's `to.wide`): `groups` says which group label is
    group 1 (the treatment) and which group 2; by default the order the labels first appear in. 2×2
    tables come out as ai, bi, ci, di; a study without exactly the two arms is an error naming it."""
    first, second, long_names = _kind(kind)
    studies = _values(rows, study)
    labels = _values(rows, group)
    values = {n: _values(rows, n) for n in long_names}
    order = list(dict.fromkeys(labels))
    pair = tuple(groups) if groups is not None else tuple(order[:2])
    if len(pair) != 2 or pair[0] == pair[1]:
        raise ValueError(f"two different groups are needed; the rows have {order}")
    strange = [g for g in order if g not in pair]
    if strange:
        raise ValueError(f"group {strange[0]!r} is neither {pair[0]!r} nor {pair[1]!r}; "
                         "pass groups=(group 1, group 2)")
    arms: dict[Any, dict[Any, int]] = {}
    for i, (s, g) in enumerate(zip(studies, labels, strict=True)):
        seen = arms.setdefault(s, {})
        if g in seen:
            raise ValueError(f"study {s!r} has two rows for group {g!r} (rows {seen[g] + 1} and {i + 1})")
        seen[g] = i
    out: dict[str, list[Any]] = {"study": [], **{c: [] for c in first + second}}
    for s, seen in arms.items():
        missing = [g for g in pair if g not in seen]
        if missing:
            raise ValueError(f"study {s!r} has only one arm (no row for group {missing[0]!r}); a two-group "
                             "comparison needs both")
        out["study"].append(s)
        for cols, g in ((first, pair[0]), (second, pair[1])):
            for c, name in zip(cols, long_names, strict=True):
                out[c].append(values[name][seen[g]])
    if kind == "2x2":
        for events, size, cell in (("ai", "n1i", "bi"), ("ci", "n2i", "di")):
            out[cell] = [n - e for e, n in zip(out[events], out.pop(size), strict=True)]
        out = {c: out[c] for c in ("study", "ai", "bi", "ci", "di")}
    return out
