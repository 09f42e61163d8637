"""Plots of the registry analyses: dose–response, improvement, per-clinic dose terms.

Each is drawn on a matplotlib `Figure` detached from pyplot (`strigil.display.new_figure`): it shows itself in
a notebook, the HTML report inlines its SVG text, and neither changes the matplotlib backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from strigil.display import InlineFigure, figure_svg, new_figure
from strigil.registry.clinic_doses import ClinicDose
from strigil.registry.design import Coded, Column, term_values
from strigil.registry.mixed_model import MixedModelFit
from strigil.registry.time_to_improvement import ImprovementCurve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DoseCurve",
    "RegistryPlot",
    "clinic_dose_plot",
    "clinic_dose_svg",
    "dose_response_curves",
    "dose_response_plot",
    "dose_response_svg",
    "improvement_plot",
    "improvement_svg",
    "why_no_dose_curves",
]


@dataclass(frozen=True)
class DoseCurve:
    """Model-predicted mean outcome over time at one dose, with a 95% confidence band."""

    dose: float
    times: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def why_no_dose_curves(model_columns: Sequence[str], *, time: str, dose: str) -> str:
    """Why a model cannot give dose-response curves ('' when it can): its formula must use both the dose
    and the time column, or every curve would be the same flat line."""
    missing = [f"the {role} column {name!r}" for role, name in (("dose", dose), ("time", time))
               if name not in model_columns]  # fmt: skip
    if not missing:
        return ""
    return (
        f"No dose–response curves: the model formula does not use {' or '.join(missing)}, so it says nothing "
        f"about how the outcome changes with {dose} over {time}. Add it to the formula (e.g. "
        f"'… + {time} + {time}:{dose}') or name other columns with --dose / --time."
    )


def dose_response_curves(
    fit: MixedModelFit,
    data: Mapping[str, Column],
    *,
    time: str,
    dose: str,
    doses: Sequence[float] | None = None,
) -> list[DoseCurve]:
    """Predicted mean outcome by `time` at several `dose` values, other covariates at 0 or reference level.

    The band is Xβ ± 1.96·√(x V xᵀ) from the fixed effects' covariance (the mean, not a patient's course).
    `data` must hold the `time` and `dose` columns (see `why_no_dose_curves`).
    """
    reason = why_no_dose_curves(list(data), time=time, dose=dose)
    if reason:
        raise ValueError(reason)
    t_max = float(np.nanmax(np.asarray(data[time], dtype=float)))
    times = np.linspace(0.0, t_max, 25)
    dose_values = np.asarray(data[dose], dtype=float)
    levels = list(doses) if doses is not None else sorted(set(np.unique(dose_values[~np.isnan(dose_values)])))
    if len(levels) > 6:
        levels = list(np.quantile(dose_values[~np.isnan(dose_values)], [0.1, 0.5, 0.9]))
    curves = []
    for d in levels:
        grid: dict[str, Column] = {}
        for name, column in data.items():
            if isinstance(column, Coded):
                levels_text = column.level_texts()
                ref = sorted(range(len(levels_text)), key=lambda k: levels_text[k])[0]
                grid[name] = Coded(np.full(len(times), ref), column.levels)
            elif np.asarray(column).dtype.kind in "fiub":
                grid[name] = np.zeros(len(times))
            else:
                grid[name] = np.full(len(times), sorted(set(np.asarray(column).astype(str)))[0])
        grid[time] = times
        grid[dose] = np.full(len(times), float(d))
        X = np.empty((len(times), len(fit.fixed_names)))
        for j, name in enumerate(fit.fixed_names):
            values = term_values(name, grid)
            if values is None:
                raise ValueError(
                    f"cannot predict the term {name!r} on a grid; use simple terms for the report"
                )
            X[:, j] = values
        mean = X @ fit.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, fit.vcov, X))
        curves.append(DoseCurve(float(d), times, mean, mean - 1.96 * se, mean + 1.96 * se))
    return curves


@dataclass(frozen=True, eq=False, repr=False)
class RegistryPlot(InlineFigure):
    """A drawn registry plot: shows itself in a notebook; `svg()` gives the text the HTML report inlines."""

    figure: Figure

    def svg(self) -> str:
        """The plot as SVG text."""
        return figure_svg(self.figure)

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the plot; the extension (.svg, .png, .pdf) picks the format."""
        out = Path(path)
        self.figure.savefig(out, dpi=dpi, bbox_inches="tight")
        return out


