"""The long-running services (collector, alerts, web) and the one-shot alert `check`."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import click

from console.commands.common import open_runtime, read_settings, stop_on_signals
from hallwatch.config import Settings

log = logging.getLogger("hallwatch")


def _metrics_port(envvar: str):
    """`--metrics-port`: serve Prometheus figures there (0, the default: no metrics port)."""
    return click.option(
        "--metrics-port",
        envvar=envvar,
        default=0,
        show_default=True,
        type=click.IntRange(0, 65535),
        help=f"Serve Prometheus /metrics on this port (HALLWATCH_METRICS_HOST, default "
        f"127.0.0.1); 0: off. Env: {envvar}",
    )


def _serve_metrics(registry, port: int, settings: Settings) -> None:
    from hallwatch.telemetry import serve

    try:
        serve(registry, port, settings.metrics_host)
    except OSError as exc:  # the port is taken, or HALLWATCH_METRICS_HOST is no address here
        raise click.ClickException(
            f"cannot serve metrics on {settings.metrics_host}:{port}: {exc}"
        ) from exc


@click.command()
@click.option("--group", default=None, help="Share the work with other collectors ($share/NAME/…)")
@click.option(
    "--leave",
    is_flag=True,
    help="With --group: store what this member's session still holds, leave the group for "
    "good (the broker deals it no more) and delete its session, then exit",
)
@_metrics_port("HALLWATCH_COLLECTOR_METRICS_PORT")
def collector(group: str | None, leave: bool, metrics_port: int) -> None:
    """Ingest from MQTT into InfluxDB until stopped (SIGTERM/SIGINT: flush, exit 0)."""
    from collector.collector import Collector
    from collector.one_session import AlreadyRunning, refuse_if_running
    from hallwatch.mqtt import delete_session, make_client

    if leave and not group:
        raise click.UsageError("--leave needs --group: only a group member has a share to end")
    settings = read_settings()
    runtime = open_runtime(settings, influx_access="write", schema=False)
    target = settings.mqtt_target()

    def check_alone() -> None:
        try:
            refuse_if_running(target, settings.collector_id)
        except AlreadyRunning as exc:
            raise click.ClickException(str(exc)) from exc

    check_alone()  # before opening its spool, which is the other process's too
    client = make_client(target, settings.collector_id, persistent=True, manual_ack=True, bulk=True)
    ingest = Collector(
        client,
        runtime.influx,
        _registry_reader(runtime),
        group=group,
        leave=leave,
        collector_id=settings.collector_id,
    )
    ingest.look_again = lambda: refuse_if_running(target, settings.collector_id, ingest.presence)
    stop_on_signals(ingest.stop)
    if metrics_port:
        from collector.figures import ingest_registry

        _serve_metrics(ingest_registry(ingest), metrics_port, settings)
    log.info(
        "collector %r → %s db %s", settings.collector_id, settings.influx_url, settings.influx_db
    )
    ingest.start(target.host, target.port, check_alone)  # and again when it is to connect
    ingest.run()
    if ingest.refused:
        raise click.ClickException(ingest.refused)
    if leave and not ingest.stop_event.is_set():
        time.sleep(1.0)  # the broker reads the last PUBACKs before the clean connection
        delete_session(target, settings.collector_id)
        click.echo(
            f"collector {settings.collector_id!r} left group {group!r}: its session is deleted"
        )


def _registry_reader(runtime):
    """The collector's registry: the tables made on the first read that finds the database
    up (it may be down when the collector starts, which then waits for it)."""
    schema_ready = False

    def read():
        nonlocal schema_ready
        if not schema_ready:
            runtime.ensure_schema()
            schema_ready = True
        return runtime.deployment(fresh=True)

    return read


@click.command("alerts")
@_metrics_port("HALLWATCH_ALERTS_METRICS_PORT")
def alerts_command(metrics_port: int) -> None:
    """Run the alert scheduler until stopped (SIGTERM/SIGINT: exit 0)."""
    from alerts.scheduler import run_scheduler
    from hallwatch.telemetry import AlertFigures

    settings = read_settings()
    figures = AlertFigures()
    if metrics_port:
        _serve_metrics(figures.registry, metrics_port, settings)
    run_scheduler(open_runtime(settings), stop_on_signals, figures)


def _instant(text: str | None) -> datetime | None:
    """`--at` as a datetime (naive means hall time, attached later), or a usage error."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"must be an ISO-8601 time such as 2026-11-23T10:20:00+08:00, got {text!r}",
            param_hint="--at",
        ) from None


@click.command()
@click.option(
    "--at", "at_text", default=None, help="ISO-8601 instant (default now; no offset: hall time)"
)
@click.option("--dry-run", is_flag=True, help="Change and send nothing; print what would be open")
def check(at_text: str | None, dry_run: bool) -> None:
    """Evaluate every alert rule once as of an instant; print the open alerts as JSON."""
    from alerts.evaluate import evaluate
    from alerts.outbox import deliver_due
    from alerts.records import alert_json
    from hallwatch.influx.client import QueryError

    at = _instant(at_text)
    runtime = open_runtime(read_settings())
    deployment = runtime.deployment(fresh=True)
    wall = datetime.now(UTC)
    now = wall if at is None else at if at.tzinfo else at.replace(tzinfo=_bare_zone(deployment))
    try:
        open_alerts = evaluate(runtime, now, dry_run=dry_run)
    except QueryError as exc:
        raise click.ClickException(f"event store unavailable: {exc}") from exc
    if not dry_run:
        # A one-shot check really notifies: send what it queued (never before `now`).
        stats = deliver_due(runtime.sessions, runtime.settings, max(wall, now))
        if stats.attempted:
            log.info(
                "notifications: %d sent, %d to retry, %d given up",
                stats.sent,
                stats.retrying,
                stats.failed,
            )
    # An alert is in its department's hall (as alerts.records.in_halls has it).
    hall_of = deployment.hall_of_department
    body = [
        alert_json(row, deployment.hall(hall_of.get(row.department_id or "")).hall.tz)
        for row in open_alerts
    ]
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))


def _bare_zone(deployment):
    """The time zone of an --at without an offset: the halls' one; refused if they differ."""
    zones = sorted(deployment.time_zones)
    if len(zones) > 1:
        raise click.UsageError(
            "--at has no UTC offset and the halls keep different time zones "
            f"({', '.join(zones)}): give one, e.g. 2026-11-24T10:00:00+08:00"
        )
    return deployment.first.hall.tz


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def web(host: str, port: int) -> None:
    """Serve the web pages and JSON API."""
    from waitress import serve

    from web import create_app

    app = create_app(read_settings())
    log.info("serving on http://%s:%d/", host, port)
    serve(app, host=host, port=port, threads=8, ident="HallWatch")
