"""Tasmota's payload form: card readers on ESP boards running Tasmota.

Topics `tele/<topic>/<suffix>`, the device found by its registered `tasmota`
topic:

- `SENSOR` or `RESULT` with a card section → a badge read ("in": Tasmota
  readers cannot say in or out). The shapes Tasmota's drivers publish:
  - RC522 (xsns_80_mfrc522): `{"RC522": {"UID": "04A1B2C3", "Data": "…", "Type": "MIFARE 1KB"}}`
    (`Data` and `Type` only in builds that enable them; older builds wrote `DATA`);
  - PN532 (xsns_40_pn532): `{"PN532": {"UID": "04A1B2C3", "Data": "…", "Auth": "Ok"}}`;
  - RDM6300 (xsns_51_rdm6300): `{"RDM6300": {"UID": "008EC793"}}`, always 8 hex digits;
  - Wiegand (xsns_82_wiegand): `{"Wiegand": {"UID": 7748328, "Size": 26}}`, the UID
    a decimal number by default or a hex string with an `h` suffix ("763AE8h")
    under SetOption123 1. A UID of 0 is how the driver reports a parity error;
    Size 4 or 8 is a keypad entry, not a card.
  A numeric UID is the card's decimal number; every UID becomes the canonical
  card (hallwatch.cards: 7748328 → "763AE8", the same as SetOption123's hex
  form). A section without `UID` falls back to `Data` (docs/DEVICES.md). Keys are
  matched without regard to case.
  Without a card section the message is a heartbeat.
- `STATE` (every TelePeriod) → a heartbeat with uptime, heap, load and Wi-Fi
  extras; `rssi` is Wi-Fi `Signal` in dBm (as native devices report it) and
  `wifi_quality` Tasmota's `RSSI`, which is a 0–100 % quality, not dBm.
- `LWT`: `Online` / `Offline` → device status at the time of receipt (empty:
  the retained will being cleared → None).

A device whose `FullTopic` is not Tasmota's default `%prefix%/%topic%/` is
registered with `tasmota_full_topic` (e.g. `hall1/%prefix%/%topic%/`); its topics
are that layout with %prefix% `tele` (%hostname% and %id% match any one level).

Time: the time of receipt. Tasmota publishes live, and its `Time` is the
device's clock in whatever time zone it was given (stock firmware: a fixed
UTC+1), without an offset. `Epoch` when present (`Time 2`), else `Time`, is kept
as `device_time`; the collector uses it only to place a backlog
(devices.clocks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache

from devices.payload import (
    Reject,
    decode_object,
    describe,
    guarded,
    numeric_extras,
    read_card,
    require_kind,
    shown,
    status_word,
)
from hallwatch.events import BadgeRead, ConversionResult, DeviceStatus, Heartbeat, RejectionKind
from hallwatch.registry.spec import (
    TASMOTA_FULL_TOPIC,
    TASMOTA_TELEMETRY,
    Device,
    Registry,
    tasmota_telemetry,
)

PREFIX = TASMOTA_TELEMETRY
SUFFIXES = ("SENSOR", "RESULT", "STATE", "LWT")
CARD_READERS = ("RC522", "PN532", "RDM6300", "Wiegand")
WIEGAND_KEYPAD_SIZES = (4, 8)  # bits per key press on Wiegand keypads
WIEGAND_HEX_SUFFIX = "h"  # SetOption123 1 writes the UID as hex followed by this
WIEGAND_PARITY_BITS = 2  # Size counts them; the card number is the bits between
CLOCK_KEYS = ("Epoch", "Time")  # the device's clock, the first present
HOST_TOKENS = ("%hostname%", "%id%")  # levels a layout's expression takes as any one level
STATE_EXTRAS = {
    "UptimeSec": "uptime_s",
    "Heap": "heap_kb",
    "LoadAvg": "load_avg",
    "MqttCount": "mqtt_count",
    "Vcc": "vcc_v",
}
WIFI_EXTRAS = {"Signal": "rssi", "RSSI": "wifi_quality", "LinkCount": "wifi_link_count"}
SOURCE = "tasmota"
_MISSING = object()


def matches(topic: str, registry: Registry) -> bool:
    """Whether the topic is a telemetry topic of one of the registry's Tasmota layouts."""
    return _split(topic, registry) is not None


def subscriptions(registry: Registry) -> tuple[str, ...]:
    """The telemetry topics of every layout in the registry (the default one always)."""
    filters = []
    for layout in sorted(registry.tasmota_topics):
        head = tasmota_telemetry(layout, "+")
        filters += [f"{head}{suffix}" for suffix in SUFFIXES]
    return tuple(filters)


