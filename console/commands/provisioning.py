"""`hallwatch provision`: broker and InfluxDB accounts from the registry."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from console.commands.common import (
    open_runtime,
    read_registry_file,
    read_settings,
    registry_file_option,
)


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/mqtt"),
    show_default=True,
    help="Where passwd, acl, mosquitto-auth.conf and the secrets files go",
)
@registry_file_option(dir_okay=False)
@click.option("--collector-user", default="hallwatch-collector", show_default=True)
@click.option("--zigbee2mqtt-user", default="zigbee2mqtt", show_default=True)
@click.option("--reload", "reload_pid", type=int, default=None, help="SIGHUP this broker pid")
@click.option(
    "--file-owner",
    default=None,
    help="Owner of passwd and acl (default: keep the existing files'; new ones: yours)",
)
@click.option(
    "--file-group",
    default=None,
    help="Group of passwd and acl, e.g. mosquitto (default: keep the existing files')",
)
@click.option(
    "--file-mode",
    default=None,
    help="Mode of passwd and acl in octal, e.g. 0640 (default: keep the files'; new ones 0600)",
)
@click.option("--mqtt/--no-mqtt", default=True, show_default=True, help="Write broker accounts")
@click.option("--influx", is_flag=True, help="Also set up InfluxDB database, writer and reader")
@click.option("--influx-admin", default="admin", show_default=True, help="InfluxDB admin user")
@click.option("--influx-writer", default="hallwatch_writer", show_default=True)
@click.option("--influx-reader", default="hallwatch_reader", show_default=True)
def provision(
    out: Path,
    registry_file: Path | None,
    collector_user: str,
    zigbee2mqtt_user: str,
    reload_pid: int | None,
    file_owner: str | None,
    file_group: str | None,
    file_mode: str | None,
    mqtt: bool,
    influx: bool,
    influx_admin: str,
    influx_writer: str,
    influx_reader: str,
) -> None:
    """Broker accounts and ACL from the registry; with --influx, InfluxDB accounts too.

    Idempotent: kept accounts keep their passwords. The InfluxDB admin password comes
    from HALLWATCH_INFLUX_ADMIN_PASSWORD (or is generated on a server without users).
    """
    from console.provision import provision_broker
    from console.provision_files import ProvisionError, check_broker_can_read, file_access
    from console.provision_influx import provision_influx

    settings = read_settings()
    try:
        if mqtt:
            if registry_file:
                deployment = read_registry_file(registry_file, "no account was changed")
            else:
                deployment = open_runtime(settings).deployment(fresh=True)
            # Every hall's devices: they all speak to the one broker.
            access = file_access(file_owner, file_group, file_mode)
            changes = provision_broker(
                deployment.combined, out, collector_user, zigbee2mqtt_user, access=access
            )
            for name in changes.added:
                click.echo(f"added   {name}")
            for name in changes.removed:
                click.echo(f"removed {name}")
            click.echo(f"MQTT accounts in {out}: {changes.summary()}")
            if reload_pid is not None:
                check_broker_can_read(reload_pid, out)
                os.kill(reload_pid, signal.SIGHUP)
                click.echo(
                    f"sent SIGHUP to {reload_pid}: the broker re-reads passwd and acl "
                    "(Mosquitto 2.0 also drops connected clients whose account is gone)"
                )
        if influx:
            accounts, done = provision_influx(
                settings.influx_url,
                settings.influx_db,
                influx_admin,
                os.environ.get("HALLWATCH_INFLUX_ADMIN_PASSWORD") or None,
                out,
                influx_writer,
                influx_reader,
            )
            for line in done:
                click.echo(f"influx  {line}")
            click.echo(
                f"collector: HALLWATCH_INFLUX_WRITE_USER={accounts.writer}; web/alerts: "
                f"HALLWATCH_INFLUX_READ_USER={accounts.reader}; passwords in "
                f"{out / 'influx.secrets.yaml'}"
            )
    except (ProvisionError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
