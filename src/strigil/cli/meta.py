"""`strigil meta …`: effect sizes and meta-analysis from CSV files (thin shell over `strigil.meta`).

One function per command. Shared CSV helpers (`read_table`, `numeric_column`) serve every
`meta` command.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import typer

__all__ = ["meta_app", "numeric_column", "read_table", "register"]

meta_app = typer.Typer(
    name="meta",
    help="Meta-analysis: effect sizes (escalc), random/fixed-effects models and meta-regression (fit).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `meta` sub-commands to the `strigil` app."""
    app.add_typer(meta_app, name="meta")


def fail(message: str) -> typer.Exit:
    """Print `error: message` to stderr; the caller raises the returned Exit(2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a CSV file (all values as strings)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise fail(f"{path} is not a readable UTF-8 CSV table ({exc})") from None
    if not header:
        raise fail(f"{path} has no header row")
    return header, rows


def _is_missing(text: str | None) -> bool:
    return text is None or text.strip() in ("", "NA", "NaN", "nan")


def numeric_column(rows: list[dict[str, str]], header: list[str], column: str, option: str) -> list[float]:
    """Column `column` as floats (NaN where empty or NA); exit 2 on text."""
    if column not in header:
        raise fail(f"{option} {column!r}: no such column; columns are {', '.join(header)}")
    out = []
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        text = row.get(column)
        if _is_missing(text):
            out.append(math.nan)
            continue
        try:
            out.append(float(str(text)))
        except ValueError:
            raise fail(f"{option} {column!r}: line {i} has {text!r}, which is not a number") from None
    return out


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

    header, rows = read_table(file)
    chosen = dict(zip(_ESCALC_COLUMNS, (n1i, m1i, sd1i, n2i, m2i, sd2i, ai, bi, ci, di, ri, ni, yi, vi, sei,
                                        ci_lb, ci_ub), strict=True))
    key = measure.upper()
    if key not in MEASURES:
        raise fail(f"--measure {measure!r} is not supported; allowed: {', '.join(MEASURES)}")
    needed = list(MEASURES[key])
    if key == "GEN":
        needed += [n for n in ("vi", "sei", "ci_lb", "ci_ub") if chosen[n] in header]
    columns = {n: numeric_column(rows, header, chosen[n], f"--{n.replace('_', '-')}") for n in needed}
    try:
        es = escalc(key, level=level, log_scale=log_scale, **columns)
    except ValueError as exc:
        raise fail(str(exc)) from exc
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


def _moderators(rows: list[dict[str, str]], header: list[str], names: list[str]) -> dict[str, list[float]]:
    """Numeric moderators as they are; text ones dummy-coded like R factors (first level = reference)."""
    mods: dict[str, list[float]] = {}
    for name in names:
        if name not in header:
            raise fail(f"--mods {name!r}: no such column; columns are {', '.join(header)}")
        texts = [row.get(name) or "" for row in rows]
        try:
            mods[name] = [math.nan if _is_missing(t) else float(t) for t in texts]
        except ValueError:
            levels = sorted({t for t in texts if not _is_missing(t)})
            for level in levels[1:]:
                mods[f"{name}{level}"] = [math.nan if _is_missing(t) else float(t == level) for t in texts]
    return mods


@meta_app.command("fit")
def fit_command(
    file: Path = typer.Argument(..., help="CSV file with one row per study."),
    yi: str = typer.Option("yi", help="Column with the effect sizes."),
    vi: str = typer.Option("vi", help="Column with the sampling variances."),
    method: str = typer.Option("REML", help="τ² estimator: EE, FE, DL, HE, HS, SJ, ML, REML, EB, PM."),
    test: str = typer.Option("z", help="z, t or knha (Hartung–Knapp–Sidik–Jonkman)."),
    mods: str | None = typer.Option(None, help="Comma-separated moderator columns (meta-regression)."),
    subgroup: str | None = typer.Option(
        None, help="Column with subgroup labels: each subgroup is fitted on its own (its own τ²) and the "
                   "between-subgroup Q compares their estimates with weights 1/SE² (df = groups − 1)."),
    slab: str | None = typer.Option(None, help="Column with study labels."),
    level: float = typer.Option(95.0, help="Confidence level in percent."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (the contract)."),
) -> None:
    """Fit a fixed/random-effects model or meta-regression (metafor's rma)."""
    import numpy as np

    from strigil.meta.rma import rma

    header, rows = read_table(file)
    y = np.array(numeric_column(rows, header, yi, "--yi"))
    v = np.array(numeric_column(rows, header, vi, "--vi"))
    mod_names = [m.strip() for m in mods.split(",") if m.strip()] if mods else []
    mod_cols = _moderators(rows, header, mod_names)
    if subgroup is not None and subgroup not in header:
        raise fail(f"--subgroup {subgroup!r}: no such column; columns are {', '.join(header)}")
    if slab is not None and slab not in header:
        raise fail(f"--slab {slab!r}: no such column; columns are {', '.join(header)}")
    keep = np.isfinite(y) & np.isfinite(v)
    for col in mod_cols.values():
        keep &= np.isfinite(np.array(col))
    if not keep.all():
        dropped = (np.flatnonzero(~keep) + 2).tolist()
        typer.echo(f"note: {len(dropped)} row(s) with missing values left out (lines {dropped})", err=True)
    idx = np.flatnonzero(keep)
    try:
        res = rma(
            y[idx], v[idx],
            mods={n: np.array(c)[idx] for n, c in mod_cols.items()} if mod_cols else None,
            method=method, test=test, level=level,
            subgroup=[rows[i].get(subgroup) or "" for i in idx] if subgroup else None,
            slab=[rows[i].get(slab) or "" for i in idx] if slab else None,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    doc = res.to_json()
    if as_json:
        typer.echo(json.dumps(doc))
    else:
        typer.echo(_summary(doc))


def _fmt(x: Any, digits: int = 4) -> str:
    return "NA" if x is None else f"{x:.{digits}f}"


def _summary(doc: dict[str, Any]) -> str:
    """A short plain-text report in the order metafor prints it."""
    kind = "Equal-effects" if doc["method"] in ("EE", "FE") else "Random-effects"
    lines = [f"{kind} model (k = {doc['k']}; method: {doc['method']}; test: {doc['test']})", ""]
    if doc["method"] not in ("EE", "FE"):
        ci = doc["tau2_ci"] or [None, None]
        lines.append(f"tau^2 = {_fmt(doc['tau2'])} (SE = {_fmt(doc['tau2_se'])}; "
                     f"{doc['level']:g}% CI {_fmt(ci[0])} to {_fmt(ci[1])})")
    lines.append(f"I^2 = {_fmt(doc['I2'], 2)}%   H^2 = {_fmt(doc['H2'], 2)}")
    lines.append(f"Q({doc['Q_df']}) = {_fmt(doc['Q'])}, p = {_fmt(doc['Q_p'])}")
    if doc["R2"] is not None:
        ddf = f", {doc['QM_ddf']}" if doc["QM_ddf"] is not None else ""
        lines.append(f"QM({doc['QM_df']}{ddf}) = {_fmt(doc['QM'])}, p = {_fmt(doc['QM_p'])}; "
                     f"R^2 = {_fmt(doc['R2'], 2)}%")
    heads = ("estimate", "se", doc["dist"] + "val", "pval", "ci.lb", "ci.ub")
    lines += ["", f"{'':12}" + "".join(f"{h:>10}" for h in heads)]
    for b in doc["beta"]:
        lines.append(f"{b['name'][:12]:12}" + "".join(f"{_fmt(b[f]):>10}" for f in
                                                      ("estimate", "se", "stat", "p", "ci_lb", "ci_ub")))
    if doc["pi_lb"] is not None:
        lines.append(f"\nprediction interval: {_fmt(doc['pi_lb'])} to {_fmt(doc['pi_ub'])}")
    for s in doc.get("subgroups") or []:
        lines.append(f"subgroup {s['name']} (k = {s['k']}): {_fmt(s['estimate'])} "
                     f"[{_fmt(s['ci_lb'])}, {_fmt(s['ci_ub'])}], tau^2 = {_fmt(s['tau2'])}")
    if doc.get("subgroups"):
        lines.append(f"test between subgroups: Q({doc['Q_between_df']}) = {_fmt(doc['Q_between'])}, "
                     f"p = {_fmt(doc['Q_between_p'])}")
    return "\n".join(lines)


# ---- diagnostics and plots (forest, funnel, diagnose) -------------------------------------------


def _fit_from_csv(file: Path, yi: str, vi: str, method: str, test: str, slab: str | None,
                  subgroup: str | None, level: float) -> Any:
    """Read a CSV and fit the intercept-only model the plot and diagnose commands work on."""
    import numpy as np

    from strigil.meta.rma import rma

    header, rows = read_table(file)
    y = np.array(numeric_column(rows, header, yi, "--yi"))
    v = np.array(numeric_column(rows, header, vi, "--vi"))
    for option, column in (("--slab", slab), ("--subgroup", subgroup)):
        if column is not None and column not in header:
            raise fail(f"{option} {column!r}: no such column; columns are {', '.join(header)}")
    keep = np.flatnonzero(np.isfinite(y) & np.isfinite(v))
    if keep.size < y.size:
        typer.echo(f"note: {y.size - keep.size} row(s) with missing yi/vi left out", err=True)
    try:
        return rma(
            y[keep], v[keep], method=method, test=test, level=level,
            slab=[rows[i].get(slab) or "" for i in keep] if slab else None,
            subgroup=[rows[i].get(subgroup) or "" for i in keep] if subgroup else None,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc


def _save_plot(plot: Any, out: Path) -> None:
    try:
        plot.save(out)
    except ValueError as exc:
        raise fail(f"--out {str(out)!r}: {exc}") from exc
    except OSError as exc:
        raise fail(f"--out {str(out)!r}: cannot write: {exc.strerror}") from exc
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

    res = _fit_from_csv(file, yi, vi, method, test, slab, subgroup, level)
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

    res = _fit_from_csv(file, yi, vi, method, "z", None, None, 95.0)
    try:
        fill = trim_and_fill(res) if trimfill else None
    except ValueError as exc:
        raise fail(f"--trimfill: {exc}") from exc
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

    res = _fit_from_csv(file, yi, vi, method, test, slab, None, level)
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
