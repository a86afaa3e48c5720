"""docs/grafana/hallwatch-dashboard.json stays honest: every InfluxQL query in it runs on a
real influxd over points stored the way the collector stores them and finds data, and every
metric its Prometheus expressions name is one HallWatch's /metrics endpoints expose."""

from __future__ import annotations

import json
import queue
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest

from collector.figures import ingest_registry
from collector.status import CollectorStats
from hallwatch.config import Settings
from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport, Rejection
from hallwatch.influx.eventstore import event_point, rejection_point
from hallwatch.registry.db import create_schema, make_engine
from hallwatch.telemetry import AlertFigures

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "hallwatch-dashboard.json"
PROMQL_NAME = re.compile(r"\bhallwatch_[a-z_]+")
SERIES_SUFFIXES = ("", "_bucket", "_count", "_sum")


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(board: dict) -> list[dict]:
    flat = []
    for panel in board["panels"]:
        flat += [panel, *panel.get("panels", [])]
    return flat


def targets(board: dict, kind: str) -> list[tuple[str, dict]]:
    """(panel title, target) for every target on a `kind` data source."""
    return [
        (panel["title"], target)
        for panel in panels(board)
        for target in panel.get("targets", [])
        if (target.get("datasource") or panel["datasource"])["type"] == kind
    ]


def as_grafana_sends(query: str) -> str:
    """The query with what Grafana puts in place of its macros (a 6-hour range ending now, in
    absolute epoch milliseconds as Grafana writes it) and of the device variable set to All."""
    end = int(datetime.now(UTC).timestamp() * 1000)
    macros = {
        "$timeFilter": f"time >= {end - 6 * 3_600_000}ms and time <= {end}ms",
        "$__interval": "1m",
        "$device": ".*",
    }
    for macro, value in macros.items():
        query = query.replace(macro, value)
    assert not re.search(r"\$\w", query), f"a Grafana variable this test does not know: {query}"
    return query


def stored_like_the_collector(db) -> None:
    """One point of each kind the dashboard shows, half an hour ago, for two devices."""
    at = datetime.now(UTC) - timedelta(minutes=30)
    events = [
        BadgeRead("desk-w01-card", at, "04A1B2C3", "in", at),
        BadgeRead("desk-w01-card", at + timedelta(minutes=5), "04A1B2C3", "out", at),
        PresenceReport("desk-w01-seat", at, True, at),
        Heartbeat("desk-w01-seat", at, at, extra={"battery": 87.0, "rssi": -61.0}),
        DeviceStatus("desk-w01-seat", at, True, at),
    ]
    lines = [event_point(e, "s001").to_line() for e in events]
    rejection = Rejection("hallwatch/devices/x/events", b"{not json", "bad JSON", at)
    lines.append(rejection_point(rejection).to_line())
    db.write("\n".join(lines), precision="ns")


@pytest.fixture(scope="module")
def board() -> dict:
    return dashboard()


def test_the_dashboard_is_a_grafana_dashboard_with_data_source_variables(board):
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["influx"]["type"] == "datasource" == variables["prometheus"]["type"]
    assert variables["influx"]["query"] == "influxdb"
    assert variables["prometheus"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] in ("${influx}", "${prometheus}"), panel["title"]


def test_every_influxql_query_runs_and_finds_the_collectors_points(board, influx_db):
    stored_like_the_collector(influx_db)
    (device_variable,) = [v for v in board["templating"]["list"] if v["name"] == "device"]
    devices = influx_db.query(device_variable["query"])
    assert {v[1] for v in devices[0]["values"]} == {"desk-w01-card", "desk-w01-seat"}
    queries = targets(board, "influxdb")
    assert len(queries) >= 8
    for title, target in queries:
        assert target["rawQuery"], title
        series = influx_db.query(as_grafana_sends(target["query"]))
        values = [v for s in series for row in s["values"] for v in row[1:] if v not in (None, 0)]
        assert values, f"{title}: {target['query']} found nothing"


def exposed_names(tmp_path: Path) -> set[str]:
    """Every series name the collector's, the scheduler's and the web app's /metrics show."""
    stats = CollectorStats()
    stats.write_seconds.observe(0.01)
    ingest = SimpleNamespace(stats=stats, queue=queue.Queue(), spool=None)
    figures = AlertFigures()
    figures.job_ran("evaluate", "done", 0.0)
    figures.delivered(1, 1, 1)
    url = f"sqlite:///{tmp_path / 'hall.sqlite3'}"
    create_schema(make_engine(url))
    from web import create_app

    client = create_app(Settings(database_url=url, secret_key="k"), {"TESTING": True})
    web = client.test_client()
    web.get("/healthz")
    texts = [
        generate_latest(ingest_registry(ingest)).decode(),
        generate_latest(figures.registry).decode(),
        web.get("/metrics").get_data(as_text=True),
    ]
    names = set()
    for text in texts:
        names |= set(re.findall(r"^# TYPE (\S+)", text, re.MULTILINE))
        names |= set(re.findall(r"^(hallwatch_\w+)", text, re.MULTILINE))
    return names


def test_every_prometheus_expression_names_exposed_metrics(board, tmp_path):
    names = exposed_names(tmp_path)
    expressions = targets(board, "prometheus")
    assert len(expressions) >= 8
    for title, target in expressions:
        used = PROMQL_NAME.findall(target["expr"])
        assert used, f"{title}: {target['expr']}"
        for name in used:
            assert name in names, f"{title}: {name} is exposed by no HallWatch process"
