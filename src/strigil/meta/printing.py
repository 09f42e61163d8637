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

from strigil.display import Summary

if TYPE_CHECKING:
    import pandas as pd

    from strigil.meta.batch import BatchResult
    from strigil.meta.bias import RankTest, RegTest
    from strigil.meta.glmm import GLMMResult
    from strigil.meta.gosh import Gosh
    from strigil.meta.mantel_haenszel import MHBatch
    from strigil.meta.permutation import PermutationTest
    from strigil.meta.result import Coefficient, RMAResult, Tau2Interval
    from strigil.meta.tables_result import TablesResult
    from strigil.meta.trimfill import TrimFill

__all__ = [
    "SIGNIF_LEGEND",
    "batch_summary",
    "coefficient_lines",
    "fmt",
    "fmt_p",
    "glmm_summary",
    "gosh_summary",
    "mh_batch_summary",
    "permutest_summary",
    "ranktest_summary",
    "regtest_summary",
    "rma_summary",
    "table_summary",
    "tables_summary",
    "tau2_interval_summary",
    "trimfill_summary",
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
    """metafor's `print(rma(...))`."""
    lines = [_rma_title(res), ""]
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
