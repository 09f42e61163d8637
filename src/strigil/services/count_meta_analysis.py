"""A table of 2×2 or person-time counts (CSV) pooled by Mantel–Haenszel, Peto or a GLMM: one path for
`strigil meta counts` and the meta-analysis page's count models, with the plots and the downloads.

Columns follow metafor's names: `ai, bi, ci, di` (events and non-events in groups 1 and 2) or `ai, n1i,
ci, n2i` (events and group sizes) for 2×2 tables; `x1i, t1i, x2i, t2i` (events and person-time) for
counts. Rows with a missing count are left out and counted; an impossible count is a `MetaInputError`
naming the row and the study.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strigil.services.meta_analysis import (
    LABEL_COLUMNS,
    MAX_BYTES,
    MetaInputError,
    StudyTable,
    parse_table,
    svg_of,
)

if TYPE_CHECKING:
    from strigil.meta.glmm import GLMMResult
    from strigil.meta.result import RMAResult
    from strigil.meta.tables_result import TablesResult

__all__ = ["MODELS", "CountsFit", "CountsReport", "counts_report", "fit_counts"]

# model -> the measures it pools
MODELS: dict[str, tuple[str, ...]] = {
    "MH": ("OR", "RR", "RD", "IRR", "IRD"),
    "PETO": ("OR",),
    "GLMM": ("OR", "IRR"),
}
_TABLE_COLUMNS = (("ai", "bi", "ci", "di"), ("ai", "n1i", "ci", "n2i"))
_RATE_COLUMNS = ("x1i", "t1i", "x2i", "t2i")


@dataclass(frozen=True)
class CountsFit:
    """The pooled result, per-subgroup results (name → result, for the forest plot), the CSV lines left
    out for a missing count, and — with a moderator — the inverse-variance meta-regression on it."""

    result: TablesResult | GLMMResult
    subgroups: dict[str, TablesResult | GLMMResult]
    left_out: list[int]
    regression: RMAResult | None


def _columns(table: StudyTable, measure: str) -> dict[str, list[float]]:
    if measure in ("IRR", "IRD"):
        return {c: table.numbers(c) for c in _RATE_COLUMNS}
    for names in _TABLE_COLUMNS:
        if all(c in table.header for c in names):
            return {c: table.numbers(c) for c in names}
    raise MetaInputError(f"measure {measure}: the file needs columns ai, bi, ci, di (or ai, n1i, ci, n2i); "
                         f"it has {', '.join(table.header)}")


def _pool(model: str, measure: str, cells: dict[str, Any], level: float, slab: Sequence[str]) -> Any:
    from strigil.meta.glmm import rma_glmm
    from strigil.meta.mantel_haenszel import rma_mh
    from strigil.meta.peto import rma_peto

    if model == "MH":
        return rma_mh(**cells, measure=measure, level=level, slab=slab)
    if model == "PETO":
        return rma_peto(**cells, level=level, slab=slab)
    return rma_glmm(**cells, measure=measure, level=level, slab=slab)


def fit_counts(table: StudyTable, *, model: str = "MH", measure: str = "OR", level: float = 95.0,
               slab: str | None = None, subgroup: str | None = None,
               moderator: str | None = None) -> CountsFit:
    """Pool the table's counts; with `subgroup` also each subgroup on its own, with `moderator` also a
    meta-regression of the per-study effects on it (for the bubble plot)."""
    import numpy as np

    key, kind = measure.upper(), model.upper()
    if kind not in MODELS:
        raise MetaInputError(f"model: {model!r} is not allowed; choose one of {', '.join(MODELS)}")
    if key not in MODELS[kind]:
        raise MetaInputError(f"measure: {kind} pools {', '.join(MODELS[kind])}; got {measure!r}")
    cols = _columns(table, key)
    label_col = slab or next((c for c in LABEL_COLUMNS if c in table.header), None)
    labels = (table.texts(label_col, "--slab") if label_col
              else [f"line {i + 2}" for i in range(len(table.rows))])
    cells = {c: np.array(v) for c, v in cols.items()}
    missing = np.zeros(len(table.rows), dtype=bool)
    for v in cells.values():
        missing |= np.isnan(v)
    try:
        result = _pool(kind, key, cells, level, labels)
        subgroups = {}
        if subgroup is not None:
            groups = table.texts(subgroup, "--subgroup")
            for name in sorted(set(groups)):
                m = np.array([g == name for g in groups])
                subgroups[name] = _pool(kind, key, {c: v[m] for c, v in cells.items()}, level,
                                        [s for s, keep in zip(labels, m, strict=True) if keep])
        regression = _regression(table, key, cells, moderator, level, labels) if moderator else None
    except ValueError as exc:
        raise MetaInputError(str(exc)) from None
    return CountsFit(result, subgroups, (np.flatnonzero(missing) + 2).tolist(), regression)


def _regression(table: StudyTable, measure: str, cells: dict[str, Any], moderator: str, level: float,
                labels: Sequence[str]) -> RMAResult:
    from strigil.meta.escalc import escalc
    from strigil.meta.rma import rma

    es = escalc(measure, drop00=True, **cells)
    values = table.numbers(moderator, "--moderator")
    return rma(es.yi, es.vi, mods={moderator: values}, level=level, slab=labels)


@dataclass(frozen=True)
class CountsReport:
    """What the page shows: the result as JSON, the plots as SVG text, and the two downloads."""

    result: dict[str, Any]
    forest_svg: str
    funnel_svg: str
    labbe_svg: str
    bubble_svg: str | None
    studies_csv: str
    k: int
    left_out: int
    model: str
    measure: str


def _studies_csv(res: TablesResult | GLMMResult) -> str:
    """One row per study: its label, the counts, its effect and variance (escalc's) and its weight."""
    from strigil.meta.counts import TwoByTwo

    t = res.tables
    if isinstance(t, TwoByTwo):
        names, cols = ("ai", "bi", "ci", "di"), (t.ai, t.bi, t.ci, t.di)
    else:
        names, cols = ("x1i", "t1i", "x2i", "t2i"), (t.x1i, t.t1i, t.x2i, t.t2i)
    weights = getattr(res, "weights", None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["study", *names, "yi", "vi", "weight_percent"])
    for i, label in enumerate(res.slab):
        w = None if weights is None else float(weights[i])
        writer.writerow([label, *(f"{c[i]:g}" for c in cols),
                         *(repr(float(x)) if math.isfinite(x) else "NA" for x in (res.yi[i], res.vi[i])),
                         "NA" if w is None else repr(w)])
    return out.getvalue()


def counts_report(text: str, *, model: str = "MH", measure: str = "OR", level: float = 95.0,
                  subgroup: str | None = None, moderator: str | None = None,
                  groups: tuple[str, str] = ("Group 1", "Group 2")) -> CountsReport:
    """Pool an uploaded table of counts and draw its RevMan-layout forest, funnel, L'Abbé and (with a
    moderator) bubble plots."""
    from strigil.meta.plots import funnel
    from strigil.meta.revman import forest_revman
    from strigil.meta.study_plots import labbe, regplot

    if len(text.encode()) > MAX_BYTES:
        raise MetaInputError(f"file: larger than {MAX_BYTES // 1_000_000} MB; upload one table of studies")
    table = parse_table(text)
    for option, column in (("subgroup", subgroup), ("moderator", moderator)):
        if column:
            table.require(column, option)
    fitted = fit_counts(table, model=model, measure=measure, level=level, subgroup=subgroup or None,
                        moderator=moderator or None)
    res = fitted.result
    try:
        forest = forest_revman(res, subgroups=fitted.subgroups or None, groups=groups)
        funnel_plot = funnel(res, xlab=f"{res.measure} (log scale)" if forest.ratio else res.measure)
        labbe_plot = labbe(res)
        bubble = None if fitted.regression is None else regplot(fitted.regression, ylab=res.measure)
    except ValueError as exc:
        raise MetaInputError(str(exc)) from None
    doc = res.to_json()
    if fitted.regression is not None:
        doc["regression"] = fitted.regression.to_json()
    return CountsReport(
        result=json.loads(json.dumps(doc, allow_nan=False)), forest_svg=svg_of(forest.figure),
        funnel_svg=svg_of(funnel_plot.figure), labbe_svg=svg_of(labbe_plot.figure),
        bubble_svg=None if bubble is None else svg_of(bubble.figure), studies_csv=_studies_csv(res),
        k=res.k, left_out=len(fitted.left_out), model=model.upper(), measure=measure.upper(),
    )
