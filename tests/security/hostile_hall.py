"""A hall whose every free-text name is an attack, built on the real services for the suite.

Names carry a department marker (CIVILX / TAXX) so a scope test can tell whose data
leaked, and one of several XSS payloads. The hall is imported with the CLI, gets a user
of each role (password `pw-ROLE`) plus an admin whose user name is a payload, an alert
per department acknowledged with a hostile note, events and rejected messages through
a real collector, and an unknown card.
"""

from __future__ import annotations

import io
import threading
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from flask import Flask, url_for

from collector.collector import Collector
from hallwatch.access import Scope
from hallwatch.config import Settings
from hallwatch.influx.client import InfluxClient
from hallwatch.metrics.appeals import to_microseconds
from hallwatch.metrics.day import WindowMinutes
from hallwatch.mqtt import make_client
from hallwatch.registry.appeals import Filing, decide, file_appeal
from hallwatch.registry.parse import parse_registry
from hallwatch.registry.spec import Registry
from hallwatch.registry.staffing import Filed, file_request
from hallwatch.registry.staffing_rules import leave_request
from hallwatch.registry.users import add_user
from tests.halls import ROLES
from tests.helpers import SHANGHAI, InfluxDB, deployment_env, hallwatch, influx_admin, wait_until
from tests.mqtt_helpers import publish, publisher
from tests.web_helpers import add_alert, app_for, password_of, sign_in

HALL_TZ = SHANGHAI  # the zone this module's hall file names

# What must never reach a page unescaped. Each is a complete attack on its own.
PAYLOADS = (
    "<script>alert('hw')</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(2)>",
    "x onmouseover=alert(3) y",  # for an unquoted attribute
    "</textarea><script>alert(4)</script>",
    "javascript:alert(5)",
)
RAW_MARKERS = ("<script>alert", "<img src=x", "<svg/onload", "</textarea><script")
HOSTILE_USER = '<img src=x onerror=alert("u")>'


def evil(marker: str, n: int) -> str:
    """A name: a scope marker, then payload `n`."""
    return f"{marker}{n} {PAYLOADS[n % len(PAYLOADS)]}"


def hostile_registry(today: str) -> dict:
    return {
        "hall": {
            "name": evil("HALL", 0),
            "timezone": "Asia/Shanghai",
            "hours": [["00:00", "23:59"]],
            "holidays": "none",
            "working_days": [today],
            "empty_grace_minutes": 10,
        },
        "departments": [
            {"id": "civil", "name": evil("CIVILX", 1)},
            {"id": "tax", "name": evil("TAXX", 2)},
        ],
        "windows": [
            {"id": "W01", "name": evil("CIVILX", 3), "department": "civil", "position": [1, 1]},
            {"id": "W02", "name": evil("CIVILX", 4), "department": "civil", "position": [1, 2]},
            {"id": "W03", "name": evil("TAXX", 5), "department": "tax", "position": [1, 3]},
        ],
        "staff": [
            {
                "id": "s001",
                "name": evil("CIVILX", 0),
                "department": "civil",
                "badges": ["04A1B2C3"],
            },
            {
                "id": "s002",
                "name": evil("CIVILX", 1),
                "department": "civil",
                "badges": ["04A1B2C4"],
            },
            {"id": "s003", "name": evil("TAXX", 3), "department": "tax", "badges": ["04A1B2C5"]},
        ],
        "devices": [
            {"id": "desk-w01-card", "kind": "badge_reader", "window": "W01"},
            {
                "id": "desk-w01-seat",
                "kind": "presence_sensor",
                "window": "W01",
                "zigbee2mqtt": "seat_w01",
            },
            {
                "id": "desk-w02-card",
                "kind": "badge_reader",
                "window": "W02",
                "tasmota": "w02_reader",
            },
            {"id": "desk-w03-card", "kind": "badge_reader", "window": "W03"},
            {"id": "desk-w03-seat", "kind": "presence_sensor", "window": "W03"},
            {
                "id": "office-civil",
                "kind": "badge_reader",
                "department": "civil",
                "tasmota": "civil_door",
            },
        ],
        "roster": [
            {"staff": "s001", "window": "W01", "days": ["mon", "tue", "wed", "thu", "fri"]},
            {"staff": "s002", "window": "W02", "days": ["mon", "tue", "wed", "thu", "fri"]},
            {"staff": "s003", "window": "W03", "days": ["mon", "tue", "wed", "thu", "fri"]},
        ],
        "leave": [
            {
                "staff": "s002",
                "from": f"{today}T00:00",
                "until": f"{today}T00:30",
                "reason": evil("CIVILX", 5),
            },
        ],
    }


