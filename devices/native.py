"""The HallWatch native payload form, and the payload primitives all three forms share.

Topics (docs/DEVICES.md):

- `hallwatch/devices/<device_id>/events`, a JSON object whose `type` is
  `badge` (`uid` a card number as text: hex, or `dec:` digits; optional `action`
  "in"/"out" at desk readers),
  `presence` (`occupied` true/false) or `heartbeat` (the known telemetry of
  `devices.payload.TELEMETRY`, such as `battery`, `rssi`); `ts` as read by
  `devices.timestamps`, the event's time under its clock policy;
- `hallwatch/devices/<device_id>/status`, `online` or `offline` (any case,
  surrounding whitespace, as a JSON string or as `{"state": …}`); it takes the
  receipt time.
"""

from __future__ import annotations

from datetime import datetime

from devices.payload import (
    Reject,
    decode_object,
    describe,
    event_time,
    guarded,
    numeric_extras,
    read_card,
    require_kind,
    shown,
    status_word,
)
from hallwatch.events import (
    BadgeAction,
    BadgeRead,
    ConversionResult,
    DeviceStatus,
    Heartbeat,
    PresenceReport,
    RejectionKind,
)
from hallwatch.registry.spec import Device, Registry

PREFIX = "hallwatch/devices/"
SUBSCRIPTIONS = ("hallwatch/devices/+/events", "hallwatch/devices/+/status")
SOURCE = "native"
BADGE_ACTIONS: tuple[BadgeAction, ...] = ("in", "out")


def matches(topic: str, registry: Registry | None = None) -> bool:
    """Whether the topic is in the native namespace."""
    return topic.startswith(PREFIX)


def owner(topic: str, registry: Registry) -> str | None:
    """The registered device a native topic names (hallwatch/devices/<id>/…), or None."""
    if not matches(topic):
        return None
    device_id = topic[len(PREFIX) :].split("/", 1)[0]
    return device_id if device_id in registry.device_by_id else None


def subscriptions(registry: Registry | None = None) -> tuple[str, ...]:
    """The native topics of every device."""
    return SUBSCRIPTIONS


def convert(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """A native message → a typed event or a Rejection; never raises."""
    return guarded(parse, topic, payload, received, registry)


def parse(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """`convert` without its guard: raises Reject (devices.convert guards it once)."""
    parts = topic[len(PREFIX) :].split("/")
    if not matches(topic) or len(parts) != 2 or parts[1] not in ("events", "status"):
        raise Reject(
            f"not a native device topic (expected {PREFIX}<device>/events or /status)",
            RejectionKind.UNKNOWN_TOPIC,
        )
    device_id, channel = parts
    device = registry.device_by_id.get(device_id)
    if device is None:
        raise Reject(f"unknown device {shown(device_id)}", RejectionKind.UNKNOWN_DEVICE)
    if channel == "status":
        online = status_word(payload)
        if online is None:
            return None  # an empty payload clears a retained status: broker housekeeping
        return DeviceStatus(device.id, received, online, received, SOURCE)
    body = decode_object(payload)
    kind = body.get("type")
    if kind == "badge":
        return _badge(device, body, received, registry)
    if kind == "presence":
        return _presence(device, body, received, registry)
    if kind == "heartbeat":
        when = event_time(body, "ts", received, registry)
        extra = numeric_extras(body)
        return Heartbeat(device.id, when.at, received, SOURCE, extra, when.device_time)
    if kind is None:
        raise Reject("'type' is missing (expected badge, presence or heartbeat)")
    raise Reject(f"'type' must be badge, presence or heartbeat, not {describe(kind)}")


def _badge(device: Device, body: dict, received: datetime, registry: Registry) -> BadgeRead:
    require_kind(device, "badge_reader", "a badge read")
    value = body.get("uid")
    if not isinstance(value, str):
        raise Reject(f"'uid' must be a hex string, not {describe(value)}")
    uid = read_card(value, "uid", device)
    # An office reader only records where the person is; in/out has no meaning there.
    action = _action(body.get("action")) if device.at_desk else "in"
    when = event_time(body, "ts", received, registry)
    return BadgeRead(device.id, when.at, uid, action, received, SOURCE, when.device_time)


def _action(value: object) -> BadgeAction:
    if value is None:
        return "in"
    if isinstance(value, str):
        word = value.strip().lower()
        for action in BADGE_ACTIONS:
            if word == action:
                return action
    raise Reject(f'\'action\' must be "in" or "out", not {describe(value)}')


def _presence(device: Device, body: dict, received: datetime, registry: Registry) -> PresenceReport:
    require_kind(device, "presence_sensor", "a presence report")
    occupied = body.get("occupied")
    if not isinstance(occupied, bool):
        raise Reject(f"'occupied' must be true or false, not {describe(occupied)}")
    when = event_time(body, "ts", received, registry)
    return PresenceReport(device.id, when.at, occupied, received, SOURCE, when.device_time)
