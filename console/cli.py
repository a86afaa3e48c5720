"""The `hallwatch` command (docs/OPERATIONS.md, commands)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from hallwatch import redact
from hallwatch.config import ConfigError, Settings

log = logging.getLogger("hallwatch")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    redact.install()  # robot tokens and URL passwords never reach a log line


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _runtime(settings: Settings, influx_access: str = "read", schema: bool = True):
    from hallwatch.runtime import Runtime

    return Runtime.from_settings(settings, influx_access, schema)


def _stop_on_signals(stop) -> None:
    """SIGTERM and SIGINT both mean: finish what is in hand, then exit 0."""

    def handler(signum, frame):
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """HallWatch: attendance and staffing monitor for government service halls."""
    _setup_logging(verbose)


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_registry(file: Path) -> None:
    """Load the hall registry FILE (YAML) into the database; a bad file changes nothing."""
    from hallwatch.registry.parse import RegistryError
    from hallwatch.registry.store import import_file

    runtime = _runtime(_settings())
    try:
        summary = import_file(runtime.sessions, file)
    except RegistryError as exc:
        click.echo(f"{file}: refused, nothing was imported:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo(f"{file}: imported. {summary}")


@main.group()
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
    from hallwatch.registry.users import add_user

    password = _new_password(password, password_stdin)
    runtime = _runtime(_settings())
    with runtime.sessions() as session:
        try:
            add_user(session, name, role, password, department, halls=tuple(halls) or None)
            session.commit()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    scope = f" in halls {', '.join(halls)}" if halls else ""
    click.echo(f"user {name!r} saved with role {role}{scope}")


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

    runtime = _runtime(_settings())
    with runtime.sessions() as session:
        try:
            row = add_channel(session, name, kind, target, secret)
            session.commit()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"channel {row.id} ({kind} → {target}) saved for user {name!r}")


@user_channel.command("list")
@click.argument("name")
def user_channel_list(name: str) -> None:
    """List user NAME's channels as JSON lines (secrets are not shown)."""
    from alerts.channels import list_channels

    runtime = _runtime(_settings())
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

    runtime = _runtime(_settings())
    with runtime.sessions() as session:
        try:
            remove_channel(session, name, channel_id)
            session.commit()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"channel {channel_id} of user {name!r} removed")


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


@main.command()
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
    settings = _settings()
    runtime = _runtime(settings, influx_access="write", schema=False)
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
    _stop_on_signals(ingest.stop)
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


@main.command("alerts")
@_metrics_port("HALLWATCH_ALERTS_METRICS_PORT")
def alerts_command(metrics_port: int) -> None:
    """Run the alert scheduler until stopped (SIGTERM/SIGINT: exit 0)."""
    from alerts.scheduler import run_scheduler
    from hallwatch.telemetry import AlertFigures

    settings = _settings()
    figures = AlertFigures()
    if metrics_port:
        _serve_metrics(figures.registry, metrics_port, settings)
    run_scheduler(_runtime(settings), _stop_on_signals, figures)


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


@main.command()
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
    runtime = _runtime(_settings())
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


