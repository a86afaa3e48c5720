"""What every sub-command needs: the settings, the runtime, the signals, a registry file."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click

from hallwatch.config import ConfigError, Settings

log = logging.getLogger("hallwatch")


def read_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def open_runtime(settings: Settings, influx_access: str = "read", schema: bool = True):
    from hallwatch.runtime import Runtime

    return Runtime.from_settings(settings, influx_access, schema)


def stop_on_signals(stop) -> None:
    """SIGTERM and SIGINT both mean: finish what is in hand, then exit 0."""

    def handler(signum, frame):
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def registry_file_option(**path):
    """`--registry FILE`: devices from a registry file instead of the database."""
    return click.option(
        "--registry",
        "registry_file",
        type=click.Path(exists=True, path_type=Path, **path),
        default=None,
        help="Read devices from this registry file instead of the database",
    )


def read_registry_file(file: Path, nothing_done: str):
    """Every hall of a registry file, or exit 1 listing its problems."""
    from hallwatch.registry.file import RegistryError
    from hallwatch.registry.parse import parse_deployment

    try:
        return parse_deployment(file.read_text(encoding="utf-8"))
    except RegistryError as exc:
        click.echo(f"{file}: refused, {nothing_done}:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