def _split(topic: str, registry: Registry) -> tuple[dict[str, Device], str, str] | None:
    """(the layout's devices by topic, the device's Topic, the suffix), or None."""
    head, _, suffix = topic.rpartition("/")
    if suffix not in SUFFIXES:
        return None
    layouts = registry.tasmota_topics
    if head.startswith(PREFIX + "/") and "/" not in head[len(PREFIX) + 1 :]:
        return layouts[TASMOTA_FULL_TOPIC], head[len(PREFIX) + 1 :], suffix
    for layout, devices in layouts.items():
        if layout != TASMOTA_FULL_TOPIC and (found := _layout(layout).fullmatch(head + "/")):
            return devices, found["topic"], suffix
    return None


def owner(topic: str, registry: Registry) -> str | None:
    """The registered reader a Tasmota topic names, or None."""
    split = _split(topic, registry)
    device = split[0].get(split[1]) if split else None
    return device.id if device else None


@lru_cache(maxsize=256)
def _layout(full_topic: str) -> re.Pattern[str]:
    """A FullTopic as an expression whose group `topic` is the device's Topic."""
    parts = []
    for level in full_topic.rstrip("/").split("/"):
        if level == "%topic%":
            parts.append("(?P<topic>[^/]+)")
        elif level == "%prefix%":
            parts.append(re.escape(PREFIX))
        elif level in HOST_TOKENS:
            parts.append("[^/]+")
        else:
            parts.append(re.escape(level))
    return re.compile("/".join(parts) + "/")


def convert(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """A Tasmota message → a typed event, a Rejection or None; never raises."""
    return guarded(parse, topic, payload, received, registry)


def parse(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """`convert` without its guard: raises Reject (devices.convert guards it once)."""
    split = _split(topic, registry)
    if split is None:
        raise Reject(
            f"not a Tasmota telemetry topic (expected {PREFIX}/<topic>/{'|'.join(SUFFIXES)})",
            RejectionKind.UNKNOWN_TOPIC,
        )
    devices, device_topic, suffix = split
    device = devices.get(device_topic)
    if device is None:
        raise Reject(f"unknown tasmota topic {shown(device_topic)}", RejectionKind.UNKNOWN_DEVICE)
    if suffix == "LWT":
        online = status_word(payload)
        if online is None:
            return None
        return DeviceStatus(device.id, received, online, received, SOURCE)
    body = decode_object(payload)
    clock = next((body[key] for key in CLOCK_KEYS if key in body), None)
    device_time = None if clock is None or isinstance(clock, bool | dict | list) else str(clock)
    uid = None if suffix == "STATE" else _card(body, device)
    if uid is None:
        extra = _state_extras(body) if suffix == "STATE" else {}
        return Heartbeat(device.id, received, received, SOURCE, extra, device_time)
    require_kind(device, "badge_reader", "a badge read")
    return BadgeRead(device.id, received, uid, "in", received, SOURCE, device_time)


def _card(body: Mapping, device: Device) -> str | None:
    """The card of the first reader section present, or None without one."""
    for reader in CARD_READERS:
        section = _get(body, reader)
        if section is _MISSING:
            continue
        if not isinstance(section, dict):
            raise Reject(f"'{reader}' must be a JSON object, not {describe(section)}")
        width = 0
        if reader == "Wiegand":
            width = _wiegand_width(section)
        uid = _get(section, "UID")
        if uid is not _MISSING:
            return _uid(uid, f"{reader}.UID", device, width)
        data = _get(section, "Data")
        if isinstance(data, str) and data.strip():
            return _uid(data, f"{reader}.Data", device, width)
        return None  # e.g. a PN532 command acknowledgement: the device is alive, no card
    return None


def _wiegand_width(section: Mapping) -> int:
    """The bytes of the card number a Wiegand frame carries (0: unknown); keypads refused."""
    size = _get(section, "Size")
    if not isinstance(size, int) or isinstance(size, bool):
        return 0
    if size in WIEGAND_KEYPAD_SIZES:
        raise Reject(f"Wiegand keypad entry (Size {size}), not a card")
    bits = size - WIEGAND_PARITY_BITS
    return bits // 8 if bits > 0 and bits % 8 == 0 else 0


def _uid(value: object, key: str, device: Device, width: int) -> str:
    """A reader's UID: hex text (a SetOption123 `h` suffix dropped) or a decimal number."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 1 and text[-1].lower() == WIEGAND_HEX_SUFFIX:
            value = "0x" + text[:-1]  # hex, even on a reader registered as decimal
    return read_card(value, key, device, width)


def _state_extras(body: Mapping) -> dict[str, float]:
    extras = numeric_extras(body, rename=STATE_EXTRAS)
    wifi = _get(body, "Wifi")
    if isinstance(wifi, dict):
        extras.update(numeric_extras(wifi, rename=WIFI_EXTRAS))
    return extras


def _get(mapping: Mapping, key: str) -> object:
    """mapping[key], matching the key without regard to case; _MISSING when absent."""
    if key in mapping:
        return mapping[key]
    folded = key.casefold()
    for name, value in mapping.items():
        if isinstance(name, str) and name.casefold() == folded:
            return value
    return _MISSING
