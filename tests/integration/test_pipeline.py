"""End to end on real services: import → collector process → MQTT → InfluxDB → /api/live."""

from __future__ import annotations

import base64
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.services import Mosquitto
from hallwatch.config import Settings
from tests.conftest import database_url_for as _database_url
from tests.helpers import deployment_env, hallwatch, midday_zone, wait_until
from tests.integration.test_collector import publish, publisher
from web import create_app
from web.api import MQTT_CHECK_REUSE_S

# A zone where it is about noon whenever the tests run, so nothing "a while ago" is yesterday.
HALL_TZ = midday_zone()
HALL_YAML = """
hall:
  name: 测试大厅
  timezone: ZONE
  hours: [["00:00", "23:59"]]
  holidays: none
  working_days: [{today}]
  empty_grace_minutes: 10
departments:
  - {{id: civil, name: 民政局}}
  - {{id: tax, name: 税务局}}
windows:
  - {{id: W01, name: 1号窗口, department: civil, position: [1, 1]}}
  - {{id: W02, name: 2号窗口, department: civil, position: [1, 2]}}
  - {{id: W03, name: 3号窗口, department: tax, position: [1, 3]}}
staff:
  - {{id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}}
  - {{id: s002, name: 李四, department: civil, badges: ["04A1B2C4"]}}
  - {{id: s003, name: 王五, department: tax, badges: ["04A1B2C5"]}}
devices:
  - {{id: desk-w01-card, kind: badge_reader, window: W01}}
  - {{id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}}
  - {{id: desk-w02-card, kind: badge_reader, window: W02, tasmota: w02_reader}}
  - {{id: desk-w03-card, kind: badge_reader, window: W03}}
  - {{id: office-civil, kind: badge_reader, department: civil, tasmota: civil_door}}
roster:
  - {{staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s002, window: W02, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s003, window: W03, days: [mon, tue, wed, thu, fri]}}
""".replace("ZONE", HALL_TZ.key)


BACKENDS = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def database_url(request, tmp_path: Path):
    """SQLite by default; the tests marked BACKENDS run on PostgreSQL as well."""
    yield from _database_url(getattr(request, "param", "sqlite"), tmp_path)


@pytest.fixture
def deployment(tmp_path: Path, mosquitto, influx_db, database_url):
    """A registry imported with the CLI, users, and the environment the processes share."""
    env = deployment_env(database_url, mosquitto.url, influx_db)
    hall_file = tmp_path / "hall.yaml"
    today = datetime.now(HALL_TZ).date()
    hall_file.write_text(HALL_YAML.format(today=today), encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    hallwatch("user", "add", "boss", "--role", "hall_manager", "--password", "pw-boss", env=env)
    hallwatch(
        "user",
        "add",
        "tax",
        "--role",
        "dept_head",
        "--department",
        "tax",
        "--password",
        "pw-tax",
        env=env,
    )
    return env


def basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def app_for(env: dict):
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("HALLWATCH_")})
    return create_app(settings, {"TESTING": True})


def live(client, auth=("boss", "pw-boss"), **query) -> dict:
    response = client.get("/api/live", query_string=query, headers=basic(*auth))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def window(body: dict, window_id: str) -> dict:
    return next(w for w in body["windows"] if w["id"] == window_id)


@BACKENDS
def test_the_live_hall_follows_the_devices(deployment, collector_process, mosquitto):
    client = app_for(deployment).test_client()
    assert window(live(client), "W01")["state"] == "unknown"  # the seat sensor never reported
    pub = publisher(mosquitto.url)
    now = datetime.now(UTC)
    publish(
        pub,
        "hallwatch/devices/desk-w01-card/events",
        {"type": "badge", "uid": "04a1b2c3", "ts": (now - timedelta(minutes=30)).isoformat()},
    )
    publish(pub, "zigbee2mqtt/seat_w01/availability", {"state": "online"})
    publish(pub, "zigbee2mqtt/seat_w01", {"occupancy": True, "battery": 88})

    def w01():
        return window(live(client), "W01")

    wait_until(lambda: w01()["state"] == "staffed", timeout=15, message=lambda: str(w01()))
    assert w01()["signed_in"][0]["name"] == "张三"
    assert w01()["rostered"] == ["s001"]

    publish(pub, "zigbee2mqtt/seat_w01", {"occupancy": False})
    wait_until(lambda: w01()["state"] == "away", timeout=15, message=lambda: str(w01()))
    later = (datetime.now(UTC) + timedelta(minutes=11)).isoformat()
    assert window(live(client, at=later), "W01")["state"] == "empty"

    # 李四 signs in at W02 through a Tasmota reader, then is read at the civil office.
    local = datetime.now(HALL_TZ).replace(tzinfo=None)
    publish(
        pub,
        "tele/w02_reader/SENSOR",
        {
            "Time": (local - timedelta(minutes=5)).isoformat(timespec="seconds"),
            "RC522": {"UID": "04A1B2C4", "DATA": "", "Type": "MIFARE 1KB"},
        },
    )
    wait_until(lambda: window(live(client), "W02")["state"] == "staffed", timeout=15)
    publish(
        pub,
        "tele/civil_door/SENSOR",
        {"Time": local.isoformat(timespec="seconds"), "PN532": {"UID": "04A1B2C4", "DATA": ""}},
    )
    wait_until(lambda: window(live(client), "W02")["signed_in"] == [], timeout=15)
    pub.loop_stop()

    collector_process.send_signal(signal.SIGTERM)
    assert collector_process.wait(timeout=20) == 0


