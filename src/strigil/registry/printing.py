"""What the registry's results print: lme4's `summary(lmer(...))` layout for mixed models, lifelines-like
tables for the survival results, and short reports of the federated results. Nothing here computes a statistic
beyond the scaled residuals lme4 prints (residuals over σ) and Wald intervals from estimates and SEs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import Summary, frame

if TYPE_CHECKING:
    import pandas as pd

    from strigil.registry.exact_growth import ExactGrowthFit
    from strigil.registry.exact_survival import ExactCoxFit, PooledCurve
    from strigil.registry.federated import PooledResult
    from strigil.registry.likelihood import LikelihoodRatioTests
    from strigil.registry.mixed_model import MixedModelFit
    from strigil.registry.profile import Intervals
    from strigil.registry.random_effects import RandomEffects
    from strigil.registry.time_to_improvement import CoxModel, ImprovementCurve, ImprovementTable

__all__ = [
    "anova_summary",
    "cox_summary",
    "exact_cox_summary",
    "exact_growth_summary",
    "improvement_curve_summary",
    "improvement_table_summary",
    "intervals_summary",
    "mixed_model_frame",
    "mixed_model_summary",
    "pooled_curve_summary",
    "pooled_result_summary",
    "r_format",
    "random_effects_summary",
]

_Z95 = 1.959963984540054


def r_format(values: Sequence[float], digits: int) -> list[str]:
    """Numbers as R's `format(x, digits)` prints a column: the decimals the smallest needs for `digits`
    significant digits (trailing zeros of every number dropped first), the same for all."""
    decimals = 0
    for x in values:
        if not math.isfinite(x) or x == 0:
            continue
        e = math.floor(math.log10(abs(x)))
        text = f"{abs(x):.{max(digits - 1 - e, 0)}f}".rstrip("0").rstrip(".")
        decimals = max(decimals, len(text.split(".")[1]) if "." in text else 0)
    return ["NA" if not math.isfinite(x) else f"{x:.{decimals}f}" for x in values]


def _table(
    heads: Sequence[str], rows: Sequence[Sequence[str]], names: Sequence[str] | None, left: int = 0
) -> list[str]:
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(heads)]
    lead = max((len(n) for n in names), default=0) if names else 0
    head = " " * lead + " " if names else ""
    lines = [head + " ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    for i, r in enumerate(rows):
        name = names[i].ljust(lead) + " " if names else ""
        lines.append(" " * left + name + " ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    return lines


def _random_lines(fit: MixedModelFit) -> list[str]:
    rows: list[tuple[str, str, float, float, list[float]]] = []
    for group, terms in fit.random_terms.items():
        cov = fit.random_cov[group]
        sd = np.sqrt(np.diag(cov))
        for j, term in enumerate(terms):
            corr = [
                float(cov[j, i] / (sd[i] * sd[j])) if sd[i] > 0 and sd[j] > 0 else math.nan
                for i in range(j)
            ]
            rows.append((group if j == 0 else "", term, float(cov[j, j]), float(sd[j]), corr))
    rows.append(("Residual", "", fit.sigma**2, fit.sigma, []))
    variances = r_format([r[2] for r in rows], 4)
    sds = r_format([r[3] for r in rows], 4)
    g_w = max(6, *(len(r[0]) for r in rows))
    n_w = max(4, *(len(r[1]) for r in rows))
    v_w = max(8, *(len(v) for v in variances))
    s_w = max(8, *(len(s) for s in sds))
    corr_head = " Corr" if any(len(t) > 1 for t in fit.random_terms.values()) else ""
    heads = f" {'Groups'.ljust(g_w)} {'Name'.ljust(n_w)} {'Variance'.ljust(v_w)} {'Std.Dev.'.ljust(s_w)}"
    lines = [heads + corr_head]
    for (group, term, _, _, corr), v, s in zip(rows, variances, sds, strict=True):
        cells = " ".join(f"{c:5.2f}" for c in corr)
        lines.append(
            f" {group.ljust(g_w)} {term.ljust(n_w)} {v.ljust(v_w)} {s.ljust(s_w)} {cells}".rstrip()
        )
    return lines


def mixed_model_summary(fit: MixedModelFit) -> Summary:
    """lme4's `print(summary(fit), correlation = FALSE)`."""
    how = "REML" if fit.reml else "maximum likelihood"
    lines = [f"Linear mixed model fit by {how}"]
    formula = fit.formula
    if formula:
        lines.append(f"Formula: {formula}")
    lines.append("")
    if fit.reml:
        lines += [f"REML criterion at convergence: {fit.objective:.1f}", ""]
    else:
        stats = [fit.AIC, fit.BIC, fit.logLik, fit.objective]
        heads = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
        lines += [*_table(heads, [[f"{v:.1f}" for v in stats] + [str(fit.n_obs - fit.npar)]], None), ""]
    if fit.design is not None:
        resid = (fit.design.y - fit.predict()) / fit.sigma
        q = np.quantile(resid, [0, 0.25, 0.5, 0.75, 1.0])
        lines += [
            "Scaled residuals: ",
            *_table(["Min", "1Q", "Median", "3Q", "Max"], [[f"{v:.4f}" for v in q]], None),
            "",
        ]
    lines += ["Random effects:", *_random_lines(fit)]
    groups = "; ".join(f"{g}, {n}" for g, n in fit.n_groups.items())
    lines += [f"Number of obs: {fit.n_obs}, groups:  {groups}", "", "Fixed effects:"]
    t = fit.beta / fit.se
    # as lme4's printCoefmat: estimates and standard errors with the decimals that give the smallest standard
    # error 4 significant digits
    smallest = float(np.min(fit.se[fit.se > 0])) if np.any(fit.se > 0) else 1.0
    decimals = max(0, 3 - math.floor(math.log10(smallest)))
    rows = [
        [f"{b:.{decimals}f}", f"{s:.{decimals}f}", f"{v:.3f}"]
        for b, s, v in zip(fit.beta, fit.se, t, strict=True)
    ]
    lines += _table(["Estimate", "Std. Error", "t value"], rows, list(fit.fixed_names))
    if not fit.converged:
        lines += ["", "note: the optimiser did not converge to the required precision"]
    return Summary("\n".join(lines))


