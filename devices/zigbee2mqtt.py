"""Zigbee2MQTT's payload form: seat sensors paired to a Zigbee2MQTT bridge.

Topics under a base topic: `zigbee2mqtt` (Zigbee2MQTT's default) or the
`zigbee2mqtt_base` a device is registered with (one per coordinator). A friendly
name may itself contain '/' and spaces, so the registered names are tried
before any suffix is read:

- `<name>`: the device's state, a JSON object. A boolean `occupancy` (PIR) or
  `presence` (mmWave radar) makes a presence report; when a device sends both,
  the seat is occupied if either says so (a PIR misses someone sitting still).
  Without a boolean, a presence enum (`presence_state`, `presence_event`,
  `motion_state`, or `state` with a presence word) decides: PRESENCE_WORDS.
  Any other object is a heartbeat with the known telemetry (`battery`,
  `linkquality`, `voltage`, …).
- `<name>/availability`: `{"state": "online"}` / `{"state": "offline"}` or the
  bare words (Zigbee2MQTT before 2.0) → device status.
- `<name>/<attribute>`: Zigbee2MQTT's `output: attribute` mode, one plain value
  per topic; the presence keys make presence reports, the rest heartbeats.
- `<name>/set`, `<name>/get` (and `/set/<attribute>`): commands to the device,
  not data from it → None.
- `bridge/state`: the bridge itself. Offline (its MQTT will, or a clean stop)
  makes every device registered under that base offline until it is online
  again: a status of the bridge's event source (`spec.bridge_id`), which the
  state function applies to its devices. Other `bridge/…` traffic → None.

The event time is the time of receipt: Zigbee2MQTT publishes live, and the
`occupancy: false` it generates after a PIR's timeout repeats the `last_seen` of
the earlier `true`. `last_seen` (when Zigbee2MQTT's `advanced.last_seen` is on)
is kept as `device_time`; the collector uses it only to place a backlog
(devices.clocks).

A name not in the registry is a Rejection. An empty payload on a registered
device's topic is Zigbee2MQTT clearing a retained message (device removed or
renamed) → None.
"""

from __future__ import annotations

import json
from datetime import datetime

from devices.payload import (
    Reject,
    decode_object,
    decode_text,
    guarded,
    numeric_extras,
    require_kind,
    shown,
    status_word,
)
from hallwatch.events import (
    ConversionResult,
    DeviceStatus,
    Heartbeat,
    PresenceReport,
    RejectionKind,
)
from hallwatch.registry.spec import Device, Registry, bridge_id

BRIDGE = "bridge"
BRIDGE_STATE = "bridge/state"
AVAILABILITY = "availability"
COMMANDS = ("set", "get")
OCCUPANCY_KEYS = ("occupancy", "presence")  # booleans
# Enums, in the order they are read; `state` only counts with a word below (a switch's
# state is ON/OFF). The words of zigbee-herdsman-converters (src/devices/tuya.ts, lumi.ts),
# and the same meanings as other firmware spells them (make-all/tuya-local's "Breathe").
PRESENCE_ENUM_KEYS = ("presence_state", "presence_event", "motion_state", "state")
GENERIC_ENUM_KEYS = ("state",)
EMPTY_WORDS = frozenset(
    {
        "none",
        "no_presence",
        "unoccupied",
        "leave",
        "left_leave",
        "right_leave",
        # the same said otherwise (tuya-local and other bridges' spellings)
        "no_one",
        "nobody",
        "no_person",
        "no_motion",
        "empty",
        "vacant",
        "absent",
        "clear",
    }
)
OCCUPIED_WORDS = frozenset(
    {
        # presence
        "presence",
        "present",
        "occupied",
        "someone",
        "person",
        "people",
        "human",
        "detected",
        "enter",
        "left_enter",
        "right_enter",
        # stillness
        "stationary",
        "static",
        "still",
        "peaceful",
        "breathe",
        "breathing",
        # movement
        "motion",
        "move",
        "moving",
        "movement",
        "small_movement",
        "large_movement",
        "small_move",
        "large_move",
        "small",
        "medium",
        "large",
        "near",
        "far",
        "approach",
        "away",  # Aqara FP1: moving away from the sensor, still in its field
    }
)
PRESENCE_WORDS = {**dict.fromkeys(EMPTY_WORDS, False), **dict.fromkeys(OCCUPIED_WORDS, True)}
LAST_SEEN = "last_seen"
SOURCE = "zigbee2mqtt"


def base_of(topic: str, registry: Registry) -> str | None:
    """The registered base topic `topic` is under (the longest, when bases nest)."""
    for base in registry.zigbee2mqtt_bases:
        if topic.startswith(base) and (len(topic) == len(base) or topic[len(base)] == "/"):
            return base
    return None


def matches(topic: str, registry: Registry) -> bool:
    """Whether the topic is under one of the registry's Zigbee2MQTT base topics."""
    return base_of(topic, registry) is not None


