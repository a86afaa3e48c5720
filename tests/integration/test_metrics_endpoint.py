"""Prometheus /metrics of real processes: the collector and the alert scheduler on their own
ports over a private broker and InfluxDB, and the web app's endpoint with its access rule."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from hallwatch.config import Settings
from hallwatch.registry.alerting import AlertRow
from tests.faults.harness import (
    CARD_TOPIC,
    SEAT_TOPIC,
    CollectorProcess,
    base_ms,
    fault_env,
    heartbeat,
    import_hall,
    new_database,
    one_off,
    stored_count,
)
from tests.helpers import InfluxDB, influx_admin, wait_until

GOOD = 6
BAD = [  # (topic, payload, the reason label it is counted under)
    ("hallwatch/devices/no-such-reader/events", b'{"type": "heartbeat"}', "unknown_device"),
    (CARD_TOPIC, b"{not json", "bad_json"),
    (CARD_TOPIC, b'{"type": "badge", "uid": 7}', "bad_field"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(url: str, **kwargs) -> dict[tuple[str, tuple], float]:
    """The samples at `url`: (name, sorted labels) → value; empty while nobody answers."""
    try:
        answer = requests.get(url, timeout=5, **kwargs)
    except requests.ConnectionError:
        return {}
    answer.raise_for_status()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def reason(label: str) -> tuple:
    return (("reason", label),)


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory) -> str:
    return import_hall(tmp_path_factory.mktemp("metrics-registry"))


@pytest.fixture
def deployment(registry_url, mosquitto, influxd, tmp_path) -> Iterator[dict]:
    db = new_database(influxd.url)
    env = fault_env(registry_url, mosquitto.url, db, tmp_path / "spool")
    try:
        yield {"env": env, "db": db}
    finally:
        influx_admin(influxd.url, f'DROP DATABASE "{db.db}"')


def test_the_collector_counts_what_came_in_was_rejected_and_was_written(deployment, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    collector = CollectorProcess(
        deployment["env"], tmp_path / "collector.log", ("--metrics-port", str(port))
    )
    collector.start()
    try:
        before = scrape(url)
        assert before[("hallwatch_collector_messages_received_total", ())] == 0
        assert before[("hallwatch_collector_mqtt_connected", ())] == 1
        base = base_ms()
        good = [(SEAT_TOPIC, json.dumps(heartbeat(n, base))) for n in range(GOOD)]
        one_off(deployment["env"]["HALLWATCH_MQTT_URL"], good + [(t, p) for t, p, _ in BAD])
        total = GOOD + len(BAD)
        after = wait_until(
            lambda: (s := scrape(url))
            and s[("hallwatch_collector_points_written_total", ())] >= total
            and s,
            timeout=20,
            message=collector.log_text,
        )
    finally:
        assert collector.stop() == 0
    assert after[("hallwatch_collector_messages_received_total", ())] == total
    # Every message is a point: the good ones in hw_event, the bad ones kept in hw_rejected.
    assert after[("hallwatch_collector_points_written_total", ())] == total
    assert stored_count(deployment["db"]) == GOOD
    for _topic, _payload, label in BAD:
        assert after[("hallwatch_collector_messages_rejected_total", reason(label))] == 1
    assert after[("hallwatch_collector_messages_rejected_total", reason("too_large"))] == 0
    assert after[("hallwatch_collector_write_failures_total", ())] == 0
    assert after[("hallwatch_collector_write_seconds_count", ())] >= 1
    assert after[("hallwatch_collector_spool_points", ())] == 0


def test_the_alert_scheduler_counts_its_evaluations(deployment, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    log_path = tmp_path / "alerts.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "alerts", "--metrics-port", str(port)],
            env=deployment["env"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        got = wait_until(
            lambda: (s := scrape(url))
            and s.get(("hallwatch_alert_evaluations_total", ()), 0) >= 1
            and s,
            timeout=30,
            message=lambda: log_path.read_text(),
        )
        assert got[("hallwatch_alert_scheduler_active", ())] == 1
        done = (("job", "deliver"), ("outcome", "done"))
        assert wait_until(lambda: scrape(url).get(("hallwatch_alert_jobs_total", done), 0) >= 1)
        failed = (("job", "evaluate"), ("outcome", "failed"))
        assert got.get(("hallwatch_alert_jobs_total", failed), 0) == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


@pytest.fixture(scope="module")
def web_settings(registry_url) -> Settings:
    """The web app over the module's registry, with an open alert in it."""
    from web import create_app

    settings = Settings(database_url=registry_url, secret_key="test-secret")
    app = create_app(settings, {"TESTING": True})
    now = datetime.now(UTC)
    with app.extensions["hallwatch"].sessions() as session:
        key = f"empty_window:W01:{uuid.uuid4().hex}"
        row = AlertRow(key=key, kind="empty_window", window_id="W01", department_id="civil")
        row.since = row.opened_at = row.created_at = now
        row.message = "W01 empty"
        session.add(row)
        session.commit()
    return settings


def client_of(settings: Settings):
    from web import create_app

    return create_app(settings, {"TESTING": True}).test_client()


def parsed(response) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def test_without_a_token_only_this_host_reads_the_web_figures(web_settings):
    client = client_of(web_settings)
    assert client.get("/healthz").status_code in (200, 503)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    got = parsed(answer)
    healthz = (("endpoint", "api.healthz"), ("method", "GET"))
    assert any(k[0] == "hallwatch_web_requests_total" and k[1][:2] == healthz for k in got)
    assert got[("hallwatch_alerts_open", (("kind", "empty_window"),))] >= 1
    assert got[("hallwatch_database_up", ())] == 1
    assert ("hallwatch_outbox_messages", (("state", "pending"),)) in got
    elsewhere = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 403
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403


def test_a_trusted_proxy_cannot_be_told_the_client_is_local(web_settings):
    client = client_of(replace(web_settings, trusted_proxies=1))
    forged = client.get(
        "/metrics",
        headers={"X-Forwarded-For": "127.0.0.1"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert forged.status_code == 403


def test_with_a_token_every_scraper_must_bring_it(web_settings):
    client = client_of(replace(web_settings, metrics_token="s3cret-token"))
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer s3cret-tokem"})
    assert wrong.status_code == 401
    right = {"Authorization": "Bearer s3cret-token"}
    remote = client.get("/metrics", headers=right, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 200
    assert "hallwatch_web_requests_total" in remote.get_data(as_text=True)


def test_a_scraper_asking_for_openmetrics_gets_it(web_settings):
    answer = client_of(web_settings).get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
    assert answer.get_data(as_text=True).rstrip().endswith("# EOF")


def test_a_metrics_port_already_taken_is_a_clear_error(registry_url, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        nowhere = InfluxDB("http://127.0.0.1:9", "unused")
        env = fault_env(registry_url, "mqtt://127.0.0.1:9", nowhere, tmp_path)
        env["HALLWATCH_ALERTS_METRICS_PORT"] = str(port)
        done = subprocess.run(
            [sys.executable, "-m", "console.cli", "alerts"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"cannot serve metrics on 127.0.0.1:{port}" in done.stderr