def mixed_model_frame(fit: MixedModelFit, part: str) -> pd.DataFrame:
    """`MixedModelFit.to_frame(part)`: the fixed effects or the variance components."""
    if part == "fixed":
        se = fit.se
        return frame(
            {
                "estimate": fit.beta,
                "se": se,
                "t": fit.beta / se,
                "ci_lb": fit.beta - _Z95 * se,
                "ci_ub": fit.beta + _Z95 * se,
            },
            fit.fixed_names,
            "term",
        )
    if part == "random":
        rows: list[dict[str, Any]] = []
        for group, terms in fit.random_terms.items():
            cov = fit.random_cov[group]
            for j, term in enumerate(terms):
                rows.append(
                    {
                        "group": group,
                        "term": term,
                        "variance": float(cov[j, j]),
                        "sd": math.sqrt(float(cov[j, j])),
                    }
                )
            for j in range(len(terms)):
                for i in range(j + 1, len(terms)):
                    denom = math.sqrt(float(cov[i, i] * cov[j, j]))
                    rows.append(
                        {
                            "group": group,
                            "term": f"corr({terms[j]}, {terms[i]})",
                            "variance": math.nan,
                            "sd": float(cov[i, j]) / denom if denom > 0 else math.nan,
                        }
                    )
        rows.append({"group": "Residual", "term": "", "variance": fit.sigma**2, "sd": fit.sigma})
        return frame({k: [r[k] for r in rows] for k in ("group", "term", "variance", "sd")})
    raise ValueError(f"part {part!r} is not one of fixed, random")


