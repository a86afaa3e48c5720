"""`hallwatch import` and `hallwatch user`: the registry, the users and where they are notified."""

from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from console.commands.common import open_runtime, read_settings


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what the file would change; apply nothing")
@click.option(
    "--confirm-retirements",
    is_flag=True,
    help="Import a file made from an older revision even though it retires entries",
)
def import_registry(file: Path, dry_run: bool, confirm_retirements: bool) -> None:
    """Load the hall registry FILE (YAML) into the database; a bad file changes nothing.

    Prints what it added, changed and retired. A file whose `revision:` is older than the
    registry's and which would retire entries is refused unless --confirm-retirements.
    """
    from hallwatch.registry.file import RegistryError
    from hallwatch.registry.importing import file_text
    from hallwatch.registry.review import (
        Importer,
        RetirementsNotConfirmed,
        confirm_import,
        review_import,
    )

    runtime = open_runtime(read_settings())
    now = datetime.now(UTC)
    try:
        text = file_text(file)
        if dry_run:
            review = review_import(runtime.sessions, text, now)
        else:
            importer = Importer(f"cli:{_os_user()}", file.name)
            review = confirm_import(runtime.sessions, text, now, importer, confirm_retirements)
    except RegistryError as exc:
        click.echo(f"{file}: refused, nothing was imported:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    except RetirementsNotConfirmed as exc:
        click.echo(f"{file}: refused, nothing was imported: {exc}:", err=True)
        for line in exc.review.lines():
            click.echo(f"  {line}", err=True)
        click.echo("Import it with --confirm-retirements to retire them.", err=True)
        sys.exit(1)
    click.echo(
        f"{file}: {'would change (dry run, nothing applied)' if dry_run else 'imported'}. "
        f"{review.summary}"
    )
    if review.needs_confirmation:
        click.echo("(made from an older revision: its retirements need --confirm-retirements)")
    for line in review.lines():
        click.echo(f"  {line}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this environment (a bare container)
        return "unknown"


@click.group()
def user() -> None:
    """Manage web and API users."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, help="admin, hall_manager, dept_head or inspector")
@click.option("--department", default=None, help="Department id (needed for dept_head)")
@click.option(
    "--password",
    default=None,
    help="The password (stored hashed). Visible to `ps` and kept in shell history: "
    "prefer the prompt (leave it out) or --password-stdin",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts)",
)
@click.option(
    "--hall",
    "halls",
    multiple=True,
    help="Limit the user to this hall id (repeatable; without it a user's halls stay as they were)",
)
def user_add(
    name: str,
    role: str,
    department: str | None,
    password: str | None,
    password_stdin: bool,
    halls,
) -> None:
    """Create or update user NAME (asks for the password unless given)."""
    from hallwatch.registry.audit import record
    from hallwatch.registry.audit_facts import (
        PASSWORD_CHANGED,
        PASSWORD_SET,
        user_facts,
        with_password,
    )
    from hallwatch.registry.models import UserRow
    from hallwatch.registry.users import add_user

    password = _new_password(password, password_stdin)
    runtime = open_runtime(read_settings())
    with runtime.sessions() as session:
        try:
            old = session.query(UserRow).filter_by(username=name).one_or_none()
            before = user_facts(old) if old is not None else None
            row = add_user(session, name, role, password, department, halls=tuple(halls) or None)
            after = with_password(user_facts(row), PASSWORD_CHANGED if before else PASSWORD_SET)
            action = "user.change" if before else "user.add"
            record(
                session,
                cli_actor(),
                action,
                f"user {name}",
                now=row.updated_at,
                before=before,
                after=after,
            )
            session.commit()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    scope = f" in halls {', '.join(halls)}" if halls else ""
    click.echo(f"user {name!r} saved with role {role}{scope}")


def cli_actor() -> str:
    """Who acts from the console, as the audit trail names them: cli:<os user>."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"cli:uid-{os.getuid()}"


def _note_channel(session, action: str, name: str, before=None, after=None) -> None:
    from datetime import UTC, datetime

    from hallwatch.registry.audit import record

    now = datetime.now(UTC)
    record(session, cli_actor(), action, f"user {name}", now=now, before=before, after=after)


def _new_password(given: str | None, from_stdin: bool) -> str:
    """The password from --password, standard input, or a hidden prompt, in that order."""
    if given is not None and from_stdin:
        raise click.UsageError("give --password or --password-stdin, not both")
    if given is not None:
        return given
    if from_stdin:
        line = click.get_text_stream("stdin").readline().rstrip("\r\n")
        if not line:
            raise click.UsageError("--password-stdin: standard input held no password")
        return line
    if not click.get_text_stream("stdin").isatty():
        raise click.UsageError(
            "no password: leave --password out at a terminal to be asked, "
            "or pipe it in with --password-stdin"
        )
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.group("channel")
def user_channel() -> None:
    """Where a user is notified: email, dingtalk, wecom or webhook."""


@user_channel.command("add")
@click.argument("name")
@click.option("--kind", required=True, help="email, dingtalk, wecom or webhook")
@click.option("--target", required=True, help="An e-mail address, or the robot's or hook's URL")
@click.option("--secret", default=None, help="Signing secret (dingtalk, webhook)")
def user_channel_add(name: str, kind: str, target: str, secret: str | None) -> None:
    """Give user NAME a notification channel."""
    from alerts.channels import add_channel
    from hallwatch.registry.audit_facts import channel_facts

    runtime = open_runtime(read_settings())
    with runtime.sessions() as session:
        try:
            row = add_channel(session, name, kind, target, secret)
            _note_channel(session, "channel.add", name, after=channel_facts(kind, target, secret))
            session.commit()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"channel {row.id} ({kind} → {target}) saved for user {name!r}")


@user_channel.command("list")
@click.argument("name")
def user_channel_list(name: str) -> None:
    """List user NAME's channels as JSON lines (secrets are not shown)."""
    from alerts.channels import list_channels

    runtime = open_runtime(read_settings())
    with runtime.sessions() as session:
        try:
            rows = list_channels(session, name)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        for row in rows:
            line = {
                "id": row.id,
                "kind": row.kind,
                "target": row.target,
                "signed": bool(row.secret),
            }
            click.echo(json.dumps(line, ensure_ascii=False))


@user_channel.command("remove")
@click.argument("name")
@click.argument("channel_id", type=int)
def user_channel_remove(name: str, channel_id: int) -> None:
    """Remove channel CHANNEL_ID of user NAME."""
    from alerts.channels import remove_channel
    from hallwatch.registry.alerting import ChannelRow
    from hallwatch.registry.audit_facts import channel_facts

    runtime = open_runtime(read_settings())
    with runtime.sessions() as session:
        try:
            gone = session.get(ChannelRow, channel_id)
            before = channel_facts(gone.kind, gone.target, gone.secret) if gone else None
            remove_channel(session, name, channel_id)
            _note_channel(session, "channel.remove", name, before=before)
            session.commit()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"channel {channel_id} of user {name!r} removed")
