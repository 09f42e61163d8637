"""What a meta-analysis result prints: metafor's console output, line for line (metafor 3.8's `print`).

Labels, order and number formats follow metafor's `print.rma.uni`, `print.rma.mh`, `print.rma.peto`,
`print.rma.glmm`, `print.regtest`, `print.ranktest` and `print.confint.rma` (4 decimals; 2 for I² and H²
of `rma`; p-values below 0.0001 as "<.0001"; significance stars). Tables of per-study results print as
metafor prints a data frame. Nothing here computes a statistic: every number comes from the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import Summary

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.anova import LikelihoodRatioTest, WaldTest
    from strigil.meta.batch import BatchResult
    from strigil.meta.bias import RankTest, RegTest
    from strigil.meta.glmm import GLMMResult
    from strigil.meta.gosh import Gosh
    from strigil.meta.likelihood import FitStatistics
    from strigil.meta.mantel_haenszel import MHBatch
    from strigil.meta.permutation import PermutationTest
    from strigil.meta.profile import ComponentInterval
    from strigil.meta.result import Coefficient, RMAResult, Tau2Interval
    from strigil.meta.result_mv import RMAMVResult, VarianceComponent
    from strigil.meta.robust import RobustResult, RobustWald
    from strigil.meta.tables_result import TablesResult
    from strigil.meta.trimfill import TrimFill

__all__ = [
    "SIGNIF_LEGEND",
    "batch_summary",
    "coefficient_lines",
    "component_interval_summary",
    "fitstats_summary",
    "fmt",
    "fmt_p",
    "glmm_summary",
    "gosh_summary",
    "lrt_summary",
    "mh_batch_summary",
    "permutest_summary",
    "ranktest_summary",
    "regtest_summary",
    "rma_mv_summary",
    "rma_summary",
    "robust_summary",
    "robust_wald_summary",
    "table_summary",
    "tables_summary",
    "tau2_interval_summary",
    "trimfill_summary",
    "wald_summary",
]

SIGNIF_LEGEND = "Signif. codes:  0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1"


def fmt(x: float | None, digits: int = 4) -> str:
    """A number with `digits` decimals; NA where it does not exist."""
    if x is None or not math.isfinite(float(x)):
        return "NA"
    return f"{float(x):.{digits}f}"


def fmt_p(p: float | None, digits: int = 4, equals: bool = False) -> str:
    """A p-value as metafor prints it: "<.0001" below 10⁻⁴; with `equals`, "= 0.0016" or "< .0001"."""
    if p is None or not math.isfinite(float(p)):
        return "= NA" if equals else "NA"
    if p < 10 ** -digits:
        return f"< .{'0' * (digits - 1)}1" if equals else f"<.{'0' * (digits - 1)}1"
    return f"= {p:.{digits}f}" if equals else f"{p:.{digits}f}"


def _stars(p: float) -> str:
    if not math.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""


def _columns(heads: Sequence[str], rows: Sequence[Sequence[str]], names: Sequence[str] | None) -> list[str]:
    """Right-aligned columns (row names left-aligned), two spaces apart, as R prints a table."""
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(heads)]
    lead = max((len(n) for n in names), default=0) if names else 0
    out = [(" " * lead + "  " if names else "") + "  ".join(h.rjust(w) for h, w in zip(heads, widths,
                                                                                         strict=True))]
    for i, r in enumerate(rows):
        name = names[i].ljust(lead) + "  " if names else ""
        out.append(name + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    return out


def coefficient_lines(beta: Sequence[Coefficient], dist: str, df: int | None = None,
                      stars: bool = True, level_names: bool | None = None) -> list[str]:
    """metafor's "Model Results" table: estimate, se, z/t value, (df), p, CI, significance stars."""
    heads = ["estimate", "se", f"{dist}val", *(["df"] if df is not None else []), "pval", "ci.lb", "ci.ub"]
    rows = [[fmt(c.estimate), fmt(c.se), fmt(c.stat), *([str(df)] if df is not None else []), fmt_p(c.p),
             fmt(c.ci_lb), fmt(c.ci_ub)] + ([_stars(c.p)] if stars else []) for c in beta]
    if stars:
        heads.append("")
    show_names = len(beta) > 1 if level_names is None else level_names
    return _columns(heads, rows, [c.name for c in beta] if show_names else None)