def random_effects_summary(effects: RandomEffects) -> Summary:
    """lme4's `print(ranef(fit))`: each group's BLUPs, one row per level (the first 20 shown)."""
    lines: list[str] = []
    for name, g in effects.groups.items():
        shown = min(len(g.levels), 20)
        rows = [[f"{v:.6g}" for v in g.values[i]] for i in range(shown)]
        lines += [f"${name}", *_table(list(g.terms), rows, list(g.levels[:shown]))]
        if shown < len(g.levels):
            lines.append(f"... {len(g.levels) - shown} more levels (to_frame() has them all)")
        lines.append("")
    lines.append("with conditional variances for every group (condsd_* columns of to_frame())")
    return Summary("\n".join(lines))


def anova_summary(t: LikelihoodRatioTests) -> Summary:
    """lme4's printed `anova(m0, m1)`."""
    lines = []
    if t.refitted:
        lines += ["refitting model(s) with ML (instead of REML)"]
    lines += ["Models:", *(f"m{i}: {n}" for i, n in enumerate(t.names)), ""]
    rows = []
    for i in range(len(t.names)):
        chisq, df, p = t.chisq[i], t.df[i], t.p[i]
        rows.append(
            [
                str(t.npar[i]),
                f"{t.AIC[i]:.2f}",
                f"{t.BIC[i]:.2f}",
                f"{t.logLik[i]:.2f}",
                f"{t.deviance[i]:.2f}",
                "" if chisq is None else f"{chisq:.4f}",
                "" if df is None else str(df),
                "" if p is None else f"{p:.4g}",
            ]
        )
    lines += _table(
        ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"],
        rows,
        [f"m{i}" for i in range(len(t.names))],
    )
    return Summary("\n".join(lines))


def intervals_summary(ci: Intervals) -> Summary:
    """lme4's printed `confint(fit)`: one row per parameter, lower and upper bound."""
    a = (100 - ci.level) / 2
    rows = [[f"{lo:.6g}", f"{hi:.6g}"] for lo, hi in zip(ci.lower, ci.upper, strict=True)]
    lines = [
        f"{ci.method} {ci.level:g}% confidence intervals",
        "",
        *_table([f"{a:g} %", f"{100 - a:g} %"], rows, list(ci.names)),
    ]
    return Summary("\n".join(lines))


def _notes(notes: Sequence[str]) -> list[str]:
    return ["", *(f"note: {n}" for n in notes)] if notes else []


def cox_summary(m: CoxModel) -> Summary:
    """The Cox model as hazard ratios of improving with 95% intervals (lifelines' summary, shortened)."""
    rows = [[f"{t.hazard_ratio:.4f}", f"{t.ci_lb:.4f}", f"{t.ci_ub:.4f}", f"{t.p:.4g}"] for t in m.terms]
    lines = [
        f"Cox proportional-hazards model of sessions to improvement ({m.n_patients} patients, "
        f"{m.n_improved} improved)",
        "",
        *_table(["exp(coef)", "lower 95%", "upper 95%", "p"], rows, [t.name for t in m.terms]),
        "",
        f"Concordance = {m.concordance:.4f}",
        *_notes(m.notes),
    ]
    return Summary("\n".join(lines))


def improvement_curve_summary(c: ImprovementCurve) -> Summary:
    """The Kaplan–Meier share improved by session, with its 95% band."""
    rows = [
        [f"{s:g}", f"{i:.4f}", f"{lo:.4f}", f"{hi:.4f}"]
        for s, i, lo, hi in zip(c.sessions, c.improved, c.lower, c.upper, strict=True)
    ]
    median = "not reached" if c.median_sessions is None else f"{c.median_sessions:g}"
    lines = [
        f"Kaplan-Meier: share improved, {c.group} ({c.n_patients} patients; median sessions {median})",
        "",
        *_table(["sessions", "improved", "lower 95%", "upper 95%"], rows, None),
        *_notes(c.notes),
    ]
    return Summary("\n".join(lines))