def dose_response_plot(curves: Sequence[DoseCurve], *, time: str, dose: str, outcome: str) -> RegistryPlot:
    """Dose–response curves with their 95% bands."""
    fig = new_figure(6.4, 4.0)
    ax = fig.subplots()
    for c in curves:
        (line,) = ax.plot(c.times, c.mean, label=f"{dose} = {c.dose:g}")
        ax.fill_between(c.times, c.lower, c.upper, color=line.get_color(), alpha=0.15)
    ax.set_xlabel(time)
    ax.set_ylabel(f"predicted mean {outcome}")
    ax.set_title(f"{outcome} over {time} by {dose} (95% confidence bands)")
    ax.legend(frameon=False)
    return RegistryPlot(fig)


def dose_response_svg(curves: Sequence[DoseCurve], *, time: str, dose: str, outcome: str) -> str:
    """Dose–response curves with their 95% bands, as inline SVG."""
    return dose_response_plot(curves, time=time, dose=dose, outcome=outcome).svg()


def improvement_plot(curves: Sequence[ImprovementCurve], *, mcid_label: str) -> RegistryPlot:
    """Kaplan–Meier curves of the share of patients improved by the MCID."""
    fig = new_figure(6.4, 4.0)
    ax = fig.subplots()
    for c in curves:
        (line,) = ax.step(c.sessions, c.improved, where="post", label=f"{c.group} (n={c.n_patients})")
        ax.fill_between(c.sessions, c.lower, c.upper, step="post", color=line.get_color(), alpha=0.12)
    ax.set_xlabel("sessions after baseline")
    ax.set_ylabel("share improved")
    ax.set_ylim(0, 1)
    ax.set_title(f"Time to meaningful improvement ({mcid_label})")
    ax.legend(frameon=False, fontsize="small")
    return RegistryPlot(fig)


def improvement_svg(curves: Sequence[ImprovementCurve], *, mcid_label: str) -> str:
    """Kaplan–Meier curves of the share of patients improved by the MCID, as inline SVG."""
    return improvement_plot(curves, mcid_label=mcid_label).svg()


def clinic_dose_plot(rows: Sequence[ClinicDose], *, outcome: str) -> RegistryPlot:
    """Forest plot of a dose term per clinic and pooled (95% intervals)."""
    shown = [r for r in rows if r.term]
    fig = new_figure(6.4, 0.45 * len(shown) + 1.2)
    ax = fig.subplots()
    for i, r in enumerate(reversed(shown)):
        pooled = r.clinic == "pooled"
        ax.errorbar(
            r.estimate,
            i,
            xerr=[[r.estimate - r.ci_lb], [r.ci_ub - r.estimate]],
            fmt="D" if pooled else "o",
            color="black" if pooled else "tab:blue",
            capsize=3,
        )
    ax.set_yticks(range(len(shown)), [f"{r.clinic} ({r.term})" for r in reversed(shown)])
    ax.axvline(0.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(f"change in {outcome} per unit of the term (95% CI)")
    ax.set_title("Dose term per clinic and pooled")
    return RegistryPlot(fig)


def clinic_dose_svg(rows: Sequence[ClinicDose], *, outcome: str) -> str:
    """Forest plot of a dose term per clinic and pooled (95% intervals), as inline SVG."""
    return clinic_dose_plot(rows, outcome=outcome).svg()
