"""A table of studies (CSV) turned into a meta-analysis: one path for the `strigil meta` commands and the
meta-analysis web page.

Columns follow metafor's names (`yi`, `vi`, `n1i`, `m1i`, ...). Rows with a missing effect, variance or
moderator are left out and counted, as metafor does. Every problem is a `MetaInputError` whose message names
the column (labelled as the caller says: `--yi` on the command line, `column` on the page), line or option.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strigil.meta.rma import TESTS
from strigil.meta.tau2 import ESTIMATORS as METHODS

if TYPE_CHECKING:
    from strigil.meta.result import RMAResult

__all__ = [
    "LABEL_COLUMNS",
    "MAX_BYTES",
    "MEASURES",
    "METHODS",
    "STRUCTS",
    "TESTS",
    "FittedTable",
    "MetaFit",
    "MetaInputError",
    "StudyTable",
    "delimiter_of",
    "effect_sizes",
    "fit_csv",
    "fit_table",
    "parse_table",
    "read_table",
    "svg_of",
]

# "given" = the file already has yi and vi; otherwise escalc computes them from metafor's columns.
MEASURES = ("given", "SMD", "MD", "ROM", "SMDH", "MC", "SMCC", "SMCR", "RR", "OR", "RD", "ZCOR", "COR")
LABEL_COLUMNS = ("slab", "study", "author", "label")
# structures the page offers for several outcomes per trial (metafor's struct; CS the default)
STRUCTS = ("CS", "HCS", "UN", "AR", "DIAG")
MAX_BYTES = 2_000_000
_MISSING = ("", "NA", "NaN", "nan")


class MetaInputError(ValueError):
    """The table cannot be analysed; the message names the column, line or option."""


@dataclass(frozen=True)
class StudyTable:
    """A CSV table of studies: its header and its rows, every value as text."""

    header: list[str]
    rows: list[dict[str, str]]

    def require(self, column: str, label: str) -> None:
        """Fail unless the table has `column`."""
        if column not in self.header:
            raise MetaInputError(
                f"{label} {column!r}: no such column; columns are {', '.join(self.header)}"
            )

    def numbers(self, column: str, label: str = "column") -> list[float]:
        """The column as floats, NaN where empty or NA."""
        self.require(column, label)
        out = []
        for line, row in enumerate(self.rows, start=2):  # line 1 is the header
            text = (row.get(column) or "").strip()
            if text in _MISSING:
                out.append(math.nan)
                continue
            try:
                out.append(float(text))
            except ValueError:
                raise MetaInputError(
                    f"{label} {column!r}: line {line} has {text!r}, which is not a number"
                ) from None
        return out

    def texts(self, column: str, label: str = "column") -> list[str]:
        """The column as text."""
        self.require(column, label)
        return [(row.get(column) or "").strip() for row in self.rows]

    def moderators(self, names: Sequence[str], label: str = "--mods") -> dict[str, list[float]]:
        """Numeric moderators as they are; text ones dummy-coded like R factors (first level = reference)."""
        mods: dict[str, list[float]] = {}
        for name in names:
            texts = self.texts(name, label)
            try:
                mods[name] = [math.nan if t in _MISSING else float(t) for t in texts]
            except ValueError:
                levels = sorted({t for t in texts if t not in _MISSING})
                for level in levels[1:]:
                    mods[f"{name}{level}"] = [math.nan if t in _MISSING else float(t == level) for t in texts]
        return mods


_DELIMITERS = (",", ";", "\t")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")


def delimiter_of(text: str) -> str:
    """The separator of a table: the one of comma, semicolon or tab that the header row uses most (a
    spreadsheet saved as CSV in a language with decimal commas separates with semicolons)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: first.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def parse_table(text: str) -> StudyTable:
    """A CSV text as a table (a byte-order mark is ignored). Semicolon- and tab-separated tables are
    recognised by their header row; in a semicolon table, numbers written with a decimal comma (0,25) are
    read as numbers."""
    text = text.lstrip("\ufeff")
    delimiter = delimiter_of(text)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:  # e.g. a bare carriage return inside a field (found by the hardening fuzz tests)
        raise MetaInputError(f"file: not a readable CSV table ({exc})") from None
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise MetaInputError("file: has no header row; the first line must name the columns (e.g. yi,vi)")
    if len(header) == 1 and header[0] not in ("yi", "vi"):
        raise MetaInputError(
            f"file: the header row {header[0][:60]!r} is one column; separate the columns with commas, "
            "semicolons or tabs (e.g. study,yi,vi)"
        )

    def cell(value: str | None) -> str:
        value = value or ""
        if delimiter == ";" and _DECIMAL_COMMA.fullmatch(value.strip()):
            return value.strip().replace(",", ".")
        return value

    return StudyTable(header, [{k.strip(): cell(v) for k, v in r.items() if k is not None} for r in rows])


