"""Real device payloads through the real Mosquitto and InfluxDB: receipt times live, device
clocks after a collector outage, one card through four readers, a dead Zigbee2MQTT bridge,
topics that follow the registry, and series that stay bounded whatever a device sends."""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from collector.collector import CLOCKS_FILE
from console.services import Mosquitto
from hallwatch.config import Settings
from hallwatch.influx.client import InfluxClient
from hallwatch.influx.eventstore import EventStore
from hallwatch.mqtt import hang_up, make_client
from hallwatch.registry.spec import Device, Registry, bridge_id
from hallwatch.state import hall_at
from tests.helpers import RunningCollector, wait_until
from tests.unit.hall import hall

CET = timedelta(hours=1)  # a stock Tasmota's clock (APP_TIMEZONE 1, my_user_config.h)
CARD = "8EC793"  # Tasmota's RDM6300 example UID 008EC793, printed on the card as 0009357203
# Outages longer than the policy's tolerance for "queued before the collector connected".
OUTAGE_S = 4.0


def devices_of_the_field() -> Registry:
    """The unit-test hall with one device of every real form at its desks."""
    registry = hall()
    staff = tuple(
        replace(s, badges=(*s.badges, CARD)) if s.id == "s001" else s for s in registry.staff
    )
    more = (
        Device("w01-tasmota", "badge_reader", window="W01", tasmota="card_w01"),
        Device("w02-tasmota", "badge_reader", window="W02", tasmota="card_w02"),  # 5 h off
        Device("w01-wiegand", "badge_reader", window="W01", tasmota="EMLL_62DE74"),
        Device("w02-esp", "badge_reader", window="W02", esphome="esp-w02/card", uid_decimal=True),
        Device("w03-usb", "badge_reader", window="W03", uid_reversed=True),
        Device("w03-seat", "presence_sensor", window="W03", zigbee2mqtt="TS0202 seat w03"),
    )
    return replace(registry, staff=staff, devices=(*registry.devices, *more))


def collecting(mosquitto, influx_db, registry, client_id: str | None = None) -> RunningCollector:
    """A collector of `registry` (a Registry, or a function giving the current one)."""
    load = registry if callable(registry) else lambda: registry
    return RunningCollector(mosquitto.url, influx_db.url, influx_db.db, client_id, load)


@pytest.fixture
def field():
    return devices_of_the_field()


@pytest.fixture
def publisher(mosquitto):
    target = Settings(mqtt_url=mosquitto.url).mqtt_target()
    client = make_client(target, f"test-field-{uuid.uuid4().hex[:6]}")
    client.connect(target.host, target.port)
    client.loop_start()
    yield client
    hang_up(client)


def send(client: mqtt.Client, topic: str, payload, qos: int = 1) -> datetime:
    """Publish (waiting for the broker's PUBACK at QoS 1); returns when it was sent."""
    sent = datetime.now(UTC)
    data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    client.publish(topic, data, qos=qos).wait_for_publish(5)
    return sent


def zigbee(client: mqtt.Client, name: str, payload: dict) -> datetime:
    """As Zigbee2MQTT publishes by default: QoS 0 (the broker queues it: queue_qos0_messages)."""
    return send(client, f"zigbee2mqtt/{name}", payload, qos=0)


def tasmota_time(at: datetime, zone: timedelta = CET) -> str:
    return (at + zone).replace(tzinfo=None).isoformat(timespec="seconds")


