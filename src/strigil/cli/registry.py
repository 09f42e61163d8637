"""`strigil registry ...`: practice-based evidence from the clinic registry.

Thin shell: reads CSV files (pyarrow) and writes JSON/HTML/CSV; the models live in `strigil.registry`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from strigil.cli.toolkit import audited_job, fail, read_json

if TYPE_CHECKING:
    from strigil.registry.design import Column

__all__ = [
    "SNIFF_BYTES",
    "header_of",
    "read_columns",
    "register",
]


def _chunk_values(arr: Any) -> Any:
    """A numeric Arrow array as a numpy view of its buffer (its own dtype) and a mask of missing values.

    Arrow's own to_numpy() imports pandas (about a second); the buffers give the same numbers without it.
    """
    import numpy as np

    n, off = len(arr), arr.offset
    validity, data = arr.buffers()[0], arr.buffers()[1]
    dtype = np.dtype(arr.type.to_pandas_dtype())
    values = np.frombuffer(data, dtype=dtype, count=n + off)[off:] if n else np.zeros(0, dtype=dtype)
    missing = None
    if arr.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[off : off + n]
        missing = bits == 0
    return values, missing


def _concatenate(chunks: list[Any], *, as_float: bool, fill: float) -> Any:
    """Join numeric chunks into one numpy array; missing values become `fill` (NaN, or −1 for codes)."""
    import numpy as np

    parts = [_chunk_values(c) for c in chunks]
    if not parts:
        return np.zeros(0)
    values = np.concatenate([v for v, _ in parts])
    if as_float:
        values = values.astype(float, copy=False)
    if any(m is not None for _, m in parts):
        missing = np.concatenate([np.zeros(len(v), bool) if m is None else m for v, m in parts])
        values = values.astype(np.int64 if not as_float else float, copy=False)
        values[missing] = fill
    return values


# How much of a CSV file is read to guess its column types.
SNIFF_BYTES = 2_000_000


def _sniffed_types(path: Path, names: list[str] | None) -> dict[str, Any]:
    """Column types guessed from the first megabytes: numbers as float64, text as dictionary-encoded.

    Giving the reader the types halves its work on millions of rows (no inference, no re-encoding).
    """
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if len(head) == SNIFF_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    try:
        schema = pacsv.read_csv(
            io.BytesIO(head),
            convert_options=pacsv.ConvertOptions(include_columns=names or [], strings_can_be_null=True),
        ).schema
    except (pa.ArrowInvalid, KeyError):
        return {}
    types: dict[str, Any] = {}
    for field in schema:
        if pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            types[field.name] = pa.float64()
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            types[field.name] = pa.dictionary(pa.int32(), pa.string())
    return types


def header_of(path: Path) -> list[str]:
    """The column names of a CSV file's first line (empty when the file cannot be read)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return [name.strip() for name in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def read_columns(path: Path, names: list[str] | None = None) -> dict[str, Column]:
    """Read a CSV file into numpy columns: numbers as float (missing = NaN), text as integer codes + levels.

    Text is dictionary-encoded by the CSV reader itself, and pyarrow.compute is not imported: that import
    alone costs more than reading and fitting 100,000 rows.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from strigil.registry.design import Coded

    if not path.is_file():
        fail(f"FILE={str(path)!r}: no such file")
    options = {
        "include_columns": names or [],
        "auto_dict_encode": True,
        "auto_dict_max_cardinality": 2**31 - 1,
        "strings_can_be_null": True,
    }
    types = _sniffed_types(path, names)
    try:
        try:
            convert = pacsv.ConvertOptions(column_types=types, **options)
            # 8 MB blocks: fewer chunks, so fewer per-chunk dictionaries to unify afterwards.
            table = pacsv.read_csv(
                path, read_options=pacsv.ReadOptions(block_size=1 << 23), convert_options=convert
            )
        except pa.ArrowInvalid:
            # A guessed type did not hold further down the file: let the reader infer every type.
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(**options))
        table = table.unify_dictionaries()
    except (pa.ArrowInvalid, KeyError) as exc:
        fail(f"FILE={str(path)!r}: cannot read it as CSV with the columns {names}: {exc}")
    out: dict[str, Column] = {}
    for name in table.column_names:
        col = table.column(name)
        chunks = col.chunks
        if pa.types.is_dictionary(col.type):
            levels = chunks[0].dictionary if chunks else pa.array([], pa.string())
            # missing text has no index and becomes code −1
            codes = _concatenate([c.indices for c in chunks], as_float=False, fill=-1)
            out[name] = Coded(codes=codes, levels=levels)
        elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            out[name] = _concatenate(list(chunks), as_float=True, fill=np.nan)
        elif pa.types.is_null(col.type):
            out[name] = np.full(len(col), np.nan)
        else:  # booleans, dates, ...: plain values (missing as NaN or None)
            values = col.to_pylist()
            if pa.types.is_boolean(col.type):
                out[name] = np.array([np.nan if v is None else float(v) for v in values])
            else:
                out[name] = np.array(["" if v is None else str(v) for v in values])
    return out


def _fit(
    file: Path | None,
    formula: str,
    random: list[str],
    reml: bool,
    as_json: bool,
    from_db: bool,
    outcome: str | None,
    db_clinic: str | None = None,
    timing: str = "pre",
) -> None:
    from strigil.registry.growth_model import fit_growth_model, needed_columns
    from strigil.registry.lmer import split_formula

    if "|" in formula:
        if random:
            fail("--formula already holds the random terms (lme4's syntax); leave out --random")
        try:
            formula, random = split_formula(formula)
        except ValueError as exc:
            fail(str(exc))
    elif not random:
        fail("--random: give the patient term, e.g. '1 + session | patient' (or write it in --formula, "
             "'pain ~ session + (1 + session | patient)')")
    try:
        names = needed_columns(formula, random)
    except ValueError as exc:
        fail(str(exc))
    if from_db:
        columns = _columns_from_db(outcome, names[0], db_clinic, timing)
    else:
        if file is None:
            fail("FILE: give a CSV file, or --from-db --outcome MEASURE")
        assert file is not None
        columns = read_columns(file, names)
    try:
        fit = fit_growth_model(columns, formula, random, reml=reml)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(fit.to_json()))
        return
    typer.echo(str(fit.summary()))


# Numeric columns of the record's long table (strigil.services.export.CSV_COLUMNS); the rest are text.
_DB_NUMERIC = (
    "birth_year",
    "session",
    "days_since_onset",
    "minutes",
    "n_steps",
    "value",
    "measured_force_n",
    "measured_peak_n",
    "measured_strokes",
)


def _columns_from_db(
    outcome: str | None, response: str, clinic: str | None, timing: str
) -> dict[str, Column]:
    """The clinic database's analysis table (the record's CSV export rows) for one outcome measure.

    Rows: measurements of `outcome` taken at `timing` ("pre" = before the IASTM of that session, so that the
    growth model follows the state at each visit). The value is copied into a column named as the formula's
    response; patients are keyed by clinic and code (codes are unique only within a clinic).
    """
    import numpy as np
    from sqlalchemy import select

    from strigil.services.export import CSV_COLUMNS, clinic_patient_ids, export_rows
    from strigil.store.database import open_database
    from strigil.store.record import ClinicRow

    if not outcome:
        fail("--outcome: give the measure code to analyse (e.g. nprs) with --from-db")
    try:
        db = open_database()
    except Exception as exc:  # a bad STRIGIL_DATABASE_URL or an unreachable server
        fail(f"cannot open the database: {exc}")
    rows: list[dict[str, Any]] = []
    with db.unit_of_work() as s:
        stmt = select(ClinicRow)
        if clinic is not None:
            stmt = stmt.where(ClinicRow.code == clinic)
        clinics = list(s.scalars(stmt))
        if not clinics:
            fail(
                f"--db-clinic: no clinic {clinic!r} in the database"
                if clinic
                else "the database has no clinic"
            )
        for c in clinics:
            for r in export_rows(s, c.id):
                if r["measure"] == outcome and r["timing"] == timing:
                    rows.append({**r, "clinic": c.code, "patient": f"{c.code}/{r['patient']}"})
            patients = clinic_patient_ids(s, c.id)
            audited_job(s, c.id, "read", "registry", patients, detail=f"model of {outcome}")
    db.dispose()
    if not rows:
        fail(f"--outcome: no {outcome!r} measurements with timing {timing!r} in the database")
    columns: dict[str, Column] = {}
    for name in (*CSV_COLUMNS, "clinic"):
        values = [r.get(name) for r in rows]
        if name in _DB_NUMERIC:
            columns[name] = np.array([np.nan if v in ("", None) else float(v) for v in values])
        else:
            columns[name] = np.array(["" if v is None else str(v) for v in values])
    columns[response] = columns["value"]
    return columns


def _generate(
    out: Path, clinics: int, patients_per_clinic: int, sessions: int, noise: str, seed: int
) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from strigil.registry.generator import RegistryTruth, generate_registry

    try:
        truth = RegistryTruth(
            n_clinics=clinics, patients_per_clinic=patients_per_clinic, max_sessions=sessions, noise=noise
        )
        reg = generate_registry(truth, seed=seed)
    except ValueError as exc:
        fail(str(exc))
    table = pa.table({k: pa.array(np.asarray(v)) for k, v in reg.columns.items()})
    pacsv.write_csv(table, out)
    typer.echo(
        json.dumps(
            {"file": str(out), "rows": reg.n_rows, "formula": reg.formula, "truth": reg.truth.fixed_effects()}
        )
    )


def _site_summary(
    file: Path,
    formula: str,
    random: list[str],
    clinic: str | None,
    site: str | None,
    out_dir: Path,
    counts: list[str],
    reml: bool,
    min_patients: int,
) -> None:
    import numpy as np

    from strigil.registry.design import Coded, values_of
    from strigil.registry.federated import SiteTooSmall, fit_site_summary
    from strigil.registry.growth_model import needed_columns, take_rows

    try:
        names = needed_columns(formula, random)
    except ValueError as exc:
        fail(str(exc))
    wanted = list(dict.fromkeys([*names, *counts, *([clinic] if clinic else [])]))
    columns = read_columns(file, wanted)
    if clinic is None and not site:
        fail("--site: name this clinic's summary, or give --clinic COLUMN to write one file per clinic")
    parts: list[tuple[str, dict[str, Column]]] = []
    if clinic is None:
        parts.append((str(site), columns))
    else:
        col = columns[clinic]
        values = values_of(col)
        codes = col.codes if isinstance(col, Coded) else None
        for label in sorted({str(v) for v in values if v is not None}):
            rows = (values.astype(str) == label) & (codes >= 0 if codes is not None else True)
            parts.append((label, {k: take_rows(v, np.asarray(rows)) for k, v in columns.items()}))
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    for label, data in parts:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)
        try:
            summary = fit_site_summary(
                data, formula, random, site=label, count_columns=counts, reml=reml, min_patients=min_patients
            )
        except SiteTooSmall as exc:
            skipped.append({"site": label, "reason": str(exc)})
            continue
        except ValueError as exc:
            fail(f"site {label!r}: {exc}")
        path = out_dir / f"site-{safe}.json"
        path.write_text(json.dumps(summary, indent=1))
        written.append(str(path))
    typer.echo(json.dumps({"written": written, "skipped": skipped}))


def _pool(files: list[Path], as_json: bool) -> None:
    from strigil.registry.federated import pool_sites

    summaries = []
    for f in files:
        summaries.append(read_json(f, option="FILES"))
    try:
        pooled = pool_sites(summaries)
    except ValueError as exc:
        fail(str(exc))
    out = pooled.to_json()
    if as_json:
        typer.echo(json.dumps(out))
        return
    typer.echo(f"Pooled {out['n_sites']} sites ({out['n_patients']} patients, {out['n_obs']} measurements)")
    for name, c in out["random_effects"].items():
        typer.echo(
            f"  {name:<26} {c['estimate']: .5g} (SE {c['se']:.3g}; 95% CI {c['ci_lb']:.4g} to "
            f"{c['ci_ub']:.4g}; tau2 {c['tau2']:.3g}; k={c['k']})"
        )


def _exact_answer(file: Path, request_file: Path, site: str | None, out_dir: Path) -> None:
    """A clinic answers one request of the exact exchange (enrolment or pieces) with a file."""
    from strigil.registry.exact_growth import GrowthModelSpec, answer_request, prepare_clinic

    request = read_json(request_file, object_only=True)
    try:
        spec = GrowthModelSpec.from_json(request["model"])
    except (KeyError, ValueError) as exc:
        fail(f"--request: {str(request_file)!r} is not a request of the exact exchange: {exc}")
    # The clinic's name comes from --site, or else from the data's site column. Only the columns the file
    # has are read: a missing one is reported by prepare_clinic, naming the clinic.
    wanted = [*spec.variables, *([] if site else [spec.site_column])]
    if not file.is_file():
        fail(f"FILE={str(file)!r}: no such file")
    present = set(header_of(file))
    columns = read_columns(file, [c for c in dict.fromkeys(wanted) if c in present])
    try:
        answer = answer_request(prepare_clinic(columns, spec, site), request)
    except ValueError as exc:
        fail(str(exc))
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(answer["site"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"answer-{safe}-{request['id']}.json"
    path.write_text(json.dumps(answer))
    typer.echo(
        json.dumps({"written": str(path), "site": answer["site"], "participates": answer["participates"]})
    )


def _exact_pool(
    files: list[Path], model: Path | None, state: Path, expect: list[str], out_dir: Path, as_json: bool
) -> None:
    """The analyst's side of the exact exchange: keep answers, replay, write the next request or the fit."""
    from strigil.registry.exact_growth import GrowthModelSpec
    from strigil.registry.exchange import AnswersNeeded, replay_exact_growth

    if state.is_file():
        kept = read_json(state, object_only=True)
    elif model is None or not expect:
        fail("--model MODEL.json and --expect SITE (once per clinic) start an exact exchange")
    else:
        kept = {"model": read_json(model, object_only=True), "expect": expect, "answers": []}
    for f in files:
        kept["answers"].append(read_json(f, object_only=True))
    state.write_text(json.dumps(kept))
    try:
        fit = replay_exact_growth(GrowthModelSpec.from_json(kept["model"]), kept["answers"], kept["expect"])
    except AnswersNeeded as need:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"request-{need.request['id']}.json"
        path.write_text(json.dumps(need.request))
        typer.echo(
            json.dumps({"request": str(path), "kind": need.request["kind"], "awaiting": list(need.missing)})
        )
        return
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(fit.to_json()))
        return
    typer.echo(str(fit.summary()))