def _signif_footer() -> list[str]:
    return ["", "---", SIGNIF_LEGEND]


def _heterogeneity_labels(residual: bool) -> tuple[str, str, str, str, str]:
    if residual:
        return ("tau^2 (estimated amount of residual heterogeneity):     ",
                "tau (square root of estimated tau^2 value):             ",
                "I^2 (residual heterogeneity / unaccounted variability): ",
                "H^2 (unaccounted variability / sampling variability):   ",
                "R^2 (amount of heterogeneity accounted for):            ")
    return ("tau^2 (estimated amount of total heterogeneity): ",
            "tau (square root of estimated tau^2 value):      ",
            "I^2 (total heterogeneity / total variability):   ",
            "H^2 (total variability / sampling variability):  ", "")


def _rma_title(res: RMAResult) -> str:
    fixed = res.method in ("EE", "FE")
    if fixed:
        name = "Fixed-Effects" if res.method == "FE" else "Equal-Effects"
        kind = f"{name} with Moderators Model" if res.moderators else f"{name} Model"
        return f"{kind} (k = {res.k})"
    kind = "Mixed-Effects Model" if res.moderators else "Random-Effects Model"
    return f"{kind} (k = {res.k}; tau^2 estimator: {res.method})"


def _omnibus_lines(res: RMAResult) -> list[str]:
    first = 2 if res.intercept else 1
    which = (f"coefficient {first}" if res.QM_df == 1 else f"coefficients {first}:{first + res.QM_df - 1}")
    if res.QM_ddf is None:
        stat = f"QM(df = {res.QM_df}) = {fmt(res.QM)}, p-val {fmt_p(res.QM_p, equals=True)}"
    else:
        stat = (f"F(df1 = {res.QM_df}, df2 = {res.QM_ddf}) = {fmt(res.QM)}, "
                f"p-val {fmt_p(res.QM_p, equals=True)}")
    return [f"Test of Moderators ({which}):", stat, ""]


def rma_summary(res: RMAResult) -> Summary:
    """metafor's `summary(rma(...))`: the printout with the fit statistics under the title."""
    lines = [_rma_title(res), ""]
    stats = _fit_statistics(res)
    if stats is not None:
        names = ("logLik", "deviance", "AIC", "BIC", "AICc")
        lines += [*_columns(list(names), [[fmt(getattr(stats, n)) for n in names]], None), ""]
    tau2_l, tau_l, i2_l, h2_l, r2_l = _heterogeneity_labels(res.moderators)
    if res.method not in ("EE", "FE"):
        what = "specified" if res.tau2_fixed else "estimated"
        tau2_l = tau2_l.replace("estimated amount", f"{what} amount")
        se = "" if res.tau2_fixed or not math.isfinite(res.tau2_se) else f" (SE = {fmt(res.tau2_se)})"
        lines += [f"{tau2_l}{fmt(res.tau2)}{se}", f"{tau_l}{fmt(math.sqrt(res.tau2))}"]
    if res.k > res.p:
        lines += [f"{i2_l}{fmt(res.I2, 2)}%", f"{h2_l}{fmt(res.H2, 2)}"]
    if res.R2 is not None:
        lines.append(f"{r2_l}{fmt(res.R2, 2)}%")
    q = "QE" if res.moderators else "Q"
    lines += ["", f"Test for {'Residual ' if res.moderators else ''}Heterogeneity:",
              f"{q}(df = {res.Q_df}) = {fmt(res.Q)}, p-val {fmt_p(res.Q_p, equals=True)}", ""]
    if res.moderators:
        lines += _omnibus_lines(res)
    df = res.df if res.test != "z" else None
    lines += ["Model Results:", "", *coefficient_lines(res.beta, res.dist, df)]
    lines += _signif_footer()
    if res.pi_lb is not None and res.pi_ub is not None and res.method not in ("EE", "FE"):
        lines += ["", f"Prediction interval ({res.level:g}%): {fmt(res.pi_lb)} to {fmt(res.pi_ub)}"]
    if res.subgroups:
        lines += ["", "Subgroups (each with its own tau^2):"]
        rows = [[str(s.k), fmt(s.estimate), fmt(s.se), fmt(s.ci_lb), fmt(s.ci_ub), fmt(s.tau2), fmt(s.I2, 2)]
                for s in res.subgroups]
        lines += _columns(["k", "estimate", "se", "ci.lb", "ci.ub", "tau^2", "I^2"], rows,
                          [s.name for s in res.subgroups])
        lines.append(f"Test for Subgroup Differences: Q(df = {res.Q_between_df}) = {fmt(res.Q_between)}, "
                     f"p-val {fmt_p(res.Q_between_p, equals=True)}")
    if res.omitted:
        lines += ["", f"{len(res.omitted)} stud{'y' if len(res.omitted) == 1 else 'ies'} with missing values "
                      "omitted from model fitting."]
    return Summary("\n".join(lines))


