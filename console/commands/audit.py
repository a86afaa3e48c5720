"""`hallwatch audit`: check the audit trail's chain, and list its records."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time

import click
from sqlalchemy.exc import SQLAlchemyError

from console.commands.common import open_runtime, read_settings

CANNOT_READ = 2  # exit status when the database cannot be read (1 means broken)


@click.group("audit")
def audit() -> None:
    """The audit trail (审计日志): verify its chain, list its records."""


@audit.command("verify")
@click.option(
    "--expect-head",
    default=None,
    metavar="SEQ:HASH",
    help="The head noted earlier (as this command prints it): is that record still there, "
    "unchanged? Without it, cutting off the newest records cannot be seen",
)
def verify_command(expect_head: str | None) -> None:
    """Check every record's hash and number; exit 0 intact, 1 broken, 2 unreadable."""
    from hallwatch.registry.audit import head, head_problem, head_text, parse_head, verify

    try:
        expected = parse_head(expect_head) if expect_head is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect-head") from None
    try:
        runtime = open_runtime(read_settings())
        with runtime.sessions() as session:
            count, breaks = verify(session)
            newest = head(session)
            if expected is not None and (problem := head_problem(session, *expected)):
                breaks.append(problem)
    except SQLAlchemyError as exc:  # exit 2, so that monitoring never reads it as "broken"
        click.echo(f"cannot read the audit trail: {exc.__class__.__name__}: {exc}", err=True)
        sys.exit(CANNOT_READ)
    click.echo(f"records: {count}")
    click.echo(f"head: {head_text(*newest)}")
    for found in breaks:
        click.echo(f"broken at record {found.seq}: {found.problem}")
    if breaks:
        click.echo(f"BROKEN: {len(breaks)} break(s)")
        sys.exit(1)
    click.echo("intact" + (" (the noted head is there, unchanged)" if expected else ""))


def _day_start(day: date | None, tz) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=tz)


@audit.command("list")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="From this day")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Up to this day")
@click.option("--actor", default="", help="Only records of this user (or cli:NAME, anonymous)")
@click.option("--action", default="", help="Only this action, e.g. login.failed")
@click.option("--limit", type=click.IntRange(1), default=1000, show_default=True)
def list_command(since, until, actor: str, action: str, limit: int) -> None:
    """Print records as JSON lines, newest first (days in the hall's time, both included)."""
    from datetime import timedelta

    from hallwatch.registry.audit_query import AuditFilter, page

    runtime = open_runtime(read_settings())
    tz = runtime.registry().hall.tz
    end = _day_start(until.date() + timedelta(days=1), tz) if until else None
    chosen = AuditFilter(actor, action, _day_start(since and since.date(), tz), end)
    with runtime.sessions() as session:
        for row in page(session, chosen, 0, limit):
            line = {
                "seq": row.seq,
                "at": row.at.astimezone(tz).isoformat(),
                "actor": row.actor,
                "address": row.address,
                "action": row.action,
                "target": row.target,
                "before": row.before,
                "after": row.after,
            }
            click.echo(json.dumps(line, ensure_ascii=False))
