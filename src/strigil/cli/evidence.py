"""`strigil evidence list|show|summary|import|seffrin`: the IASTM study library and patient summaries.

A thin shell over `strigil.evidence`: it reads the user-study store (a CSV kept apart from the shipped
library, at --store or $STRIGIL_HOME/evidence/user_studies.csv), calls the pure core and prints the result.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import typer

from strigil.cli.toolkit import fail, fail_all, read_text

__all__ = [
    "STORE_HELP",
    "default_store",
    "register",
]

STORE_HELP = "CSV of imported studies (default: $STRIGIL_HOME/evidence/user_studies.csv)."


def default_store() -> Path:
    """Where imported studies are kept unless --store says otherwise."""
    from strigil.settings import data_home

    return data_home() / "evidence" / "user_studies.csv"


def _catalogue_codes() -> tuple[list[str], list[str]]:
    from strigil.catalog import load_catalog

    catalog = load_catalog()
    return catalog.codes("conditions"), catalog.codes("measures")


def _library(store: Path | None, no_user: bool) -> Any:
    from strigil.evidence.library import load_library
    from strigil.evidence.user_studies import UserStudyError, parse_user_studies

    library = load_library()
    path = store or default_store()
    if no_user or not path.exists():
        return library
    conditions, measures = _catalogue_codes()
    try:
        user = parse_user_studies(
            read_text(path, "--store", kind="CSV file of studies"), conditions, measures, set(library.studies)
        )
    except UserStudyError as exc:
        fail(f"the study store {path} is invalid: {exc}")
    return library.merged(user.studies, user.comparisons)


def _condition(code: str) -> Any:
    from strigil.catalog import UnknownCode
    from strigil.evidence.patient_summary import condition_info

    try:
        return condition_info(code)
    except UnknownCode as exc:
        fail(f"--condition: {exc}")


def _text_summary(data: dict[str, Any]) -> str:
    numbers = {src["id"]: i for i, src in enumerate(data["sources"], 1)}
    lines = [f"IASTM and {data['plain_name']}  (reading grade {data['reading_grade']:.1f})", ""]
    for sec in data["sections"]:
        lines.append(sec["heading"].upper())
        for s in sec["sentences"]:
            refs = "".join(f"[{numbers[src]}]" for src in s["sources"])
            lines.append(f"  {s['text']} {refs}".rstrip())
        lines.append("")
    lines.append("SOURCES")
    for i, src in enumerate(data["sources"], 1):
        address = f" — {src['source']}" if src["source"] else ""
        label = " (practitioner opinion)" if src["practitioner_opinion"] else ""
        lines.append(f"  [{i}] {src['citation']}{address}{label}")
    if data["outcomes"]:  # the statistics stay out of the patient's reading, in a block of their own
        lines += ["", "FOR CLINICIANS: THE NUMBERS BEHIND THIS SUMMARY"]
        lines.append(
            "  (MD mean difference, SMD standardised mean difference, IASTM minus comparison, with the 95 % "
            "confidence interval; k trials, n people)"
        )
        for o in data["outcomes"]:
            lines.append(
                f"  {o['label']}: {o['measure']} {o['effect']:.2f} ({o['ci'][0]:.2f} to {o['ci'][1]:.2f}) "
                f"k={o['k']} n={o['n']} certainty={o['certainty']}"
            )
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add the `evidence` commands to the `strigil` app."""
    evidence = typer.Typer(
        name="evidence",
        help="The IASTM study library, GRADE certainty and patient summaries.",
        no_args_is_help=True,
    )

    @evidence.command("list")
    def list_studies(
        as_json: bool = typer.Option(False, "--json", help="Print a JSON list of study objects."),
        condition: str | None = typer.Option(
            None, "--condition", help="Only studies of this condition code."
        ),
        store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
        no_user: bool = typer.Option(False, "--no-user", help="Leave imported studies out."),
        as_html: bool = typer.Option(False, "--html", help="Print the library as a printable HTML table."),
    ) -> None:
        """List the studies (reviews, trials, background articles) in the library."""
        from strigil.evidence.render import render_library_html, study_json

        if as_json and as_html:
            fail("--json and --html: choose one output format")
        library = _library(store, no_user)
        if as_html:
            typer.echo(render_library_html(library))
            return
        if condition is not None:
            _condition(condition)
        studies = [s for s in library.studies.values() if condition is None or s.condition == condition]
        if as_json:
            typer.echo(json.dumps([study_json(s) for s in studies], indent=2, ensure_ascii=False))
            return
        for s in studies:
            typer.echo(f"{s.id:<18} {s.design:<32} {s.condition or '-':<28} {s.citation[:70]}")

    @evidence.command("show")
    def show(
        study_id: str = typer.Argument(..., help="A study id (see `strigil evidence list`)."),
        as_json: bool = typer.Option(False, "--json", help="Print the full record as JSON."),
        store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
    ) -> None:
        """Show one study: citation, design, arms, TIDieR dose, printed rows, flags, comparisons."""
        from strigil.evidence.render import study_json

        library = _library(store, False)
        if study_id not in library.studies:
            fail(f"study id {study_id!r} is not in the library; `strigil evidence list` shows the ids")
        data = study_json(library.studies[study_id], library, full=True)
        if as_json:
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        for key in (
            "id",
            "citation",
            "year",
            "design",
            "condition",
            "condition_note",
            "population",
            "source",
            "pedro",
            "notes",
        ):
            if data.get(key) not in (None, ""):
                typer.echo(f"{key:>15}: {data[key]}")
        for arm in data["arms"]:
            typer.echo(f"{'arm':>15}: {arm['label']} (n={arm['n'] if arm['n'] is not None else '?'})")
        if data["dose_tidier"]:
            dose = {k: v for k, v in data["dose_tidier"].items() if v not in ("", [], None)}
            typer.echo(f"{'dose (TIDieR)':>15}: {dose}")
        for row in data["printed_rows"]:
            typer.echo(
                f"{'row ' + str(row['row']):>15}: {row['outcome']} | {row['measure']} | "
                f"{row['n_t']} {row['mean_t']} {row['sd_t']} | {row['n_c']} {row['mean_c']} {row['sd_c']} | "
                f"{row['yi']} ({row['ci_low']}, {row['ci_high']})"
            )
        for flag in data["flags"]:
            typer.echo(f"{'FLAG':>15}: {flag['printed']} — {flag['explanation']}")

    @evidence.command("summary")
    def summary(
        condition: str = typer.Option(..., "--condition", help="A condition code of the clinical catalogue."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        as_html: bool = typer.Option(
            False, "--html", help="Print the patient page: printable, self-contained HTML in plain words."
        ),
        clinician: bool = typer.Option(
            False, "--clinician", help="Print the clinician page: the numbers, GRADE reasons, every source."
        ),
        store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
        no_user: bool = typer.Option(False, "--no-user", help="Leave imported studies out."),
    ) -> None:
        """The plain-language patient summary of one condition, with pooled numbers and GRADE certainty."""
        from strigil.evidence.patient_summary import build_summary
        from strigil.evidence.render import render_clinician_html, render_html, summary_json

        if sum((as_json, as_html, clinician)) > 1:
            fail("--json, --html and --clinician: choose one output format")
        info = _condition(condition)
        library = _library(store, no_user)
        result = build_summary(info, library)
        if as_html:
            typer.echo(render_html(result, library))
        elif clinician:
            typer.echo(render_clinician_html(result, library))
        elif as_json:
            typer.echo(json.dumps(summary_json(result, library), indent=2, ensure_ascii=False))
        else:
            typer.echo(_text_summary(summary_json(result, library)))

    @evidence.command("import")
    def import_studies(
        file: Path = typer.Argument(..., help="CSV of studies to add (one row per comparison)."),
        store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
        dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; write nothing."),
        as_json: bool = typer.Option(False, "--json", help="Print the report of what changed as JSON."),
    ) -> None:
        """Add a CSV of further studies to the study store and report what changed.

        The report lists, per condition, the pooled estimates, GRADE ratings and patient-summary sentences
        that the new studies change, from what to what (with --dry-run: what they would change).
        """
        from strigil.evidence.changes import compare_libraries
        from strigil.evidence.library import load_library
        from strigil.evidence.patient_summary import condition_codes, condition_info
        from strigil.evidence.user_studies import OPTIONAL, REQUIRED, UserStudyError, parse_user_studies

        new_text = read_text(file, kind="CSV file of studies")
        shipped = set(load_library().studies)
        conditions, measures = _catalogue_codes()
        try:
            new = parse_user_studies(new_text, conditions, measures, shipped)
        except UserStudyError as exc:
            problems = [f"{file}: {line}" for line in exc.errors]
            fail_all([*problems, f"nothing imported ({len(exc.errors)} problem(s))"])
        path = store or default_store()
        old_rows = (
            list(csv.DictReader(io.StringIO(read_text(path, "--store", kind="CSV file of studies"))))
            if path.exists()
            else []
        )
        clash = sorted({r["id"] for r in old_rows} & {s.id for s in new.studies})
        if clash:
            fail(f"study id(s) {', '.join(clash)} already in {path}; nothing imported")
        rows = old_rows + list(csv.DictReader(io.StringIO(new_text)))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(REQUIRED + OPTIONAL), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k.strip(): (v or "").strip() for k, v in r.items() if k} for r in rows)
        whole = parse_user_studies(out.getvalue(), conditions, measures, shipped)  # the store must stay valid
        before = _library(path, False)
        after = load_library().merged(whole.studies, whole.comparisons)
        touched = {s.condition for s in new.studies if s.condition}
        infos = [condition_info(c) for c in condition_codes() if c in touched]
        report = compare_libraries(before, after, infos)
        names = ", ".join(s.id for s in new.studies)

        def show_report() -> None:
            if as_json:
                typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
            else:
                for line in report.lines():
                    typer.echo(line)

        if dry_run:
            typer.echo(
                f"valid: {len(new.studies)} study(ies), {len(new.comparisons)} comparison(s): {names}",
                err=as_json,
            )
            show_report()
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".user_studies.", suffix=".csv")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(out.getvalue())
        os.replace(tmp, path)  # atomic: the store is either the old file or the new one
        typer.echo(
            f"imported {len(new.studies)} study(ies), {len(new.comparisons)} comparison(s) "
            f"into {path}: {names}",
            err=as_json,
        )
        show_report()

    @evidence.command("effects")
    def effects(
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        store: Path | None = typer.Option(None, "--store", help=STORE_HELP),
        no_user: bool = typer.Option(False, "--no-user", help="Leave imported studies out."),
    ) -> None:
        """Between-group effect sizes (MD, SMD with 95% CI; IASTM minus comparison) for every comparison."""
        from strigil.evidence.effect_sizes import study_effects
        from strigil.evidence.render import effect_json

        rows = [effect_json(e) for e in study_effects(_library(store, no_user))]
        if as_json:
            typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        for r in rows:
            if not r["usable"]:
                typer.echo(f"{r['study']:<14} {r['outcome']:<26} not usable: {r['reason']}")
                continue
            smd = (
                f"SMD {r['SMD']:.2f} ({r['SMD_ci'][0]:.2f}, {r['SMD_ci'][1]:.2f})"
                if r["SMD"] is not None
                else ""
            )
            typer.echo(
                f"{r['study']:<14} {r['outcome']:<26} n={r['n']} MD {r['MD']:.2f} "
                f"({r['MD_ci'][0]:.2f}, {r['MD_ci'][1]:.2f}) {r['unit']}  {smd}"
            )

    @evidence.command("seffrin")
    def seffrin(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Re-derive Seffrin 2019 Table 3 intervals: tested rows, inferred sizes, printed errors."""
        from strigil.evidence.library import load_library
        from strigil.evidence.seffrin import seffrin_checks

        checks = seffrin_checks(load_library())
        rows: list[dict[str, Any]] = [
            {
                "row": c.row,
                "study": c.study,
                "arm": c.arm,
                "outcome": c.outcome,
                "d": c.d,
                "ci": list(c.ci),
                "n": c.n,
                "status": c.status,
                "recomputed": list(c.recomputed) if c.recomputed else None,
                "max_error": c.max_error,
                "why": c.why,
            }
            for c in checks
        ]
        if as_json:
            typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        for r in rows:
            err = f"{r['max_error']:.3f}" if r["max_error"] is not None else "-"
            typer.echo(
                f"row {r['row']:>2} {r['study']:<14} {r['outcome']:<14} d={r['d']:>5} "
                f"({r['ci'][0]}, {r['ci'][1]}) n={r['n'] or '?':<3} {r['status']:<14} max|Δ|={err}"
            )

    app.add_typer(evidence, name="evidence")

    from strigil.cli import register_schema

    register_schema("evidence-import", _import_row_schema)


def _import_row_schema() -> dict[str, Any]:
    from strigil.evidence.user_studies import row_schema

    return row_schema()