def _fit_statistics(res: RMAResult) -> FitStatistics | None:
    """The fit statistics where they exist (not for estimators without a likelihood, e.g. DL)."""
    try:
        with np.errstate(all="ignore"):
            stats = res.fitstats()
    except (ValueError, np.linalg.LinAlgError):
        return None
    return stats if all(math.isfinite(getattr(stats, n)) for n in ("logLik", "deviance")) else None


def _exp_lines(measure: str, estimate: float, lb: float, ub: float) -> list[str]:
    rows = [[fmt(math.exp(estimate)), fmt(math.exp(lb)), fmt(math.exp(ub))]]
    table = _columns(["estimate", "ci.lb", "ci.ub"], rows, None)
    return ["", f"Model Results ({measure} scale):", "", *table]


def tables_summary(res: TablesResult) -> Summary:
    """metafor's `print(rma.mh(...))` / `print(rma.peto(...))`."""
    _, _, i2_l, h2_l, _ = _heterogeneity_labels(False)
    lines = [f"Equal-Effects Model (k = {res.k})", ""]
    if res.k_yi > 1:
        lines += [f"{i2_l.rstrip()}  {fmt(res.I2, 2)}%", f"{h2_l.rstrip()} {fmt(res.H2, 2)}", "",
                  "Test for Heterogeneity: ",
                  f"Q(df = {res.Q_df}) = {fmt(res.Q)}, p-val {fmt_p(res.Q_p, equals=True)}", ""]
    measure = "OR" if res.method == "PETO" else res.measure
    lines += [f"Model Results{' (log scale)' if res.ratio else ''}:", ""]
    lines += _columns(["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"],
                      [[fmt(res.estimate), fmt(res.se), fmt(res.z), fmt_p(res.p), fmt(res.ci_lb),
                        fmt(res.ci_ub)]], None)
    if res.ratio:
        lines += _exp_lines(measure, res.estimate, res.ci_lb, res.ci_ub)
    tests = []
    if res.cmh is not None:
        tests.append(f"Cochran-Mantel-Haenszel Test:    CMH = {fmt(res.cmh)}, df = 1,  "
                     f"p-val {_p_space(res.cmh_p)}")
    if res.tarone is not None and res.k_pos is not None:
        tests.append(f"Tarone's Test for Heterogeneity: X^2 = {fmt(res.tarone)}, df = {res.k_pos - 1}, "
                     f"p-val {_p_space(res.tarone_p)}")
    if res.breslow_day is not None and res.k_pos is not None:
        tests.append(f"Breslow-Day Test:                X^2 = {fmt(res.breslow_day)}, df = {res.k_pos - 1}, "
                     f"p-val {_p_space(res.breslow_day_p)}")
    if tests:
        lines += ["", *tests]
    lines += _left_out(res.k_omitted, res.k_double_zero, "the heterogeneity test")
    return Summary("\n".join(lines))


def _left_out(k_omitted: int, k_double_zero: int, what: str) -> list[str]:
    notes = []
    if k_omitted:
        notes.append(f"{k_omitted} table(s) with missing counts omitted.")
    if k_double_zero:
        notes.append(f"{k_double_zero} table(s) without events in either arm left out of {what}.")
    return ["", *notes] if notes else []


