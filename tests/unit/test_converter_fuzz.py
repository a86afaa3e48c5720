"""Device converters never raise: random bytes and mutated payloads give an event or a rejection."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import devices
from devices import native, tasmota, zigbee2mqtt
from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport, Rejection
from hallwatch.registry.spec import Registry
from tests.unit.device_payloads import (
    DESK_CARD,
    NATIVE_OFFICE,
    NATIVE_SEAT,
    RECEIVED,
    rejected,
)

# ---------------------------------------------------------------- never raises


TOPICS = (
    f"hallwatch/devices/{DESK_CARD}/events",
    f"hallwatch/devices/{NATIVE_SEAT}/events",
    f"hallwatch/devices/{NATIVE_OFFICE}/events",
    f"hallwatch/devices/{DESK_CARD}/status",
    "hallwatch/devices/ghost/events",
    "hallwatch/devices/",
    "zigbee2mqtt/seat_w01",
    "zigbee2mqtt/floor1/seat_w02",
    "zigbee2mqtt/seat_w01/availability",
    "zigbee2mqtt/seat_w01/occupancy",
    "zigbee2mqtt/bridge/state",
    "zigbee2mqtt/",
    "tele/civil_door/SENSOR",
    "tele/w02_reader/RESULT",
    "tele/civil_door/STATE",
    "tele/civil_door/LWT",
    "tele//SENSOR",
    "",
    "#",
)
KEYS = (
    "type",
    "uid",
    "ts",
    "action",
    "occupied",
    "battery",
    "rssi",
    "occupancy",
    "presence",
    "last_seen",
    "state",
    "linkquality",
    "Time",
    "Epoch",
    "RC522",
    "PN532",
    "RDM6300",
    "Wiegand",
    "UID",
    "Data",
    "DATA",
    "Size",
    "Wifi",
    "Signal",
    "RSSI",
    "UptimeSec",
    "",
)
ATOMS = (
    None,
    True,
    False,
    0,
    -1,
    1,
    7748328,
    2**64,
    10**30,
    1795395672,
    1795395672123,
    0.5,
    -1e308,
    1e308,
    "",
    " ",
    "badge",
    "presence",
    "heartbeat",
    "in",
    "out",
    "online",
    "Offline",
    "04A1B2C3",
    "04:a1:b2:c3",
    "0x",
    "h",
    "763AE8h",
    "zz",
    "2026-11-23T09:01:12",
    "2026-11-23T09:01:12+08:00",
    "1970-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "2026-13-45T99:99",
    "\u0000",
    "张三",
    "\ud800",
)


def random_json(rng: random.Random, depth: int = 0) -> object:
    """A JSON-ish value biased towards the keys and values the converters look at."""
    roll = rng.random()
    if depth < 3 and roll < 0.35:
        return {rng.choice(KEYS): random_json(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    if depth < 3 and roll < 0.45:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return rng.choice(ATOMS)


TEMPLATES = (
    {"type": "badge", "uid": "04A1B2C3", "action": "out", "ts": 1795395672},
    {"type": "presence", "occupied": True, "ts": "2026-11-23T09:01:12"},
    {"type": "heartbeat", "battery": 80, "rssi": -60},
    {"occupancy": True, "presence": False, "battery": 90, "last_seen": 1795395672000},
    {"state": "online"},
    {"Time": "2026-11-23T09:01:12", "RC522": {"UID": "04A1B2C3", "Data": ""}},
    {"Time": "2026-11-23T09:01:12", "Wiegand": {"UID": 7748328, "Size": 26}},
    {"Time": "2026-11-23T09:01:12", "UptimeSec": 1, "Wifi": {"RSSI": 80, "Signal": -60}},
)


def mutated_template(rng: random.Random) -> dict:
    """A valid payload of some form with a few of its values swapped for random ones."""
    value = json.loads(json.dumps(rng.choice(TEMPLATES)))
    for _ in range(rng.randint(0, 3)):
        target = value
        while True:
            nested = [k for k, v in target.items() if isinstance(v, dict)]
            if not nested or rng.random() < 0.5:
                break
            target = target[rng.choice(nested)]
        target[rng.choice(list(target) + list(KEYS))] = random_json(rng, 2)
    return value


def random_payload(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.2:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
    value = mutated_template(rng) if roll < 0.7 else random_json(rng)
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
    raw = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.2 and raw:  # a mangled byte or a cut-off message
        cut = rng.randrange(len(raw))
        raw = (
            raw[:cut] + bytes([rng.randrange(256)]) + raw[cut + 1 :]
            if rng.random() < 0.5
            else raw[:cut]
        )
    return raw


def assert_well_formed(result: object, topic: str) -> None:
    if result is None:
        return
    if isinstance(result, Rejection):
        assert result.topic == topic and result.reason and result.received == RECEIVED
        return
    assert isinstance(result, BadgeRead | PresenceReport | Heartbeat | DeviceStatus), result
    assert result.at.tzinfo is not None and result.at.utcoffset() == timedelta(0)
    assert result.received == RECEIVED
    if isinstance(result, BadgeRead):
        assert result.uid and result.uid == result.uid.upper() and result.action in ("in", "out")
    if isinstance(result, Heartbeat):
        assert all(type(v) is float for v in result.extra.values())


def test_random_bytes_and_random_json_never_make_a_converter_raise(registry):
    rng = random.Random(20261123)
    converters = (devices.convert, native.convert, zigbee2mqtt.convert, tasmota.convert)
    for _ in range(3000):
        topic, payload = rng.choice(TOPICS), random_payload(rng)
        for convert in converters:
            assert_well_formed(convert(topic, payload, RECEIVED, registry), topic)


def test_a_converter_error_becomes_a_rejection(registry):
    class Exploding(Registry):
        @property
        def device_by_id(self):
            raise RuntimeError("registry unavailable")

    result = devices.convert(f"hallwatch/devices/{DESK_CARD}/events", b"{}", RECEIVED, Exploding())
    rejected(result, "converter error: RuntimeError: registry unavailable")
