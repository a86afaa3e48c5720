"""End to end on real services: import → collector process → MQTT → InfluxDB → /api/live."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

from console.services import Mosquitto
from tests.halls import HALL_TZ
from tests.helpers import BACKENDS, wait_until
from tests.mqtt_helpers import publish, publisher
from tests.web_helpers import app_for, basic
from web.api import MQTT_CHECK_REUSE_S


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
