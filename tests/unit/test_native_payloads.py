"""Native device payloads → typed events: badge reads, presence, heartbeats and status."""

from __future__ import annotations

from datetime import UTC

import pytest

from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport
from tests.unit.device_payloads import (
    DESK_CARD,
    NATIVE_OFFICE,
    NATIVE_SEAT,
    RECEIVED,
    RECEIVED_EPOCH_S,
    hall_time,
    native_event,
    rejected,
    run,
)

# ---------------------------------------------------------------- native badge


def test_a_desk_badge_read_with_an_offset_is_stored_at_that_instant(registry):
    event = native_event(
        registry, DESK_CARD, {"type": "badge", "uid": "04a1b2c3", "ts": "2026-11-23T09:01:12+08:00"}
    )
    assert event == BadgeRead(DESK_CARD, hall_time("09:01", 12), "04A1B2C3", "in", RECEIVED)
    assert event.at.tzinfo == UTC


@pytest.mark.parametrize("uid", ["04:a1:b2:c3", " 04-A1-B2-C3 ", "04 a1 b2 c3", "0x04a1b2c3"])
def test_card_uids_are_normalised_to_upper_case_hex(registry, uid):
    event = native_event(registry, DESK_CARD, {"type": "badge", "uid": uid})
    assert event.uid == "04A1B2C3"


def test_an_unknown_card_is_a_badge_read_not_a_rejection(registry):
    event = native_event(registry, DESK_CARD, {"type": "badge", "uid": "DEADBEEF"})
    assert isinstance(event, BadgeRead) and event.uid == "DEADBEEF"


@pytest.mark.parametrize(
    ("action", "expected"), [(None, "in"), ("in", "in"), ("out", "out"), (" OUT ", "out")]
)
def test_a_desk_reader_says_in_or_out(registry, action, expected):
    payload = {"type": "badge", "uid": "04A1B2C3"}
    if action is not None:
        payload["action"] = action
    assert native_event(registry, DESK_CARD, payload).action == expected


@pytest.mark.parametrize("action", ["sideways", "", 1, True, ["out"]])
def test_a_desk_reader_with_a_bad_action_is_rejected(registry, action):
    result = native_event(
        registry, DESK_CARD, {"type": "badge", "uid": "04A1B2C3", "action": action}
    )
    rejected(result, "'action' must be")


@pytest.mark.parametrize("action", ["out", "sideways", 7])
def test_an_office_reader_ignores_the_action(registry, action):
    payload = {"type": "badge", "uid": "04A1B2C3", "action": action}
    assert native_event(registry, NATIVE_OFFICE, payload).action == "in"


@pytest.mark.parametrize(
    ("uid", "fragment"),
    [
        ("", "'uid' is empty"),
        ("  ::  ", "'uid' is empty"),
        ("04A1B2CZ", "not a card number in hex"),
        ("张三", "not a card number in hex"),
        ("A" * 33, "not a card number in hex"),
        (1234, "'uid' must be a hex string, not the number 1234"),
        (True, "'uid' must be a hex string, not true"),
        (None, "'uid' must be a hex string"),
        (["04A1"], "not an array"),
    ],
)
def test_a_bad_uid_is_rejected(registry, uid, fragment):
    rejected(native_event(registry, DESK_CARD, {"type": "badge", "uid": uid}), fragment)


def test_a_missing_uid_is_rejected(registry):
    rejected(native_event(registry, DESK_CARD, {"type": "badge"}), "'uid'")


# ---------------------------------------------------------------- native presence, heartbeat


@pytest.mark.parametrize("occupied", [True, False])
def test_a_native_seat_sensor_reports_occupancy(registry, occupied):
    event = native_event(
        registry, NATIVE_SEAT, {"type": "presence", "occupied": occupied, "ts": RECEIVED_EPOCH_S}
    )
    assert event == PresenceReport(NATIVE_SEAT, RECEIVED, occupied, RECEIVED)


@pytest.mark.parametrize("occupied", ["true", 1, 0, None, "yes"])
def test_occupied_must_be_a_boolean(registry, occupied):
    result = native_event(registry, NATIVE_SEAT, {"type": "presence", "occupied": occupied})
    rejected(result, "'occupied' must be true or false")


