"""`strigil registry ...`: practice-based evidence from the clinic registry (issue 7).

Thin shell: reads CSV files (pyarrow) and writes JSON/HTML/CSV; the models live in `strigil.registry`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from strigil.registry.design import Column

__all__ = ["read_columns", "register"]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def read_columns(path: Path, names: list[str] | None = None) -> dict[str, Column]:
    """Read a CSV file into numpy columns: numbers as float (missing = NaN), text as codes + levels."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from strigil.registry.design import Coded

    if not path.is_file():
        _fail(f"FILE={str(path)!r}: no such file")
    convert = pacsv.ConvertOptions(include_columns=names) if names else pacsv.ConvertOptions()
    try:
        table = pacsv.read_csv(path, convert_options=convert)
    except (pa.ArrowInvalid, KeyError) as exc:
        _fail(f"FILE={str(path)!r}: cannot read it as CSV with the columns {names}: {exc}")
    out: dict[str, Column] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type):
            out[name] = col.cast(pa.float64()).to_numpy()
        elif pa.types.is_null(col.type):
            out[name] = np.full(len(col), np.nan)
        else:
            enc = pc.dictionary_encode(col.cast(pa.string())).combine_chunks()
            codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.intp)
            out[name] = Coded(codes=codes, levels=np.asarray(enc.dictionary.to_pylist(), dtype=object))
    return out


def _fit(
    file: Path | None,
    formula: str,
    random: list[str],
    reml: bool,
    as_json: bool,
    from_db: bool,
    outcome: str | None,
) -> None:
    from strigil.registry.growth_model import fit_growth_model, needed_columns

    try:
        names = needed_columns(formula, random)
    except ValueError as exc:
        _fail(str(exc))
    if from_db:
        columns = _columns_from_db(outcome)
    else:
        if file is None:
            _fail("FILE: give a CSV file, or --from-db --outcome MEASURE")
        assert file is not None
        columns = read_columns(file, names)
    try:
        fit = fit_growth_model(columns, formula, random, reml=reml)
    except ValueError as exc:
        _fail(str(exc))
    out = fit.to_contract()
    if as_json:
        typer.echo(json.dumps(out))
        return
    _print_fit(out)


def _print_fit(out: dict[str, Any]) -> None:
    crit = out["criterion"]
    typer.echo(f"Linear mixed model fit by {crit}; n_obs = {out['n_obs']}; groups: {out['n_groups']}")
    typer.echo(f"{crit} criterion (-2 log-likelihood): {out['objective']:.4f}; converged: {out['converged']}")
    typer.echo("Fixed effects:")
    for name, est in out["fixed"].items():
        typer.echo(f"  {name:<28} {est: .6g}  (SE {out['se'][name]:.4g})")
    typer.echo("Random effects (SD):")
    for group, sds in out["random_sd"].items():
        for term, sd in sds.items():
            typer.echo(f"  {group:<10} {term:<16} {sd:.4g}")
        for pair, r in out["random_corr"][group].items():
            typer.echo(f"  {group:<10} corr {pair:<11} {r:.3f}")
    typer.echo(f"  residual SD {out['sigma']:.4g}")


def _columns_from_db(outcome: str | None) -> dict[str, Column]:
    _fail("--from-db: the clinic database export (strigil.store) is not available yet; use a CSV file")
    raise AssertionError  # unreachable: _fail exits


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
        _fail(str(exc))
    table = pa.table({k: pa.array(np.asarray(v)) for k, v in reg.columns.items()})
    pacsv.write_csv(table, out)
    typer.echo(
        json.dumps(
            {"file": str(out), "rows": reg.n_rows, "formula": reg.formula, "truth": reg.truth.fixed_effects()}
        )
    )


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
            ..., "--formula", help="Fixed effects, e.g. 'pain ~ session + session:minutes'."
        ),
        random: list[str] = typer.Option(
            ..., "--random", help="Random term 'terms | group'; repeat once for '1 | clinic'."
        ),
        reml: bool = typer.Option(True, "--reml/--ml", help="REML (default) or maximum likelihood."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
        from_db: bool = typer.Option(
            False, "--from-db", help="Read the analysis table from the clinic database."
        ),
        outcome: str | None = typer.Option(None, "--outcome", help="Outcome measure code (with --from-db)."),
    ) -> None:
        """Fit a linear mixed-effects growth model (Strigil's own solver, validated against lme4)."""
        _fit(file, formula, random, reml, as_json, from_db, outcome)

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

    app.add_typer(reg, name="registry")


if __name__ == "__main__":  # `python -m strigil.cli.registry ...` runs only this area's commands
    _app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(_app)
    _app(sys.argv[1:])
