"""Episodes of care: `strigil episode open|amend-plan|close|discharge|summary|reopen|void|show|tidier`; an
episode as rich tables (`print_episode`)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from strigil.cli.toolkit import (
    DEFAULT_CLINIC,
    ID_HELP,
    ClinicOpt,
    audited,
    cli_actor,
    clinic_id,
    only_clinic,
    parse_date,
    print_json,
    record_id,
    unit_of_work,
)

if TYPE_CHECKING:
    from strigil.services.discharge import DischargeSummary
    from strigil.services.views import EpisodeView

_REFERRER_HELP = "The referring clinician (the discharge letter's addressee)."
_REASONS_HELP = (
    "Why the episode ends: goals_met, plateau, referred_on, patients_choice, lost_to_follow_up, other "
    "(other needs --text)."
)

__all__ = [
    "episode_amend_plan",
    "episode_app",
    "episode_close",
    "episode_discharge",
    "episode_open",
    "episode_reopen",
    "episode_show",
    "episode_summary",
    "episode_tidier",
    "episode_void",
    "print_episode",
    "print_summary",
    "register",
]

episode_app = typer.Typer(
    help="Episodes of care: open, amend the plan, discharge (close) and its summary, reopen, void, show, "
    "tidier.",
    no_args_is_help=True,
)


@episode_app.command("open")
def episode_open(
    patient: Annotated[str, typer.Option(help="Patient code.")],
    condition: Annotated[str, typer.Option(help="Condition code (catalogue).")],
    region: Annotated[str, typer.Option(help="Body region code (catalogue).")],
    side: Annotated[str, typer.Option(help="left, right, bilateral or midline.")],
    tissue: Annotated[
        str,
        typer.Option(help="Target tissue: tendon, fascia, muscle, ligament, nerve, joint, scar or mixed."),
    ],
    onset: Annotated[str, typer.Option(help="Onset date YYYY-MM-DD.")],
    opened: Annotated[str, typer.Option(help="Opening date YYYY-MM-DD.")],
    care: Annotated[
        list[str] | None, typer.Option(help="Planned co-intervention (repeatable), e.g. strengthening.")
    ] = None,
    goal: Annotated[list[str] | None, typer.Option(help="Goal (repeatable).")] = None,
    consent_date: Annotated[
        str | None, typer.Option("--consent-date", help="Date of informed consent.")
    ] = None,
    explained: Annotated[
        list[str] | None,
        typer.Option(
            help="What consent explained (repeatable), as choices: a risk (bruising, petechiae, soreness, "
            "skin_irritation, pain_flare, numbness_tingling), alternatives, exercise_programme, "
            "limited_evidence."
        ),
    ] = None,
    consent_note: Annotated[
        str | None, typer.Option("--consent-note", help="Anything else consent explained, in words.")
    ] = None,
    no_iastm: Annotated[bool, typer.Option("--no-iastm", help="No IASTM is planned.")] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why IASTM without an active exercise component.")
    ] = None,
    by: Annotated[str, typer.Option(help="Who opens the episode.")] = "",
    referrer: Annotated[str | None, typer.Option(help=_REFERRER_HELP)] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Open an episode of care (IASTM needs an active exercise component, or a recorded reason)."""
    from strigil.services.episodes import open_episode

    plan: dict[str, Any] = {
        "condition": condition,
        "region": region,
        "side": side,
        "target_tissue": tissue,
        "onset_date": onset,
        "opened_on": opened,
        "goals": goal or [],
        "planned_iastm": not no_iastm,
        "planned_co_interventions": care or [],
        "exercise_first_reason": reason,
        "consent": {"given_on": consent_date, "explained": explained or [], "note": consent_note}
        if consent_date
        else None,
    }
    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        view = open_episode(s, cid, patient, plan, by=by, referrer=referrer)
        audited(s, cid, "create", "episode", view.id, patient_id=view.patient_id)
    typer.echo(
        f"episode {view.public_id} opened for {view.patient_code} ({view.phase} phase at opening; cut-offs: "
        "configurable heuristic)"
    )


