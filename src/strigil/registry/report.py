"""The registry report: one self-contained HTML page with the numbers, the plots and what they cannot show."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from strigil.registry.clinic_doses import ClinicDose
from strigil.registry.mixed_model import MixedModelFit
from strigil.registry.time_to_improvement import CoxModel, ImprovementCurve, Mcid

__all__ = ["LIMITATIONS", "RegistryReport", "render_report"]

# Plain statements of what an observational registry cannot show; printed at the top of every report.
LIMITATIONS = (
    "These are associations in routinely collected clinic data, not effects shown by a randomised trial.",
    "No control group: every patient in a registry of IASTM care received IASTM, so nothing here compares "
    "IASTM with no IASTM; the dose terms compare more with less among treated patients only.",
    "Confounding by indication: clinicians choose the dose, the technique and the number of sessions for "
    "reasons (severity, chronicity, how the patient responds) that also affect the outcome. More or longer "
    "treatment may mark harder cases rather than cause slower recovery, or the reverse.",
    "Co-interventions: exercise and other care given alongside IASTM are recorded but not assigned at "
    "random. "
    "The model adjusts only for what is recorded; part of what is associated with IASTM dose may come from "
    "the exercise or other treatment given with it.",
    "Natural recovery and regression to the mean: many musculoskeletal complaints improve over time without "
    "treatment, and patients often start care at a bad moment. The change over sessions includes both.",
    "Missing visits and drop-out: patients who stop coming may have improved or given up. The mixed model "
    "assumes visits are missing at random given what is recorded; the time-to-improvement analysis treats "
    "patients without a recorded improvement as censored at their last visit.",
    "The MCID depends on population, baseline score, anchor and method (Wright A et al., J Man Manip Ther "
    "2012;20(3):160); the value used here is stated with its source below.",
)


@dataclass(frozen=True)
class RegistryReport:
    """Everything the report shows (computed by the caller; rendering does no statistics)."""

    title: str
    source_label: str
    formula: str
    random: Sequence[str]
    fit: MixedModelFit
    dose: str
    time: str
    outcome: str
    dose_svg: str
    mcid: Mcid
    improvement_curves: Sequence[ImprovementCurve]
    improvement_svg: str
    cox: CoxModel | None
    n_without_follow_up: int
    generated: str
    clinic_doses: Sequence[ClinicDose] = ()  # per clinic and pooled (empty: no clinic column given)
    clinic_dose_svg: str = ""
    dose_curves_note: str = ""  # why there are no dose-response curves (then dose_svg is empty)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}"


def _clinic_section(r: RegistryReport) -> str:
    if not r.clinic_doses:
        return ""
    rows = [
        [d.clinic, d.term, _fmt(d.estimate), f"{_fmt(d.ci_lb)} to {_fmt(d.ci_ub)}", str(d.n_patients)]
        if d.term
        else [d.clinic, "—", "—", d.note, "—"]
        for d in r.clinic_doses
    ]
    return (
        "<h3>Per clinic and pooled</h3><p>Each clinic's own model (without the clinic term) and the pooled "
        "model of all rows with clinic as a fixed effect — the fit the exact federated exchange reproduces "
        "without moving rows. Intervals are Wald 95% confidence intervals. Differences between clinics may "
        "reflect whom they treat (confounding by indication), not how well the dose works.</p>"
        + r.clinic_dose_svg
        + _table(["clinic", "term", "estimate", "95% CI (or why not shown)", "patients"], rows)
    )


def render_report(r: RegistryReport) -> str:
    """The report as one HTML document (SVG plots inline, no external resources)."""
    fit = r.fit
    out = fit.to_json()
    curves_text = (
        f'<strong class="note">{html.escape(r.dose_curves_note)}</strong>'
        if r.dose_curves_note
        else (
            f"The curves show the model's mean {html.escape(r.outcome)} for several values of "
            f"{html.escape(r.dose)} with the other covariates at zero or their reference level; the bands "
            "are 95% confidence intervals of that mean, not the range of individual patients."
        )
    )
    fixed_rows = []
    for name, b, se in zip(fit.fixed_names, fit.beta, fit.se, strict=True):
        fixed_rows.append([name, _fmt(b), _fmt(se), f"{_fmt(b - 1.96 * se)} to {_fmt(b + 1.96 * se)}"])
    random_rows = []
    for group, sds in out["random_sd"].items():  # type: ignore[attr-defined]
        for term, sd in sds.items():
            random_rows.append([group, term, "SD", _fmt(sd)])
        for pair, corr in out["random_corr"][group].items():  # type: ignore[index]
            random_rows.append([group, pair, "correlation", _fmt(corr, 3)])
    random_rows.append(["residual", "", "SD", _fmt(fit.sigma)])
    km_rows = [
        [
            c.group,
            str(c.n_patients),
            "not reached" if c.median_sessions is None else _fmt(c.median_sessions),
            f"{100 * float(c.improved[-1]):.0f}%",
        ]
        for c in r.improvement_curves
    ]
    cox_html = "<p>No Cox model was fitted.</p>"
    if r.cox is not None:
        cox_rows = [
            [t.name, _fmt(t.hazard_ratio, 3), f"{_fmt(t.ci_lb, 3)} to {_fmt(t.ci_ub, 3)}", _fmt(t.p, 2)]
            for t in r.cox.terms
        ]
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in r.cox.notes)
        cox_html = (
            _table(["covariate", "hazard ratio of improving", "95% CI", "p"], cox_rows)
            + f"<p>{r.cox.n_patients} patients, {r.cox.n_improved} improved; concordance "
            f"{_fmt(r.cox.concordance, 3)}. A hazard ratio above 1: improvement tends to come sooner.</p>"
            + (f"<p>Fitting notes:</p><ul>{notes}</ul>" if notes else "")
        )
    limitations = "".join(f"<li>{html.escape(x)}</li>" for x in LIMITATIONS)
    groups = html.escape(", ".join(f"{n} {g}s" for g, n in fit.n_groups.items()))
    random_terms = html.escape(" + ".join(f"({x})" for x in r.random))
    population = "; population: " + html.escape(r.mcid.population) if r.mcid.population else ""
    km_table = _table(
        ["group", "patients", "median sessions to improvement", "improved by the last session (KM)"], km_rows
    )
    style = (
        "body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }\n"
        "table { border-collapse: collapse; margin: 0.5rem 0 1rem; }\n"
        "th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }\n"
        ".warning { background: #fff4e5; border-left: 4px solid #e69500; padding: 0.5rem 1rem; }"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(r.title)}</title>
<style>
{style}
</style></head><body>
<h1>{html.escape(r.title)}</h1>
<p>Data: {html.escape(r.source_label)} — {fit.n_obs} measurements, {groups}.
Generated {html.escape(r.generated)}.</p>
<section class="warning"><h2>What this report cannot show</h2><ul>{limitations}</ul></section>
<h2>Dose–response: {html.escape(r.outcome)} over {html.escape(r.time)}</h2>
<p>Linear mixed-effects model fitted by {out["criterion"]} with Strigil's solver (validated against lme4):
<code>{html.escape(r.formula)}</code> with random effects <code>{random_terms}</code>;
converged: {fit.converged}. {curves_text}</p>
{r.dose_svg}
{_clinic_section(r)}
<h3>Fixed effects</h3>
{_table(["term", "estimate", "SE", "95% CI (Wald)"], fixed_rows)}
<h3>Variation between patients and clinics</h3>
{_table(["group", "term", "quantity", "value"], random_rows)}
<h2>Time to meaningful improvement</h2>
<p>Improvement: a change of at least {_fmt(r.mcid.value)} ({html.escape(r.mcid.measure or r.outcome)};
{"lower" if r.mcid.lower_is_better else "higher"} is better) from the patient's first recorded session.
MCID source: {html.escape(r.mcid.source)}{population}.
{r.n_without_follow_up} patients with a baseline only are left out. Curves are Kaplan–Meier estimates with 95%
confidence bands (lifelines).</p>
{r.improvement_svg}
{km_table}
<h3>Cox model</h3>
{cox_html}
</body></html>
"""