def _report(
    file: Path,
    formula: str,
    random: list[str],
    reml: bool,
    out: Path,
    dose: str,
    time: str,
    measure: str | None,
    mcid: float | None,
    condition: str | None,
    lower_is_better: bool,
    by: str | None,
    cox: list[str],
    clinic: str | None = None,
) -> None:
    import datetime as dt

    from strigil.registry.clinic_doses import clinic_dose_effects
    from strigil.registry.growth_model import fit_design, growth_design, needed_columns
    from strigil.registry.plots import (
        clinic_dose_svg,
        dose_response_curves,
        dose_response_svg,
        improvement_svg,
        why_no_dose_curves,
    )
    from strigil.registry.report import RegistryReport, render_report
    from strigil.registry.time_to_improvement import (
        Mcid,
        catalogue_mcid,
        cox_model,
        kaplan_meier,
        sessions_to_improvement,
    )

    try:
        names = needed_columns(formula, random)
    except ValueError as exc:
        fail(str(exc))
    group_by = by or dose
    extra = [clinic] if clinic else []
    columns = read_columns(file, list(dict.fromkeys([*names, dose, time, group_by, *cox, *extra])))
    outcome = names[0]
    try:
        if mcid is not None:
            threshold = Mcid(
                value=mcid,
                lower_is_better=lower_is_better,
                source="given on the command line (--mcid)",
                measure=measure or outcome,
            )
        elif measure is not None:
            threshold = catalogue_mcid(measure, condition)
        else:
            fail(
                "--measure CODE (catalogue MCID, e.g. nprs) or --mcid VALUE is needed for time to improvement"
            )
        design = growth_design(columns, formula, random)
        fit = fit_design(design, reml=reml)
        data = {k: v for k, v in columns.items() if k in names}
        no_curves = why_no_dose_curves(list(data), time=time, dose=dose)
        curves = [] if no_curves else dose_response_curves(fit, data, time=time, dose=dose)
        patient = random[0].split("|")[1].strip()
        table = sessions_to_improvement(
            columns,
            outcome=outcome,
            mcid=threshold,
            patient=patient,
            session=time,
            covariates=list(dict.fromkeys([group_by, *cox])),
        )
        km = kaplan_meier(table, by=group_by)
        cox_fit = cox_model(table, cox) if cox else None
        by_clinic = []
        if clinic:
            by_clinic = clinic_dose_effects(columns, formula, random, clinic=clinic, dose=dose, reml=reml)
    except ValueError as exc:
        fail(str(exc))
    report = RegistryReport(
        title=f"Registry report: {outcome} and IASTM {dose}",
        source_label=file.name,
        formula=formula,
        random=random,
        fit=fit,
        dose=dose,
        time=time,
        outcome=outcome,
        dose_svg=dose_response_svg(curves, time=time, dose=dose, outcome=outcome) if curves else "",
        dose_curves_note=no_curves,
        mcid=threshold,
        improvement_curves=km,
        improvement_svg=improvement_svg(km, mcid_label=f"change ≥ {threshold.value:g}"),
        cox=cox_fit,
        n_without_follow_up=table.n_without_follow_up,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        clinic_doses=by_clinic,
        clinic_dose_svg=clinic_dose_svg(by_clinic, outcome=outcome) if by_clinic else "",
    )
    out.write_text(render_report(report))
    typer.echo(json.dumps({"report": str(out), "n_obs": fit.n_obs, "converged": fit.converged}))