def _p_space(p: float | None) -> str:
    """The p-value of metafor's MH tests: "< 0.0001" or "= 0.0123"."""
    if p is None or not math.isfinite(p):
        return "= NA"
    return "< 0.0001" if p < 1e-4 else f"= {p:.4f}"


def glmm_summary(res: GLMMResult) -> Summary:
    """metafor's `print(rma.glmm(..., model = "UM.RS"))`."""
    tau2_l, tau_l, i2_l, h2_l, _ = _heterogeneity_labels(len(res.beta) > 1)
    kind = "Mixed-Effects Model" if len(res.beta) > 1 else "Random-Effects Model"
    lines = [f"{kind} (k = {res.k}; tau^2 estimator: {res.method})",
             "Model Type: Unconditional Model with Random Study Effects", "",
             f"{tau2_l}{fmt(res.tau2)}", f"{tau_l}{fmt(math.sqrt(res.tau2))}",
             f"{i2_l}{fmt(res.I2)}%", f"{h2_l}{fmt(res.H2)}", "",
             f"sigma^2 (estimated amount of study level variability): {fmt(res.sigma2)}",
             f"sigma (square root of estimated sigma^2 value):        {fmt(math.sqrt(res.sigma2))}", "",
             f"Tests for {'Residual ' if len(res.beta) > 1 else ''}Heterogeneity:"]
    if res.QE_Wld is not None:
        lines.append(f"Wld(df = {res.QE_df}) = {fmt(res.QE_Wld)}, p-val {fmt_p(res.QE_Wld_p, equals=True)}")
    lines += [f"LRT(df = {res.QE_df}) = {fmt(res.QE_LRT)}, p-val {fmt_p(res.QE_LRT_p, equals=True)}", ""]
    if len(res.beta) > 1:
        lines += [f"Test of Moderators (coefficient{'s' if res.QM_df > 1 else ''} 2"
                  f"{':' + str(res.QM_df + 1) if res.QM_df > 1 else ''}):",
                  f"QM(df = {res.QM_df}) = {fmt(res.QM)}, p-val {fmt_p(res.QM_p, equals=True)}", ""]
    lines += ["Model Results:", "", *coefficient_lines(res.beta, "z"), *_signif_footer()]
    if len(res.beta) == 1:
        c = res.beta[0]
        lines += _exp_lines(res.measure, c.estimate, c.ci_lb, c.ci_ub)
    lines += _left_out(res.k_omitted, res.k_double_zero, "the model")
    lines += [f"note: {n}" for n in res.notes]
    return Summary("\n".join(lines))


def regtest_summary(t: RegTest) -> Summary:
    """metafor's `print(regtest(...))`."""
    model = {"rma": "mixed-effects meta-regression model", "lm": "weighted regression with multiplicative "
             "dispersion"}.get(t.model, t.model)
    predictor = {"sei": "standard error", "vi": "sampling variance", "ni": "sample size",
                 "ninv": "inverse of the sample size", "sqrtni": "square root sample size",
                 "sqrtninv": "inverse of the square root sample size"}.get(t.predictor, t.predictor)
    stat = "z" if t.dfs is None else "t"
    df = "" if t.dfs is None else f", df = {t.dfs}"
    lines = ["Regression Test for Funnel Plot Asymmetry", "", f"Model:     {model}",
             f"Predictor: {predictor}", "",
             f"Test for Funnel Plot Asymmetry: {stat} = {fmt(t.zval)}{df}, p {fmt_p(t.pval, equals=True)}"]
    if t.est is not None:
        lines.append(f"Limit Estimate (as {t.predictor} -> 0):   b = {fmt(t.est)} "
                     f"(CI: {fmt(t.ci_lb)}, {fmt(t.ci_ub)})")
    return Summary("\n".join(lines))


