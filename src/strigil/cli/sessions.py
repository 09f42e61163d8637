"""Treatment sessions: `strigil session prepare|record|amend|note|sign|addendum|void` (documents:
`strigil schema session`).

`prepare` prints what to do at the start of the next session — the latest screening and the follow-up
questions; `record` passes the safety gates (or prints every reason it is refused, writing nothing) and prints
the screening it was gated on, any override, the recommendation and the questions for the session after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from strigil.cli import register_schema
from strigil.cli.toolkit import (
    DEFAULT_CLINIC,
    ID_HELP,
    PUBLIC_ID_SCHEMA,
    ClinicOpt,
    audited,
    cli_actor,
    clinic_id,
    parse_date,
    print_json,
    read_json,
    record_document,
    record_id,
    unit_of_work,
)

__all__ = [
    "print_note",
    "register",
    "session_addendum",
    "session_amend",
    "session_app",
    "session_note",
    "session_prepare",
    "session_record",
    "session_sign",
    "session_void",
]

session_app = typer.Typer(
    help="Treatment sessions: prepare the next one; record a whole session from JSON; read its note, sign, "
    "amend, add to or void it.",
    no_args_is_help=True,
)


@session_app.command("prepare")
def session_prepare(
    episode: Annotated[str, typer.Argument(help=ID_HELP.format("Episode"))],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """The start of the next session: the latest screening to confirm or redo, and the questions to ask."""
    from strigil.services.episodes import show_episode
    from strigil.services.follow_up import questions_for_next_session

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        episode_id = record_id(s, cid, "episode", episode)
        view = show_episode(s, cid, episode_id)
        audited(s, cid, "read", "episode", view.id, patient_id=view.patient_id, detail="prepare a session")
    number = len(view.sessions) + 1
    typer.echo(f"session {number} of episode {view.public_id} ({view.patient_code})")
    latest = view.latest_screening
    if latest is None:
        typer.echo(
            'screening: none recorded — screen now (`strigil screen FILE --episode ID`, or "screening" in '
            "the session document)"
        )
    else:
        typer.echo(
            f"screening of {latest.screened_on}: {latest.verdict} ({latest.findings_text}); confirm with "
            '"screening": {"no_change": true} or screen anew'
        )
    questions = questions_for_next_session(view)
    if questions:
        typer.echo('ask first (record the answers under "follow_up": asked, reactions, resolved):')
        for q in questions:
            ref = f"  [adverse_id {q.adverse_public_id}]" if q.adverse_public_id else ""
            typer.echo(f"  ? {q.question}{ref}")
    typer.echo('and say whether the exercise programme was delivered ("exercise_delivered").')


@session_app.command("record")
def session_record(
    file: Annotated[Path, typer.Argument(help="The session as JSON (schema: `strigil schema session`).")],
    by: Annotated[str, typer.Option(help="Who records it.")] = "",
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Record a whole session (steps, measures, adverse responses) from one JSON document."""
    from strigil.services.episodes import find_episode
    from strigil.services.record_ids import public_id_of as record_public_id
    from strigil.services.sessions import record_session

    doc = read_json(file, schema="session", object_only=True)
    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        saved = record_session(s, cid, record_document(s, cid, doc), by=by)
        episode, patient = find_episode(s, cid, saved.episode_id)
        audited(s, cid, "create", "session", saved.id, patient_id=patient.id)
        named = record_public_id(s, "session", saved.id)
    rec = saved.recommendation or {}
    typer.echo(
        f"session {named} recorded (episode {episode.public_id}, session {saved.number})"
        + (f"; decision aid suggests: {rec['recommendation']}" if rec.get("recommendation") else "")
    )
    screening = saved.screening or {}
    if screening:
        typer.echo(f"  screening: {screening['verdict']} ({screening['source']})")
        gates = screening.get("gates", {})
        for what in gates.get("overridden", []):
            typer.echo(f"  override: {what} — reason: {doc.get('override_reason')}")
        for dose in gates.get("doses", []):
            typer.echo(f"  dose: {dose['text']}")
        for note in gates.get("notes", []):
            typer.echo(f"  note: {note}")
    if rec.get("advice"):
        typer.echo(f"  plan: {rec['advice']}")
    questions = rec.get("follow_up_questions", [])
    if questions:
        typer.echo(f"  ask at the start of session {saved.number + 1}:")
        for q in questions:
            typer.echo(f"    ? {q['question']}")