def test_replay_of_a_past_instant(deployment, collector_process, mosquitto):
    client = app_for(deployment).test_client()
    pub = publisher(mosquitto.url)
    start = datetime.now(UTC) - timedelta(minutes=40)
    publish(pub, "hallwatch/devices/desk-w01-seat/status", "online")
    for minutes, occupied in ((0, True), (20, False), (28, False), (35, True)):
        publish(
            pub,
            "hallwatch/devices/desk-w01-seat/events",
            {
                "type": "presence",
                "occupied": occupied,
                "ts": (start + timedelta(minutes=minutes)).isoformat(),
            },
        )
    wait_until(lambda: window(live(client), "W01")["state"] == "staffed", timeout=15)
    past = window(live(client, at=(start + timedelta(minutes=31)).isoformat()), "W01")
    emptied = (start + timedelta(minutes=20)).astimezone(HALL_TZ)
    assert (past["state"], past["since"]) == ("empty", emptied.isoformat(timespec="seconds"))
    pub.loop_stop()


@BACKENDS
def test_a_department_head_sees_only_their_department(deployment):
    client = app_for(deployment).test_client()
    body = live(client, auth=("tax", "pw-tax"))
    assert [w["id"] for w in body["windows"]] == ["W03"]
    assert sum(body["counts"].values()) == 1


def test_api_needs_credentials_and_rejects_a_bad_instant(deployment):
    client = app_for(deployment).test_client()
    assert client.get("/api/live").status_code == 401
    assert client.get("/api/live", headers=basic("boss", "wrong")).status_code == 401
    bad = client.get("/api/live?at=yesterday-ish", headers=basic("boss", "pw-boss"))
    assert bad.status_code == 400 and "ISO-8601" in bad.get_json()["error"]


def test_a_browser_session_works_too(deployment):
    app = app_for(deployment)
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    response = client.post("/login", data={"username": "boss", "password": "pw-boss"})
    assert response.status_code == 302
    assert client.get("/api/live").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "1号窗口" in page.get_data(as_text=True)


def test_healthz_names_what_is_down(deployment, tmp_path):
    client = app_for(deployment).test_client()
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.get_json() == {
        "database": "ok",
        "influx": "ok",
        "mqtt": "ok",
    }
    broken = {
        **deployment,
        "HALLWATCH_INFLUX_URL": "http://127.0.0.1:9",
        "HALLWATCH_MQTT_URL": "mqtt://127.0.0.1:9",
    }
    body = app_for(broken).test_client().get("/healthz")
    assert body.status_code == 503
    assert json.loads(body.data)["down"] == ["influx", "mqtt"]


def test_a_flood_of_healthz_opens_one_broker_connection_not_one_each(deployment, tmp_path):
    with Mosquitto(tmp_path / "broker") as broker:
        client = app_for({**deployment, "HALLWATCH_MQTT_URL": broker.url}).test_client()
        before = broker.log_path.read_text().count("New connection from")  # its start-up's
        started = time.monotonic()
        answers = [client.get("/healthz").get_json()["mqtt"] for _ in range(50)]
        took = time.monotonic() - started
        connections = broker.log_path.read_text().count("New connection from") - before
    assert answers == ["ok"] * 50
    # One check answers every request for MQTT_CHECK_REUSE_S, instead of one per request.
    assert connections <= 1 + took // MQTT_CHECK_REUSE_S < 50


def test_operators_list_rejected_messages_and_unknown_cards(
    deployment, collector_process, mosquitto
):
    client = app_for(deployment).test_client()
    pub = publisher(mosquitto.url)
    publish(pub, "hallwatch/devices/desk-w01-card/events", b"\xff not json")
    publish(pub, "hallwatch/devices/desk-w01-card/events", {"type": "badge", "uid": "CAFE0001"})
    manager = basic("boss", "pw-boss")

    def listed(path):
        return client.get(path, headers=manager).get_json()

    rows = wait_until(lambda: listed("/api/rejected"), timeout=15)
    assert rows[0]["topic"] == "hallwatch/devices/desk-w01-card/events"
    assert rows[0]["encoding"] == "base64" and rows[0]["reason"]
    cards = wait_until(lambda: listed("/api/unknown-cards"), timeout=15)
    assert cards[0]["uid"] == "CAFE0001" and cards[0]["device"] == "desk-w01-card"
    assert cards[0]["printed"] == "3405643777"  # 0xCAFE0001, as a 125 kHz card prints it
    assert client.get("/api/rejected", headers=basic("tax", "pw-tax")).status_code == 403
    assert client.get("/api/rejected?hours=x", headers=manager).status_code == 400
    pub.loop_stop()
