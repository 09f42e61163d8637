"""`strigil meta …`: effect sizes and meta-analysis from CSV files (thin shell over `strigil.meta`).

One function per command. Tables are read and fitted by `strigil.services.meta_analysis`, the same path
the meta-analysis web page takes.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import typer

from strigil.cli.toolkit import errors, fail

__all__ = [
    "bubble_command",
    "counts_command",
    "diagnose_command",
    "escalc_command",
    "fit_command",
    "forest_command",
    "funnel_command",
    "gosh_command",
    "meta_app",
    "radial_command",
    "register",
    "residuals_command",
]

meta_app = typer.Typer(
    name="meta",
    help="Meta-analysis: effect sizes (escalc), random/fixed-effects models and meta-regression (fit), "
         "2×2 and count tables (counts).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `meta` sub-commands to the `strigil` app."""
    app.add_typer(meta_app, name="meta")


_ESCALC_COLUMNS = ("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i", "ai", "bi", "ci", "di", "ri", "ni",
                   "yi", "vi", "sei", "ci_lb", "ci_ub")


@meta_app.command("escalc")
def escalc_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    measure: str = typer.Option(
        ..., "--measure",
        help="MD, SMD, SMDH, ROM, MC, SMCC, SMCR, RR, OR, RD, ZCOR, COR, or GEN (estimate with SE or CI).",
    ),
    n1i: str = typer.Option("n1i", help="Column: group 1 size."),
    m1i: str = typer.Option("m1i", help="Column: group 1 mean (or time 1 mean)."),
    sd1i: str = typer.Option("sd1i", help="Column: group 1 SD."),
    n2i: str = typer.Option("n2i", help="Column: group 2 size."),
    m2i: str = typer.Option("m2i", help="Column: group 2 mean (or time 2 mean)."),
    sd2i: str = typer.Option("sd2i", help="Column: group 2 SD."),
    ai: str = typer.Option("ai", help="Column: events, group 1."),
    bi: str = typer.Option("bi", help="Column: non-events, group 1."),
    ci: str = typer.Option("ci", help="Column: events, group 2."),
    di: str = typer.Option("di", help="Column: non-events, group 2."),
    ri: str = typer.Option("ri", help="Column: correlation."),
    ni: str = typer.Option("ni", help="Column: sample size."),
    yi: str = typer.Option("yi", help="Column: reported estimate (GEN)."),
    vi: str = typer.Option("vi", help="Column: reported variance (GEN)."),
    sei: str = typer.Option("sei", help="Column: reported standard error (GEN)."),
    ci_lb: str = typer.Option("ci_lb", "--ci-lb", help="Column: reported CI lower bound (GEN)."),
    ci_ub: str = typer.Option("ci_ub", "--ci-ub", help="Column: reported CI upper bound (GEN)."),
    level: float = typer.Option(95.0, help="Confidence level (%) of a reported CI (GEN)."),
    log_scale: bool = typer.Option(False, "--log", help="GEN: take logs of a reported ratio and its CI."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Output CSV (default: standard output)."),
) -> None:
    """Append effect sizes `yi` and sampling variances `vi` to every row (metafor's escalc)."""
    from strigil.meta.escalc import MEASURES, escalc

    table = _table(file)
    header, rows = table.header, table.rows
    chosen = dict(zip(_ESCALC_COLUMNS, (n1i, m1i, sd1i, n2i, m2i, sd2i, ai, bi, ci, di, ri, ni, yi, vi, sei,
                                        ci_lb, ci_ub), strict=True))
    key = measure.upper()
    if key not in MEASURES:
        fail(f"--measure {measure!r} is not supported; allowed: {', '.join(MEASURES)}")
    needed = list(MEASURES[key])
    if key == "GEN":
        needed += [n for n in ("vi", "sei", "ci_lb", "ci_ub") if chosen[n] in header]
    with errors():
        columns = {n: table.numbers(chosen[n], f"--{n.replace('_', '-')}") for n in needed}
    try:
        es = escalc(key, level=level, log_scale=log_scale, **columns)
    except ValueError as exc:
        fail(str(exc))
    fields = [h for h in header if h not in ("yi", "vi")] + ["yi", "vi"]
    sink = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        writer = csv.DictWriter(sink, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row, y, v in zip(rows, es.yi, es.vi, strict=True):
            row = {h: row.get(h, "") for h in fields if h not in ("yi", "vi")}
            row["yi"] = repr(float(y)) if math.isfinite(y) else "NA"
            row["vi"] = repr(float(v)) if math.isfinite(v) else "NA"
            writer.writerow(row)
    finally:
        if out:
            sink.close()


@meta_app.command("fit")
def fit_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option(
        "REML", help="τ² estimator: EE, FE, DL, HE, HS, SJ, ML, REML, EB, PM, DLIT, SJIT, PMM."),
    test: str = typer.Option("z", help="z, t or knha (Hartung–Knapp–Sidik–Jonkman)."),
    mods: str | None = typer.Option(None, help="Comma-separated moderator columns (meta-regression)."),
    formula: str | None = typer.Option(
        None, help="Moderators as a formula on the columns, e.g. '~ dose + technique' (text columns are "
                   "categorical, first level the reference, as R); instead of --mods."),
    subgroup: str | None = typer.Option(
        None, help="Column with subgroup labels: each subgroup is fitted on its own (its own τ²) and the "
                   "between-subgroup Q compares their estimates with weights 1/SE² (df = groups − 1)."),
    slab: str | None = typer.Option(None, help="Column with study labels."),
    level: float = typer.Option(95.0, help="Confidence level in percent."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (the contract)."),
    random: list[str] | None = typer.Option(
        None, "--random",
        help="Random term in metafor's notation, e.g. '~ 1 | trial/effect' (effects within trials) or "
             "'~ outcome | trial' (correlated outcomes); repeat for several. Fits a multilevel/multivariate "
             "model (rma.mv; --method REML or ML, --test z or t)."),
    struct: str = typer.Option(
        "CS", "--struct", help="Structure of an '~ inner | outer' term: CS, HCS, UN, AR, HAR, ID or DIAG."),
    V: Path | None = typer.Option(
        None, "--V", help="CSV file with the k x k sampling covariance matrix of the rows (no header, "
                          "rows and columns in data order)."),
    rho: float | None = typer.Option(
        None, "--rho", help="Sampling errors of different effects of one trial correlate by RHO (metafor's "
                            "vcalc); the trial is the --robust column, else the outermost --random group."),
    robust: str | None = typer.Option(
        None, "--robust", help="Column with trial labels: cluster-robust CR2 tests with Satterthwaite df "
                               "and the HTZ test (clubSandwich)."),
) -> None:
    """Fit a fixed/random-effects model or meta-regression (metafor's rma), or with --random, --V, --rho or
    --robust a model of dependent effects (rma.mv) with cluster-robust tests."""
    mod_names = [m.strip() for m in mods.split(",") if m.strip()] if mods else []
    if formula and mod_names:
        fail("--formula and --mods both give moderators; use one")
    if random or V is not None or rho is not None or robust is not None:
        if subgroup is not None or formula:
            fail("--subgroup and --formula do not combine with --random, --V, --rho or --robust (give "
                 "moderators with --mods)")
        pooling = _fit_dependent(file, yi=yi, vi=vi, method=method, test=test, level=level, mods=mod_names,
                                 slab=slab, random=random or [], struct=struct, V=V, rho=rho, robust=robust)
        typer.echo(json.dumps(pooling.to_json(), allow_nan=False) if as_json else _dependent_summary(pooling))
        return
    res = _fit(file, yi, vi, method, test, slab, subgroup, level, mod_names, formula)
    if as_json:
        typer.echo(json.dumps(res.to_json()))
    else:
        typer.echo(str(res.summary()))


def _fmt(x: Any, digits: int = 4) -> str:
    return "NA" if x is None else f"{x:.{digits}f}"


# ---- diagnostics and plots (forest, funnel, diagnose) -------------------------------------------


def _table(file: Path) -> Any:
    from strigil.services.meta_analysis import read_table

    with errors():
        return read_table(file)


def _fit(file: Path, yi: str, vi: str, method: str, test: str, slab: str | None, subgroup: str | None,
         level: float, mods: list[str] | None = None, formula: str | None = None) -> Any:
    """Read a CSV and fit the model; rows with missing values are left out with a note on stderr."""
    from strigil.services.meta_analysis import fit_table

    table = _table(file)
    with errors():
        fitted = fit_table(table, yi=yi, vi=vi, yi_label="--yi", vi_label="--vi", method=method, test=test,
                           level=level, mods=mods or (), subgroup=subgroup, slab=slab, formula=formula)
    if fitted.left_out:
        typer.echo(f"note: {len(fitted.left_out)} row(s) with missing values left out "
                   f"(lines {fitted.left_out})", err=True)
    return fitted.result


def _fit_dependent(file: Path, *, yi: str, vi: str, method: str, test: str, level: float, mods: list[str],
                   slab: str | None, random: list[str], struct: str, V: Path | None, rho: float | None,
                   robust: str | None) -> Any:
    """Read a CSV (and the --V file) and fit the model of dependent effects (a `DependentPooling`); rows
    with missing values are left out with a note on stderr."""
    from strigil.services.dependent_effects import fit_dependent_table, read_covariance

    table = _table(file)
    with errors():
        matrix = read_covariance(V, len(table.rows)) if V is not None else None
        fitted = fit_dependent_table(table, yi=yi, vi=vi, yi_label="--yi", vi_label="--vi", method=method,
                                     test=test, level=level, mods=mods, slab=slab, random=random,
                                     struct=struct, V=matrix, rho=rho, robust=robust)
    if fitted.left_out:
        typer.echo(f"note: {len(fitted.left_out)} row(s) with missing values left out "
                   f"(lines {fitted.left_out})", err=True)
    return fitted.pooling


def _dependent_summary(pooling: Any) -> str:
    """The printout of the fitted model, or with --robust the cluster-robust printout and its Wald test
    (the results' own summaries, as metafor prints them), and where V came from."""
    parts = [str(pooling.model.summary() if pooling.robust is None else pooling.robust.summary())]
    if pooling.robust is not None:
        parts.append(str(pooling.robust.QM.summary()))
    parts.append(f"Sampling covariance: {pooling.sampling_covariance}")
    return "\n\n".join(parts)


def _save_plot(plot: Any, out: Path) -> None:
    try:
        plot.save(out)
    except ValueError as exc:
        fail(f"--out {str(out)!r}: {exc}")
    except OSError as exc:
        fail(f"--out {str(out)!r}: cannot write: {exc.strerror}")
    typer.echo(str(out))


@meta_app.command("forest")
def forest_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    out: Path = typer.Option(..., "--out", "-o", help="Image file; .svg, .png or .pdf picks the format."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option("REML", help="τ² estimator: EE, FE, DL, HE, HS, SJ, ML, REML, EB, PM."),
    test: str = typer.Option("z", help="z, t or knha (Hartung–Knapp–Sidik–Jonkman)."),
    slab: str | None = typer.Option(None, help="Column with study labels."),
    subgroup: str | None = typer.Option(None, help="Column with subgroup labels (one block each)."),
    level: float = typer.Option(95.0, help="Confidence level in percent."),
    xlab: str = typer.Option("Observed outcome", help="Label of the effect axis."),
) -> None:
    """Draw a forest plot: studies, weights, intervals, summary diamond, prediction interval."""
    from strigil.meta.plots import forest

    res = _fit(file, yi, vi, method, test, slab, subgroup, level)
    _save_plot(forest(res, xlab=xlab), out)


@meta_app.command("funnel")
def funnel_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    out: Path = typer.Option(..., "--out", "-o", help="Image file; .svg, .png or .pdf picks the format."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option("REML", help="τ² estimator: EE, FE, DL, HE, HS, SJ, ML, REML, EB, PM."),
    trimfill: bool = typer.Option(False, "--trimfill", help="Add the studies trim-and-fill imputes (L0)."),
    xlab: str = typer.Option("Observed outcome", help="Label of the effect axis."),
) -> None:
    """Draw a contour-enhanced funnel plot (significance regions at 90/95/99%)."""
    from strigil.meta.plots import funnel
    from strigil.meta.trimfill import trimfill as trim_and_fill

    res = _fit(file, yi, vi, method, "z", None, None, 95.0)
    try:
        fill = trim_and_fill(res) if trimfill else None
    except ValueError as exc:
        fail(f"--trimfill: {exc}")
    _save_plot(funnel(res, fill=fill, xlab=xlab), out)


@meta_app.command("diagnose")
def diagnose_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option("REML", help="τ² estimator: EE, FE, DL, HE, HS, SJ, ML, REML, EB, PM."),
    test: str = typer.Option("z", help="z, t or knha (Hartung–Knapp–Sidik–Jonkman)."),
    slab: str | None = typer.Option(None, help="Column with study labels."),
    level: float = typer.Option(95.0, help="Confidence level in percent."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Bias and influence diagnostics: Egger, Begg, trim-and-fill, leave-one-out, cumulative,
    influence and Baujat. A diagnostic that cannot run on these data reports {"error": ...}."""
    from strigil.meta.bias import ranktest, regtest
    from strigil.meta.cumulative import cumul
    from strigil.meta.influence import baujat, influence, leave1out
    from strigil.meta.trimfill import trimfill

    res = _fit(file, yi, vi, method, test, slab, None, level)
    steps: dict[str, Any] = {
        "egger": lambda: regtest(res),
        "begg": lambda: ranktest(res),
        "trimfill": lambda: trimfill(res),
        "leave1out": lambda: leave1out(res),
        "cumul": lambda: cumul(res),
        "influence": lambda: influence(res),
        "baujat": lambda: baujat(res),
    }
    doc: dict[str, Any] = {"model": res.to_json()}
    for name, step in steps.items():
        try:
            doc[name] = step().to_json()
        except ValueError as exc:
            doc[name] = {"error": str(exc)}
    if as_json:
        typer.echo(json.dumps(doc, allow_nan=False))
        return
    eg, bg, tf = doc["egger"], doc["begg"], doc["trimfill"]
    lines = [f"k = {res.k}; method {res.method}; estimate {_fmt(res.beta[0].estimate)}"]
    lines.append("Egger: " + (eg.get("error") or f"z = {_fmt(eg['zval'])}, p = {_fmt(eg['pval'])}"))
    lines.append("Begg: " + (bg.get("error") or f"tau = {_fmt(bg['tau'])}, p = {_fmt(bg['pval'])}"))
    lines.append("Trim-and-fill: " + (tf.get("error") or f"{tf['k0']} missing on the {tf['side']}; "
                                        f"filled estimate {_fmt(tf['b'])}"))
    inf = doc["influence"]
    if "error" not in inf:
        flagged = [s for s, f in zip(inf["slab"], inf["inf"], strict=True) if f]
        lines.append("Influential: " + (", ".join(flagged) if flagged else "none"))
    typer.echo("\n".join(lines))


# ---- 2×2 and count tables; more plots and residuals ----------------------------------------------


@meta_app.command("counts")
def counts_command(
    file: Path = typer.Argument(..., help="CSV: ai, bi, ci, di (or ai, n1i, ci, n2i) or x1i, t1i, x2i, t2i."),
    model: str = typer.Option("MH", help="MH (Mantel–Haenszel), PETO (Peto's odds ratio) or GLMM "
                                         "(binomial-normal / Poisson-normal random effects)."),
    measure: str = typer.Option("OR", help="OR, RR, RD (2×2 tables) or IRR, IRD (person-time)."),
    slab: str | None = typer.Option(None, help="Column with study labels."),
    subgroup: str | None = typer.Option(None, help="Column with subgroup labels (forest plot blocks)."),
    level: float = typer.Option(95.0, help="Confidence level in percent."),
    forest: Path | None = typer.Option(None, help="Write the forest plot (RevMan layout) here."),
    labbe: Path | None = typer.Option(None, help="Write the L'Abbé plot here."),
    groups: str = typer.Option("Group 1,Group 2", help="Names of the two arms, comma-separated."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Pool 2×2 or person-time tables: Mantel–Haenszel (with CMH, Breslow–Day, Tarone tests), Peto, or a
    GLMM. Tables with a missing count, or without events in either arm, are left out and counted."""
    from strigil.meta.revman import forest_revman
    from strigil.meta.study_plots import labbe as labbe_plot
    from strigil.services.count_meta_analysis import fit_counts

    table = _table(file)
    with errors():
        fitted = fit_counts(table, model=model, measure=measure, level=level, slab=slab, subgroup=subgroup)
    res = fitted.result
    names = tuple(g.strip() for g in groups.split(","))
    if len(names) != 2:
        fail(f"--groups {groups!r}: give two names, comma-separated")
    if forest is not None:
        plot = forest_revman(res, subgroups=fitted.subgroups or None, groups=(names[0], names[1]))
        _save_plot(plot, forest)
    if labbe is not None:
        _save_plot(labbe_plot(res), labbe)
    doc = res.to_json()
    if as_json:
        typer.echo(json.dumps(doc, allow_nan=False))
        return
    typer.echo(str(res.summary()))


@meta_app.command("bubble")
def bubble_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    out: Path = typer.Option(..., "--out", "-o", help="Image file; .svg, .png or .pdf picks the format."),
    mods: str = typer.Option(..., help="Comma-separated moderator columns; the first is on the x axis."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option("REML", help="τ² estimator."),
    show_pi: bool = typer.Option(False, "--pi", help="Also draw the prediction band."),
) -> None:
    """Bubble plot of a meta-regression: effects against a moderator, point area by weight, fitted line."""
    from strigil.meta.study_plots import regplot

    names = [m.strip() for m in mods.split(",") if m.strip()]
    res = _fit(file, yi, vi, method, "z", None, None, 95.0, names)
    try:
        _save_plot(regplot(res, names[0], show_pi=show_pi), out)
    except ValueError as exc:
        fail(f"--mods: {exc}")


@meta_app.command("radial")
def radial_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    out: Path = typer.Option(..., "--out", "-o", help="Image file; .svg, .png or .pdf picks the format."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option("REML", help="τ² estimator."),
) -> None:
    """Radial (Galbraith) plot."""
    from strigil.meta.study_plots import radial

    _save_plot(radial(_fit(file, yi, vi, method, "z", None, None, 95.0)), out)


@meta_app.command("gosh")
def gosh_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    out: Path = typer.Option(..., "--out", "-o", help="Image file; .svg, .png or .pdf picks the format."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option("EE", help="The model refitted to every subset (metafor's default: EE)."),
    max_subsets: int = typer.Option(1_000_000, help="Above this many subsets, a random sample of them."),
    seed: int = typer.Option(1, help="Seed of that sample."),
) -> None:
    """GOSH plot: the model refitted to every subset of the studies, estimate against I²."""
    from strigil.meta.gosh import gosh

    res = _fit(file, yi, vi, method, "z", None, None, 95.0)
    try:
        result = gosh(res, max_subsets=max_subsets, seed=seed)
    except ValueError as exc:
        fail(str(exc))
    _save_plot(result.plot(), out)


@meta_app.command("residuals")
def residuals_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option("REML", help="τ² estimator."),
    mods: str | None = typer.Option(None, help="Comma-separated moderator columns."),
    slab: str | None = typer.Option(None, help="Column with study labels."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Raw, standardized and studentized residuals and hat values, one line per study."""
    from strigil.meta.residuals import hatvalues, rstandard, rstudent

    names = [m.strip() for m in mods.split(",") if m.strip()] if mods else []
    res = _fit(file, yi, vi, method, "z", slab, None, 95.0, names)
    try:
        std, stu, hat = rstandard(res), rstudent(res), hatvalues(res)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        doc = {"rstandard": std.to_json(), "rstudent": stu.to_json(), "hat": [float(h) for h in hat]}
        typer.echo(json.dumps(doc, allow_nan=False))
        return
    typer.echo(f"{'study':20}{'resid':>10}{'rstandard':>11}{'rstudent':>10}{'hat':>8}")
    for i, label in enumerate(std.slab):
        typer.echo(f"{label[:20]:20}{std.resid[i]:10.4f}{std.z[i]:11.4f}{stu.z[i]:10.4f}{hat[i]:8.4f}")
