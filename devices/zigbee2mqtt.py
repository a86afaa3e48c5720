"""Zigbee2MQTT's payload form: seat sensors paired to a Zigbee2MQTT bridge.

Topics under the base topic `zigbee2mqtt/`, where a friendly name may itself
contain '/' (Zigbee2MQTT allows it), so the registered names are tried before
any suffix is read:

- `<name>`: the device's state, a JSON object. A boolean `occupancy` (PIR) or
  `presence` (mmWave radar) makes a presence report; when a device sends both,
  the seat is occupied if either says so (a PIR misses someone sitting still).
  Any other object is a heartbeat with its numeric values (`battery`,
  `linkquality`, `voltage`, …) as extras. The time is `last_seen` when present
  (`advanced.last_seen`: ISO_8601 in UTC, ISO_8601_local with an offset, or
  epoch milliseconds), else the time of receipt.
- `<name>/availability`: `{"state": "online"}` / `{"state": "offline"}` or the
  bare words (legacy availability) → device status at the time of receipt.
- `<name>/<attribute>`: Zigbee2MQTT's `output: attribute` mode, one plain value
  per topic; `occupancy`/`presence` make presence reports, the rest heartbeats.
- `<name>/set`, `<name>/get` (and `/set/<attribute>`): commands to the device,
  not data from it → None. `bridge/…`: the bridge's own state, logs and
  request/response traffic → None.

A name not in the registry is a Rejection. An empty payload on a registered
device's topic is Zigbee2MQTT clearing a retained message (device removed or
renamed) → None.
"""

from __future__ import annotations

import json
from datetime import datetime

from devices.payload import (
    Reject,
    as_number,
    decode_object,
    decode_text,
    event_time,
    guarded,
    numeric_extras,
    require_kind,
    shown,
    status_word,
)
from hallwatch.events import ConversionResult, DeviceStatus, Heartbeat, PresenceReport
from hallwatch.registry.spec import Device, Registry

BASE = "zigbee2mqtt"
SUBSCRIPTIONS = (f"{BASE}/#",)
BRIDGE = "bridge"
AVAILABILITY = "availability"
COMMANDS = ("set", "get")
OCCUPANCY_KEYS = ("occupancy", "presence")
LAST_SEEN = "last_seen"
SOURCE = "zigbee2mqtt"


def matches(topic: str) -> bool:
    """Whether the topic is under Zigbee2MQTT's base topic."""
    return topic == BASE or topic.startswith(BASE + "/")


def convert(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """A Zigbee2MQTT message → a typed event, a Rejection or None; never raises."""
    return guarded(parse, topic, payload, received, registry)


def parse(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """`convert` without its guard: raises Reject (devices.convert guards it once)."""
    if not matches(topic):
        raise Reject(f"not a Zigbee2MQTT topic (expected {BASE}/<friendly name>)")
    rest = topic[len(BASE) + 1 :]
    if rest == BRIDGE or rest.startswith(BRIDGE + "/"):
        return None
    names = registry.device_by_zigbee_name
    if rest in names:
        return _state(names[rest], payload, received, registry)
    parts = rest.split("/")
    if parts[-1] in COMMANDS or (len(parts) > 2 and parts[-2] in COMMANDS):
        return None
    name, _, suffix = rest.rpartition("/")
    device = names.get(name)
    if device is None:
        unknown = name if suffix == AVAILABILITY else rest
        raise Reject(f"unknown zigbee2mqtt device {shown(unknown)}")
    if suffix == AVAILABILITY:
        online = status_word(payload)
        if online is None:
            return None
        return DeviceStatus(device.id, received, online, received, SOURCE)
    return _attribute(device, suffix, rest, payload, received)


def _state(
    device: Device, payload: bytes, received: datetime, registry: Registry
) -> PresenceReport | Heartbeat | None:
    if not decode_text(payload).strip():
        return None
    body = decode_object(payload)
    when = event_time(body, LAST_SEEN, received, registry)
    occupied = _occupied(body)
    if occupied is not None:
        require_kind(device, "presence_sensor", "a presence report")
        return PresenceReport(device.id, when.at, occupied, received, SOURCE, when.device_time)
    extra = numeric_extras(body, skip=(LAST_SEEN,))
    return Heartbeat(device.id, when.at, received, SOURCE, extra, when.device_time)


def _occupied(body: dict) -> bool | None:
    """True if any occupancy key says so, False if all say not, None if none is a boolean."""
    readings = [body[key] for key in OCCUPANCY_KEYS if isinstance(body.get(key), bool)]
    return any(readings) if readings else None


def _attribute(
    device: Device, name: str, rest: str, payload: bytes, received: datetime
) -> PresenceReport | Heartbeat | None:
    text = decode_text(payload).strip()
    if not text:
        return None
    value = _plain_value(text)
    if isinstance(value, dict):
        # A whole state object: another device whose name extends a registered one.
        raise Reject(f"unknown zigbee2mqtt device {shown(rest)}")
    if name in OCCUPANCY_KEYS and isinstance(value, bool):
        require_kind(device, "presence_sensor", "a presence report")
        return PresenceReport(device.id, received, value, received, SOURCE)
    number = as_number(value)
    extra = {name: number} if number is not None and name != LAST_SEEN else {}
    return Heartbeat(device.id, received, received, SOURCE, extra)


def _plain_value(text: str) -> object:
    """An attribute-output payload: JSON when it parses (true, 42), else the raw text."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text