def register(app: typer.Typer) -> None:
    """Add the `registry` sub-command group to the `strigil` app."""
    reg = typer.Typer(
        name="registry",
        help="Registry analytics: mixed-effects dose-response, time to improvement, federated pooling.",
        no_args_is_help=True,
    )

    @reg.command("fit")
    def fit(
        file: Path | None = typer.Argument(None, help="Analysis-ready long CSV (one row per measurement)."),
        formula: str = typer.Option(
            ...,
            "--formula",
            help="Fixed effects, e.g. 'pain ~ session + session:minutes', or the whole model in lme4's "
            "syntax, 'pain ~ session + (1 + session | patient)' (then no --random).",
        ),
        random: list[str] = typer.Option(
            [], "--random", help="Random term 'terms | group'; repeat once for '1 | clinic'."
        ),
        reml: bool = typer.Option(True, "--reml/--ml", help="REML (default) or maximum likelihood."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
        from_db: bool = typer.Option(
            False, "--from-db", help="Read the analysis table from the clinic database."
        ),
        outcome: str | None = typer.Option(None, "--outcome", help="Outcome measure code (with --from-db)."),
        db_clinic: str | None = typer.Option(None, "--db-clinic", help="Only this clinic (with --from-db)."),
        timing: str = typer.Option(
            "pre", "--timing", help="Measurements taken 'pre' or 'post' IASTM (--from-db)."
        ),
    ) -> None:
        """Fit a linear mixed-effects growth model (Strigil's own solver, validated against lme4)."""
        _fit(file, formula, random, reml, as_json, from_db, outcome, db_clinic, timing)

    @reg.command("generate")
    def generate(
        out: Path = typer.Argument(..., help="CSV file to write."),
        clinics: int = typer.Option(10, "--clinics", min=1),
        patients_per_clinic: int = typer.Option(100, "--patients-per-clinic", min=1),
        sessions: int = typer.Option(
            6, "--sessions", min=2, help="Sessions per patient before missing visits."
        ),
        noise: str = typer.Option("t", "--noise", help="'t', 'skewed' or 'normal'."),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Write a synthetic registry with known true dose effects (for tests, demos and benchmarks)."""
        _generate(out, clinics, patients_per_clinic, sessions, noise, seed)

    @reg.command("site-summary")
    def site_summary(
        file: Path = typer.Argument(..., help="The clinic's long CSV (one row per measurement)."),
        formula: str | None = typer.Option(None, "--formula", help="The model (two-stage summaries)."),
        random: list[str] = typer.Option([], "--random", help="Patient term, e.g. '1 + session | patient'."),
        clinic: str | None = typer.Option(
            None, "--clinic", help="Column naming the clinic: one file per clinic."
        ),
        site: str | None = typer.Option(None, "--site", help="Name of this clinic (without --clinic)."),
        out_dir: Path = typer.Option(Path("."), "--out-dir", help="Folder for the site-*.json files."),
        counts: list[str] = typer.Option([], "--count", help="Column whose patients per value are reported."),
        reml: bool = typer.Option(True, "--reml/--ml"),
        min_patients: int = typer.Option(
            5, "--min-patients", min=5, help="Smallest group any number describes."
        ),
        exact: bool = typer.Option(False, "--exact", help="Answer a request of the exact exchange."),
        request: Path | None = typer.Option(None, "--request", help="The request file (with --exact)."),
    ) -> None:
        """Write each clinic's aggregate (estimates, covariance, counts); no patient rows, no cell under 5."""
        if exact:
            if request is None:
                fail("--request: give the request file to answer (with --exact)")
            assert request is not None
            _exact_answer(file, request, site, out_dir)
            return
        if formula is None or not random:
            fail("--formula and --random are needed for a two-stage site summary")
        assert formula is not None
        _site_summary(file, formula, random, clinic, site, out_dir, counts, reml, min_patients)

    @reg.command("pool")
    def pool(
        files: list[Path] = typer.Argument(None, help="Site summary files, or answers (with --exact)."),
        as_json: bool = typer.Option(False, "--json"),
        exact: bool = typer.Option(False, "--exact", help="Exact pooled fit by exchanging request files."),
        model: Path | None = typer.Option(None, "--model", help="The agreed model (JSON; with --exact)."),
        state: Path = typer.Option(Path("exact-pool.json"), "--state", help="Answers kept so far (--exact)."),
        expect: list[str] = typer.Option([], "--expect", help="A clinic expected to answer (repeat)."),
        out_dir: Path = typer.Option(Path("."), "--out-dir", help="Folder for request files (--exact)."),
    ) -> None:
        """Pool clinics two-stage, or (--exact) fit all their rows exactly by exchanging request files."""
        if exact:
            _exact_pool(files or [], model, state, expect, out_dir, as_json)
            return
        _pool(files or [], as_json)

    @reg.command("report")
    def report(
        file: Path = typer.Argument(..., help="Analysis-ready long CSV."),
        formula: str = typer.Option(..., "--formula"),
        random: list[str] = typer.Option(..., "--random"),
        out: Path = typer.Option(Path("registry-report.html"), "--out"),
        dose: str = typer.Option("minutes", "--dose", help="Dose column for the dose-response curves."),
        time: str = typer.Option("session", "--time", help="Time column (session number)."),
        measure: str | None = typer.Option(
            None, "--measure", help="Catalogue measure code: the bar for a meaningful change (MDC and MCID)."
        ),
        mcid: float | None = typer.Option(None, "--mcid", help="MCID value (overrides the catalogue)."),
        condition: str | None = typer.Option(
            None, "--condition", help="Condition code: the bar for its population (MDC and MCID)."
        ),
        lower_is_better: bool = typer.Option(True, "--lower-is-better/--higher-is-better"),
        by: str | None = typer.Option(None, "--by", help="Group the improvement curves by this column."),
        cox: list[str] = typer.Option([], "--cox", help="Covariate of the Cox model (repeat)."),
        reml: bool = typer.Option(True, "--reml/--ml"),
        clinic: str | None = typer.Option(
            None, "--clinic", help="Clinic column: add the dose terms per clinic and pooled."
        ),
    ) -> None:
        """Write an HTML report: dose-response, time to improvement, and what a registry cannot show."""
        _report(
            file, formula, random, reml, out, dose, time, measure, mcid, condition, lower_is_better, by, cox,
            clinic,
        )

    app.add_typer(reg, name="registry")


if __name__ == "__main__":  # `python -m strigil.cli.registry ...` runs only this area's commands
    _app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(_app)
    _app(sys.argv[1:])
