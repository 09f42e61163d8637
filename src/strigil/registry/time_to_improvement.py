"""Time to meaningful improvement: sessions until the change from baseline reaches the MCID.

One row per patient: the number of sessions after baseline until the outcome first improved by at least the
bar for a meaningful change (an event), or until the last recorded session (censored). Kaplan–Meier curves
(by dose or technique) and a Cox proportional-hazards model come from lifelines. The bar is the response
model's one threshold rule (`strigil.clinical.response.change_bar`: the larger of the MDC and the MCID for a
condition, each with its population and source) or a number given explicitly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.clinical.response import ChangeBar
from strigil.display import Presentable, Summary
from strigil.registry.design import Column, codes_of, values_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CoxModel",
    "CoxTerm",
    "ImprovementCurve",
    "ImprovementTable",
    "Mcid",
    "catalogue_mcid",
    "cox_model",
    "kaplan_meier",
    "sessions_to_improvement",
]


@dataclass(frozen=True)
class Mcid:
    """The threshold of a meaningful improvement, with where it comes from.

    With a `bar` (the one threshold rule) the threshold is the bar at each patient's baseline — a "value or
    percent of baseline" MCID differs between patients — and `value` is its fixed part (the larger of the
    MCID's value and the MDC), for the report's text. Without one, `value` is the threshold for everyone.
    """

    value: float
    lower_is_better: bool
    source: str
    population: str = ""
    measure: str = ""
    bar: ChangeBar | None = None

    def at(self, baseline: np.ndarray) -> np.ndarray:
        """The threshold for each baseline value."""
        if self.bar is None:
            return np.full(np.shape(baseline), self.value, dtype=float)
        bar = self.bar
        return np.array([np.inf if (u := bar.units(float(b))) is None else u for b in baseline], dtype=float)


def catalogue_mcid(measure: str, condition: str | None = None) -> Mcid:
    """The bar for a meaningful change of `measure` (e.g. 'nprs') in patients with `condition`.

    The response model's one rule (`change_bar`): the larger of the MDC and the MCID for the condition's
    population, else the measure's default MCID (NPRS: Ostelo 2008's 2 points or 30 %).
    """
    from strigil.catalog import UnknownCode, load_catalog
    from strigil.clinical.response import change_bar

    try:
        entry = load_catalog().require("measures", measure)
        bar = change_bar(entry, condition=condition)
    except UnknownCode as exc:
        raise ValueError(str(exc)) from None
    if bar is None:
        raise ValueError(f"measure={measure!r}: the catalogue has no MCID or MDC; give --mcid")
    # The fixed part: a "value or percent" MCID is at most its value, whatever the baseline.
    fixed = bar.units(float("inf"))
    by = bar.deciding(float("inf"))
    assert by is not None  # a bar has an MCID or an MDC
    per_patient = any(t.percent is not None for t in (bar.mcid, *bar.mdcs) if t is not None)
    return Mcid(
        value=float(fixed) if fixed is not None and np.isfinite(fixed) else float("nan"),
        lower_is_better=entry.direction == "lower_is_better",
        source=f"{by.kind}, {by.source}; the bar is the larger of the MDC and the MCID"
        + (" (a percentage of each patient's baseline where smaller)" if per_patient else ""),
        population=by.population,
        measure=measure,
        bar=bar,
    )


@dataclass(frozen=True, repr=False)
class ImprovementTable(Presentable):
    """One row per patient with at least one session after baseline."""

    sessions: np.ndarray  # sessions after baseline until improvement (event) or last session (censored)
    improved: np.ndarray  # bool: the MCID was reached
    covariates: dict[str, np.ndarray]  # patient-level values (from the patient's baseline row)
    mcid: Mcid
    n_without_follow_up: int  # patients with a baseline only, left out

    def to_frame(self) -> pd.DataFrame:
        """One row per patient: sessions, improved, and the covariates."""
        from strigil.display import frame

        return frame({"sessions": self.sessions, "improved": self.improved, **self.covariates})

    def summary(self) -> Summary:
        """How many patients improved, by which bar."""
        from strigil.registry.printing import improvement_table_summary

        return improvement_table_summary(self)


def sessions_to_improvement(
    columns: Mapping[str, Column],
    *,
    outcome: str,
    mcid: Mcid,
    patient: str = "patient",
    session: str = "session",
    covariates: Sequence[str] = (),
) -> ImprovementTable:
    """Per patient, sessions from baseline (their first recorded session) to the first change ≥ MCID."""
    for name in (outcome, patient, session, *covariates):
        if name not in columns:
            raise ValueError(f"column {name!r} is not in the data; columns: {', '.join(columns)}")
    y = np.asarray(columns[outcome], dtype=float)
    s = np.asarray(columns[session], dtype=float)
    g, _ = codes_of(columns[patient])
    ok = ~(np.isnan(y) | np.isnan(s))
    y, s, g = y[ok], s[ok], g[ok]
    order = np.lexsort((s, g))
    y, s, g = y[order], s[order], g[order]
    first = np.r_[True, g[1:] != g[:-1]]
    starts = np.flatnonzero(first)
    row_patient = np.cumsum(first) - 1  # 0..P-1 in sorted order
    baseline_y = y[starts][row_patient]
    baseline_s = s[starts][row_patient]
    change = (baseline_y - y) if mcid.lower_is_better else (y - baseline_y)
    after = s - baseline_s
    n_pat = len(starts)
    # the same relative tolerance as the rule itself (`ChangeBar.meaningful`)
    reached = (change > 0) & (change >= mcid.at(baseline_y) * (1 - 1e-9)) & (after > 0)
    event_time = np.full(n_pat, np.inf)
    np.minimum.at(event_time, row_patient[reached], after[reached])
    last = np.zeros(n_pat)
    np.maximum.at(last, row_patient, after)
    improved = np.isfinite(event_time)
    time = np.where(improved, event_time, last)
    followed = time > 0
    baseline_rows = np.flatnonzero(ok)[order][starts]
    covs = {c: values_of(columns[c], baseline_rows)[followed] for c in covariates}
    return ImprovementTable(
        sessions=time[followed],
        improved=improved[followed],
        covariates=covs,
        mcid=mcid,
        n_without_follow_up=int((~followed).sum()),
    )


@dataclass(frozen=True, repr=False)
class ImprovementCurve(Presentable):
    """Kaplan–Meier estimate of the share of patients improved by each session, for one group.

    `fitter` is lifelines' fitted `KaplanMeierFitter` (for its plots and tables); warnings lifelines raised
    while fitting are kept in `notes`.
    """

    group: str
    sessions: np.ndarray
    improved: np.ndarray  # 1 − S(t)
    lower: np.ndarray  # 95% confidence band of 1 − S(t)
    upper: np.ndarray
    n_patients: int
    median_sessions: float | None  # sessions until half improved (None if not reached)
    notes: tuple[str, ...] = ()
    fitter: Any = field(default=None, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per session: share improved with its 95% band."""
        from strigil.display import frame

        return frame({"improved": self.improved, "lower": self.lower, "upper": self.upper}, self.sessions,
                     "sessions")

    def summary(self) -> Summary:
        """The share improved by session, with the median number of sessions."""
        from strigil.registry.printing import improvement_curve_summary

        return improvement_curve_summary(self)


