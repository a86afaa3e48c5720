"""`hallwatch registry export` and `hallwatch roster import`: the registry as a YAML file or
an Excel workbook, and rosters read back from the workbook's 排班 sheet (docs/REGISTRY.md,
"Excel 工作簿")."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from console.commands.common import open_runtime, read_settings


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@click.group("registry")
def registry() -> None:
    """The hall registry as files."""


@registry.command("export")
@click.option("--format", "form", type=click.Choice(["xlsx", "yaml"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(form: str, out: Path) -> None:
    """Write the registry in the database to OUT as a registry file or a workbook."""
    from hallwatch.registry.audit import record
    from hallwatch.registry.dump import deployment_yaml
    from hallwatch.registry.workbook import registry_workbook_bytes

    runtime = open_runtime(read_settings())
    deployment = runtime.deployment(fresh=True)
    now = datetime.now(UTC)
    if form == "xlsx":
        out.write_bytes(registry_workbook_bytes(deployment, now))
    else:
        out.write_text(deployment_yaml(deployment), encoding="utf-8")
    with runtime.sessions() as db, db.begin():
        record(db, _actor(), "export.registry", out.name, now=now)
    click.echo(f"{out}: registry written ({form})")


@click.group("roster")
def roster() -> None:
    """Rosters kept in Excel."""


@roster.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only print what would change")
def import_roster(file: Path, dry_run: bool) -> None:
    """Replace the roster with the 排班 sheet of FILE (.xlsx); a bad sheet changes nothing."""
    from hallwatch.registry.changes import Change
    from hallwatch.registry.file import RegistryError
    from hallwatch.registry.roster_import import ACTION, apply_roster, read_and_compare

    runtime = open_runtime(read_settings())
    change = Change(_actor(), ACTION, file.name)
    now = datetime.now(UTC)
    try:
        found = read_and_compare(runtime.sessions, file.read_bytes(), change, now)
        _print_changes(found.changes, runtime.deployment(fresh=True))
        if not dry_run and found.changes.count:
            apply_roster(runtime.sessions, found.lines, change, now, found.revision)
    except RegistryError as exc:
        click.echo(f"{file}: refused, nothing was imported:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    if dry_run:
        click.echo(f"{file}: dry run, nothing was imported")
    elif found.changes.count:
        click.echo(f"{file}: roster imported")


def _print_changes(changes, deployment) -> None:
    from hallwatch.registry.roster_import import line_words

    for item in changes.added:
        click.echo(f"+ {line_words(item, deployment)}")
    for old, new in changes.changed:
        click.echo(f"~ {line_words(old, deployment)}\n  → {line_words(new, deployment)}")
    for item in changes.removed:
        click.echo(f"- {line_words(item, deployment)}")
    click.echo(
        f"roster: {len(changes.added)} added, {len(changes.changed)} changed, "
        f"{len(changes.removed)} removed, {changes.unchanged} unchanged"
    )