def ranktest_summary(t: RankTest) -> Summary:
    """metafor's `print(ranktest(...))`."""
    return Summary("\n".join(["Rank Correlation Test for Funnel Plot Asymmetry", "",
                              f"Kendall's tau = {fmt(t.tau)}, p {fmt_p(t.pval, equals=True)}"
                              + ("" if t.exact else " (normal approximation)")]))


def trimfill_summary(t: TrimFill) -> Summary:
    """metafor's `print(trimfill(...))`: the number of imputed studies, then the refitted model."""
    head = f"Estimated number of missing studies on the {t.side} side: {t.k0} (SE = {fmt(t.se_k0)})"
    if t.p_k0 is not None:
        head += f"\nTest of H0: no missing studies on the {t.side} side:   p-val {fmt_p(t.p_k0, equals=True)}"
    return Summary(f"{head}\n\n{rma_summary(t.fit).text}")


def permutest_summary(t: PermutationTest) -> Summary:
    """The permutation p-values (metafor's `print(permutest(...))`, its table of p-values)."""
    kind = "exact" if t.exact else f"{t.iter} random"
    lines = [f"Permutation test ({kind} {'permutations' if not t.exact else f'test, {t.iter} permutations'})",
             "", f"Omnibus test: p-val {fmt_p(t.QMp, equals=True)}", ""]
    lines += _columns(["pval"], [[fmt_p(p)] for p in t.pval], list(t.names))
    return Summary("\n".join(lines))


def tau2_interval_summary(ci: Tau2Interval) -> Summary:
    """metafor's `print(confint(rma(...)))`."""
    rows = [[fmt(v) for v in ci.tau2], [fmt(v) for v in ci.tau], [fmt(v) for v in ci.I2],
            [fmt(v) for v in ci.H2]]
    lines = _columns(["estimate", "ci.lb", "ci.ub"], rows, ["tau^2", "tau", "I^2(%)", "H^2"])
    return Summary(f"Q-profile {ci.level:g}% confidence intervals\n\n" + "\n".join(lines))


def table_summary(title: str, frame: pd.DataFrame, digits: int = 4, notes: Sequence[str] = ()) -> Summary:
    """A title and a table of per-study (or per-analysis) results, printed as R prints a data frame."""
    text = frame.to_string(float_format=lambda x: f"{x:.{digits}f}", na_rep="NA")
    return Summary("\n".join([title, "", text, *([""] if notes else []), *notes]))


def gosh_summary(g: Gosh) -> Summary:
    """How many subsets were fitted, and the spread of their estimates and I²."""
    import numpy as np

    def spread(x: Any) -> str:
        q = np.nanquantile(x, [0.0, 0.25, 0.5, 0.75, 1.0])
        return "  ".join(fmt(v) for v in q)

    lines = [f"GOSH diagnostics: {len(g):,} {'(all)' if g.exhaustive else 'random'} subsets of {g.k} studies "
             f"({g.method} model)", "", "              min      q25   median      q75      max",
             f"estimate  {spread(g.estimate)}", f"I^2       {spread(g.I2)}"]
    return Summary("\n".join(lines))


def batch_summary(b: BatchResult) -> Summary:
    """The spread of `m` intercept-only fits (many analyses at once)."""
    import numpy as np

    def q(x: Any) -> list[str]:
        return [fmt(v) for v in np.nanquantile(x, [0.0, 0.5, 1.0])]

    rows = [q(b.estimate), q(b.se), q(b.tau2), q(b.I2), q(b.p)]
    lines = [f"{len(b):,} random/fixed-effects models (k = {b.k} each; method: {b.method}; test: {b.test})",
             "", *_columns(["min", "median", "max"], rows, ["estimate", "se", "tau^2", "I^2", "pval"]),
             "", f"converged: {int(np.sum(b.converged)):,} of {len(b):,}"]
    return Summary("\n".join(lines))


