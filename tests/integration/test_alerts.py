"""Alerts end to end on real services: events → `hallwatch check` / `hallwatch alerts` → records,
notifications through a local webhook, and the alerts API with its scopes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from alerts.lease import holder_of, release, try_acquire
from alerts.records import reconcile
from alerts.scheduler import LEASE_NAME, LEASE_TTL_S
from hallwatch.alert_kinds import Episode
from hallwatch.events import Heartbeat
from hallwatch.influx.eventstore import event_point
from hallwatch.registry.alerting import AlertRow, OutboxRow
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from tests.conftest import database_url_for
from tests.helpers import deployment_env, hallwatch, wait_until
from tests.mqtt_helpers import publish, publisher
from tests.unit.hall import hall
from tests.web_helpers import app_for, basic

BACKENDS = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
CONTRACT_FIELDS = {
    "id",
    "kind",
    "window",
    "department",
    "staff",
    "opened_at",
    "resolved_at",
    "status",
    "message",
}
TAKEOVER_SLACK_S = 10.0  # a standby's tick, process start-up and a loaded test machine
HALL_YAML = """
hall:
  name: 告警测试大厅
  timezone: {tz}
  hours: [["00:00", "23:59"]]
  holidays: none
  working_days: [{today}]
  empty_grace_minutes: 10
  absent_grace_minutes: 15
  offline_after_minutes: 10
departments:
  - {{id: civil, name: 民政局}}
  - {{id: tax, name: 税务局}}
windows:
  - {{id: W01, name: 1号窗口, department: civil}}
  - {{id: W03, name: 3号窗口, department: tax}}
staff:
  - {{id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}}
  - {{id: s003, name: 王五, department: tax, badges: ["04A1B2C5"]}}
devices:
  - {{id: desk-w01-card, kind: badge_reader, window: W01}}
  - {{id: desk-w01-seat, kind: presence_sensor, window: W01}}
  - {{id: desk-w03-card, kind: badge_reader, window: W03}}
  - {{id: office-civil, kind: badge_reader, department: civil}}
roster:
  - {{staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s003, window: W03, days: [mon, tue, wed, thu, fri]}}
