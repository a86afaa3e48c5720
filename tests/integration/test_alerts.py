"""Alerts end to end on real services: events → `hallwatch check` → records, and the alerts
API with its scopes (the `hallwatch alerts` schedulers: test_alert_schedulers)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hallwatch.registry.alerting import AlertRow
from tests.helpers import BACKENDS, hallwatch, midday_zone, wait_until
from tests.integration.alert_hall import alert_hall, sessions_of
from tests.mqtt_helpers import publish, publisher
from tests.web_helpers import app_for, basic

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