def owner(topic: str, registry: Registry) -> str | None:
    """The registered device (or bridge) a Zigbee2MQTT topic names, or None."""
    base = base_of(topic, registry)
    if base is None:
        return None
    rest = topic[len(base) + 1 :]
    if rest == "bridge" or rest.startswith("bridge/"):
        bridge = bridge_id(base)
        return bridge if bridge in registry.bridge_devices else None
    named = [n for n in registry.zigbee2mqtt_names[base] if rest == n or rest.startswith(n + "/")]
    return registry.zigbee2mqtt_names[base][max(named, key=len)].id if named else None


def subscriptions(registry: Registry) -> tuple[str, ...]:
    """One filter per base topic."""
    return tuple(f"{base}/#" for base in sorted(registry.zigbee2mqtt_names))


def convert(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """A Zigbee2MQTT message → a typed event, a Rejection or None; never raises."""
    return guarded(parse, topic, payload, received, registry)


def parse(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """`convert` without its guard: raises Reject (devices.convert guards it once)."""
    base = base_of(topic, registry)
    if base is None:
        raise Reject(
            "not a Zigbee2MQTT topic (expected <base topic>/<friendly name>)",
            RejectionKind.UNKNOWN_TOPIC,
        )
    rest = topic[len(base) + 1 :]
    if rest == BRIDGE_STATE:
        return _bridge(base, payload, received, registry)
    if rest == BRIDGE or rest.startswith(BRIDGE + "/"):
        return None
    names = registry.zigbee2mqtt_names[base]
    if rest in names:
        return _state(names[rest], payload, received)
    parts = rest.split("/")
    if parts[-1] in COMMANDS or (len(parts) > 2 and parts[-2] in COMMANDS):
        return None
    name, _, suffix = rest.rpartition("/")
    device = names.get(name)
    if device is None:
        unknown = name if suffix == AVAILABILITY else rest
        raise Reject(
            f"unknown zigbee2mqtt device {shown(unknown)} under {shown(base)}",
            RejectionKind.UNKNOWN_DEVICE,
        )
    if suffix == AVAILABILITY:
        online = status_word(payload)
        if online is None:
            return None
        return DeviceStatus(device.id, received, online, received, SOURCE)
    return _attribute(device, suffix, rest, payload, received)


def _bridge(base: str, payload: bytes, received: datetime, registry: Registry):
    source = bridge_id(base)
    if source not in registry.bridge_devices:
        return None  # a bridge none of whose devices is registered
    online = status_word(payload)
    if online is None:
        return None
    return DeviceStatus(source, received, online, received, SOURCE)


def _state(device: Device, payload: bytes, received: datetime) -> PresenceReport | Heartbeat | None:
    if not decode_text(payload).strip():
        return None
    body = decode_object(payload)
    seen = body.get(LAST_SEEN)
    device_time = None if seen is None or isinstance(seen, bool | dict | list) else str(seen)
    occupied = _occupied(body)
    extra = numeric_extras(body)
    if occupied is not None:
        require_kind(device, "presence_sensor", "a presence report")
        return PresenceReport(device.id, received, occupied, received, SOURCE, device_time, extra)
    return Heartbeat(device.id, received, received, SOURCE, extra, device_time)


def _occupied(body: dict) -> bool | None:
    """True if any occupancy boolean says so, False if all say not; else the first presence
    enum's word; None when the message says nothing about presence."""
    readings = [body[key] for key in OCCUPANCY_KEYS if isinstance(body.get(key), bool)]
    if readings:
        return any(readings)
    for key in PRESENCE_ENUM_KEYS:
        occupied = presence_word(key, body.get(key))
        if occupied is not None:
            return occupied
    return None


def presence_word(key: str, value: object) -> bool | None:
    """An enum's value as occupied (True) or empty (False); None when it is not about presence.

    A word of a presence key that HallWatch does not know is refused, so a radar with
    new wording shows up among the rejected messages instead of never filling its seat.
    """
    if not isinstance(value, str):
        return None
    word = value.strip().lower().replace(" ", "_").replace("-", "_")
    if word in PRESENCE_WORDS:
        return PRESENCE_WORDS[word]
    if key in GENERIC_ENUM_KEYS:
        return None
    raise Reject(f"'{key}' {shown(value)} is not a word for presence or absence HallWatch knows")


def _attribute(
    device: Device, name: str, rest: str, payload: bytes, received: datetime
) -> PresenceReport | Heartbeat | None:
    text = decode_text(payload).strip()
    if not text:
        return None
    value = _plain_value(text)
    if isinstance(value, dict):
        # A whole state object: another device whose name extends a registered one.
        raise Reject(f"unknown zigbee2mqtt device {shown(rest)}", RejectionKind.UNKNOWN_DEVICE)
    occupied = value if name in OCCUPANCY_KEYS and isinstance(value, bool) else None
    if occupied is None and name in PRESENCE_ENUM_KEYS:
        occupied = presence_word(name, value)
    if occupied is not None:
        require_kind(device, "presence_sensor", "a presence report")
        return PresenceReport(device.id, received, occupied, received, SOURCE)
    if name == LAST_SEEN:
        return Heartbeat(device.id, received, received, SOURCE, {}, text)
    return Heartbeat(device.id, received, received, SOURCE, numeric_extras({name: value}))


def _plain_value(text: str) -> object:
    """An attribute-output payload: JSON when it parses (true, 42), else the raw text."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text
