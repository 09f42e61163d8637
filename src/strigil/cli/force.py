"""`strigil force …`: measured dose from force-plate and instrumented-tool recordings (thin shell).

Files are read and analysed by `strigil.services.force_recordings` (the same path the force web page
takes); the method lives in `strigil.force`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from strigil.cli.toolkit import JsonOpt, errors, fail, new_file, print_json

if TYPE_CHECKING:
    from strigil.force.feedback import Feedback
    from strigil.services.force_recordings import Columns, Units

__all__ = [
    "analyse_command",
    "force_app",
    "ranges_command",
    "register",
    "reliability_command",
    "settings_command",
    "simulate_command",
]

force_app = typer.Typer(
    name="force",
    help="Measured dose from force recordings: strokes, per-stroke force, reliability, training feedback.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `force` sub-commands to the `strigil` app."""
    app.add_typer(force_app, name="force")


_UnitOpt = Annotated[
    str | None,
    typer.Option(
        "--unit", help="Force unit when the header does not say (N, mN, kN, gf, kgf, lbf); never guessed."
    ),
]
_TimeUnitOpt = Annotated[
    str | None, typer.Option("--time-unit", help="Time unit when the header does not say (s, ms, us, min).")
]
_AngleUnitOpt = Annotated[
    str | None, typer.Option("--angle-unit", help="Tool-angle unit when the header does not say (deg, rad).")
]
_SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="A setting as NAME=VALUE (repeatable); `strigil force settings` lists them."),
]
_ColumnOpt = Annotated[str | None, typer.Option(help="Column name, when it is not found by its name.")]


def _columns(
    time: str | None, normal: str | None, sx: str | None, sy: str | None, angle: str | None
) -> Columns:
    from strigil.services.force_recordings import Columns

    return Columns(time=time, normal=normal, shear_x=sx, shear_y=sy, tool_angle=angle)


def _units(force: str | None, time: str | None, angle: str | None) -> Units:
    from strigil.services.force_recordings import Units

    return Units(force=force, time=time, angle=angle)


def _band(text: str | None) -> tuple[float | None, float | None]:
    if text is None:
        return None, None
    low, sep, high = text.partition(":")
    try:
        if sep:
            return float(low), float(high)
    except ValueError:
        pass
    fail(f"--target {text!r}: write LOW:HIGH in newtons, e.g. 6:9")


def _print_feedback(feedback: Feedback) -> None:
    typer.echo("")
    typer.echo(f"Target: {feedback.target.basis}")
    typer.echo(feedback.summary)
    typer.echo("")
    typer.echo("Published forces, for context only (not a target):")
    for study in feedback.context:
        figures = "; ".join(f.text for f in study.figures)
        typer.echo(f"- {study.label} ({study.setting}): {figures}")
        typer.echo(f"  {study.citation}{' ' + study.url if study.url else ''}")
    typer.echo(f"Note: {feedback.warning}")


