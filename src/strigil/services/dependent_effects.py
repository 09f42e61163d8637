"""The researcher's action "pool dependent effects": a multilevel or multivariate model (several
effects per trial) with cluster-robust inference, from the columns of a table of effects.

One place for what `strigil meta fit --random/--struct/--V/--rho/--robust` and the meta-analysis page
both do: choose the sampling covariance (the variances, a given matrix, or a constant within-trial
correlation as metafor's `vcalc`), fit `rma_mv` (or `rma` when there is neither a random term nor a
covariance) and add CR2 tests clustered by trial. Problems are `MetaInputError`s naming the option.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from strigil.meta.random_effects import outermost_group, term_columns
from strigil.meta.result import RMAResult
from strigil.meta.result_mv import RMAMVResult
from strigil.meta.rma import rma
from strigil.meta.rma_mv import rma_mv
from strigil.meta.robust import RobustResult, robust
from strigil.meta.vcalc import vcalc
from strigil.services.meta_analysis import MetaInputError, StudyTable, effect_sizes

__all__ = [
    "DependentPooling",
    "FittedDependent",
    "fit_dependent_table",
    "pool_dependent_effects",
    "read_covariance",
]


@dataclass(frozen=True, eq=False)
class DependentPooling:
    """The fitted model, its cluster-robust tests (when asked for) and where V came from."""

    model: RMAMVResult | RMAResult
    robust: RobustResult | None
    robust_cluster: str | None
    sampling_covariance: str

    def to_json(self) -> dict[str, Any]:
        """The model's JSON, with `sampling_covariance` and (when asked for) `robust` added."""
        doc = self.model.to_json()
        doc["sampling_covariance"] = self.sampling_covariance
        if self.robust is not None:
            doc["robust"] = {"cluster": self.robust_cluster, **self.robust.to_json()}
        return doc


def pool_dependent_effects(
    yi: Any,
    vi: Any,
    columns: Mapping[str, Sequence[Any]],
    *,
    random: Sequence[str] = (),
    struct: str = "CS",
    V: Any = None,
    rho: float | None = None,
    robust_cluster: str | None = None,
    mods: Mapping[str, Any] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    slab: Sequence[str] | None = None,
) -> DependentPooling:
    """Fit the model for effects that share trials (the core's ValueError on bad input).

    `rho`: sampling errors of different effects of one trial correlate by rho (the trial being
    `robust_cluster`, else the outermost group of the first random term). `V`: a k × k matrix.
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    if V is not None and rho is not None:
        raise ValueError("give either a sampling covariance matrix (V) or a within-trial correlation (rho), "
                         "not both")
    source = "vi"
    cov: Any = v
    if V is not None:
        cov, source = np.asarray(V, dtype=float), "matrix"
    if rho is not None:
        trial = robust_cluster or (outermost_group(random) if random else None)
        if trial is None:
            raise ValueError("rho needs the trials its correlation applies within: give a robust cluster "
                             "column or a random term")
        cov = vcalc(v, list(columns[trial]), obs=list(range(y.size)), rho=rho)
        source = f"rho={rho:g} within {trial}"
    model: RMAMVResult | RMAResult
    if random or source != "vi":
        model = rma_mv(y, cov, mods=mods, random=list(random) or None, struct=struct, data=columns,
                       method=method, test=test, level=level, slab=slab)
    else:
        model = rma(y, v, mods=mods, method=method, test=test, level=level, slab=slab)
    rob = robust(model, list(columns[robust_cluster])) if robust_cluster is not None else None
    return DependentPooling(model, rob, robust_cluster, source)


@dataclass(frozen=True)
class FittedDependent:
    """The pooled model of the usable rows, and the lines (1 = header) left out for missing values."""

    pooling: DependentPooling
    left_out: list[int]


def fit_dependent_table(
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
    slab: str | None = None,
    random: Sequence[str] = (),
    struct: str = "CS",
    V: Any = None,
    rho: float | None = None,
    robust: str | None = None,
    random_label: str = "--random",
    robust_label: str = "--robust",
) -> FittedDependent:
    """`pool_dependent_effects` on a table: rows missing an effect, variance, moderator or grouping label
    are left out (and their rows and columns of `V`, given for every row of the table)."""
    if measure == "given":
        y, v = np.array(table.numbers(yi, yi_label)), np.array(table.numbers(vi, vi_label))
    else:
        y, v = effect_sizes(table, measure)
    moderators = {name: np.array(col) for name, col in table.moderators(mods).items()}
    try:
        grouping = term_columns(random)
    except ValueError as exc:
        raise MetaInputError(str(exc)) from None
    for name in grouping:
        table.require(name, random_label)
    if robust is not None:
        table.require(robust, robust_label)
    names = list(dict.fromkeys([*grouping, *([robust] if robust else [])]))
    labels = {name: table.texts(name) for name in names}
    keep = np.isfinite(y) & np.isfinite(v)
    for column in moderators.values():
        keep &= np.isfinite(column)
    for texts in labels.values():
        keep &= np.array([t not in ("", "NA") for t in texts], dtype=bool)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise MetaInputError("file: no row has an effect size, its variance and its grouping labels")
    matrix = None
    if V is not None:
        full = np.asarray(V, dtype=float)
        if full.shape != (y.size, y.size):
            raise MetaInputError(f"V: needs {y.size} rows of {y.size} numbers (one per row of the table); "
                                 f"got shape {full.shape}")
        matrix = full[np.ix_(idx, idx)]
    study = table.texts(slab, "--slab") if slab is not None else None
    try:
        pooled = pool_dependent_effects(
            y[idx], v[idx], {n: [t[i] for i in idx] for n, t in labels.items()}, random=random, struct=struct,
            V=matrix, rho=rho, robust_cluster=robust,
            mods={n: c[idx] for n, c in moderators.items()} if moderators else None,
            method=method, test=test, level=level,
            slab=[study[i] for i in idx] if study is not None else None,
        )
    except ValueError as exc:
        raise MetaInputError(str(exc)) from None
    except ArithmeticError as exc:
        raise MetaInputError(f"the model cannot be fitted to these numbers ({type(exc).__name__}); check yi "
                             "and vi for extreme or mistyped values") from None
    return FittedDependent(pooled, (np.flatnonzero(~keep) + 2).tolist())


def read_covariance(path: Path, n: int, label: str = "--V") -> Any:
    """An n × n sampling covariance matrix from a header-less CSV file (rows in the table's order)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except OSError as exc:
        raise MetaInputError(f"{label} {str(path)!r}: cannot read: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise MetaInputError(f"{label} {str(path)!r} is not a readable UTF-8 CSV table ({exc})") from None
    if len(rows) != n or any(len(r) != n for r in rows):
        raise MetaInputError(f"{label} {str(path)!r}: needs {n} rows of {n} numbers (one per data row, no "
                             f"header); got {len(rows)} row(s)")
    try:
        return np.array([[float(c) for c in r] for r in rows])
    except ValueError:
        raise MetaInputError(f"{label} {str(path)!r}: every entry must be a number") from None