def improvement_table_summary(t: ImprovementTable) -> Summary:
    """How many patients improved and after how many sessions."""
    n, k = len(t.sessions), int(np.sum(t.improved))
    # the citation itself, not the address of the copy it was read in (the reference's "Citing" rule)
    source = re.sub(r" — https?://\S+", "", t.mcid.source)
    lines = [
        f"Sessions to improvement: {n} patients, {k} improved by at least {t.mcid.value:g} "
        f"({source})",
        f"{t.n_without_follow_up} patient(s) without a session after baseline left out",
    ]
    return Summary("\n".join(lines))


def pooled_result_summary(r: PooledResult) -> Summary:
    """The two-stage pooled coefficients (random effects across clinics)."""
    rows = [
        [f"{c.estimate:.6g}", f"{c.se:.4g}", f"{c.ci_lb:.6g}", f"{c.ci_ub:.6g}", f"{c.tau2:.4g}", str(c.k)]
        for c in r.coefficients
    ]
    lines = [
        f"Two-stage pooling across {len(r.sites)} clinics ({r.n_patients} patients, {r.n_obs} rows)",
        "",
        *_table(
            ["estimate", "se", "ci.lb", "ci.ub", "tau^2", "clinics"], rows, [c.name for c in r.coefficients]
        ),
    ]
    return Summary("\n".join(lines))


def exact_growth_summary(r: ExactGrowthFit) -> Summary:
    """The exact federated growth model: who took part, then the model as lme4 prints it."""
    head = [
        f"Exact federated fit over {len(r.sites)} clinic(s): {', '.join(r.sites)} "
        f"({r.rounds} rounds, {r.n_messages} messages)"
    ]
    head += [f"excluded {site}: {why}" for site, why in r.excluded.items()]
    if r.withheld:
        head.append(
            f"withheld at {', '.join(r.withheld)}: patients whose visit pattern is shared by too few "
            "patients to disclose (the fit is that of the shared rows)"
        )
    return Summary("\n".join([*head, "", mixed_model_summary(r.fit).text]))


def exact_cox_summary(r: ExactCoxFit) -> Summary:
    """The clinic-stratified Cox model pooled exactly: hazard ratios with Wald 95% intervals."""
    se = np.sqrt(np.diag(r.vcov))
    with np.errstate(over="ignore"):  # an ill-determined coefficient's interval reaches inf
        rows = [
            [f"{x:.4f}" for x in np.exp(np.array([b, b - _Z95 * s, b + _Z95 * s]))]
            for b, s in zip(r.beta, se, strict=True)
        ]
    lines = [
        f"Cox model stratified by clinic, exact over {len(r.sites)} clinic(s) ({r.n_patients} patients, "
        f"{r.n_events} improved; log partial likelihood {r.loglik:.4f})",
        "",
        *_table(["exp(coef)", "lower 95%", "upper 95%"], rows, list(r.names)),
    ]
    lines += [f"excluded {site}: {why}" for site, why in r.excluded.items()]
    if r.withheld:
        lines.append(
            f"withheld at {', '.join(r.withheld)}: patients whose cell (band between improvement times, "
            "improved or not, covariate values) holds too few patients to disclose (the fit is that of the "
            "patients shared)"
        )
    return Summary("\n".join(lines))


def pooled_curve_summary(c: PooledCurve) -> Summary:
    """The pooled Kaplan–Meier share improved per band."""
    rows = [
        [f"{t:g}", f"{i:.4f}", f"{lo:.4f}", f"{hi:.4f}"]
        for t, i, lo, hi in zip(c.times, c.improved, c.lower, c.upper, strict=True)
    ]
    lines = [
        f"Pooled Kaplan-Meier over {len(c.sites)} clinic(s)"
        + (" (coarsened bands)" if c.coarsened else ""),
        "",
        *_table(["sessions", "improved", "lower 95%", "upper 95%"], rows, None),
    ]
    if c.note:
        lines += ["", c.note]
    return Summary("\n".join(lines))