def mh_batch_summary(b: MHBatch) -> Summary:
    """The spread of `m` Mantel–Haenszel analyses."""
    import numpy as np

    def q(x: Any) -> list[str]:
        return [fmt(v) for v in np.nanquantile(x, [0.0, 0.5, 1.0])] if np.isfinite(x).any() else ["NA"] * 3

    rows = [q(b.estimate), q(b.se), q(b.Q), q(b.I2), q(b.p)]
    missing = int(np.sum(~np.isfinite(b.estimate)))
    lines = [f"{len(b):,} Mantel-Haenszel analyses ({b.measure}; k = {b.k} tables each)", "",
             *_columns(["min", "median", "max"], rows, ["estimate", "se", "Q", "I^2", "pval"])]
    if missing:
        lines += ["", f"{missing} analyses without an estimate (NaN)."]
    return Summary("\n".join(lines))


# ---- multilevel and multivariate models (rma.mv), robust inference, tests, fit statistics ---------------


def _component_rows(components: Sequence[VarianceComponent], prefix: str, count: str,
                    last: str, labels: Sequence[str], counts: Sequence[int] | None = None) -> list[str]:
    counted = counts if counts is not None else [c.nlevels for c in components]
    rows = [[fmt(c.estimate), fmt(math.sqrt(c.estimate)) if c.estimate >= 0 else "NA",
             "" if n is None else str(n), "yes" if c.fixed else "no", label]
            for c, n, label in zip(components, counted, labels, strict=True)]
    names = [f"{prefix}.{i + 1}" if len(components) > 1 else prefix for i in range(len(components))]
    return _columns(["estim", "sqrt", count, "fixed", last], rows, names)


def _inner_outer_lines(res: RMAMVResult) -> list[str]:
    io = res.spec.inner_outer
    assert io is not None
    inner, outer = io.inner, io.outer
    width = max(len(outer.name), len(inner.name))
    lines = [f"outer factor: {outer.name.ljust(width)} (nlvls = {outer.nlevels})",
             f"inner factor: {inner.name.ljust(width)} (nlvls = {inner.nlevels})", ""]
    levels = list(res.inner_levels)
    per_level = len(res.tau2) == len(levels)
    # k.lvl: how many effects each inner level has
    k_lvl = np.bincount(inner.codes, minlength=len(levels)).tolist() if per_level else [res.k] * len(res.tau2)
    labels = levels if per_level else [""] * len(res.tau2)
    lines += _component_rows(res.tau2, "tau^2", "k.lvl", "level", labels, k_lvl)
    if not res.rho:
        return lines
    if len(res.rho) == 1 and len(levels) != 2:
        return [*lines, *_columns(["estim", "", "", "fixed", ""], [[fmt(res.rho[0].estimate), "", "",
                                  "yes" if res.rho[0].fixed else "no", ""]], ["rho"])]
    # the correlation matrix (lower triangle) and, beside it, in how many outer levels two inner levels
    # occur together (upper triangle) and whether each correlation was fixed (lower triangle), as metafor
    n = len(levels)
    together = np.zeros((n, n), dtype=int)
    for o in range(outer.nlevels):
        present = np.unique(inner.codes[outer.codes == o])
        together[np.ix_(present, present)] += 1
    R = np.eye(n)
    fixed = np.zeros((n, n), dtype=bool)
    k = 0
    for j in range(n):
        for i in range(j + 1, n):
            c = res.rho[k] if len(res.rho) > 1 else res.rho[0]
            R[i, j] = R[j, i] = c.estimate
            fixed[i, j] = c.fixed
            k += 1
    rows = []
    for i in range(n):
        left = [fmt(R[i, j]) if j < i else "1" if j == i else "" for j in range(n)]
        right = ["-" if j == i else str(together[i, j]) if j > i else ("yes" if fixed[i, j] else "no")
                 for j in range(n)]
        rows.append([*left, *right])
    left_w = [max(len(f"rho.{lv}"), *(len(r[j]) for r in rows)) for j, lv in enumerate(levels)]
    lines.append("")
    head = " " * max(len(lv) for lv in levels)
    lines.append(head + "  " + "  ".join(f"rho.{lv}".rjust(w) for lv, w in zip(levels, left_w, strict=True))
                 + "  " + "  ".join(levels))
    for lv, r in zip(levels, rows, strict=True):
        lines.append(lv.ljust(len(head)) + "  " + "  ".join(c.rjust(w) for c, w in zip(r[:n], left_w,
                                                                                        strict=True))
                     + "  " + "  ".join(c.rjust(len(lvl)) for c, lvl in zip(r[n:], levels, strict=True)))
    return lines