@session_app.command("amend")
def session_amend(
    session: Annotated[str, typer.Argument(help=ID_HELP.format("Session"))],
    file: Annotated[Path, typer.Argument(help="The corrected session as JSON.")],
    by: Annotated[str, typer.Option(help="Who corrects it.")],
    reason: Annotated[str, typer.Option(help="Why it is corrected.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Correct a recorded session (an amendment); the earlier version is kept with who, when and why."""
    from strigil.services.notes import amend_note

    doc = read_json(file, schema="session", object_only=True)
    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        session_id = record_id(s, cid, "session", session)
        note = amend_note(
            s,
            cid,
            session_id,
            document=record_document(s, cid, doc),
            reason=reason,
            actor=cli_actor(s, cid, "clinician", by=by),
        )
    changed = ", ".join(c.field for c in note.amendments[-1].changes) or "nothing visible"
    typer.echo(
        f"session {note.session.public_id} amended (now version {note.session.version}); changed: {changed}"
    )


@session_app.command("note")
def session_note(
    session: Annotated[str, typer.Argument(help=ID_HELP.format("Session"))],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Read a session's note: everything recorded, its signature, amendments, addenda and void."""
    from strigil.services import audit
    from strigil.services.notes import session_note as read_note

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        session_id = record_id(s, cid, "session", session)
        note = read_note(s, cid, session_id)
        audit.record(
            s,
            cli_actor(s, cid),
            "read",
            "session",
            session_id,
            patient_id=note.episode.patient_id,
            detail="note",
        )
        as_text = note.to_json(s) if as_json else None
    if as_text is not None:
        print_json(as_text)
    else:
        print_note(note)


@session_app.command("sign")
def session_sign(
    session: Annotated[str, typer.Argument(help=ID_HELP.format("Session"))],
    by: Annotated[str, typer.Option(help="The session's clinician (code), who signs.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Sign a session's note as its clinician; afterwards, correct by amendment or add an addendum."""
    from strigil.services.notes import sign_note

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        session_id = record_id(s, cid, "session", session)
        note = sign_note(s, cid, session_id, clinician=by, actor=cli_actor(s, cid, "clinician", by=by))
    typer.echo(f"session {note.session.public_id}'s note signed by {note.session.signed_by}")


@session_app.command("addendum")
def session_addendum(
    session: Annotated[str, typer.Argument(help=ID_HELP.format("Session"))],
    text: Annotated[
        str, typer.Option(help="What arrived later (e.g. a reaction reported at the next visit).")
    ],
    by: Annotated[str, typer.Option(help="Who adds it.")],
    on: Annotated[
        str | None, typer.Option(help="Date of the information YYYY-MM-DD (default: today).")
    ] = None,
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Add a dated addendum to a session's note (the note stays as recorded)."""
    import datetime as dt

    from strigil.services.notes import add_addendum

    when = parse_date(on, "on") if on else dt.date.today()
    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        session_id = record_id(s, cid, "session", session)
        add_addendum(s, cid, session_id, on=when, text=text, actor=cli_actor(s, cid, "clinician", by=by))
    typer.echo(f"addendum of {when} added to session {session}'s note")


@session_app.command("void")
def session_void(
    session: Annotated[str, typer.Argument(help=ID_HELP.format("Session"))],
    reason: Annotated[str, typer.Option(help="Why it is void (at least 3 words and 15 characters).")],
    by: Annotated[str, typer.Option(help="Who voids it.")],
    clinic: ClinicOpt = DEFAULT_CLINIC,
) -> None:
    """Mark a session entered by mistake void: kept, but left out of analyses, exports and recommendations."""
    from strigil.services.void import void_session

    with unit_of_work() as s:
        cid = clinic_id(s, clinic)
        session_id = record_id(s, cid, "session", session)
        void_session(s, cid, session_id, reason=reason, actor=cli_actor(s, cid, "clinician", by=by))
    typer.echo(f"session {session} is void: {reason}")


def print_note(note: Any) -> None:
    """A session's note as text, section by section."""
    s, e = note.session, note.episode
    who = f"{note.clinician.name} ({note.clinician.code})" if note.clinician else s.clinician_code
    lines = [
        f"{note.clinic} — patient {e.patient_code}, episode {e.public_id} "
        f"({e.condition}, {e.region} {e.side})",
        f"session {s.number} on {s.date} by {who}"
        + ("  [VOID: " + (s.void_reason or "") + "]" if s.voided else ""),
    ]
    screening = s.screening or {}
    if screening:
        found = (
            ", ".join(
                f["code"] + (f" at {f['region']}" if f.get("region") else "")
                for f in screening.get("findings", [])
            )
            or "no findings"
        )
        lines.append(f"screening: {screening.get('verdict')} ({screening.get('source')}); {found}")
    if s.override_reason:
        lines.append(f"override reason: {s.override_reason}")
    if s.number > 1:
        asked = {True: "asked", False: "not asked", None: "not recorded"}[s.follow_up_asked]
        answers = "; ".join(s.follow_up_reported) or ("nothing new reported" if s.follow_up_asked else "")
        lines.append(f"follow-up questions: {asked}" + (f" — {answers}" if answers else ""))
    warm = f"{s.warm_up_kind} {s.warm_up_minutes:g} min" if s.warm_up_kind else "none"
    lines.append(f"warm-up: {warm}; emollient: {s.emollient or 'none'}")
    for st in s.steps:
        extra = [
            f"angle {st.angle_deg:g}°" if st.angle_deg is not None else "",
            f"{st.force_n:g} N" if st.force_n is not None else "",
            f"{st.stroke_count} strokes" if st.stroke_count is not None else "",
            f"position: {st.patient_position}" if st.patient_position else "",
            f"movement: {st.active_movement}" if st.active_movement else "",
        ]
        lines.append(
            f"  step {st.position}: {st.region} ({st.side}), {st.instrument}"
            + (f" {st.edge} edge" if st.edge else "")
            + f", {st.stroke}, {st.direction}, {st.pressure}, {st.duration_s} s"
            + "".join(f", {x}" for x in extra if x)
        )
    for f in s.followed_by:
        lines.append(f"  then: {f['kind']}" + (f" ({f['detail']})" if f.get("detail") else ""))
    exercise = {True: "delivered", False: f"not delivered: {s.exercise_not_delivered_reason}", None: "—"}
    lines.append(f"exercise: {exercise[s.exercise_delivered]}; tolerance: {s.tolerance or '—'}")
    for m in s.measurements:
        lines.append(f"  measure: {m.measure} {m.timing} {m.value:g}")
    for a in s.adverse_responses:
        state = f"resolved {a.resolved_on}" if a.resolved_on else "not resolved"
        lines.append(f"  adverse [{a.public_id}]: {a.severity} {a.kind}, onset {a.onset_on}; {state}")
    rec = s.recommendation or {}
    if rec.get("recommendation"):
        lines.append(f"decision aid: {rec['recommendation']}")
        lines += [f"  - {r['text']}" for r in rec.get("reasons", [])]
    lines.append(
        f"clinician decided: {s.clinician_decision or '—'}"
        + (f" — {s.decision_reason}" if s.decision_reason else "")
    )
    lines.append(f"notes: {s.notes or '—'}")
    for a in note.amendments:
        lines.append(
            f"amendment of version {a.version} by {a.amended_by} on {a.amended_at:%Y-%m-%d}: {a.reason}"
        )
        lines += [f"  {c.field}: {c.before} → {c.after}" for c in a.changes]
    for ad in s.addenda:
        lines.append(f"addendum {ad['on']} ({ad['by']}): {ad['text']}")
    lines.append(
        f"signed by {s.signed_by} on {s.signed_at:%Y-%m-%d %H:%M} UTC" if s.signed_at else "not signed"
    )
    for line in lines:
        typer.echo(line)


def _session_schema() -> dict[str, Any]:
    from strigil.clinical.session import SessionRecord

    schema = SessionRecord.model_json_schema()
    schema["title"] = "strigil session record"
    # documents name records by public id (the CLI turns them into the clinic's rows before validating)
    schema["properties"]["episode_id"] = dict(PUBLIC_ID_SCHEMA)
    schema["$defs"]["Resolution"]["properties"]["adverse_id"] = dict(PUBLIC_ID_SCHEMA)
    return schema


def register(app: typer.Typer) -> None:
    """Add `strigil session ...` and the session schema."""
    app.add_typer(session_app, name="session")
    register_schema("session", _session_schema)