def test_a_missing_occupied_is_rejected(registry):
    rejected(native_event(registry, NATIVE_SEAT, {"type": "presence"}), "'occupied'")


def test_a_heartbeat_keeps_its_numeric_extras_as_floats(registry):
    payload = {
        "type": "heartbeat",
        "ts": "2026-11-23T09:04:00+08:00",
        "battery": 87,
        "rssi": -61.5,
        "firmware": "1.2.3",
        "charging": True,
        "nested": {"x": 1},
        "nothing": None,
    }
    event = native_event(registry, NATIVE_SEAT, payload)
    assert event == Heartbeat(
        NATIVE_SEAT, hall_time("09:04"), RECEIVED, "native", {"battery": 87.0, "rssi": -61.5}
    )
    assert all(type(v) is float for v in event.extra.values())


def test_an_overflowing_number_is_no_extra(registry):
    event = native_event(
        registry, DESK_CARD, b'{"type": "heartbeat", "uptime_s": 1e400, "rssi": -50}'
    )
    assert event.extra == {"rssi": -50.0}


def test_any_device_may_send_a_heartbeat_without_a_time(registry):
    event = native_event(registry, DESK_CARD, {"type": "heartbeat"})
    assert event == Heartbeat(DESK_CARD, RECEIVED, RECEIVED)


def test_a_presence_report_from_a_badge_reader_is_rejected(registry):
    result = native_event(registry, DESK_CARD, {"type": "presence", "occupied": True})
    rejected(result, DESK_CARD, "badge_reader", "presence_sensor")


def test_a_badge_read_from_a_seat_sensor_is_rejected(registry):
    result = native_event(registry, NATIVE_SEAT, {"type": "badge", "uid": "04A1B2C3"})
    rejected(result, NATIVE_SEAT, "presence_sensor", "badge_reader")


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"uid": "04A1B2C3"}, "'type' is missing"),
        ({"type": "card"}, "'type' must be badge, presence or heartbeat, not the string 'card'"),
        ({"type": 3}, "not the number 3"),
        ({"type": None}, "'type' is missing"),
    ],
)
def test_a_missing_or_unknown_type_is_rejected(registry, payload, fragment):
    rejected(native_event(registry, DESK_CARD, payload), fragment)


def test_an_unknown_native_device_is_rejected_by_name(registry):
    result = native_event(registry, "no-such-device", {"type": "heartbeat"})
    rejected(result, "unknown device 'no-such-device'")
    status = run(registry, "hallwatch/devices/no-such-device/status", b"online")
    rejected(status, "unknown device 'no-such-device'")


@pytest.mark.parametrize(
    "topic",
    [
        "hallwatch/devices/desk-w01-card",
        "hallwatch/devices/a/b/events",
        "hallwatch/devices/x/config",
    ],
)
def test_a_native_topic_of_the_wrong_shape_is_rejected(registry, topic):
    rejected(run(registry, topic, {"type": "heartbeat"}), "not a native device topic")


# ---------------------------------------------------------------- native status


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b"online", True),
        (b"offline", False),
        (b"  Online\r\n", True),
        (b"OFFLINE", False),
        (b'"online"', True),
        (b' "offline" ', False),
        (b'{"state": "offline"}', False),
    ],
)
def test_a_native_status_says_online_or_offline(registry, payload, online):
    event = run(registry, f"hallwatch/devices/{NATIVE_SEAT}/status", payload)
    assert event == DeviceStatus(NATIVE_SEAT, RECEIVED, online, RECEIVED, "native")


@pytest.mark.parametrize("payload", [b"maybe", b"1", b"true", b'{"state": true}', b'"on line"'])
def test_a_status_that_is_neither_online_nor_offline_is_rejected(registry, payload):
    rejected(run(registry, f"hallwatch/devices/{NATIVE_SEAT}/status", payload), "online or offline")


def test_clearing_a_retained_status_is_ignored(registry):
    assert run(registry, f"hallwatch/devices/{NATIVE_SEAT}/status", b"") is None
    assert run(registry, f"hallwatch/devices/{NATIVE_SEAT}/status", b"  \n") is None
