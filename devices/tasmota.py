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
  Numeric UIDs become upper-case hex without padding (7748328 → "763AE8", the
  same text as SetOption123's hex form); a "0x" prefix is also accepted. A
  section without `UID` falls back to `Data` (contract §3). Keys are matched
  without regard to case.
  Without a card section the message is a heartbeat.
- `STATE` (every TelePeriod) → a heartbeat with uptime, heap, load and Wi-Fi
  extras; `rssi` is Wi-Fi `Signal` in dBm (as native devices report it) and
  `wifi_quality` Tasmota's `RSSI`, which is a 0–100 % quality, not dBm.
- `LWT`: `Online` / `Offline` → device status at the time of receipt (empty:
  the retained will being cleared → None).

Time: `Epoch` when present (Time 2), else `Time`: hall time without an offset
(Time 1, 4 with milliseconds), with an offset under SetOption52, or epoch
seconds (Time 3). A freshly booted device says 1970 until NTP answers; the
clock policy of `devices.timestamps` handles that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from devices.payload import (
    Reject,
    card_uid,
    decode_object,
    describe,
    event_time,
    guarded,
    numeric_extras,
    require_kind,
    shown,
    status_word,
)
from hallwatch.events import BadgeRead, ConversionResult, DeviceStatus, Heartbeat
from hallwatch.registry.spec import Registry

PREFIX = "tele"
SUFFIXES = ("SENSOR", "RESULT", "STATE", "LWT")
SUBSCRIPTIONS = tuple(f"{PREFIX}/+/{suffix}" for suffix in SUFFIXES)
CARD_READERS = ("RC522", "PN532", "RDM6300", "Wiegand")
WIEGAND_KEYPAD_SIZES = (4, 8)  # bits per key press on Wiegand keypads
WIEGAND_HEX_SUFFIX = "h"  # SetOption123 1 writes the UID as hex followed by this
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


def matches(topic: str) -> bool:
    """Whether the topic is one of the Tasmota telemetry topics we read."""
    parts = topic.split("/")
    return len(parts) >= 3 and parts[0] == PREFIX and parts[-1] in SUFFIXES


def convert(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """A Tasmota message → a typed event, a Rejection or None; never raises."""
    return guarded(parse, topic, payload, received, registry)


def parse(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """`convert` without its guard: raises Reject (devices.convert guards it once)."""
    if not matches(topic):
        raise Reject(
            f"not a Tasmota telemetry topic (expected {PREFIX}/<topic>/{'|'.join(SUFFIXES)})"
        )
    device_topic, _, suffix = topic[len(PREFIX) + 1 :].rpartition("/")
    device = registry.device_by_tasmota_topic.get(device_topic)
    if device is None:
        raise Reject(f"unknown tasmota topic {shown(device_topic)}")
    if suffix == "LWT":
        online = status_word(payload)
        if online is None:
            return None
        return DeviceStatus(device.id, received, online, received, SOURCE)
    body = decode_object(payload)
    when = event_time(body, "Epoch" if "Epoch" in body else "Time", received, registry)
    uid = None if suffix == "STATE" else _card(body)
    if uid is None:
        extra = _state_extras(body) if suffix == "STATE" else {}
        return Heartbeat(device.id, when.at, received, SOURCE, extra, when.device_time)
    require_kind(device, "badge_reader", "a badge read")
    return BadgeRead(device.id, when.at, uid, "in", received, SOURCE, when.device_time)


def _card(body: Mapping) -> str | None:
    """The card UID of the first reader section present, or None without one."""
    for reader in CARD_READERS:
        section = _get(body, reader)
        if section is _MISSING:
            continue
        if not isinstance(section, dict):
            raise Reject(f"'{reader}' must be a JSON object, not {describe(section)}")
        if reader == "Wiegand":
            _refuse_keypad(section)
        uid = _get(section, "UID")
        if uid is not _MISSING:
            return _uid(uid, f"{reader}.UID")
        data = _get(section, "Data")
        if isinstance(data, str) and data.strip():
            return _uid(data, f"{reader}.Data")
        return None  # e.g. a PN532 command acknowledgement: the device is alive, no card
    return None


def _refuse_keypad(section: Mapping) -> None:
    size = _get(section, "Size")
    if isinstance(size, int) and not isinstance(size, bool) and size in WIEGAND_KEYPAD_SIZES:
        raise Reject(f"Wiegand keypad entry (Size {size}), not a card")


def _uid(value: object, key: str) -> str:
    """A reader's UID, given as a hex string or as a number, → upper-case hex."""
    if isinstance(value, bool) or value is None:
        raise Reject(f"'{key}' must be a hex string or a card number, not {describe(value)}")
    if isinstance(value, int):
        if value <= 0:
            # Tasmota's Wiegand driver publishes 0 when the parity check fails.
            raise Reject(f"'{key}' {value} is not a card number (a misread)")
        return card_uid(f"{value:X}", key)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 1 and text[-1].lower() == WIEGAND_HEX_SUFFIX:
            text = text[:-1]
        return card_uid(text, key)
    raise Reject(f"'{key}' must be a hex string or a card number, not {describe(value)}")


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
