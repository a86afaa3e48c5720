"""Device payloads: which family claims a topic, and the payloads refused whatever their form."""

from __future__ import annotations

from datetime import UTC

import pytest

import devices
from devices import native, tasmota, zigbee2mqtt
from hallwatch.events import Heartbeat
from tests.unit.device_payloads import (
    DESK_CARD,
    RECEIVED,
    TZ,
    body,
    native_event,
    rejected,
    run,
)

# ---------------------------------------------------------------- dispatcher


def test_a_hall_of_default_topics_subscribes_to_the_three_default_forms(registry):
    assert devices.subscriptions(registry) == (
        "hallwatch/devices/+/events",
        "hallwatch/devices/+/status",
        "zigbee2mqtt/#",
        "tele/+/SENSOR",
        "tele/+/RESULT",
        "tele/+/STATE",
        "tele/+/LWT",
    )


def test_each_family_claims_its_own_topics_only(registry):
    assert native.matches("hallwatch/devices/x/events", registry)
    assert zigbee2mqtt.matches("zigbee2mqtt/seat_w01", registry)
    assert tasmota.matches("tele/civil_door/SENSOR", registry)
    assert not native.matches("zigbee2mqtt/x", registry)
    assert not zigbee2mqtt.matches("zigbee2mqttx/seat", registry)
    assert not tasmota.matches("tele/civil_door/INFO1", registry)
    assert not tasmota.matches("stat/civil_door/RESULT", registry)


@pytest.mark.parametrize(
    ("family", "fragment"),
    [
        (native, "not a native device topic"),
        (zigbee2mqtt, "not a Zigbee2MQTT topic"),
        (tasmota, "not a Tasmota telemetry topic"),
    ],
)
def test_a_family_converter_refuses_a_topic_of_another_form(registry, family, fragment):
    rejected(family.convert("stat/civil_door/RESULT", b"{}", RECEIVED, registry), fragment)


def test_a_topic_of_no_known_form_is_rejected(registry):
    rejected(run(registry, "stat/civil_door/RESULT", {"POWER": "ON"}), "stat/civil_door/RESULT")


def test_every_status_and_rejection_carries_the_receipt_time_in_utc(registry):
    shanghai_receipt = RECEIVED.astimezone(TZ)
    status = run(registry, f"hallwatch/devices/{DESK_CARD}/status", b"online", shanghai_receipt)
    assert status.at == RECEIVED and status.at.tzinfo == UTC and status.received == RECEIVED
    naive = run(registry, "nowhere", b"x", RECEIVED.replace(tzinfo=None))
    assert naive.received == RECEIVED


# ---------------------------------------------------------------- payload-level failures


def test_bad_json_is_rejected_with_the_parser_s_words(registry):
    result = native_event(registry, DESK_CARD, b"{not json")
    rejected(result, "bad JSON: Expecting property name enclosed in double quotes at line 1")
    rejected(
        native_event(registry, DESK_CARD, b"?"), "bad JSON: Expecting value at line 1 column 1"
    )


@pytest.mark.parametrize(
    ("payload", "kind"),
    [([1, 2], "an array"), (3, "the number 3"), ("badge", "the string 'badge'"), (None, "null")],
)
def test_json_that_is_not_an_object_is_rejected(registry, payload, kind):
    rejected(
        native_event(registry, DESK_CARD, payload), f"payload must be a JSON object, not {kind}"
    )


def test_bytes_that_are_not_utf8_are_rejected_and_kept(registry):
    payload = b'{"type": "badge", "uid": "\xff\xfe"}'
    result = native_event(registry, DESK_CARD, payload)
    assert rejected(result, "payload is not UTF-8").payload == payload


def test_a_utf8_byte_order_mark_is_tolerated(registry):
    payload = b"\xef\xbb\xbf" + body({"type": "heartbeat"})
    assert isinstance(native_event(registry, DESK_CARD, payload), Heartbeat)


def test_an_empty_event_payload_is_rejected(registry):
    rejected(native_event(registry, DESK_CARD, b""), "empty payload")


def test_nan_and_infinity_are_not_json(registry):
    rejected(native_event(registry, DESK_CARD, b'{"type": "heartbeat", "rssi": NaN}'), "bad JSON")
    rejected(
        native_event(registry, DESK_CARD, b'{"type": "heartbeat", "ts": -Infinity}'), "bad JSON"
    )


def test_a_payload_over_64_kib_is_rejected_whole(registry):
    payload = body({"type": "heartbeat", "pad": "x" * (64 * 1024)})
    result = native_event(registry, DESK_CARD, payload)
    assert rejected(result, "bytes, over the 65536-byte limit").payload == payload


@pytest.mark.parametrize(
    "topic",
    [
        "zigbee2mqtt/seat_w01",
        "zigbee2mqtt/seat_w01/availability",
        f"hallwatch/devices/{DESK_CARD}/status",
        "tele/civil_door/SENSOR",
        "tele/civil_door/LWT",
    ],
)
def test_every_form_refuses_an_oversized_payload(registry, topic):
    rejected(run(registry, topic, b" " * (64 * 1024 + 1)), "over the 65536-byte limit")


def test_a_huge_retained_bridge_message_is_still_just_ignored(registry):
    assert run(registry, "zigbee2mqtt/bridge/devices", b"[" + b"{}," * 200_000 + b"{}]") is None


def test_a_payload_of_exactly_64_kib_is_read(registry):
    start = body({"type": "heartbeat"})
    payload = start + b" " * (64 * 1024 - len(start))
    assert isinstance(native_event(registry, DESK_CARD, payload), Heartbeat)


def test_deeply_nested_json_is_rejected(registry):
    rejected(native_event(registry, DESK_CARD, b"[" * 60_000), "bad JSON")


def test_an_integer_with_thousands_of_digits_is_rejected(registry):
    rejected(native_event(registry, DESK_CARD, b'{"type": "heartbeat", "n": ' + b"9" * 5000 + b"}"))