def kaplan_meier(table: ImprovementTable, by: str | None = None) -> list[ImprovementCurve]:
    """Kaplan–Meier curves of the share improved, overall or per value of covariate `by` (lifelines)."""
    from lifelines import KaplanMeierFitter

    if by is not None and by not in table.covariates:
        raise ValueError(f"by={by!r} is not one of the table's covariates {sorted(table.covariates)}")
    labels = np.asarray(table.covariates[by]).astype(str) if by else np.full(len(table.sessions), "all")
    curves = []
    for level in sorted(set(labels.tolist()), key=_natural):
        rows = labels == level
        kmf = KaplanMeierFitter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kmf.fit(table.sessions[rows], table.improved[rows], label=level)
        sf = kmf.survival_function_.iloc[:, 0].to_numpy()
        ci = kmf.confidence_interval_survival_function_.to_numpy()
        median = float(kmf.median_survival_time_)
        curves.append(
            ImprovementCurve(
                group=level if by is None else f"{by}={level}",
                sessions=kmf.survival_function_.index.to_numpy(dtype=float),
                improved=1.0 - sf,
                lower=1.0 - ci[:, 1],
                upper=1.0 - ci[:, 0],
                n_patients=int(rows.sum()),
                median_sessions=median if np.isfinite(median) else None,
                notes=_notes(caught),
                fitter=kmf,
            )
        )
    return curves


