"""Payload primitives the device forms share: the never-raise guard, JSON, card numbers,
status words, the known telemetry, and how rejection reasons quote device input."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from devices.timestamps import Stamp, TimestampError, stamp
from hallwatch.cards import (
    MAX_HEX_DIGITS,
    CardError,
    card_hex,
    card_number,
    printed_bytes,
    reversed_bytes,
)
from hallwatch.events import ConversionResult, Rejection, RejectionKind
from hallwatch.registry.spec import Device, DeviceKind, Registry

MAX_PAYLOAD_BYTES = 64 * 1024  # larger messages are refused unread
SHOWN_CHARS = 60  # how much of a device-supplied value a rejection reason quotes
STATUS_WORDS = {"online": True, "offline": False}
# The numeric telemetry a heartbeat keeps, under these names (docs/DEVICES.md). A known list,
# not whatever keys a device sends: each name becomes a field of the event store, and a
# device inventing keys must not grow its schema without bound.
TELEMETRY = frozenset(
    {
        "battery",
        "voltage",
        "rssi",
        "linkquality",
        "temperature",
        "device_temperature",
        "humidity",
        "illuminance",
        "illuminance_lux",
        "target_distance",
        "power_outage_count",
        "uptime_s",
        "heap_kb",
        "load_avg",
        "mqtt_count",
        "vcc_v",
        "wifi_quality",
        "wifi_link_count",
        "seq",  # a device's own message counter: shows what went missing on the way
    }
)

Converter = Callable[[str, bytes, datetime, Registry], ConversionResult | None]


class Reject(Exception):
    """Raised inside a converter: the message cannot be understood, for the reason given."""

    def __init__(self, reason: str, kind: RejectionKind = RejectionKind.BAD_FIELD):
        super().__init__(reason)
        self.kind = kind


def guarded(
    converter: Converter, topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """Run a converter so it never raises: refusals and surprises become Rejections."""
    received = _aware_utc(received)
    raw = _as_bytes(payload)
    try:
        return converter(topic, raw, received, registry)
    except Reject as exc:
        return Rejection(topic, raw, str(exc), received, exc.kind)
    except Exception as exc:  # a poison message never stops the collector
        reason = f"converter error: {type(exc).__name__}: {exc}"[: SHOWN_CHARS * 4]
        return Rejection(topic, raw, reason, received, RejectionKind.CONVERTER_ERROR)


def decode_text(payload: bytes) -> str:
    """The payload as text (a UTF-8 byte-order mark is tolerated); oversized ones unread."""
    # Checked here, where a payload is first read, so ignored topics are ignored at any size
    # (Zigbee2MQTT's retained bridge/devices runs to hundreds of kilobytes).
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Reject(
            f"payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit",
            RejectionKind.TOO_LARGE,
        )
    try:
        text = payload.decode()  # not "utf-8-sig": that codec is Python, this one is C
    except UnicodeDecodeError as exc:
        raise Reject(
            f"payload is not UTF-8 (bad byte at offset {exc.start})", RejectionKind.BAD_ENCODING
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def decode_json(payload: bytes) -> object:
    """The payload as a JSON value; NaN and Infinity are not JSON."""
    text = decode_text(payload)
    if not text.strip():
        raise Reject("empty payload, expected JSON", RejectionKind.BAD_JSON)
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise Reject(
            f"bad JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", RejectionKind.BAD_JSON
        ) from None
    except RecursionError:
        raise Reject("bad JSON: nested too deeply", RejectionKind.BAD_JSON) from None
    except ValueError as exc:  # NaN/Infinity, or an integer with thousands of digits
        raise Reject(f"bad JSON: {exc}", RejectionKind.BAD_JSON) from None


def decode_object(payload: bytes) -> dict:
    """The payload as a JSON object."""
    value = decode_json(payload)
    if not isinstance(value, dict):
        raise Reject(
            f"payload must be a JSON object, not {describe(value)}", RejectionKind.BAD_JSON
        )
    return value


def status_word(payload: bytes) -> bool | None:
    """online → True, offline → False; also as a JSON string or {"state": …}; empty → None."""
    text = decode_text(payload).strip()
    if not text:
        return None
    value: object = text
    if text[0] in '"{':
        value = decode_json(payload)
        if isinstance(value, dict):
            value = value.get("state")
    if isinstance(value, str) and value.strip().lower() in STATUS_WORDS:
        return STATUS_WORDS[value.strip().lower()]
    raise Reject(f"status must be online or offline, not {describe(value)}")


def read_card(value: object, key: str, device: Device, width_bytes: int = 0) -> str:
    """The card a reader reported, canonical (hallwatch.cards.card_hex).

    Text is hex (`04A1B2C3`, `04:a1:b2:c3`, `74-10-37-94`, `0x…`), or `dec:` digits, or
    decimal when the device is registered with `uid_decimal`; a JSON number is the card's
    decimal number (Wiegand). A `uid_reversed` reader's bytes are turned round, over
    `width_bytes` bytes when the reader says how many it sent.
    """
    if isinstance(value, bool) or value is None:
        raise Reject(f"'{key}' must be a card number, not {describe(value)}")
    if isinstance(value, int):
        if value <= 0:  # Tasmota's Wiegand driver publishes 0 when the parity check fails
            raise Reject(f"'{key}' {value} is not a card number (a misread)")
        if value.bit_length() > 4 * MAX_HEX_DIGITS:
            raise Reject(f"'{key}' is not a card number (longer than {MAX_HEX_DIGITS} hex digits)")
        number = value
    elif isinstance(value, str):
        try:
            number = card_number(value, decimal=device.uid_decimal)
        except CardError as exc:
            raise Reject(f"'{key}' {exc}: {shown(value)}") from None
        if not device.uid_decimal or value.strip()[:2].lower() == "0x":
            width_bytes = max(width_bytes, printed_bytes(value))  # "0034AB12": four bytes
    else:
        raise Reject(f"'{key}' must be a card number, not {describe(value)}")
    if device.uid_reversed:
        number = reversed_bytes(number, width_bytes)
    return card_hex(number)


def event_time(body: Mapping, key: str, received: datetime, registry: Registry) -> Stamp:
    """The event's time from `body[key]` under the clock policy of `devices.timestamps`."""
    try:
        return stamp(body.get(key), received, registry.hall.tz)
    except TimestampError as exc:
        raise Reject(f"'{key}' {exc}") from None