def read_table(path: Path) -> StudyTable:
    """A CSV file as a table."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MetaInputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise MetaInputError(f"{path} is not a readable UTF-8 CSV table ({exc})") from None
    try:
        return parse_table(text)
    except MetaInputError as exc:
        raise MetaInputError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class FittedTable:
    """The model fitted to the usable rows, and the lines (1 = header) left out for missing values."""

    result: RMAResult
    left_out: list[int]


def effect_sizes(table: StudyTable, measure: str) -> tuple[Any, Any]:
    """Effect sizes and variances computed by escalc from metafor's columns (named as metafor names them)."""
    import numpy as np

    from strigil.meta.escalc import MEASURES as ESCALC_MEASURES
    from strigil.meta.escalc import escalc

    columns: dict[str, Any] = {name: table.numbers(name) for name in ESCALC_MEASURES[measure]}
    try:
        sizes = escalc(measure, **columns)
    except ValueError as exc:
        raise MetaInputError(f"measure {measure}: {exc}") from None
    return np.asarray(sizes.yi), np.asarray(sizes.vi)


def fit_table(
    table: StudyTable,
    *,
    yi: str = "yi",
    vi: str = "vi",
    yi_label: str = "column",
    vi_label: str = "column",
    measure: str = "given",
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    mods: Sequence[str] = (),
    subgroup: str | None = None,
    slab: str | None = None,
    formula: str | None = None,
) -> FittedTable:
    """Fit metafor's rma to a table: rows missing the effect, variance or a moderator are left out.
    `formula` ("~ dose + technique") gives the moderators as a model formula on the table's columns
    (text columns categorical, R's coding) instead of `mods`."""
    import numpy as np

    from strigil.meta.rma import rma

    if measure not in MEASURES:
        raise MetaInputError(f"measure: {measure!r} is not allowed; choose one of {', '.join(MEASURES)}")
    # method and test are checked by the engine, whose message names what is allowed
    if measure == "given":
        y, v = np.array(table.numbers(yi, yi_label)), np.array(table.numbers(vi, vi_label))
    else:
        y, v = effect_sizes(table, measure)
    moderators = {name: np.array(col) for name, col in table.moderators(mods).items()}
    groups = table.texts(subgroup, "--subgroup") if subgroup is not None else None
    labels = table.texts(slab, "--slab") if slab is not None else None
    keep = np.isfinite(y) & np.isfinite(v)
    for column in moderators.values():
        keep &= np.isfinite(column)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise MetaInputError("file: no row has both an effect size and its variance")
    data = None
    if formula:
        data = {name: [_value(table.rows[i].get(name)) for i in idx] for name in table.header}
    try:
        result = rma(
            y[idx],
            v[idx],
            mods=formula if formula else ({n: c[idx] for n, c in moderators.items()} if moderators else None),
            data=data,
            method=method,
            test=test,
            level=level,
            subgroup=[groups[i] for i in idx] if groups is not None else None,
            slab=[labels[i] for i in idx] if labels is not None else None,
        )
    except ValueError as exc:
        raise MetaInputError(str(exc)) from None
    except ArithmeticError as exc:  # e.g. yi of 1e123 breaks the estimator (found by hardening fuzz tests)
        raise MetaInputError(
            f"the model cannot be fitted to these numbers ({type(exc).__name__}); check yi and vi for "
            "extreme or mistyped values"
        ) from None
    if result.omitted:  # rows the formula's variables are missing in
        keep[idx[list(result.omitted)]] = False
    return FittedTable(result, (np.flatnonzero(~keep) + 2).tolist())