"""


def midday_zone() -> ZoneInfo:
    """A fixed-offset zone where it is about noon now: no test runs across the hall's midnight."""
    offset = 12 - datetime.now(UTC).hour  # -11 … +12
    return ZoneInfo(f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT")


@pytest.fixture
def database_url(request, tmp_path: Path):
    """SQLite by default; the tests marked BACKENDS run on PostgreSQL as well."""
    yield from database_url_for(getattr(request, "param", "sqlite"), tmp_path)


@pytest.fixture
def hall_tz() -> ZoneInfo:
    return midday_zone()


@pytest.fixture
def deployment(tmp_path: Path, mosquitto, influx_db, database_url, hall_tz):
    """The test hall imported with the CLI, a user of each role, the processes' environment."""
    env = deployment_env(database_url, mosquitto.url, influx_db)
    hall_file = tmp_path / "hall.yaml"
    today = datetime.now(hall_tz).date()
    hall_file.write_text(HALL_YAML.format(tz=hall_tz.key, today=today), encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    # The hall was collecting today: a reader's heartbeat just after midnight. (A day
    # without any device event raises no alert: it means HallWatch was not running.)
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=hall_tz)
    influx_db.write(
        event_point(Heartbeat("desk-w03-card", midnight + timedelta(minutes=1))).to_line(), "ns"
    )
    for name, role, department in (
        ("boss", "hall_manager", None),
        ("tax", "dept_head", "tax"),
        ("audit", "inspector", None),
    ):
        extra = ["--department", department] if department else []
        hallwatch("user", "add", name, "--role", role, *extra, "--password", f"pw-{name}", env=env)
    return env


@pytest.fixture
def sessions(deployment):
    """Sessions on the deployment's database, for looking at what the processes wrote."""
    engine = make_engine(deployment["HALLWATCH_DATABASE_URL"])
    yield make_session_factory(engine)
    engine.dispose()


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


def check(env: dict, *args: str) -> list[dict]:
    """Run `hallwatch check`; its stdout must be nothing but the JSON list."""
    result = hallwatch("check", *args, env=env)
    return json.loads(result.stdout)


def count(sessions, model=AlertRow) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def one(alerts: list[dict], kind: str, **match) -> dict:
    found = [a for a in alerts if a["kind"] == kind and all(a[k] == v for k, v in match.items())]
    assert len(found) == 1, f"{kind} {match} in {alerts}"
    return found[0]


def whole_second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def test_check_prints_the_open_alerts_and_opens_nothing_twice(
    deployment, collector_process, mosquitto, influx_db, sessions, hall_tz
):
    now = whole_second(datetime.now(hall_tz))
    came, left = now - timedelta(minutes=40), now - timedelta(minutes=30)
    pub = publisher(mosquitto.url)
    events = [
        ("desk-w01-card", {"type": "badge", "uid": "04A1B2C3", "ts": came.isoformat()}),
        ("desk-w01-seat", {"type": "presence", "occupied": True, "ts": came.isoformat()}),
        ("desk-w01-seat", {"type": "presence", "occupied": False, "ts": left.isoformat()}),
    ]
    # The seat sensor keeps reporting (no status messages: it is online while not silent).
    for minutes in range(25, -1, -5):
        beat = (now - timedelta(minutes=minutes)).isoformat()
        events.append(("desk-w01-seat", {"type": "heartbeat", "ts": beat}))
    for device, payload in events:
        publish(pub, f"hallwatch/devices/{device}/events", payload)
    pub.loop_stop()
    stored = 'SELECT count("received_ms") FROM "hw_event"'
    expected = len(events) + 1  # and the heartbeat the deployment wrote after midnight
    wait_until(lambda: (influx_db.rows(stored) or [{}])[0].get("count") == expected)

    at = now.isoformat()
    dry = check(deployment, "--at", at, "--dry-run")
    assert count(sessions) == 0, "a dry run records nothing"

    first = check(deployment, "--at", at)
    assert all(set(a) >= CONTRACT_FIELDS for a in first)
    empty = one(first, "empty_window", window="W01")
    assert empty == {
        **empty,
        "department": "civil",
        "staff": None,
        "status": "open",
        "resolved_at": None,
        "opened_at": (left + timedelta(minutes=10)).isoformat(),
    }
    assert "1号窗口" in empty["message"]
    assert one(first, "absent", staff="s003")["department"] == "tax"
    assert not [a for a in first if a["kind"] == "absent" and a["staff"] == "s001"]  # signed in
    assert sorted((a["kind"], a["opened_at"]) for a in dry) == sorted(
        (a["kind"], a["opened_at"]) for a in first
    )

    recorded = count(sessions)
    assert check(deployment, "--at", at) == first
    assert count(sessions) == recorded


def test_check_refuses_a_malformed_instant(deployment):
    result = hallwatch("check", "--at", "yesterday-ish", env=deployment, check=False)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "--at" in result.stderr and "ISO-8601" in result.stderr


@BACKENDS
def test_department_heads_see_and_acknowledge_only_their_own(deployment, sessions):
    alerts = check(deployment)  # nobody signed in, no device ever reported
    civil = one(alerts, "absent", staff="s001")
    tax = one(alerts, "absent", staff="s003")
    client = app_for(deployment).test_client()
    head, boss, audit = basic("tax", "pw-tax"), basic("boss", "pw-boss"), basic("audit", "pw-audit")

    def listed(headers, **query):
        response = client.get("/api/alerts", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    seen = listed(head)
    assert seen and {a["department"] for a in seen} == {"tax"}
    assert {a["department"] for a in listed(boss)} == {"civil", "tax"}

    def ack(alert_id, headers, **body):
        return client.post(f"/api/alerts/{alert_id}/ack", json=body, headers=headers)

    assert ack(civil["id"], head).status_code == 404  # not theirs: as if it did not exist
    assert ack(999_999, boss).status_code == 404
    assert ack(tax["id"], audit).status_code == 403  # inspectors read, never change
    done = ack(tax["id"], head, note="已电话联系")
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert (body["status"], body["acknowledged_by"], body["ack_note"]) == (
        "acknowledged",
        "tax",
        "已电话联系",
    )
    assert one(listed(head), "absent", staff="s003")["status"] == "acknowledged"  # still open
    assert listed(audit)  # an inspector reads everything
    assert len(listed(boss, status="all")) >= len(listed(boss))

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert listed(boss, since=future) == []
    bad = client.get("/api/alerts?since=soon", headers=boss)
    assert bad.status_code == 400 and "since" in bad.get_json()["error"]
    assert client.get("/api/alerts?status=closed", headers=boss).status_code == 400
    assert client.get("/api/alerts").status_code == 401


def test_a_browser_session_needs_the_csrf_token_to_acknowledge(deployment):
    alerts = check(deployment)
    target = one(alerts, "absent", staff="s003")["id"]
    client = app_for(deployment).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login = {"username": "boss", "password": "pw-boss", "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    # The login starts a new session (no fixation): the floor page's logout form has its token.
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    refused = client.post(f"/api/alerts/{target}/ack", data={"note": "x"})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    accepted = client.post(f"/api/alerts/{target}/ack", headers={"X-CSRFToken": token})
    assert accepted.status_code == 200 and accepted.get_json()["acknowledged_by"] == "boss"

    # HTTP Basic needs no token, unless a browser sends it along from another site.
    api = app_for(deployment).test_client()
    other = one(alerts, "absent", staff="s001")["id"]
    cross_site = {**basic("boss", "pw-boss"), "Origin": "https://evil.example"}
    assert api.post(f"/api/alerts/{other}/ack", headers=cross_site).status_code == 400
    assert api.post(f"/api/alerts/{other}/ack", headers=basic("boss", "pw-boss")).status_code == 200


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


# --- the lease and the records on each backend ----------------------------------------


@pytest.fixture
def bare_sessions(database_url):
    engine = make_engine(database_url)
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


@BACKENDS
def test_the_lease_has_one_holder_until_it_expires(bare_sessions):
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert try_acquire(bare_sessions, "job", "a", 15, t0)
    assert not try_acquire(bare_sessions, "job", "b", 15, t0 + timedelta(seconds=5))
    assert try_acquire(bare_sessions, "job", "a", 15, t0 + timedelta(seconds=10))  # renewed
    assert not try_acquire(bare_sessions, "job", "b", 15, t0 + timedelta(seconds=20))
    assert try_acquire(bare_sessions, "job", "b", 15, t0 + timedelta(seconds=26))  # a went quiet
    assert not try_acquire(bare_sessions, "job", "a", 15, t0 + timedelta(seconds=27))
    assert not release(bare_sessions, "job", "a")
    assert release(bare_sessions, "job", "b")
    assert try_acquire(bare_sessions, "job", "a", 15, t0 + timedelta(seconds=28))


@BACKENDS
def test_many_taking_a_free_lease_at_once_give_it_to_one(bare_sessions):
    now = datetime.now(UTC)
    start = threading.Barrier(6)
    won: list[str] = []

    def contend(name: str) -> None:
        start.wait()
        if try_acquire(bare_sessions, "race", name, 15, now):
            won.append(name)

    threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(won) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_racing_evaluations_record_each_alert_once_on_postgresql(bare_sessions):
    registry = hall()
    now = datetime.now(UTC)
    found = [
        Episode("absent", f"absent:s00{i}:W0{i}:x", now, now, window=f"W0{i}", staff=f"s00{i}")
        for i in (1, 2)
    ]
    start = threading.Barrier(4)
    opened: list[int] = []

    def evaluate() -> None:
        with bare_sessions() as session:
            start.wait()
            result = reconcile(session, found, registry, now)
            session.commit()
            opened.append(len(result.opened))

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(opened) == 2
    with bare_sessions() as session:
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 2