@dataclass
class HostileHall:
    env: dict
    app: Flask
    influx: InfluxDB
    registry: Registry
    alerts: dict[str, int]  # department → an alert of it
    spare_user: int
    sessions: dict[str, tuple[str, str]]  # who → (session cookie, CSRF token)
    appeals: dict[str, int]  # department → an appeal of it (civil's accepted, tax's pending)
    requests: dict[str, int]  # department → a pending leave request of one of its people

    def client(self, who: str):
        client = self.app.test_client()
        client.set_cookie("session", self.sessions[who][0])
        return client

    def token(self, who: str) -> str:
        return self.sessions[who][1]


# Messages a device could send, hostile wherever the topic and payload allow.
HOSTILE_MESSAGES: tuple[tuple[str, bytes | dict], ...] = (
    ("hallwatch/devices/desk-w01-card/events", {"type": "badge", "uid": "04A1B2C3"}),
    ("hallwatch/devices/desk-w01-card/events", {"type": "badge", "uid": "CAFE0001"}),  # unknown
    ("hallwatch/devices/desk-w03-card/events", {"type": "badge", "uid": "04A1B2C5"}),
    ("hallwatch/devices/desk-w01-seat/events", {"type": "presence", "occupied": True}),
    ("hallwatch/devices/desk-w01-card/events", {"type": "badge", "uid": PAYLOADS[0]}),
    ("hallwatch/devices/desk-w01-card/events", {"type": "badge", "uid": "a,b=c d\n x=1"}),
    ("hallwatch/devices/<script>alert('t')<\\script>/events", {"type": "badge", "uid": "01"}),
    ("hallwatch/devices/desk-w01-card/events", PAYLOADS[1].encode()),
    ("hallwatch/devices/desk-w01-card/events", b'\xff"><img src=x onerror=alert(9)>'),
    (
        "hallwatch/devices/desk-w03-card/events",
        {
            "type": "heartbeat",
            "battery": 3.5,
            "bat tery,x=1 y": 1,
            "a\nb=c": 2,
            '"\\': 3,
            "<script>": 4,
        },
    ),
    (f"zigbee2mqtt/{PAYLOADS[2]}", {"occupancy": True}),
    ("tele/civil_door/RESULT", {"RC522": {"UID": PAYLOADS[3]}}),
)
EXPECTED_EVENTS = 5  # the first four and the heartbeat; the other seven are rejected
EXPECTED_REJECTED = 7


class _Collector:
    """A real collector in a thread, reading the hostile hall's registry."""

    def __init__(self, broker_url: str, influx: InfluxDB, registry: Registry):
        target = Settings(mqtt_url=broker_url).mqtt_target()
        client_id = f"sec-{uuid.uuid4().hex[:6]}"
        client = make_client(target, client_id, persistent=True, manual_ack=True)
        self.collector = Collector(
            client,
            InfluxClient(influx.url, influx.db),
            lambda: registry,
            collector_id=client_id,
        )
        self.collector.start(target.host, target.port)
        self.thread = threading.Thread(target=self.collector.run, daemon=True)
        self.thread.start()
        wait_until(self.collector.subscribed.is_set, message="collector subscribed")

    def stop(self) -> None:
        self.collector.stop()
        self.thread.join(timeout=20)


def stored(influx: InfluxDB, measurement: str, field: str) -> int:
    rows = influx.rows(f'SELECT count("{field}") FROM "{measurement}"')
    return rows[0]["count"] if rows else 0


def _acknowledge(app: Flask, who: str, alert_id: int, note: str) -> None:
    cookie, token = sign_in(app, who)
    client = app.test_client()
    client.set_cookie("session", cookie)
    answer = client.post(f"/alerts/{alert_id}/ack", data={"note": note, "csrf_token": token})
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:300]