@episode_app.command("amend-plan")
def episode_amend_plan(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    reason: Annotated[str, typer.Option(help="Why the plan changes (at least 3 words and 15 characters).")],
    by: Annotated[str, typer.Option(help="Who amends the plan.")],
    iastm: Annotated[
        bool | None, typer.Option("--iastm/--no-iastm", help="Whether IASTM is planned (default: as now).")
    ] = None,
    care: Annotated[
        list[str] | None,
        typer.Option(help="Planned co-intervention (repeatable); replaces the list when given."),
    ] = None,
    exercise_first_reason: Annotated[
        str | None,
        typer.Option("--exercise-first-reason", help="Why IASTM without an active exercise component."),
    ] = None,
    consent_date: Annotated[
        str | None, typer.Option("--consent-date", help="Date of a new informed consent.")
    ] = None,
    explained: Annotated[
        list[str] | None, typer.Option(help="What the new consent explained (repeatable choices).")
    ] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Amend the plan of care (e.g. add IASTM with its consent); the earlier plan is kept with the reason."""
    from strigil.services.episodes import amend_plan, show_episode

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        now = show_episode(s, cid, episode_id)
        view = amend_plan(
            s,
            cid,
            episode_id,
            planned_iastm=now.planned_iastm if iastm is None else iastm,
            co_interventions=list(now.planned_co_interventions) if care is None else care,
            exercise_first_reason=exercise_first_reason,
            consent={"given_on": consent_date, "explained": explained or []} if consent_date else None,
            reason=reason,
            by=by,
        )
        audited(s, cid, "update", "episode", view.id, patient_id=view.patient_id, detail="plan amended")
    typer.echo(f"episode {view.public_id}: plan amended (now version {view.version}); {_planned_care(view)}")


@episode_app.command("close")
def episode_close(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    on: Annotated[str, typer.Option(help="Closing date YYYY-MM-DD.")],
    reason: Annotated[str, typer.Option(help=_REASONS_HELP + " Other words are kept as the text of other.")],
    text: Annotated[str | None, typer.Option(help="The reason in words.")] = None,
    referrer: Annotated[str | None, typer.Option(help=_REFERRER_HELP)] = None,
    by: Annotated[str, typer.Option(help="Who discharges.")] = "",
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Close (discharge) an episode of care with a coded reason."""
    summary, _ = _discharge(episode, on, reason, text, referrer, by, clinic)
    typer.echo(f"episode {summary.episode.public_id} closed: {summary.reason_text}")


def _discharge(
    episode: str, on: str, reason: str, text: str | None, referrer: str | None, by: str, clinic: str | None
) -> tuple[Any, dict[str, Any]]:
    """Discharge in one transaction (`episode close` and `episode discharge` are the same action); the
    summary and its JSON."""
    from strigil.services.discharge import discharge_episode

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        summary = discharge_episode(
            s,
            cid,
            episode_id,
            on=parse_date(on, "on"),
            reason=reason,
            text=text,
            referrer=referrer,
            actor=cli_actor(s, cid, "clinician", by=by),
        )
        return summary, summary.to_json(s)


@episode_app.command("discharge")
def episode_discharge(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    on: Annotated[str, typer.Option(help="Discharge date YYYY-MM-DD.")],
    reason: Annotated[str, typer.Option(help=_REASONS_HELP)],
    by: Annotated[str, typer.Option(help="Who discharges.")],
    text: Annotated[str | None, typer.Option(help="The reason in words (required for other).")] = None,
    referrer: Annotated[str | None, typer.Option(help=_REFERRER_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the discharge summary as JSON.")] = False,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Discharge an episode with a coded reason and print its discharge summary."""
    summary, as_text = _discharge(episode, on, reason, text, referrer, by, clinic)
    if as_json:
        print_json(as_text)
    else:
        print_summary(summary)


@episode_app.command("summary")
def episode_summary(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """The discharge summary (so far, while the episode is open): sessions, IASTM dose per area, change per
    measure against its bar, adverse responses and their course, the reason."""
    from strigil.services import audit
    from strigil.services.discharge import discharge_summary

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        summary = discharge_summary(s, cid, episode_id)
        audit.record(
            s, cli_actor(s, cid), "read", "episode", episode_id, patient_id=summary.episode.patient_id,
            detail="discharge summary",
        )
        as_text = summary.to_json(s)
    if as_json:
        print_json(as_text)
    else:
        print_summary(summary)


@episode_app.command("reopen")
def episode_reopen(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    reason: Annotated[str, typer.Option(help="Why it is reopened (at least 3 words and 15 characters).")],
    by: Annotated[str, typer.Option(help="Who reopens it.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Reopen a discharged episode; the discharge is kept as an earlier version with the reason."""
    from strigil.services.discharge import reopen_episode

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        reopen_episode(s, cid, episode_id, reason=reason, actor=cli_actor(s, cid, "clinician", by=by))
    typer.echo(f"episode {episode} reopened")


@episode_app.command("void")
def episode_void(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    reason: Annotated[str, typer.Option(help="Why it is void (at least 3 words and 15 characters).")],
    by: Annotated[str, typer.Option(help="Who voids it.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Mark an episode opened by mistake void: kept, takes no sessions, left out of analyses and exports."""
    from strigil.services.void import void_episode

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        void_episode(s, cid, episode_id, reason=reason, actor=cli_actor(s, cid, "clinician", by=by))
    typer.echo(f"episode {episode} is void: {reason}")


def print_summary(summary: DischargeSummary) -> None:
    """A discharge summary as text."""
    e = summary.episode
    typer.echo(f"{summary.clinic} — discharge summary: patient {e.patient_code}, episode {e.public_id}")
    if summary.closed_on:
        typer.echo(f"discharged {summary.closed_on}: {summary.reason} — {summary.reason_text}")
    else:
        typer.echo("open: the summary so far")
    if summary.referrer:
        typer.echo(f"referrer: {summary.referrer}")
    span = f" ({summary.first_session_on} to {summary.last_session_on})" if summary.first_session_on else ""
    typer.echo(f"sessions: {summary.sessions}{span}")
    for d in summary.dose:
        strokes = f", {d.strokes} strokes recorded" if d.strokes is not None else ""
        where = f"{d.region} ({d.side})"
        typer.echo(f"  dose {where}: {d.seconds} s over {d.steps} steps in {d.sessions} sessions{strokes}")
    for c in summary.changes:
        typer.echo(
            f"  {c.name}: {c.first:g} → {c.last:g} ({c.change:+g} {c.unit}, + = better): {c.verdict}; "
            f"bar {c.bar_note}"
        )
    for a in summary.adverse:
        typer.echo(f"  adverse: {a.text}")
    if not summary.adverse:
        typer.echo("  adverse: none recorded")


@episode_app.command("show")
def episode_show(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Show an episode with its sessions and progress."""
    from strigil.services.episodes import show_episode
    from strigil.services.progress import latest_recommendation
    from strigil.services.record_ids import outward

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        view = show_episode(s, cid, episode_id)
        audited(s, cid, "read", "episode", view.id, patient_id=view.patient_id)
        as_text = outward(s, view) if as_json else None
    if as_text is not None:
        as_text["recommendation"] = latest_recommendation(view)  # the judgement now, as the API gives it
        typer.echo(json.dumps(as_text, default=str, indent=2))
    else:
        print_episode(view)


@episode_app.command("tidier")
def episode_tidier(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Describe the episode's IASTM as the 12 TIDieR items (Hoffmann et al. BMJ 2014)."""
    from dataclasses import asdict

    from strigil.clinical.tidier import render_tidier
    from strigil.services.clinics import get_clinic
    from strigil.services.episodes import show_episode

    with unit_of_work() as s:
        c = get_clinic(s, only_clinic(s, clinic))
        view = show_episode(s, c.id, record_id(s, c.id, "episode", episode))
        audited(s, c.id, "read", "episode", view.id, patient_id=view.patient_id, detail="tidier")
    for item in render_tidier(asdict(view), c.name):
        typer.echo(f"{item.number}. {item.name}: {item.text}")


def print_episode(view: EpisodeView) -> None:
    """Render an episode and its progress as rich tables (adverse responses by the first 8 hex digits of
    their public ids: a prefix the CLI takes)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from strigil.catalog import load_catalog

    cat = load_catalog()
    console = Console(width=None if sys.stdout.isatty() else 150)
    condition = cat.conditions[view.condition]
    claimed = " [yellow](only claimed by clinics, not studied)[/]" if condition.evidence == "claimed" else ""
    console.print(
        f"[bold]Patient {view.patient_code}[/] — episode {view.public_id}: {condition.name}{claimed}, "
        f"{cat.regions[view.region].name.lower()} ({view.side}); target tissue {view.target_tissue}"
    )
    console.print(
        f"Onset {view.onset_date}, opened {view.opened_on} — {view.phase} phase at opening "
        "(cut-offs: configurable heuristic)"
        + (f"; closed {view.closed_on}: {view.close_reason}" if view.closed_on else "")
        + (f" [VOID: {view.void_reason}]" if view.voided else "")
    )
    console.print(
        f"Planned care: {_planned_care(view)}; consent {view.consent_on or 'not recorded'}"
        + (f" (explained: {', '.join(view.consent_explained)})" if view.consent_explained else "")
        + (f"; note: {view.consent_note}" if view.consent_note else "")
    )
    if view.exercise_first_reason:
        console.print(f"Exercise-first exception, as recorded: {view.exercise_first_reason}")
    latest = view.latest_screening
    if latest is not None:
        console.print(
            f"Latest screening ({latest.screened_on}): {latest.verdict} — {latest.findings_text}"
            + ("; consult required" if latest.result.get("consult_required") else "")
            + ("; urgent referral" if latest.result.get("referral") else "")
        )
    table = Table(title="Sessions and progress (measures pre→post IASTM; (between sessions))")
    for column in (
        "#",
        "date",
        "by",
        "IASTM",
        "strokes",
        "measures",
        "adverse",
        "tolerance",
        "screening",
        "exercise",
        "follow-up asked",
        "decision aid",
        "clinician decided",
    ):
        table.add_column(column)
    for s in view.sessions:
        table.add_row(
            f"{s.number} [VOID: {s.void_reason}]" if s.voided else str(s.number),
            str(s.date),
            s.clinician_code,
            f"{s.iastm_seconds / 60:.1f} min",
            ", ".join(st.stroke for st in s.steps) or "—",
            _measures_text(s.measurements),
            # escaped: rich reads "[abc…]" as markup, and hex ids often start with a letter
            ", ".join(escape(f"{a.kind} ({a.severity}) [{a.public_id[:8]}]") for a in s.adverse_responses)
            or "—",
            s.tolerance or "—",
            (s.screening or {}).get("verdict") or "—",
            _exercise_text(s),
            {True: "yes", False: "no", None: "—"}[s.follow_up_asked] if s.number > 1 else "—",
            (s.recommendation or {}).get("recommendation") or "—",
            (s.clinician_decision or "—")
            + (f" (override: {s.override_reason})" if s.override_reason else ""),
        )
    console.print(table)
    _print_change(console, view)
    _print_questions(console, view)


def _planned_care(view: EpisodeView) -> str:
    """The plan as recorded: IASTM only when planned, the co-interventions as they are."""
    care = ", ".join(view.planned_co_interventions) or "no co-intervention"
    return f"IASTM with {care}" if view.planned_iastm else f"no IASTM; {care}"


def _exercise_text(session: Any) -> str:
    if session.exercise_delivered is None:
        return "—"
    if session.exercise_delivered:
        return "delivered"
    return f"not delivered: {session.exercise_not_delivered_reason}"


def _print_questions(console: Any, view: EpisodeView) -> None:
    from rich.markup import escape

    from strigil.services.follow_up import questions_for_next_session

    questions = questions_for_next_session(view)
    if questions and view.closed_on is None:
        console.print(f"Ask at the start of session {len(view.sessions) + 1}:")
        for q in questions:
            console.print(
                escape(
                    f"  ? {q.question}"
                    + (f" [adverse_id {q.adverse_public_id}]" if q.adverse_public_id else "")
                )
            )


def _measures_text(measurements: Any) -> str:
    pairs: dict[str, dict[str, float]] = {}
    for m in measurements:
        pairs.setdefault(m.measure, {})[m.timing] = m.value
    parts = []
    for code, values in pairs.items():
        if "pre" in values or "post" in values:
            parts.append(f"{code} {values.get('pre', float('nan')):g}→{values.get('post', float('nan')):g}")
        if "between" in values:
            parts.append(f"({code} {values['between']:g})")
    return ", ".join(parts) or "—"


def _print_change(console: Any, view: EpisodeView) -> None:
    """Each measure's change from its first to its latest value before IASTM, against the episode's bar,
    and the decision aid's judgement of the episode now (refer while a contraindication stands)."""
    from rich.markup import escape

    from strigil.services.progress import change_over_episode, latest_recommendation

    now = latest_recommendation(view)
    if now is not None:
        console.print(f"Decision aid now: {now['recommendation']}")
        for r in now["reasons"]:
            console.print(escape(f"  - {r['text']} — {r['source']}"))

    for c in change_over_episode(view):
        bar = f"bar {c.bar_note}" if c.bar is not None else "no MCID or MDC: not judged"
        console.print(
            f"{c.name}: {c.first:g} → {c.last:g} ({'+' if c.change >= 0 else ''}{c.change:g} {c.unit} "
            f"improvement); {bar}"
        )
    if not view.sessions:
        console.print("No sessions recorded yet.")


def register(app: typer.Typer) -> None:
    """Add `strigil episode ...`."""
    app.add_typer(episode_app, name="episode")