def last_seen(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def points(influx_db, where: str = "", **params) -> list[dict]:
    return influx_db.rows(f"SELECT * FROM hw_event {where} ORDER BY time", **params)


def at_ms(row: dict) -> datetime:
    return datetime.fromtimestamp(row["time"] / 1000, UTC)


def test_a_pirs_own_false_does_not_erase_its_true(mosquitto, influx_db, field, publisher):
    # Koenkk/zigbee2mqtt#11582: the false after the PIR's timeout repeats the true's last_seen.
    running = collecting(mosquitto, influx_db, field)
    try:
        seen = last_seen(datetime.now(UTC))
        body = {"battery": 100, "battery_low": False, "last_seen": seen, "linkquality": 61}
        true = send(publisher, "zigbee2mqtt/TS0202 seat w03", {**body, "occupancy": True})
        time.sleep(0.3)
        false = send(publisher, "zigbee2mqtt/TS0202 seat w03", {**body, "occupancy": False})
        stored = wait_until(lambda: len(points(influx_db)) == 2 and points(influx_db))
    finally:
        running.stop()
    assert [row["occupied"] for row in stored] == [True, False]
    assert [row["device_time"] for row in stored] == [seen, seen]
    assert abs(at_ms(stored[0]) - true) < timedelta(seconds=1)
    assert abs(at_ms(stored[1]) - false) < timedelta(seconds=1)


def test_a_backlog_after_a_collector_outage_keeps_its_times(
    mosquitto, influx_db, field, publisher, tmp_path
):
    first = collecting(mosquitto, influx_db, field)
    try:
        now = datetime.now(UTC)
        # Live: a stock CET Tasmota, a Tasmota five hours off, and a PIR with its timeout.
        send(publisher, "tele/card_w01/STATE", {"Time": tasmota_time(now), "UptimeSec": 60})
        send(publisher, "tele/card_w02/STATE", {"Time": tasmota_time(now, -timedelta(hours=5))})
        seen = last_seen(now)
        zigbee(publisher, "TS0202 seat w03", {"occupancy": True, "last_seen": seen})
        time.sleep(1.0)
        zigbee(publisher, "TS0202 seat w03", {"occupancy": False, "last_seen": seen})
        wait_until(lambda: len(points(influx_db)) == 4, message="the live messages")
    finally:
        first.stop()
    assert (tmp_path / "spool" / first.client_id / CLOCKS_FILE).exists()

    tapped = datetime.now(UTC)
    sitting = last_seen(tapped)
    send(
        publisher,
        "tele/card_w01/SENSOR",
        {"Time": tasmota_time(tapped), "RDM6300": {"UID": "008EC793"}},
    )
    send(
        publisher,
        "tele/card_w02/SENSOR",
        {"Time": tasmota_time(tapped, -timedelta(hours=5)), "RC522": {"UID": "04A1B2C4"}},
    )
    zigbee(publisher, "TS0202 seat w03", {"occupancy": True, "last_seen": sitting})
    zigbee(publisher, "TS0202 seat w03", {"occupancy": False, "last_seen": sitting})
    time.sleep(OUTAGE_S)

    back = collecting(mosquitto, influx_db, field, first.client_id)
    returned = datetime.now(UTC)
    try:
        wait_until(lambda: len(points(influx_db)) == 8, message="the backlog")
    finally:
        back.stop()
    assert back.collector.stats.placed_late == 4
    taps = points(influx_db, "WHERE \"type\" = 'badge'")
    assert sorted(row["staff"] for row in taps) == ["s001", "s002"]
    for row in taps:  # Tasmota's Time has whole seconds
        assert abs(at_ms(row) - tapped) < timedelta(seconds=1.5), row
        assert at_ms(row) < returned - timedelta(seconds=OUTAGE_S - 1.5)
    seat = [row for row in points(influx_db) if row["device_time"] == sitting]
    assert [row["occupied"] for row in seat] == [True, False]
    assert abs(at_ms(seat[0]) - tapped) < timedelta(seconds=0.5)
    gap = at_ms(seat[1]) - at_ms(seat[0])  # the timeout learned live, not the outage
    assert timedelta(seconds=0.5) < gap < timedelta(seconds=2)


def test_the_same_card_through_four_readers_is_one_person(mosquitto, influx_db, field, publisher):
    running = collecting(mosquitto, influx_db, field)
    try:
        send(
            publisher,
            "tele/card_w01/SENSOR",
            {"Time": "2020-08-27T08:03:07", "RDM6300": {"UID": "008EC793"}},
        )
        send(
            publisher,
            "tele/EMLL_62DE74/SENSOR",
            {"Time": "2022-02-14T16:16:39", "Wiegand": {"UID": 9357203, "Size": 26}},
        )
        send(publisher, "esp-w02/sensor/card/state", b"9357203")
        send(publisher, "hallwatch/devices/w03-usb/events", {"type": "badge", "uid": "93C78E00"})
        taps = wait_until(lambda: len(points(influx_db)) == 4 and points(influx_db))
    finally:
        running.stop()
    assert {(row["card"], row["uid"], row["staff"]) for row in taps} == {(CARD, CARD, "s001")}
    assert {row["device"] for row in taps} == {"w01-tasmota", "w01-wiegand", "w02-esp", "w03-usb"}


def test_a_dead_bridge_makes_its_seats_unknown_until_it_returns(
    mosquitto, influx_db, field, publisher
):
    running = collecting(mosquitto, influx_db, field)
    store = EventStore(InfluxClient(influx_db.url, influx_db.db))
    try:
        send(publisher, "zigbee2mqtt/seat_w01/availability", b'{"state":"online"}')
        send(publisher, "zigbee2mqtt/seat_w01", {"occupancy": True})
        wait_until(lambda: len(points(influx_db)) == 2)
        died = send(publisher, "zigbee2mqtt/bridge/state", b'{"state":"offline"}')
        wait_until(lambda: len(points(influx_db)) == 3)
        now = datetime.now(UTC)
        events = store.events_between(now - timedelta(hours=1), now)
        w01 = _window(hall_at(_open_now(field, now), events, now), "W01")
        assert w01.state == "unknown" and abs(w01.since - died) < timedelta(seconds=1)
        send(publisher, "zigbee2mqtt/bridge/state", b"online")  # a Z2M 1.x bridge's words
        wait_until(lambda: len(points(influx_db)) == 4)
        now = datetime.now(UTC)
        events = store.events_between(now - timedelta(hours=1), now)
        assert _window(hall_at(_open_now(field, now), events, now), "W01").state == "staffed"
    finally:
        running.stop()
    bridge = points(influx_db, f"WHERE \"device\" = '{bridge_id('zigbee2mqtt')}'")
    assert [row["online"] for row in bridge] == [False, True]


def test_a_node_added_to_the_registry_is_heard_without_a_restart(
    mosquitto, influx_db, field, publisher, monkeypatch
):
    from collector import collector as collector_module

    monkeypatch.setattr(collector_module, "REGISTRY_RELOAD_S", 0.2)
    current = {"registry": field}
    running = collecting(mosquitto, influx_db, lambda: current["registry"])
    try:
        radar = Device("w01-radar", "presence_sensor", window="W01", esphome="esp-w01/presence")
        east = Device(
            "w02-seat",
            "presence_sensor",
            window="W02",
            zigbee2mqtt="seat_w02",
            zigbee2mqtt_base="z2m_east",
        )
        current["registry"] = replace(field, devices=(*field.devices, radar, east))
        wait_until(lambda: "esp-w01/status" in running.collector.topics, message="subscribed")
        time.sleep(0.3)  # the SUBACK
        send(publisher, "esp-w01/binary_sensor/presence/state", b"ON")
        send(publisher, "z2m_east/seat_w02", {"presence": True})
        stored = wait_until(lambda: len(points(influx_db)) == 2 and points(influx_db))
    finally:
        running.stop()
    assert {(row["device"], row["source"]) for row in stored} == {
        ("w01-radar", "esphome"),
        ("w02-seat", "zigbee2mqtt"),
    }


def test_random_cards_and_keys_cannot_grow_the_series(mosquitto, influx_db, field, publisher):
    running = collecting(mosquitto, influx_db, field)
    rng = random.Random(15)
    try:
        for k in range(300):
            card = f"{rng.getrandbits(32):08X}"
            send(
                publisher, "hallwatch/devices/desk-w02-card/events", {"type": "badge", "uid": card}
            )
            noise = {f"k{rng.getrandbits(32):x}": k for _ in range(5)}
            send(
                publisher,
                "hallwatch/devices/desk-w02-card/events",
                {"type": "heartbeat", "rssi": -60, **noise},
            )
        wait_until(lambda: running.collector.stats.written >= 600, timeout=30)
    finally:
        running.stop()
    series = influx_db.rows('SHOW SERIES FROM "hw_event"')
    assert len(series) == 2  # desk-w02-card: one series of badges, one of heartbeats
    fields = {row["fieldKey"] for row in influx_db.rows('SHOW FIELD KEYS FROM "hw_event"')}
    assert "x_rssi" in fields and not any(f.startswith("x_k") for f in fields)
    unknown = EventStore(InfluxClient(influx_db.url, influx_db.db)).unknown_cards(
        datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC)
    )
    assert len({read["uid"] for read in unknown}) == 300  # every card kept, as a field


