"""The event store read out: the month's `report`, `rejected` messages, `unknown-cards`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from console.commands.common import open_runtime, read_settings


@click.command()
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
    from hallwatch.metrics import export_csv, export_rows, export_workbook
    from hallwatch.metrics.appeal_records import month_appeals
    from hallwatch.metrics.month import Month
    from hallwatch.metrics.source import DaySummaries
    from hallwatch.registry.deployment import UnknownHall

    try:
        month = Month.of_report(month_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    _check_report_path(out, file_format)
    runtime = open_runtime(read_settings())
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
    registry = runtime.registry_through(end, now, registry.hall.id)  # its names then
    try:
        days = DaySummaries().between(runtime, registry, start, end, now)
    except QueryError as exc:
        raise click.ClickException(f"event store unavailable: {exc}") from exc
    adjustments, decided = month_appeals(runtime.sessions, registry, start, end)
    report = export_rows.month_report(
        registry, month.first, days, min(end, now), appeals=adjustments, decided=decided
    )
    if file_format == "xlsx":
        files = {out: export_workbook.workbook_bytes(report)}
    elif out.suffix.lower() == ".zip":
        files = {out: export_csv.csv_zip(report)}
    else:
        files = {out / name: data for name, data in export_csv.csv_files(report).items()}
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


@click.command()
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
    runtime = open_runtime(read_settings())
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


@click.command("unknown-cards")
@click.option("--hours", type=float, default=24.0, show_default=True, help="How far back")
def unknown_cards(hours: float) -> None:
    """List badge reads of cards nobody in the registry holds (hex, and the printed decimal)."""
    from hallwatch.cards import printed_number

    runtime = open_runtime(read_settings())
    end = datetime.now(UTC)
    for row in runtime.store.unknown_cards(end - timedelta(hours=hours), end):
        printed = printed_number(row["uid"])  # the decimal on 125 kHz cards
        line = {**row, "printed": printed, "time": row["time"].isoformat()}
        click.echo(json.dumps(line, ensure_ascii=False))
