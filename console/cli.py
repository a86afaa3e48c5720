"""The `hallwatch` command (docs/OPERATIONS.md, commands); its sub-commands: console/commands/."""

from __future__ import annotations

import logging

import click

from console.commands import audit, people, provisioning, records, registry_files, runners, trial
from hallwatch import redact


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    redact.install()  # robot tokens and URL passwords never reach a log line


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """HallWatch: attendance and staffing monitor for government service halls."""
    _setup_logging(verbose)


for command in (
    people.import_registry,
    people.user,
    runners.collector,
    runners.alerts_command,
    runners.check,
    runners.web,
    records.report,
    records.rejected,
    records.unknown_cards,
    provisioning.provision,
    trial.simulate,
    trial.demo,
    registry_files.registry,
    registry_files.roster,
    audit.audit,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