def _mv_header(res: RMAMVResult) -> list[str]:
    lines = [f"Multivariate Meta-Analysis Model (k = {res.k}; method: {res.method})", ""]
    if res.sigma2 or res.tau2:
        lines += ["Variance Components:", ""]
    if res.sigma2:
        factors = [f.name for f in res.spec.sigma2]
        lines += _component_rows(res.sigma2, "sigma^2", "nlvls", "factor", factors)
        if res.tau2:
            lines.append("")
    if res.tau2:
        lines += _inner_outer_lines(res)
    q = "QE" if res.QE_df != res.k - 1 or not res.intercept or res.p > 1 else "Q"
    lines += ["", f"Test for {'Residual ' if q == 'QE' else ''}Heterogeneity:",
              f"{q}(df = {res.QE_df}) = {fmt(res.QE)}, p-val {fmt_p(res.QE_p, equals=True)}", ""]
    return lines


def _moderator_lines(btt: Sequence[int], QM: float, QM_df: int, QM_ddf: int | None, QM_p: float) -> list[str]:
    positions = [b + 1 for b in btt]
    consecutive = positions == list(range(positions[0], positions[0] + len(positions)))
    which = (f"coefficient {positions[0]}" if len(positions) == 1 else
             f"coefficients {positions[0]}:{positions[-1]}" if consecutive else
             f"coefficients {','.join(str(x) for x in positions)}")
    stat = (f"QM(df = {QM_df}) = {fmt(QM)}" if QM_ddf is None else
            f"F(df1 = {QM_df}, df2 = {QM_ddf}) = {fmt(QM)}")
    return [f"Test of Moderators ({which}):", f"{stat}, p-val {fmt_p(QM_p, equals=True)}", ""]


def rma_mv_summary(res: RMAMVResult) -> Summary:
    """metafor's `print(rma.mv(...))`."""
    lines = _mv_header(res)
    if not (res.intercept and res.p == 1):
        lines += _moderator_lines(res.btt, res.QM, res.QM_df, res.QM_ddf, res.QM_p)
    df = res.df if res.test != "z" else None
    lines += ["Model Results:", "", *coefficient_lines(res.beta, res.dist, df), *_signif_footer()]
    lines += [f"note: {n}" for n in res.notes]
    return Summary("\n".join(lines))


def robust_summary(rob: RobustResult) -> Summary:
    """metafor's `print(robust(res, cluster, clubSandwich = TRUE))`: the model, the clusters and the
    coefficients with cluster-robust standard errors, t tests and intervals."""
    lines: list[str] = []
    model = rob.model
    if model is not None:
        if hasattr(model, "sigma2"):
            lines += _mv_header(model)
        else:
            lines += [*rma_summary(model).text.split("Model Results:")[0].rstrip("\n").splitlines(), ""]
    sizes = rob.cluster_sizes
    lines += [f"Number of estimates:   {int(sum(sizes))}", f"Number of clusters:    {rob.n_clusters}",
              f"Estimates per cluster: {min(sizes)}-{max(sizes)} (mean: {np.mean(sizes):.2f}, "
              f"median: {np.median(sizes):g})", ""]
    if model is not None and not (model.intercept and len(model.beta) == 1):
        q = rob.QM
        lines += [f"Test of Moderators ({'coefficient' if q.df_num == 1 else 'coefficients'} "
                  f"{_btt_text(model)}):¹",
                  f"F(df1 = {q.df_num}, df2 = {fmt(q.df_denom, 2)}) = {fmt(q.Fstat)}, p-val "
                  f"{fmt_p(q.p, equals=True)}", ""]
    heads = ["estimate", "se¹", "tval¹", "df¹", "pval¹", "ci.lb¹", "ci.ub¹", ""]
    rows = [[fmt(c.estimate), fmt(c.se), fmt(c.stat), fmt(d, 2), fmt_p(c.p), fmt(c.ci_lb), fmt(c.ci_ub),
             _stars(c.p)] for c, d in zip(rob.beta, rob.df, strict=True)]
    lines += ["Model Results:", "", *_columns(heads, rows, [c.name for c in rob.beta] if len(rob.beta) > 1
                                                    else None), *_signif_footer(), "",
              f"1) results based on cluster-robust inference (var-cov estimator: {rob.type},",
              f"   approx t-test and confidence interval, df: {rob.test} approx)"]
    return Summary("\n".join(lines))


