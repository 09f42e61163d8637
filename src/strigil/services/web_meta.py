"""The meta-analysis page's one action: fit an uploaded CSV with strigil.meta and draw its forest plot.

The same engine and the same column conventions (metafor's names) as `strigil meta fit|forest`.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["MEASURES", "METHODS", "TESTS", "MetaFit", "MetaInputError", "fit_csv"]

METHODS = ("REML", "DL", "PM", "ML", "HE", "HS", "SJ", "EB", "EE")
TESTS = ("z", "t", "knha")
# "given" = the file already has yi and vi; otherwise escalc computes them from metafor's columns.
MEASURES = ("given", "SMD", "MD", "ROM", "SMDH", "MC", "SMCC", "SMCR", "RR", "OR", "RD", "ZCOR", "COR")
LABEL_COLUMNS = ("slab", "study", "author", "label")
MAX_BYTES = 2_000_000


class MetaInputError(ValueError):
    """The upload cannot be analysed; the message names the column, line or option."""


@dataclass(frozen=True)
class MetaFit:
    """The fitted model as the CLI's JSON, the forest plot as SVG text, and what was left out."""

    result: dict[str, Any]
    forest_svg: str
    k: int
    left_out: int
    measure: str


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        rows = list(reader)
    except csv.Error as exc:  # e.g. a bare carriage return inside a field (found by the hardening fuzz tests)
        raise MetaInputError(f"file: not a readable CSV table ({exc})") from None
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise MetaInputError("file: has no header row; the first line must name the columns (e.g. yi,vi)")
    return header, [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in rows]


def _numbers(rows: list[dict[str, str]], header: list[str], column: str) -> list[float]:
    if column not in header:
        raise MetaInputError(f"column {column!r}: missing; the file has {', '.join(header)}")
    out = []
    for line, row in enumerate(rows, start=2):
        text = row.get(column, "")
        if text in ("", "NA", "NaN", "nan"):
            out.append(math.nan)
            continue
        try:
            out.append(float(text))
        except ValueError:
            raise MetaInputError(
                f"column {column!r}: line {line} has {text!r}, which is not a number"
            ) from None
    return out


def fit_csv(
    text: str,
    *,
    measure: str = "given",
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    xlab: str = "Observed outcome",
) -> MetaFit:
    """Fit a random-effects (or equal-effects) model to the uploaded studies and draw the forest plot."""
    import numpy as np

    from strigil.meta.escalc import MEASURES as ESCALC_MEASURES
    from strigil.meta.escalc import escalc
    from strigil.meta.rma import rma

    if len(text.encode()) > MAX_BYTES:
        raise MetaInputError(f"file: larger than {MAX_BYTES // 1_000_000} MB; upload one table of studies")
    if measure not in MEASURES:
        raise MetaInputError(f"measure: {measure!r} is not allowed; choose one of {', '.join(MEASURES)}")
    if method not in METHODS:
        raise MetaInputError(f"method: {method!r} is not allowed; choose one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise MetaInputError(f"test: {test!r} is not allowed; choose one of {', '.join(TESTS)}")
    header, rows = _rows(text)
    if measure == "given":
        y = np.array(_numbers(rows, header, "yi"))
        v = np.array(_numbers(rows, header, "vi"))
    else:
        needed = ESCALC_MEASURES[measure]
        columns: dict[str, Any] = {name: _numbers(rows, header, name) for name in needed}
        try:
            sizes = escalc(measure, **columns)
        except ValueError as exc:
            raise MetaInputError(f"measure {measure}: {exc}") from None
        y, v = np.asarray(sizes.yi), np.asarray(sizes.vi)
    keep = np.flatnonzero(np.isfinite(y) & np.isfinite(v))
    if keep.size == 0:
        raise MetaInputError("file: no row has both an effect size and its variance")
    label_column = next((c for c in LABEL_COLUMNS if c in header), None)
    labels = [rows[i].get(label_column, "") if label_column else f"Study {i + 1}" for i in keep]
    try:
        res = rma(y[keep], v[keep], method=method, test=test, level=level, slab=labels)
        plot = res.forest(xlab=xlab)
    except ValueError as exc:
        raise MetaInputError(str(exc)) from None
    except ArithmeticError as exc:  # e.g. yi of 1e123 breaks the estimator (found by hardening fuzz tests)
        raise MetaInputError(
            f"the model cannot be fitted to these numbers ({type(exc).__name__}); check yi and vi for "
            "extreme or mistyped values"
        ) from None
    buffer = io.StringIO()
    plot.figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.find("<svg") :]  # drop the XML prolog and doctype so it can sit inside the page
    return MetaFit(res.to_json(), svg, int(keep.size), int(y.size - keep.size), measure)