def _open_now(registry: Registry, now: datetime) -> Registry:
    """The hall moved to a time zone where `now` is about noon, open 09:00–17:30 that day with
    everyone rostered: the test passes at any hour of any day."""
    ahead = (12 - now.hour) % 24
    ahead = ahead - 24 if ahead > 12 else ahead
    zone = f"Etc/GMT{-ahead:+d}" if ahead else "Etc/GMT"  # POSIX signs: Etc/GMT-8 is UTC+8
    hall_settings = replace(registry.hall, timezone=zone, holidays="none", hours=_DAY)
    today = now.astimezone(hall_settings.tz).date()
    hall_settings = replace(hall_settings, working_days=frozenset({today}))
    days = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
    roster = tuple(replace(entry, days=days) for entry in registry.roster)
    return replace(registry, hall=hall_settings, roster=roster)


_DAY = ((datetime(2000, 1, 1, 9).time(), datetime(2000, 1, 1, 17, 30).time()),)


def _window(state, window_id: str):
    return next(w for w in state.windows if w.window == window_id)


def test_a_retained_tag_is_not_a_new_tap_but_a_retained_status_still_counts(
    start_service, influx_db, field
):
    # ESPHome retains its states by default (esphome/components/mqtt/mqtt_component.h), and a
    # broker sends a retained message again to every new subscription. A broker of its own:
    # retained messages would reach every later subscriber of the shared one.
    broker = start_service(Mosquitto)
    target = Settings(mqtt_url=broker.url).mqtt_target()
    device = make_client(target, "esp-w02")
    device.connect(target.host, target.port)
    device.loop_start()
    try:
        device.publish("esp-w02/status", "offline", qos=1, retain=True).wait_for_publish(5)
        device.publish("esp-w02/sensor/card/state", "9357203", qos=1, retain=True).wait_for_publish(
            5
        )
    finally:
        hang_up(device)
    running = collecting(broker, influx_db, field)
    try:
        stored = wait_until(lambda: points(influx_db), message="the retained status")
        time.sleep(1.0)  # the retained tag, had it been taken, would have landed by now
        stored = points(influx_db)
    finally:
        running.stop()
    assert [(row["type"], row["online"]) for row in stored] == [("status", False)]
    assert running.collector.stats.ignored >= 1