def numeric_extras(values: Mapping, rename: Mapping[str, str] | None = None) -> dict[str, float]:
    """The known telemetry (TELEMETRY) among `values`, as floats; `rename` maps a device's
    own names onto ours (only the keys it names are read then)."""
    extras: dict[str, float] = {}
    if rename is None:
        for name in TELEMETRY.intersection(values):
            number = as_number(values[name])
            if number is not None:
                extras[name] = number
        return extras
    for key, name in rename.items():
        number = as_number(values.get(key))
        if number is not None:
            extras[name] = number
    return extras


def as_number(value: object) -> float | None:
    """A finite JSON number as float; booleans, strings and overflowing values are not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def require_kind(device: Device, kind: DeviceKind, what: str) -> None:
    """Refuse an event the registered device cannot produce."""
    if device.kind != kind:
        raise Reject(
            f"device {shown(device.id)} is a {device.kind}; {what} needs a {kind}",
            RejectionKind.WRONG_DEVICE_KIND,
        )


def describe(value: object) -> str:
    """A JSON value named for a reason: the string 'x', the number 3, null, an object…"""
    if value is None:
        return "null (or missing)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {shown(value)}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shown(value: object) -> str:
    """A device-supplied value quoted for a reason, cut short."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a number too long to show"
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def _aware_utc(received: datetime) -> datetime:
    if not isinstance(received, datetime):
        return received  # a caller's bug; the converter's own checks turn it into a Rejection
    if received.tzinfo is UTC:
        return received
    if received.tzinfo is None:
        return received.replace(tzinfo=UTC)
    try:
        return received.astimezone(UTC)
    except (OverflowError, ValueError):
        return received


def _as_bytes(payload: bytes) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogatepass")
    try:
        return bytes(payload)
    except (TypeError, ValueError):
        return repr(payload).encode()


_DECODER = json.JSONDecoder(parse_constant=_no_constant)  # one, not one per message
