"""`hallwatch alerts` on real services: schedulers started together notify each alert once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from alerts.lease import holder_of
from alerts.scheduler import LEASE_NAME, LEASE_TTL_S
from hallwatch.registry.alerting import AlertRow, OutboxRow
from tests.helpers import BACKENDS, hallwatch, midday_zone, wait_until
from tests.integration.alert_hall import alert_hall, sessions_of
from tests.mqtt_helpers import publish, publisher

TAKEOVER_SLACK_S = 10.0  # a standby's tick, process start-up and a loaded test machine


@pytest.fixture
def hall_tz() -> ZoneInfo:
    """A zone where it is about noon now: no test runs across the hall's midnight."""
    return midday_zone()


@pytest.fixture
def deployment(tmp_path: Path, mosquitto, influx_db, database_url, hall_tz):
    """The alerts' test hall (alert_hall), a user of each role, the processes' environment."""
    return alert_hall(tmp_path, mosquitto.url, influx_db, database_url, hall_tz)


@pytest.fixture
def sessions(deployment):
    """Sessions on the deployment's database, for looking at what the processes wrote."""
    yield from sessions_of(deployment)


class Webhook(ThreadingHTTPServer):
    """A local webhook endpoint that keeps every JSON body it receives."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), WebhookHandler)
        self.received: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def webhook(deployment):
    """The boss's notification channel: a webhook served by the test."""
    server = Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hallwatch(
        "user",
        "channel",
        "add",
        "boss",
        "--kind",
        "webhook",
        "--target",
        server.url,
        env=deployment,
    )
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def schedulers(deployment, tmp_path):
    """Start `hallwatch alerts` processes (with logs); any left running are killed after."""
    started: list[tuple[subprocess.Popen, Path]] = []

    def start() -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"alerts-{len(started)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "console.cli", "alerts"],
                env=deployment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append((process, log))
        return process, log

    yield start
    for process, _ in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def holder_pid(sessions) -> int | None:
    holder = holder_of(sessions, LEASE_NAME, datetime.now(UTC))
    return int(holder.split(":")[1]) if holder else None


def notified(webhook: Webhook) -> Counter:
    """(alert id, reason) → hits; a digest (about no single alert) counts as ("digest", day)."""
    return Counter(
        ("digest", hit["day"]) if hit.get("kind") == "digest" else (hit["id"], hit["reason"])
        for hit in webhook.received
    )


def sent_rows(sessions) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_not(None))
        )


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


@BACKENDS
def test_two_schedulers_started_together_notify_each_alert_once(
    deployment, webhook, schedulers, sessions
):
    (first, first_log), (second, second_log) = schedulers(), schedulers()

    def all_sent():
        with sessions() as session:
            open_ids = set(
                session.scalars(select(AlertRow.id).where(AlertRow.last_notified_at.is_not(None)))
            )
        hits = {alert_id for alert_id, _ in notified(webhook)}
        return open_ids and open_ids <= hits and sent_rows(sessions) == len(webhook.received)

    wait_until(all_sent, timeout=40, message=lambda: f"{notified(webhook)}")
    assert set(notified(webhook).values()) == {1}, notified(webhook)
    assert {hit["kind"] for hit in webhook.received} >= {"absent", "device_offline"}
    logs = first_log.read_text() + second_log.read_text()
    assert logs.count("is now the active one") == 1, logs
    assert stop(first) == 0 and stop(second) == 0
    assert holder_pid(sessions) is None  # released on the way out


def test_a_standby_takes_over_when_the_active_scheduler_dies(
    deployment, webhook, schedulers, sessions, collector_process, mosquitto, hall_tz
):
    """One active scheduler and two standbys: when it dies, exactly one standby takes over."""
    processes = dict(schedulers() for _ in range(3))
    by_pid = {p.pid: p for p in processes}

    def logs() -> str:
        return "\n".join(f"--- pid {p.pid}:\n{log.read_text()}" for p, log in processes.items())

    active = by_pid[wait_until(lambda: holder_pid(sessions), timeout=30, message=logs)]
    wait_until(lambda: webhook.received, timeout=30, message=logs)  # the active one works
    active.send_signal(signal.SIGKILL)
    active.wait()
    killed_at = time.monotonic()
    standbys = [p for p in processes if p is not active]

    def standby_holding() -> int | None:
        pid = holder_pid(sessions)
        return pid if pid in {p.pid for p in standbys} else None

    successor = by_pid[
        wait_until(standby_holding, timeout=LEASE_TTL_S + TAKEOVER_SLACK_S, message=logs)
    ]
    assert time.monotonic() - killed_at <= LEASE_TTL_S + TAKEOVER_SLACK_S

    # The new active scheduler raises and sends what happens next: 张三 read at his office.
    pub = publisher(mosquitto.url)
    read = {"type": "badge", "uid": "04A1B2C3", "ts": datetime.now(hall_tz).isoformat()}
    publish(pub, "hallwatch/devices/office-civil/events", read)
    pub.loop_stop()
    wait_until(
        lambda: any(hit["kind"] == "pulled_back" for hit in webhook.received),
        timeout=30,
        message=logs,
    )
    [still_standing_by] = [p for p in standbys if p is not successor]
    assert "is now the active one" in processes[successor].read_text()
    assert "is now the active one" not in processes[still_standing_by].read_text()
    assert [hit["kind"] for hit in webhook.received].count("pulled_back") == 1
    assert stop(successor) == 0 and stop(still_standing_by) == 0