def _write_strokes(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        if not rows:
            handle.write("stroke\n")
            return
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@force_app.command("analyse")
def analyse_command(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet recording: time and normal force columns.")],
    unit: _UnitOpt = None,
    time_unit: _TimeUnitOpt = None,
    angle_unit: _AngleUnitOpt = None,
    time_column: _ColumnOpt = None,
    normal_column: _ColumnOpt = None,
    shear_x_column: _ColumnOpt = None,
    shear_y_column: _ColumnOpt = None,
    angle_column: _ColumnOpt = None,
    setting: _SetOpt = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Your target band LOW:HIGH in newtons, e.g. 6:9.")
    ] = None,
    target_around: Annotated[
        float | None, typer.Option("--target-around", help="Your target force (N), with --tolerance.")
    ] = None,
    tolerance: Annotated[
        float | None, typer.Option("--tolerance", help="Half-width of the band in percent (default 15).")
    ] = None,
    earlier: Annotated[
        list[Path] | None,
        typer.Option("--earlier", help="Your earlier recording(s): the target is their average ± tolerance."),
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Judge strokes by 'peak' or 'mean' force.")
    ] = "peak",
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the force trace (.svg, .png, .pdf).")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the per-stroke chart (.svg, .png, .pdf).")
    ] = None,
    strokes: Annotated[Path | None, typer.Option("--strokes", help="Write one CSV row per stroke.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the strokes of a recording and their dose; compare them with your target if you give one."""
    from strigil.force.plots import stroke_chart, trace_plot
    from strigil.force.settings import settings_from_pairs
    from strigil.services.force_recordings import analyse_recording, choose_target

    for path, option in ((plot, "--plot"), (chart, "--chart"), (strokes, "--strokes")):
        if path is not None:
            new_file(path, option)
    columns = _columns(time_column, normal_column, shear_x_column, shear_y_column, angle_column)
    units = _units(unit, time_unit, angle_unit)
    with errors():
        chosen = settings_from_pairs(setting or [])
        previous = [
            analyse_recording(p, columns=columns, units=units, settings=chosen) for p in earlier or []
        ]
        low, high = _band(target)
        goal = choose_target(
            metric,
            low_n=low,
            high_n=high,
            around_n=target_around,
            tolerance_pct=tolerance,
            earlier=[p.analysis for p in previous],
        )
        result = analyse_recording(file, columns=columns, units=units, settings=chosen, target=goal)
    if plot:
        trace_plot(result.analysis, goal).save(plot)
    if chart:
        stroke_chart(result.analysis, goal).save(chart)
    if strokes:
        _write_strokes(strokes, result.analysis.strokes.to_json())
    if as_json:
        print_json(result.to_json())
        return
    typer.echo(result.analysis.summary())
    for s in result.analysis.sets if len(result.analysis.sets) > 1 else ():
        cv = "" if s.peak_cv_pct is None else f", CV {s.peak_cv_pct:.0f} %"
        typer.echo(f"  {s.scope}: {s.n_strokes} strokes, peak {s.peak_n:.2f} N{cv}, mean {s.mean_n:.2f} N")
    if result.feedback is not None:
        _print_feedback(result.feedback)
    summary = result.to_json()["measured_force"]
    if summary is not None:
        typer.echo("")
        typer.echo("For the record (a dose step's measured_force, beside force_n):")
        typer.echo(json.dumps(summary, ensure_ascii=False))


@force_app.command("reliability")
def reliability_command(
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet: one row per subject, one column per session.")
    ],
    id_column: Annotated[
        str | None, typer.Option("--id", help="Column naming the subject (left out of the scores).")
    ] = None,
    level: Annotated[float, typer.Option("--level", help="Confidence level of the intervals.")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """ICC(2,1), ICC(3,1) and the other ICCs with intervals, SEM and Bland–Altman of repeated sessions."""
    from strigil.services.force_recordings import reliability_of_table

    if not 0.5 <= level < 1:
        fail(f"--level {level:g}: allowed from 0.5 to below 1")
    with errors():
        result = reliability_of_table(file, id_column=id_column, level=level)
    if as_json:
        print_json(result.to_json())
    else:
        typer.echo(result.summary())


@force_app.command("simulate")
def simulate_command(
    output: Annotated[
        Path, typer.Argument(help="CSV (or .parquet) file to write: 'time \\[s]', 'normal \\[N]'.")
    ],
    seed: Annotated[int, typer.Option(help="Seed of the random generator.")] = 0,
    strokes: Annotated[int, typer.Option(help="Number of strokes.")] = 20,
    sets: Annotated[int, typer.Option(help="Number of sets (separated by 20 s rests).")] = 1,
    rate: Annotated[float, typer.Option(help="Sampling rate (Hz).")] = 1000.0,
    noise: Annotated[float, typer.Option(help="White noise SD (N).")] = 0.1,
    drift: Annotated[float, typer.Option(help="Linear drift (N per minute).")] = 0.5,
    hum: Annotated[float, typer.Option(help="Mains hum amplitude (N).")] = 0.2,
    hum_hz: Annotated[float, typer.Option(help="Mains frequency (Hz).")] = 50.0,
    offset: Annotated[float, typer.Option(help="Sensor offset, the tare (N).")] = 2.0,
    overlap: Annotated[float, typer.Option(help="Fraction of strokes overlapping the previous one.")] = 0.0,
    truth: Annotated[Path | None, typer.Option(help="Also write the true strokes as JSON.")] = None,
) -> None:
    """Write a synthetic recording with known strokes (for trying the analysis; says what it holds)."""
    import numpy as np

    from strigil.force.synthetic import SyntheticSpec, generate_recording

    new_file(output, "OUTPUT")
    if truth:
        new_file(truth, "--truth")
    try:
        spec = SyntheticSpec(
            sampling_hz=rate, n_strokes=strokes, n_sets=sets, noise_sd_n=noise, drift_n_per_min=drift,
            hum_n=hum, hum_hz=hum_hz, offset_n=offset, overlap=overlap,
        )  # fmt: skip
        made = generate_recording(spec, seed)
    except ValueError as exc:
        fail(str(exc))
    rec = made.recording
    if output.suffix.lower() in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        fields = [
            pa.field("time", pa.float64(), metadata={"unit": "s"}),
            pa.field("normal", pa.float64(), metadata={"unit": "N"}),
        ]
        pq.write_table(pa.table([rec.time_s, rec.normal_n], schema=pa.schema(fields)), output)
    else:
        np.savetxt(output, np.column_stack([rec.time_s, rec.normal_n]), delimiter=",", fmt="%.6f",
                   header="time [s],normal [N]", comments="")  # fmt: skip
    if truth:
        t = made.truth
        doc = {
            "spec": spec.describe(),
            "seed": seed,
            "strokes": [
                {"onset_s": a, "offset_s": b, "peak_n": p, "mean_n": m}
                for a, b, p, m in zip(
                    t.onset_s.tolist(), t.offset_s.tolist(), t.peak_n.tolist(), t.mean_n.tolist(), strict=True
                )
            ],
        }
        truth.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    typer.echo(f"wrote {output}: {spec.describe()}")


@force_app.command("settings")
def settings_command(as_json: JsonOpt = False) -> None:
    """List every analysis setting: default, unit and meaning (each a configurable heuristic)."""
    from strigil.force.settings import describe_settings

    rows = describe_settings()
    if as_json:
        print_json(rows)
        return
    for row in rows:
        value = row["default"]
        if isinstance(value, list):
            shown = ", ".join(f"{v:g}" for v in value) or "none"
        elif isinstance(value, float):
            shown = f"{value:g}"
        else:
            shown = str(value)
        typer.echo(f"{row['name']} = {shown} {row['unit']}".rstrip())
        typer.echo(f"    {row['meaning']} ({row['basis']})")


@force_app.command("ranges")
def ranges_command(as_json: JsonOpt = False) -> None:
    """Published IASTM forces with their sources: context for your own strokes, not a correct dose."""
    from strigil.force.published import published_studies, simulant_warning

    studies = published_studies()
    if as_json:
        print_json({"warning": simulant_warning(), "studies": [s.to_json() for s in studies]})
        return
    for study in studies:
        typer.echo(f"{study.label} — {study.setting}; {study.sample}")
        for figure in study.figures:
            typer.echo(f"  {figure.text}")
        typer.echo(f"  {study.finding}")
        typer.echo(f"  {study.citation}{' ' + study.url if study.url else ''}")
    typer.echo(f"Note: {simulant_warning()}")