@main.command()
@click.option("--month", "month_text", required=True, help="The month, YYYY-MM (hall time)")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["xlsx", "csv"]),
    default="xlsx",
    show_default=True,
    help="xlsx: one workbook; csv: three files (departments, windows by day, staff)",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="xlsx: the workbook (….xlsx); csv: a directory (created if missing) or a ….zip",
)
@click.option("--hall", "hall_id", default=None, help="Which hall, on a deployment of several")
def report(month_text: str, file_format: str, out: Path, hall_id: str | None) -> None:
    """Write a month's report of the whole hall; print the paths written."""
    from hallwatch.influx.client import QueryError
    from hallwatch.metrics import export
    from hallwatch.metrics.month import Month
    from hallwatch.metrics.source import DaySummaries
    from hallwatch.registry.appeals import month_appeals
    from hallwatch.registry.deployment import UnknownHall

    try:
        month = Month.of_report(month_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    _check_report_path(out, file_format)
    runtime = _runtime(_settings())
    try:
        registry = runtime.registry(fresh=True, hall=hall_id)
    except UnknownHall:
        halls = ", ".join(runtime.deployment().ids)
        raise click.BadParameter(
            f"no hall {hall_id!r}; the halls: {halls}", param_hint="--hall"
        ) from None
    if not registry.departments:
        raise click.ClickException("the registry is empty: run `hallwatch import FILE` first")
    now = datetime.now(UTC)
    start, end = month.bounds(registry.hall)
    if start > now:
        raise click.BadParameter(f"{month} has not begun yet", param_hint="--month")
    try:
        days = DaySummaries().between(runtime, registry, start, end, now)
    except QueryError as exc:
        raise click.ClickException(f"event store unavailable: {exc}") from exc
    adjustments, decided = month_appeals(runtime.sessions, registry, start, end)
    report = export.month_report(
        registry, month.first, days, min(end, now), appeals=adjustments, decided=decided
    )
    if file_format == "xlsx":
        files = {out: export.workbook_bytes(report)}
    elif out.suffix.lower() == ".zip":
        files = {out: export.csv_zip(report)}
    else:
        files = {out / name: data for name, data in export.csv_files(report).items()}
    for path, data in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            raise click.ClickException(f"could not write {path}: {exc}") from exc
        click.echo(path)


def _check_report_path(out: Path, file_format: str) -> None:
    """`--out` must suit the format: a .xlsx file, or for CSV a directory or a .zip."""
    suffix = out.suffix.lower()
    if file_format == "xlsx" and (suffix != ".xlsx" or out.is_dir()):
        raise click.BadParameter(
            f"a workbook is written to a file ending in .xlsx, got {str(out)!r}", param_hint="--out"
        )
    if file_format == "csv" and (suffix == ".csv" or (suffix != ".zip" and out.is_file())):
        raise click.BadParameter(
            "CSV is three files (departments, windows by day, staff): give a directory "
            f"or a file ending in .zip, got {str(out)!r}",
            param_hint="--out",
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def web(host: str, port: int) -> None:
    """Serve the web pages and JSON API."""
    from waitress import serve

    from web import create_app

    app = create_app(_settings())
    log.info("serving on http://%s:%d/", host, port)
    serve(app, host=host, port=port, threads=8, ident="HallWatch")


@main.command()
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
@click.option(
    "--registry",
    "registry_file",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Read devices from this registry file instead of the database",
)
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

    settings = _settings()
    if registry_file:
        deployment = _registry_file(registry_file, "nothing was simulated")
    else:
        deployment = _runtime(settings).deployment()
    try:
        halls = [deployment.hall(hall_id)] if hall_id else list(deployment.halls)
    except UnknownHall:
        known = ", ".join(deployment.ids)
        raise click.BadParameter(
            f"no hall {hall_id!r} (halls: {known})", param_hint="--hall"
        ) from None
    stop = threading.Event()
    _stop_on_signals(stop.set)
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


@main.command()
@click.option("--hours", type=float, default=24.0, show_default=True, help="How far back")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option(
    "--replay",
    is_flag=True,
    help="Convert every message kept in the last --hours again with the current registry; "
    "store those that now convert as events (a second run stores nothing twice); print counts",
)
def rejected(hours: float, limit: int, replay: bool) -> None:
    """List MQTT messages that were kept because they could not be understood."""
    runtime = _runtime(_settings())
    end = datetime.now(UTC)
    if replay:
        _replay_rejected(runtime, end - timedelta(hours=hours), end)
        return
    for row in runtime.store.rejected(end - timedelta(hours=hours), end, limit):
        click.echo(json.dumps({**row, "time": row["time"].isoformat()}, ensure_ascii=False))


def _replay_rejected(runtime, start: datetime, end: datetime) -> None:
    from collector.second_look import replay
    from hallwatch.influx.client import InfluxClient, InfluxError
    from hallwatch.influx.eventstore import EventStore

    settings = runtime.settings
    auth = settings.influx_auth("write")  # the collector's account stores the events
    writer = InfluxClient(
        settings.influx_url, settings.influx_db, auth.username, auth.password, auth.token
    )
    deployment = runtime.deployment(fresh=True)
    try:
        counts = replay(runtime.store, EventStore(writer), deployment, start, end)
    except InfluxError as exc:  # what was stored so far stays stored and marked
        raise click.ClickException(f"event store unavailable, run it again: {exc}") from exc
    outcomes = ("stored", "events", "already_replayed", "still_rejected", "ignored")
    summary = {k: counts[k] for k in (*outcomes, "payload_cut", "refused")}
    click.echo(json.dumps(summary))


@main.command("unknown-cards")
@click.option("--hours", type=float, default=24.0, show_default=True, help="How far back")
def unknown_cards(hours: float) -> None:
    """List badge reads of cards nobody in the registry holds (hex, and the printed decimal)."""
    from hallwatch.cards import printed_number

    runtime = _runtime(_settings())
    end = datetime.now(UTC)
    for row in runtime.store.unknown_cards(end - timedelta(hours=hours), end):
        printed = printed_number(row["uid"])  # the decimal on 125 kHz cards
        line = {**row, "printed": printed, "time": row["time"].isoformat()}
        click.echo(json.dumps(line, ensure_ascii=False))


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/mqtt"),
    show_default=True,
    help="Where passwd, acl, mosquitto-auth.conf and the secrets files go",
)
@click.option(
    "--registry",
    "registry_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read devices from this registry file instead of the database",
)
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
    from console.provision import (
        ProvisionError,
        check_broker_can_read,
        file_access,
        provision_broker,
        provision_influx,
    )

    settings = _settings()
    try:
        if mqtt:
            if registry_file:
                deployment = _registry_file(registry_file, "no account was changed")
            else:
                deployment = _runtime(settings).deployment(fresh=True)
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


def _registry_file(file: Path, nothing_done: str):
    """Every hall of a registry file, or exit 1 listing its problems."""
    from hallwatch.registry.parse import RegistryError, parse_deployment

    try:
        return parse_deployment(file.read_text(encoding="utf-8"))
    except RegistryError as exc:
        click.echo(f"{file}: refused, {nothing_done}:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)


@main.command()
@click.option("--web-port", type=int, default=8080, show_default=True)
def demo(web_port: int) -> None:
    """The whole system on one machine: services, demo hall, collector, web, simulator."""
    from console.demo.run import run_demo

    run_demo(web_port=web_port)


if __name__ == "__main__":
    main()