def _add_appeal(db, department: str, window: str) -> int:
    """An appeal of the first minute of today, its reason (and civil's note) an attack."""
    start = datetime.now(HALL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    filing = Filing(
        hall="main",
        department=department,
        subject="window",
        day=start.date(),
        start=start,
        end=start + timedelta(minutes=1),
        reason="outage",
        reason_text=evil("CIVILX" if department == "civil" else "TAXX", 5),
        window=window,
    )
    appeal = file_appeal(db, filing, HOSTILE_USER, start).id
    if department == "civil":  # decided, so the reports list it with its note
        note = evil("CIVILX", 1)
        decide(db, appeal, True, HOSTILE_USER, note, start, [], to_microseconds(WindowMinutes()))
    return appeal


PEOPLE = {"civil": "s001", "tax": "s003"}  # department → one of its people


def _add_leave_request(db, registry: Registry, department: str, staff: str) -> int:
    """A pending leave request for tomorrow, its reason an attack."""
    start = datetime.now(HALL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    start += timedelta(days=1)
    filed = Filed(registry, Scope(), HOSTILE_USER, start)
    marker = "CIVILX" if department == "civil" else "TAXX"
    row = leave_request(filed, staff, start, start + timedelta(hours=8), "sick", evil(marker, 6))
    return file_request(db, filed, row).id


@contextmanager
def hostile_hall(tmp: Path, mosquitto, influxd) -> Iterator[HostileHall]:
    influx = InfluxDB(influxd.url, f"hw_sec_{uuid.uuid4().hex[:8]}")
    influx_admin(influx.url, f'CREATE DATABASE "{influx.db}"')
    env = deployment_env(f"sqlite:///{tmp / 'hallwatch.sqlite3'}", mosquitto.url, influx)
    env["HALLWATCH_PUBLIC_RANKING"] = "1"
    text = yaml.safe_dump(hostile_registry(str(datetime.now(HALL_TZ).date())), allow_unicode=True)
    (tmp / "hall.yaml").write_text(text, encoding="utf-8")
    hallwatch("import", str(tmp / "hall.yaml"), env=env)
    registry = parse_registry(text)
    app = app_for(env)
    with app.extensions["hallwatch"].sessions() as db:
        for role in ROLES:
            add_user(db, role, role, password_of(role), "tax" if role == "dept_head" else None)
        add_user(db, HOSTILE_USER, "hall_manager", password_of(HOSTILE_USER))
        spare = add_user(db, "spare", "inspector", password_of("spare")).id
        alerts = {"civil": add_alert(db, "civil", "W01"), "tax": add_alert(db, "tax", "W03")}
        appeals = {"civil": _add_appeal(db, "civil", "W01"), "tax": _add_appeal(db, "tax", "W03")}
        requests = {d: _add_leave_request(db, registry, d, s) for d, s in PEOPLE.items()}
        db.commit()
    _acknowledge(app, HOSTILE_USER, alerts["civil"], PAYLOADS[4])
    collector = _Collector(mosquitto.url, influx, registry)
    try:
        pub = publisher(mosquitto.url)
        for topic, payload in HOSTILE_MESSAGES:
            publish(pub, topic, payload)
        pub.loop_stop()
        wait_until(
            lambda: stored(influx, "hw_event", "received_ms") >= EXPECTED_EVENTS
            and stored(influx, "hw_rejected", "reason") >= EXPECTED_REJECTED,
            timeout=20,
            message=lambda: f"stored: {stored(influx, 'hw_event', 'received_ms')} events, "
            f"{stored(influx, 'hw_rejected', 'reason')} rejected",
        )
    finally:
        collector.stop()
    sessions = {who: sign_in(app, who) for who in ("anonymous", *ROLES)}
    try:
        yield HostileHall(env, app, influx, registry, alerts, spare, sessions, appeals, requests)
    finally:
        influx_admin(influx.url, f'DROP DATABASE "{influx.db}"')


def path_args(hall: HostileHall, department: str = "civil") -> dict:
    """A real value for every path argument, of `department` where it has one."""
    return {
        "window_id": {"civil": "W01", "tax": "W03"}[department],
        "dept_id": department,
        "alert_id": hall.alerts[department],
        "appeal_id": hall.appeals[department],
        "request_id": hall.requests[department],
        "staff_id": PEOPLE[department],
        "device_id": {"civil": "desk-w01-card", "tax": "desk-w03-card"}[department],
        "line": "no-such-line",  # roster lines are named by a digest of their content
        "digest": "0" * 64,  # no such upload
        "user_id": hall.spare_user,
        "filename": "floor.js",
        "month": f"{datetime.now(HALL_TZ):%Y-%m}",
    }


def query_args() -> dict[str, dict]:
    """Query strings a route needs to answer with data rather than a 400."""
    now = datetime.now(HALL_TZ).replace(microsecond=0)
    span = {
        "from": now.replace(day=1, hour=0, minute=0, second=0).isoformat(),
        "to": now.isoformat(),
    }
    return {
        "reports_api.windows_report": span,
        "reports_api.staff_report": span,
        "reports_api.departments_report": {"month": f"{now:%Y-%m}"},
    }


def path_of(hall: HostileHall, endpoint: str, department: str = "civil", **query) -> str:
    rule = next(hall.app.url_map.iter_rules(endpoint))
    args = {k: v for k, v in path_args(hall, department).items() if k in rule.arguments}
    with hall.app.test_request_context():
        return url_for(endpoint, **args, **query_args().get(endpoint, {}), **query)


def texts(response) -> str:
    """The answer as text; a zip (xlsx, csv archive) as the text of all its members."""
    data = response.get_data()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return data.decode("utf-8", "replace")
