"""Typed events produced by the device converters and read back from storage.

Every event carries the device id, the instant it happened (`at`, aware) and
the instant the collector received it (`received`). Converters return one of
these or a `Rejection`; nothing else crosses from `devices/` into the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

BadgeAction = Literal["in", "out"]
PayloadSource = Literal["native", "zigbee2mqtt", "tasmota", "esphome"]


@dataclass(frozen=True, slots=True)
class BadgeRead:
    """A card read at a desk or office reader. `uid` is the canonical card (cards.card_hex)."""

    device: str
    at: datetime
    uid: str
    action: BadgeAction = "in"
    received: datetime | None = None
    source: PayloadSource = "native"
    # The device's own clock reading as written: always for Zigbee2MQTT and Tasmota (their
    # events take the receipt time), for native events only when their `ts` was not trusted.
    device_time: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceReport:
    """A seat sensor saying whether the seat is occupied (with the telemetry that came along:
    Zigbee2MQTT sends a sensor's battery in the same message)."""

    device: str
    at: datetime
    occupied: bool
    received: datetime | None = None
    source: PayloadSource = "native"
    device_time: str | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A device saying it is alive; `extra` holds numeric telemetry (battery, rssi, …)."""

    device: str
    at: datetime
    received: datetime | None = None
    source: PayloadSource = "native"
    extra: dict[str, float] = field(default_factory=dict)
    device_time: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device (or its MQTT will) announcing itself online or offline."""

    device: str
    at: datetime
    online: bool
    received: datetime | None = None
    source: PayloadSource = "native"


class RejectionKind(StrEnum):
    """Why a message was rejected, in a few words a dashboard can group by (the `reason`
    label of the collector's figures). The reason text quotes device input, so it is never
    a label; the kind is chosen where the rejection is made."""

    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_TOPIC = "unknown_topic"
    TOO_LARGE = "too_large"
    BAD_ENCODING = "bad_encoding"
    BAD_JSON = "bad_json"
    WRONG_DEVICE_KIND = "wrong_device_kind"
    CONVERTER_ERROR = "converter_error"
    INTERNAL_ERROR = "internal_error"
    UNSTORABLE = "unstorable"
    BAD_FIELD = "bad_field"  # a key missing or of the wrong type, a bad timestamp, …


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message we could not understand, kept with the reason so nothing is lost."""

    topic: str
    payload: bytes
    reason: str  # stored as written; the kind is not stored
    received: datetime
    kind: RejectionKind = RejectionKind.BAD_FIELD


Event = BadgeRead | PresenceReport | Heartbeat | DeviceStatus
ConversionResult = Event | Rejection

EVENT_TYPES: dict[type, str] = {
    BadgeRead: "badge",
    PresenceReport: "presence",
    Heartbeat: "heartbeat",
    DeviceStatus: "status",
}


def event_type(event: Event) -> str:
    """The stored `type` tag of an event: badge, presence, heartbeat or status."""
    return EVENT_TYPES[type(event)]