def _value(text: str | None) -> Any:
    """A CSV cell for a formula: a number when it reads as one, None when missing, else the text."""
    t = (text or "").strip()
    if t in _MISSING:
        return None
    try:
        return float(t)
    except ValueError:
        return t


@dataclass(frozen=True)
class MetaFit:
    """The fitted model as the CLI's JSON, the forest plot as SVG text, and how many rows were left out."""

    result: dict[str, Any]
    forest_svg: str
    k: int
    left_out: int
    measure: str


def fit_csv(
    text: str,
    *,
    measure: str = "given",
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    xlab: str = "Observed outcome",
    trial: str = "",
    outcome: str = "",
    struct: str = "CS",
    rho: str = "",
    robust: bool = False,
) -> MetaFit:
    """Fit an uploaded table of studies and draw its forest plot (the meta-analysis page's one action);
    with a trial column, a model of several effects per trial (no forest plot)."""
    if len(text.encode()) > MAX_BYTES:
        raise MetaInputError(f"file: larger than {MAX_BYTES // 1_000_000} MB; upload one table of studies")
    table = parse_table(text)
    found = next((c for c in LABEL_COLUMNS if c in table.header), None)
    if trial.strip() or outcome.strip() or robust or rho.strip():
        return _fit_dependent(table, measure=measure, method=method, test=test, level=level, slab=found,
                              trial=trial.strip(), outcome=outcome.strip(), struct=struct, rho=rho.strip(),
                              robust=robust)
    fitted = fit_table(table, measure=measure, method=method, test=test, level=level, slab=found)
    try:
        plot = fitted.result.forest(xlab=xlab)
    except ValueError as exc:
        raise MetaInputError(str(exc)) from None
    result = fitted.result
    return MetaFit(result.to_json(), svg_of(plot.figure), result.k, len(fitted.left_out), measure)


def svg_of(figure: Any) -> str:
    """A matplotlib figure as SVG text that can sit inside a page (no XML prolog or doctype)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.find("<svg") :]



def _fit_dependent(table: StudyTable, *, measure: str, method: str, test: str, level: float, slab: str | None,
                   trial: str, outcome: str, struct: str, rho: str, robust: bool) -> MetaFit:
    """Several effects per trial: effects within trials (~ 1 | trial/effect), or outcomes correlated
    within trials (~ outcome | trial, struct), with CR2 tests clustered by trial when asked for."""
    from strigil.services.dependent_effects import fit_dependent_table

    if not trial:
        raise MetaInputError("trial column: needed for several effects per trial, a correlation rho or "
                             "robust tests (name the column that says which trial each row comes from)")
    for label, name in (("trial column", trial), ("outcome column", outcome)):
        if name:
            table.require(name, label)
        if any(ch in name for ch in "~|/"):
            raise MetaInputError(f"{label}: {name!r} contains ~, | or /; rename the column")
    if struct not in STRUCTS:
        raise MetaInputError(f"struct: {struct!r} is not allowed; choose one of {', '.join(STRUCTS)}")
    if method not in ("REML", "ML"):
        raise MetaInputError(f"method: several effects per trial are fitted by REML or ML, not {method}")
    if test not in ("z", "t"):
        raise MetaInputError(f"test: several effects per trial are tested with z or t, not {test}")
    r = None
    if rho:
        try:
            r = float(rho)
        except ValueError:
            raise MetaInputError(f"rho: {rho!r} is not a number (a correlation between -1 and 1)") from None
    if outcome:
        random = [f"~ {outcome} | {trial}"]
    else:
        effect = next(n for n in ("effect", "effect_row", "effect_row_") if n not in table.header)
        table = StudyTable([*table.header, effect],
                           [{**row, effect: str(i + 1)} for i, row in enumerate(table.rows)])
        random = [f"~ 1 | {trial}/{effect}"]
    fitted = fit_dependent_table(table, measure=measure, method=method, test=test, level=level, slab=slab,
                                 random=random, struct=struct, rho=r, robust=trial if robust else None,
                                 random_label="column", robust_label="trial column")
    model = fitted.pooling.model
    return MetaFit(fitted.pooling.to_json(), "", model.k, len(fitted.left_out), measure)
