"""`strigil serve` (the web app) and `strigil user add|deactivate|reset-password|token` (accounts)."""

from __future__ import annotations

import sys

import typer

from strigil.cli.toolkit import cli_actor, fail

__all__ = [
    "register",
    "serve",
    "user_add",
    "user_app",
    "user_deactivate",
    "user_reactivate",
    "user_reset_password",
    "user_token",
]

user_app = typer.Typer(
    help="Manage web accounts: the first admin, deactivation, password resets, API tokens.",
    no_args_is_help=True,
)


def _read_password(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="Sign-in name (3-64 letters, digits, '.', '_', '-')."),
    role: str = typer.Option("admin", help="admin, clinician or researcher."),
    clinic: str = typer.Option("main", help="The clinic's code (created if it does not exist yet)."),
    name: str = typer.Option("", help="Full name shown in the pages."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Create an account (run once without a server to create the first admin)."""
    from strigil.services import accounts, clinics
    from strigil.services import audit as audit_service
    from strigil.services.errors import RecordError
    from strigil.web.setup import open_database

    password = _read_password(password_stdin, "Password")
    with open_database() as db:
        try:
            clinic_view = clinics.ensure_clinic(db, clinic, clinic)
            account = accounts.create_account(
                db,
                username=username,
                display_name=name,
                role=role,
                clinic_id=clinic_view.id,
                password=password,
            )
        except (accounts.AccountError, RecordError) as exc:
            fail(str(exc))
        audit_service.record(db, cli_actor(None, clinic_view.id), "create", "account", account.id)
        db.commit()
    typer.echo(f"created {role} {username!r} in clinic {clinic!r}")


@user_app.command("deactivate")
def user_deactivate(username: str = typer.Argument(..., help="The account to deactivate.")) -> None:
    """Deactivate an account; its sessions and API tokens stop working at once."""
    from strigil.services import accounts
    from strigil.services import audit as audit_service
    from strigil.web.setup import open_database

    with open_database() as db:
        try:
            account = accounts.deactivate_account(db, username)
        except accounts.AccountError as exc:
            fail(str(exc))
        audit_service.record(
            db, cli_actor(None, account.clinic_id), "update", "account", account.id, detail="deactivated"
        )
        db.commit()
    typer.echo(f"deactivated {username!r}")


@user_app.command("reactivate")
def user_reactivate(username: str = typer.Argument(..., help="The account to let sign in again.")) -> None:
    """Reactivate a deactivated account (a password reset does not); old sessions and tokens stay ended."""
    from strigil.services import accounts
    from strigil.services import audit as audit_service
    from strigil.web.setup import open_database

    with open_database() as db:
        try:
            account = accounts.reactivate_account(db, username)
        except accounts.AccountError as exc:
            fail(str(exc))
        audit_service.record(
            db, cli_actor(None, account.clinic_id), "update", "account", account.id, detail="reactivated"
        )
        db.commit()
    typer.echo(f"reactivated {username!r}")


@user_app.command("reset-password")
def user_reset_password(
    username: str = typer.Argument(..., help="The account whose password to reset."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Set a temporary password; the person must change it at next sign-in."""
    from strigil.services import accounts
    from strigil.services import audit as audit_service
    from strigil.web.setup import open_database

    password = _read_password(password_stdin, "Temporary password")
    with open_database() as db:
        try:
            account = accounts.reset_password(db, username, password)
        except accounts.AccountError as exc:
            fail(str(exc))
        audit_service.record(
            db, cli_actor(None, account.clinic_id), "update", "account", account.id, detail="password reset"
        )
        db.commit()
    typer.echo(f"password of {username!r} reset; it must be changed at next sign-in")


@user_app.command("token")
def user_token(
    username: str = typer.Argument(..., help="The account the token acts for."),
    name: str = typer.Option("cli", help="A name to recognise the token by."),
    scope: list[str] = typer.Option(["read"], "--scope", help="read, write or admin (repeat for several)."),
    expires_days: int = typer.Option(90, help="Days until it expires (1-366)."),
) -> None:
    """Issue an API token and print its secret once (send it as 'Authorization: Bearer ...')."""
    from strigil.services import accounts
    from strigil.services import audit as audit_service
    from strigil.web.setup import open_database

    with open_database() as db:
        try:
            account = accounts.get_account(db, username)
            issued = accounts.issue_api_token(db, account, name, list(scope), expires_days)
        except accounts.AccountError as exc:
            fail(str(exc))
        audit_service.record(db, cli_actor(None, account.clinic_id), "create", "token", issued.token.id)
        db.commit()
    typer.echo(issued.secret)


def serve(
    demo: bool = typer.Option(
        False, "--demo", help="Use (and if needed create) the demo clinic in its own file."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, max=64, help="Server processes (PostgreSQL only; SQLite keeps one, see docs/deployment.md)."
    ),
) -> None:
    """Start the web app; with --demo, on the demo clinic (never the clinic's own database)."""
    from strigil.settings import LOCAL_HOSTS, Settings, demo_database_url
    from strigil.web.server import run
    from strigil.web.setup import DEMO_PASSWORD, ensure_demo, prepare_database

    settings = Settings()
    if not settings.allowed_hosts:  # the local names, and the one it listens on
        listened = "" if host in ("0.0.0.0", "::") else f",{host}"
        settings = settings.model_copy(update={"allowed_hosts": LOCAL_HOSTS + listened})
        if not listened:
            typer.echo(
                f"Answering only to {LOCAL_HOSTS}: set STRIGIL_ALLOWED_HOSTS to the names users type."
            )
    if demo:
        settings = settings.model_copy(update={"database_url": demo_database_url()})
        users = ensure_demo(settings.resolved_database_url())
    else:
        users = prepare_database(settings.resolved_database_url())
    if workers > 1 and settings.resolved_database_url().startswith("sqlite"):
        fail("--workers: SQLite is served by one process (one writer at a time); use PostgreSQL for more")
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    typer.echo(
        f"Strigil is running at http://{shown}:{port}/  (database: {settings.resolved_database_url()})"
    )
    if demo:
        typer.echo(
            "Demo sign-in: user 'demo' (clinician, treats as demo clinician c02), 'demo-admin' or "
            f"'demo-research'; password '{DEMO_PASSWORD}'"
        )
    elif users == 0:
        typer.echo("No accounts yet: create the first admin with `strigil user add NAME --role admin`.")
    run(settings, host, port, workers)


def register(app: typer.Typer) -> None:
    """Add `serve` and `user ...` to the `strigil` command."""
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")