def _notes(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    """The first line of each distinct warning lifelines raised (kept on the result, not re-emitted)."""
    return tuple(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))


def _natural(text: str) -> tuple[int, float | str]:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


@dataclass(frozen=True)
class CoxTerm:
    """One Cox model coefficient as a hazard ratio of improving (HR > 1: improvement comes sooner)."""

    name: str
    hazard_ratio: float
    ci_lb: float
    ci_ub: float
    p: float


@dataclass(frozen=True, repr=False)
class CoxModel(Presentable):
    """A fitted Cox proportional-hazards model of sessions to improvement.

    `fitter` is lifelines' fitted `CoxPHFitter` (its `summary`, `check_assumptions`, plots); warnings
    lifelines raised while fitting are kept in `notes`.
    """

    terms: tuple[CoxTerm, ...]
    n_patients: int
    n_improved: int
    concordance: float
    notes: tuple[str, ...] = field(default=())
    fitter: Any = field(default=None, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per covariate: hazard ratio of improving, 95% interval, p."""
        from strigil.display import frame

        cols = ("hazard_ratio", "ci_lb", "ci_ub", "p")
        return frame({c: [getattr(t, c) for t in self.terms] for c in cols}, [t.name for t in self.terms],
                     "term")

    def summary(self) -> Summary:
        """Hazard ratios with intervals, concordance and lifelines' notes."""
        from strigil.registry.printing import cox_summary

        return cox_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "terms": [t.__dict__ for t in self.terms],
            "n_patients": self.n_patients,
            "n_improved": self.n_improved,
            "concordance": self.concordance,
            "notes": list(self.notes),
        }


def cox_model(table: ImprovementTable, covariates: Sequence[str]) -> CoxModel:
    """Cox model of sessions to improvement on patient-level covariates (lifelines' CoxPHFitter).

    Text covariates are coded as indicators against their first level (sorted). Warnings lifelines raises
    (e.g. about convergence or separation) are kept as notes in the result.
    """
    import pandas as pd
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    frame: dict[str, Any] = {"sessions": table.sessions, "improved": table.improved.astype(int)}
    for c in covariates:
        if c not in table.covariates:
            raise ValueError(f"covariate {c!r} is not in the table; available: {sorted(table.covariates)}")
        v = table.covariates[c]
        distinct = set(np.asarray(v).astype(str).tolist())
        if len(distinct) < 2:
            value = f" ({next(iter(distinct))})" if distinct else ""
            raise ValueError(
                f"covariate {c!r} has the same value{value} for every one of the {len(table.sessions)} "
                "patients, so a Cox model cannot estimate its effect; leave it out"
            )
        if np.asarray(v).dtype.kind in "fiub":
            frame[c] = np.asarray(v, dtype=float)
        else:
            levels = sorted(set(np.asarray(v).astype(str).tolist()))
            for level in levels[1:]:
                frame[f"{c}[T.{level}]"] = (np.asarray(v).astype(str) == level).astype(float)
    df = pd.DataFrame(frame)
    cph = CoxPHFitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(df, duration_col="sessions", event_col="improved")
        except ConvergenceError as exc:
            raise ValueError(
                f"the Cox model on {', '.join(map(repr, covariates))} did not converge: a covariate may be "
                "(nearly) constant, duplicate another, or separate the patients who improved from those who "
                f"did not (lifelines: {str(exc).splitlines()[0]})"
            ) from None
    s = cph.summary
    terms = tuple(
        CoxTerm(
            name=str(name),
            hazard_ratio=float(row["exp(coef)"]),
            ci_lb=float(row["exp(coef) lower 95%"]),
            ci_ub=float(row["exp(coef) upper 95%"]),
            p=float(row["p"]),
        )
        for name, row in s.iterrows()
    )
    return CoxModel(
        terms=terms,
        n_patients=len(df),
        n_improved=int(table.improved.sum()),
        concordance=float(cph.concordance_index_),
        notes=_notes(caught),
        fitter=cph,
    )