def _btt_text(model: Any) -> str:
    p = len(model.beta)
    first = 2 if model.intercept else 1
    return str(first) if p - first + 1 == 1 else f"{first}:{p}"


def robust_wald_summary(t: RobustWald) -> Summary:
    """A cluster-robust Wald test: F (or χ²) with its degrees of freedom."""
    ddf = "inf" if not math.isfinite(t.df_denom) else fmt(t.df_denom, 2)
    return Summary(f"Cluster-robust Wald test ({t.test})\n\nF(df1 = {t.df_num}, df2 = {ddf}) = "
                   f"{fmt(t.Fstat)}, p-val {fmt_p(t.p, equals=True)}")


def wald_summary(t: WaldTest) -> Summary:
    """metafor's `print(anova(res, btt = ...))` (or of a test of linear contrasts, `anova(res, X = L)`)."""
    if t.btt is not None:
        return Summary("\n".join(_moderator_lines([b - 1 for b in t.btt], t.QM, t.QM_df, t.QM_ddf, t.QM_p)
                                 ).rstrip("\n"))
    rows = [[fmt(e), fmt(s), fmt(z), fmt_p(p)]
            for e, s, z, p in zip(t.estimate, t.se, t.stat, t.p, strict=True)]
    lines = ["Hypotheses:", *(f"{i + 1}: {h}" for i, h in enumerate(t.hypotheses)), "", "Results:",
             *_columns(["estimate", "se", "zval" if t.QM_ddf is None else "tval", "pval"], rows,
                       [f"{i + 1}:" for i in range(len(rows))]), ""]
    lines += _moderator_lines(list(range(len(rows))), t.QM, t.QM_df, t.QM_ddf, t.QM_p)[1:2]
    return Summary("\n".join(lines))


def lrt_summary(t: LikelihoodRatioTest) -> Summary:
    """metafor's `print(anova(full, reduced))`."""
    heads = ["df", "AIC", "BIC", "AICc", "logLik", "LRT", "pval", "QE"]
    full = [str(t.full.parms), fmt(t.full.AIC), fmt(t.full.BIC), fmt(t.full.AICc), fmt(t.full.logLik), "", "",
            fmt(t.QE_full)]
    reduced = [str(t.reduced.parms), fmt(t.reduced.AIC), fmt(t.reduced.BIC), fmt(t.reduced.AICc),
               fmt(t.reduced.logLik), fmt(t.LRT), fmt_p(t.p), fmt(t.QE_reduced)]
    return Summary("\n".join(_columns(heads, [full, reduced], ["Full", "Reduced"])))


def fitstats_summary(f: FitStatistics) -> Summary:
    """metafor's `print(fitstats(res))`."""
    rows = [("logLik:", f.logLik), ("deviance:", f.deviance), ("AIC:", f.AIC), ("BIC:", f.BIC),
            ("AICc:", f.AICc)]
    return Summary("\n".join(_columns([f.method], [[f"{v:.7g}"] for _, v in rows], [n for n, _ in rows])))


def component_interval_summary(ci: ComponentInterval) -> Summary:
    """One profile-likelihood interval, as a row of metafor's `print(confint(rma.mv(...)))`."""
    name = f"{ci.component}.{ci.position}"
    lines = [f"Profile-likelihood {ci.level:g}% interval of {name} ({ci.name})", "",
             *_columns(["estimate", "ci.lb", "ci.ub"], [[fmt(ci.estimate), fmt(ci.ci_lb), fmt(ci.ci_ub)]],
                       [name])]
    if ci.lb_at_bound or ci.ub_at_bound:
        lines.append("note: a bound lies at the edge of the parameter space")
    return Summary("\n".join(lines))
