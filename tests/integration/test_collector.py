"""The collector on the real Mosquitto and InfluxDB: every form in, nothing lost or doubled."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

import pytest

from collector import collector as collector_module
from console.services import BROKER_MESSAGE_SIZE_LIMIT, Influxd
from hallwatch.influx.client import InfluxClient
from hallwatch.registry.spec import Registry
from tests.helpers import RunningCollector, wait_until
from tests.mqtt_helpers import publish, publisher
from tests.unit.hall import hall

REGISTRY = hall()
HALL_TZ = REGISTRY.hall.tz
# Device clocks within the trusted range (30 days back): a whole second, yesterday, hall time.
YESTERDAY = (datetime.now(HALL_TZ) - timedelta(days=1)).replace(microsecond=0)
EPOCH_S = int(YESTERDAY.timestamp())


@pytest.fixture
def running(mosquitto, influx_db):
    started = RunningCollector(mosquitto.url, influx_db.url, influx_db.db)
    yield started
    started.stop()


def count(influx_db, measurement: str = "hw_event") -> int:
    rows = influx_db.rows(f'SELECT count("received_ms") FROM "{measurement}"')
    if measurement == "hw_rejected":
        rows = influx_db.rows(f'SELECT count("reason") FROM "{measurement}"')
    return rows[0]["count"] if rows else 0


def test_every_payload_form_is_stored_with_its_event_time(mosquitto, influx_db, running):
    pub = publisher(mosquitto.url)
    sent = datetime.now(HALL_TZ)
    publish(
        pub,
        "hallwatch/devices/desk-w01-card/events",
        {"type": "badge", "uid": "04a1b2c3", "ts": YESTERDAY.isoformat()},
    )
    publish(pub, "zigbee2mqtt/seat_w01", {"occupancy": True, "battery": 90, "linkquality": 120})
    publish(
        pub,
        "tele/civil_door/SENSOR",
        {
            "Time": (YESTERDAY + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
            "RC522": {"UID": "04A1B2C4", "DATA": "", "Type": "MIFARE 1KB"},
        },
    )
    publish(pub, "hallwatch/devices/desk-w01-seat/status", "offline")
    wait_until(lambda: count(influx_db) == 4, message=lambda: f"{count(influx_db)} points")
    badge = influx_db.rows(
        'SELECT * FROM hw_event WHERE "type" = \'badge\' AND "device" = $d', d="desk-w01-card"
    )
    assert badge[0]["time"] == EPOCH_S * 1000
    assert badge[0]["staff"] == "s001" and badge[0]["uid"] == "04A1B2C3"
    office = influx_db.rows("SELECT * FROM hw_event WHERE \"device\" = 'office-civil'")
    # Tasmota publishes live: its tap takes the receipt time; its Time is kept beside it.
    assert abs(office[0]["time"] / 1000 - sent.timestamp()) < 5
    assert (
        office[0]["device_time"]
        == (YESTERDAY + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    )
    pub.loop_stop()


def test_a_poison_message_is_kept_with_its_reason_and_the_next_one_still_lands(
    mosquitto, influx_db, running
):
    pub = publisher(mosquitto.url)
    publish(pub, "hallwatch/devices/desk-w01-seat/events", b"{not json")
    publish(pub, "hallwatch/devices/no-such-device/events", {"type": "heartbeat"})
    publish(
        pub,
        "hallwatch/devices/desk-w01-seat/events",
        {"type": "presence", "occupied": True, "ts": EPOCH_S},
    )
    wait_until(lambda: count(influx_db) == 1 and count(influx_db, "hw_rejected") == 2)
    reasons = [r["reason"] for r in influx_db.rows("SELECT * FROM hw_rejected")]
    assert any("JSON" in r or "json" in r for r in reasons)
    assert any("no-such-device" in r for r in reasons)
    assert running.collector.stats.rejected == 2
    assert running.thread.is_alive()
    pub.loop_stop()


def test_an_oversized_message_is_kept_with_its_true_size_and_the_next_one_still_lands(
    mosquitto, influx_db, running
):
    pub = publisher(mosquitto.url)
    # Over the collector's 64 KiB, under the broker's own message_size_limit (which drops
    # anything larger before it reaches us; tests/unit/test_mqtt_bulk.py reads megabytes).
    assert 200 * 1024 < BROKER_MESSAGE_SIZE_LIMIT
    huge = b'{"type": "heartbeat", "pad": "' + b"x" * (200 * 1024) + b'"}'
    publish(pub, "hallwatch/devices/desk-w01-seat/events", huge)
    publish(
        pub,
        "hallwatch/devices/desk-w01-seat/events",
        {"type": "presence", "occupied": True, "ts": EPOCH_S},
    )
    wait_until(lambda: count(influx_db) == 1 and count(influx_db, "hw_rejected") == 1)
    (row,) = influx_db.rows("SELECT * FROM hw_rejected")
    assert row["reason"].startswith(f"payload is {len(huge)} bytes, over the 65536-byte limit")
    assert row["truncated"] and huge.startswith(row["payload"].encode())
    pub.loop_stop()


def test_the_registry_is_reloaded_beside_ingest_not_in_its_way(mosquitto, influx_db, monkeypatch):
    monkeypatch.setattr(collector_module, "REGISTRY_RELOAD_S", 0.2)
    loads: list[float] = []

    def load_registry() -> Registry:
        loads.append(time.monotonic())
        if len(loads) == 1:
            return Registry()  # the device is not registered yet
        time.sleep(3)  # a registry of tens of thousands of desks
        return REGISTRY

    running = RunningCollector(
        mosquitto.url, influx_db.url, influx_db.db, load_registry=load_registry
    )
    pub = publisher(mosquitto.url)
    report = {"type": "presence", "occupied": True, "ts": EPOCH_S}
    wait_until(lambda: len(loads) == 2, message="no reload began")
    publish(pub, "hallwatch/devices/desk-w01-seat/events", report)
    # Handled at once, while the slow reload is still running, and with the old registry.
    wait_until(lambda: count(influx_db, "hw_rejected") == 1, timeout=2)
    assert time.monotonic() - loads[1] < 3
    wait_until(lambda: len(loads) >= 3, message="the slow reload never finished")
    publish(pub, "hallwatch/devices/desk-w01-seat/events", report)
    wait_until(lambda: count(influx_db) == 1, message="not stored with the reloaded registry")
    pub.loop_stop()
    running.stop()


def test_an_unknown_card_is_stored_as_such(mosquitto, influx_db, running):
    pub = publisher(mosquitto.url)
    publish(
        pub,
        "hallwatch/devices/desk-w02-card/events",
        {"type": "badge", "uid": "DEADBEEF", "ts": EPOCH_S},
    )
    wait_until(lambda: count(influx_db) == 1)
    row = influx_db.rows("SELECT * FROM hw_event")[0]
    # A field, not a tag: a flood of random cards adds points, never series.
    assert (row["card"], row.get("uid"), row["staff"]) == ("DEADBEEF", None, "")
    pub.loop_stop()


def test_a_redelivered_message_overwrites_its_own_point(mosquitto, influx_db, running):
    pub = publisher(mosquitto.url)
    event = {"type": "presence", "occupied": False, "ts": (EPOCH_S * 1000) + 123}
    for _ in range(3):
        publish(pub, "hallwatch/devices/desk-w01-seat/events", event)
    wait_until(lambda: running.collector.stats.written >= 3)
    assert count(influx_db) == 1
    pub.loop_stop()


def test_what_arrives_while_the_collector_is_down_is_stored_when_it_returns(mosquitto, influx_db):
    first = RunningCollector(mosquitto.url, influx_db.url, influx_db.db)
    first.stop()
    pub = publisher(mosquitto.url)
    for second in range(50):
        publish(
            pub,
            "hallwatch/devices/desk-w01-seat/events",
            {"type": "presence", "occupied": second % 2 == 0, "ts": EPOCH_S + second},
        )
    again = RunningCollector(mosquitto.url, influx_db.url, influx_db.db, first.client_id)
    try:
        wait_until(lambda: count(influx_db) == 50, message=lambda: f"{count(influx_db)} of 50")
    finally:
        again.stop()
        pub.loop_stop()


def test_nothing_is_acknowledged_or_lost_while_influxdb_is_down(mosquitto, start_service):
    influxd = start_service(Influxd)
    db = f"hw_outage_{uuid.uuid4().hex[:6]}"
    running = RunningCollector(mosquitto.url, influxd.url, db)
    pub = publisher(mosquitto.url)
    try:
        influxd.stop()
        for second in range(30):
            publish(
                pub,
                "hallwatch/devices/desk-w01-seat/events",
                {"type": "presence", "occupied": True, "ts": EPOCH_S + second},
            )
        wait_until(lambda: not running.collector.stats.influx_ok, message="outage noticed")
        influxd.start()
        client = InfluxClient(influxd.url, db)

        def stored() -> int:
            series = client.query('SELECT count("received_ms") FROM "hw_event"')
            return series[0]["values"][0][1] if series else 0

        wait_until(lambda: stored() == 30, timeout=60, message=lambda: f"{stored()} of 30")
        # The 204 can be read back before the worker has noted it.
        wait_until(lambda: running.collector.stats.influx_ok, timeout=5)
    finally:
        running.stop()
        pub.loop_stop()
