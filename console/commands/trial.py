"""Trying HallWatch without a hall: `simulate` and `demo`."""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path

import click

from console.commands.common import (
    open_runtime,
    read_registry_file,
    read_settings,
    registry_file_option,
    stop_on_signals,
)


@click.command()
@click.option(
    "--mode",
    type=click.Choice(["live", "replay"]),
    default="live",
    show_default=True,
    help="live: today in real time (past events sent at once); replay: a whole day "
    "compressed by --speed",
)
@click.option(
    "--day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="The day to play (default today)"
)
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second (replay mode)",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the ground truth (who sat where, minute by minute) to this CSV",
)
@registry_file_option()
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="devices.secrets.yaml from `hallwatch provision`: each device logs in as itself",
)
@click.option(
    "--hall", "hall_id", default=None, help="Simulate this hall only (default: every hall)"
)
def simulate(mode, day, speed, seed, truth, registry_file, accounts_file, hall_id) -> None:
    """Simulated badge readers and presence sensors publishing over MQTT.

    Several halls are played at once, each on its own calendar day; with --truth, each
    hall's ground truth goes to its own file (truth-HALL.csv for --truth truth.csv).
    """
    from console.provision import load_secrets
    from hallwatch.registry.deployment import UnknownHall
    from simulator.simulator import run_simulation

    settings = read_settings()
    if registry_file:
        deployment = read_registry_file(registry_file, "nothing was simulated")
    else:
        deployment = open_runtime(settings).deployment()
    try:
        halls = [deployment.hall(hall_id)] if hall_id else list(deployment.halls)
    except UnknownHall:
        known = ", ".join(deployment.ids)
        raise click.BadParameter(
            f"no hall {hall_id!r} (halls: {known})", param_hint="--hall"
        ) from None
    stop = threading.Event()
    stop_on_signals(stop.set)
    accounts = None
    if accounts_file:
        entries = load_secrets(accounts_file).values()
        accounts = {e["username"]: e["password"] for e in entries if e["role"] != "collector"}
    failures: list[str] = []

    def play(registry) -> None:
        the_day: date = day.date() if day else datetime.now(registry.hall.tz).date()
        hall_truth = truth
        if truth is not None and len(halls) > 1:
            hall_truth = truth.with_name(f"{truth.stem}-{registry.hall.id}{truth.suffix}")
        try:
            run_simulation(
                registry,
                settings.mqtt_target(),
                the_day,
                speed,
                mode,
                seed,
                hall_truth,
                stop,
                accounts=accounts,
            )
        except (ValueError, OSError) as exc:
            failures.append(f"hall {registry.hall.id}: {exc}")
            stop.set()  # one hall failing stops the others: a partial run misleads

    players = [
        threading.Thread(target=play, args=(r,), name=f"simulate-{r.hall.id}") for r in halls
    ]
    for player in players:
        player.start()
    for player in players:
        player.join()
    if failures:
        raise click.ClickException("; ".join(failures))


@click.command()
@click.option("--web-port", type=int, default=8080, show_default=True)
def demo(web_port: int) -> None:
    """The whole system on one machine: services, demo hall, collector, web, simulator."""
    from console.demo.run import run_demo

    run_demo(web_port=web_port)
