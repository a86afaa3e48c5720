"""Device payloads → typed events: every form the hall's devices publish, and how each breaks."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import devices
from devices import native, tasmota, timestamps, zigbee2mqtt
from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport, Rejection
from hallwatch.registry.spec import (
    Department,
    Device,
    HallSettings,
    Registry,
    StaffMember,
    Window,
)

TZ = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)  # Monday 09:05 in the hall
RECEIVED_EPOCH_S = int(RECEIVED.timestamp())

DESK_CARD = "desk-w01-card"  # native badge reader at W01
DESK_SEAT = "desk-w01-seat"  # Zigbee2MQTT seat sensor at W01 ("seat_w01")
FLOOR_SEAT = "desk-w02-seat"  # Zigbee2MQTT seat sensor whose friendly name has a '/'
NATIVE_SEAT = "desk-w03-seat"  # native seat sensor at W03
NATIVE_OFFICE = "office-tax-card"  # native office reader of the tax bureau
OFFICE_DOOR = "office-civil"  # Tasmota office reader, topic "civil_door"
DESK_TASMOTA = "desk-w02-card"  # Tasmota desk reader at W02, topic "w02_reader"


@pytest.fixture
def registry() -> Registry:
    """A small hall in Asia/Shanghai with one device of every payload form."""
    return Registry(
        hall=HallSettings(name="测试大厅", timezone="Asia/Shanghai"),
        departments=(Department("civil", "民政局"), Department("tax", "税务局")),
        windows=(
            Window("W01", "1号窗口", "civil"),
            Window("W02", "2号窗口", "civil"),
            Window("W03", "3号窗口", "tax"),
        ),
        staff=(StaffMember("s001", "张三", "civil", ("04A1B2C3",)),),
        devices=(
            Device(DESK_CARD, "badge_reader", window="W01"),
            Device(DESK_SEAT, "presence_sensor", window="W01", zigbee2mqtt="seat_w01"),
            Device(FLOOR_SEAT, "presence_sensor", window="W02", zigbee2mqtt="floor1/seat_w02"),
            Device(NATIVE_SEAT, "presence_sensor", window="W03"),
            Device(NATIVE_OFFICE, "badge_reader", department="tax"),
            Device(OFFICE_DOOR, "badge_reader", department="civil", tasmota="civil_door"),
            Device(DESK_TASMOTA, "badge_reader", window="W02", tasmota="w02_reader"),
        ),
    )


def hall_time(hhmm: str, seconds: int = 0) -> datetime:
    """An instant on the test Monday, hall time, as UTC."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 11, 23, hour, minute, seconds, tzinfo=TZ).astimezone(UTC)


def body(value: object) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def run(registry: Registry, topic: str, payload: object, received: datetime = RECEIVED):
    return devices.convert(topic, body(payload), received, registry)


def native_event(registry: Registry, device: str, payload: object, **kw):
    return run(registry, f"hallwatch/devices/{device}/events", payload, **kw)


def rejected(result: object, *fragments: str) -> Rejection:
    """Assert a Rejection whose reason names every fragment."""
    assert isinstance(result, Rejection), result
    for fragment in fragments:
        assert fragment in result.reason, result.reason
    return result


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


# ---------------------------------------------------------------- timestamps through native


def presence_at(registry, ts, received=RECEIVED):
    payload = {"type": "presence", "occupied": True, "ts": ts}
    return native_event(registry, NATIVE_SEAT, payload, received=received)


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-11-23T09:01:12+08:00", hall_time("09:01", 12)),
        ("2026-11-23T01:01:12Z", hall_time("09:01", 12)),
        ("2026-11-23T09:01:12", hall_time("09:01", 12)),  # no offset: hall time
        ("2026-11-23 09:01:12", hall_time("09:01", 12)),
        ("2026-11-23T09:01:12.250", hall_time("09:01", 12) + timedelta(milliseconds=250)),
        (1795395672, hall_time("09:01", 12)),  # epoch seconds
        (1795395672.5, hall_time("09:01", 12) + timedelta(milliseconds=500)),
        (1795395672123, hall_time("09:01", 12) + timedelta(milliseconds=123)),  # epoch ms
    ],
)
def test_ts_forms(registry, ts, expected):
    event = presence_at(registry, ts)
    assert (event.at, event.device_time) == (expected, None)
    assert event.at.tzinfo == UTC


def test_a_missing_or_null_ts_is_the_time_of_receipt(registry):
    assert presence_at(registry, None).at == RECEIVED
    event = native_event(registry, NATIVE_SEAT, {"type": "presence", "occupied": False})
    assert event.at == RECEIVED


@pytest.mark.parametrize(
    ("ts", "fragment"),
    [
        (True, "not true"),
        (False, "not false"),
        ("yesterday", "not 'yesterday'"),
        ("2026-11-23", "not '2026-11-23'"),  # a day, not an instant
        ("", "not ''"),
        ("1795395672", "not '1795395672'"),
        ({"s": 1}, "'ts' must be an ISO-8601 date and time or a number"),
        ([1795395672], "'ts' must be"),
    ],
)
def test_a_ts_that_is_not_a_time_is_rejected(registry, ts, fragment):
    rejected(presence_at(registry, ts), "'ts'", fragment)


def test_a_clock_ahead_of_receipt_is_not_trusted(registry):
    ahead = "2026-11-23T09:10:01+08:00"  # 5 min 1 s after receipt
    event = presence_at(registry, ahead)
    assert (event.at, event.device_time) == (RECEIVED, ahead)


def test_a_clock_at_most_five_minutes_ahead_is_trusted(registry):
    event = presence_at(registry, "2026-11-23T09:10:00+08:00")
    assert (event.at, event.device_time) == (hall_time("09:10"), None)


def test_a_1970_clock_is_not_trusted_and_its_reading_is_kept(registry):
    event = presence_at(registry, 5)
    assert (event.at, event.device_time) == (RECEIVED, "5")
    event = presence_at(registry, "1970-01-01T00:00:05")
    assert (event.at, event.device_time) == (RECEIVED, "1970-01-01T00:00:05")


def test_a_backlog_within_thirty_days_keeps_its_times(registry):
    late = RECEIVED + timedelta(days=29, hours=23)
    assert presence_at(registry, RECEIVED_EPOCH_S, received=late).at == RECEIVED
    too_late = RECEIVED + timedelta(days=30, seconds=1)
    event = presence_at(registry, RECEIVED_EPOCH_S, received=too_late)
    assert (event.at, event.device_time) == (too_late, str(RECEIVED_EPOCH_S))


@pytest.mark.parametrize(
    "ts", [1e300, -1e300, 10**30, "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00"]
)
def test_a_reading_beyond_any_calendar_is_an_untrusted_clock(registry, ts):
    event = presence_at(registry, ts)
    assert (event.at, event.device_time) == (RECEIVED, str(ts))


# ---------------------------------------------------------------- timestamps module


def test_epoch_numbers_above_1e11_are_milliseconds():
    threshold = timestamps.EPOCH_MS_THRESHOLD
    assert timestamps.parse_reading(threshold, TZ) == datetime(5138, 11, 16, 9, 46, 40, tzinfo=UTC)
    assert timestamps.parse_reading(threshold + 1, TZ).year == 1973


def test_the_trust_window_is_inclusive():
    assert timestamps.trusted(RECEIVED + timestamps.MAX_FUTURE_SKEW, RECEIVED)
    assert timestamps.trusted(RECEIVED - timestamps.MAX_BACKLOG_AGE, RECEIVED)
    assert not timestamps.trusted(RECEIVED - timestamps.MAX_BACKLOG_AGE - timedelta(1e-6), RECEIVED)


def test_a_reading_with_another_offset_is_converted_to_utc():
    at = timestamps.parse_reading("2026-11-22T20:01:12-05:00", TZ)
    assert at == hall_time("09:01", 12) and at.tzinfo == UTC


def test_stamp_normalises_an_aware_receipt_to_utc():
    result = timestamps.stamp(None, RECEIVED.astimezone(timezone(timedelta(hours=3))), TZ)
    assert result.at.tzinfo == UTC and result.at == RECEIVED


# ---------------------------------------------------------------- Zigbee2MQTT


def z2m(registry, name, payload, **kw):
    return run(registry, f"zigbee2mqtt/{name}", payload, **kw)


@pytest.mark.parametrize("key", ["occupancy", "presence"])
def test_a_zigbee_seat_sensor_reports_occupancy_at_receipt(registry, key):
    event = z2m(registry, "seat_w01", {key: True, "battery": 90, "linkquality": 120})
    telemetry = {"battery": 90.0, "linkquality": 120.0}  # kept with the report
    assert event == PresenceReport(
        DESK_SEAT, RECEIVED, True, RECEIVED, "zigbee2mqtt", None, telemetry
    )


def test_a_seat_is_occupied_if_either_occupancy_or_presence_says_so(registry):
    assert z2m(registry, "seat_w01", {"occupancy": False, "presence": True}).occupied
    assert not z2m(registry, "seat_w01", {"occupancy": False, "presence": False}).occupied


@pytest.mark.parametrize(
    "last_seen",
    [
        "2026-11-23T09:04:30.123+08:00",  # ISO_8601_local
        "2026-11-23T01:04:30.123Z",  # ISO_8601
        1795395870123,  # epoch (milliseconds)
    ],
)
def test_last_seen_in_any_of_its_forms_is_kept_beside_the_receipt_time(registry, last_seen):
    event = z2m(registry, "seat_w01", {"occupancy": False, "last_seen": last_seen})
    assert (event.at, event.device_time) == (RECEIVED, str(last_seen))


def test_a_last_seen_from_a_wrong_clock_is_kept_but_not_used(registry):
    event = z2m(registry, "seat_w01", {"occupancy": True, "last_seen": "2020-01-01T00:00:00Z"})
    assert (event.at, event.device_time) == (RECEIVED, "2020-01-01T00:00:00Z")


@pytest.mark.parametrize(("last_seen", "kept"), [("recently", "recently"), (True, None)])
def test_a_last_seen_that_is_not_a_time_changes_nothing(registry, last_seen, kept):
    event = z2m(registry, "seat_w01", {"occupancy": True, "last_seen": last_seen})
    assert (event.at, event.occupied, event.device_time) == (RECEIVED, True, kept)


def test_any_other_message_of_a_zigbee_device_is_a_heartbeat(registry):
    payload = {
        "battery": 88,
        "linkquality": 120,
        "voltage": 2975,
        "illuminance": 312.5,
        "led_indication": False,
        "motion_sensitivity": "high",
        "occupancy": None,  # not a boolean: no presence report
        "last_seen": 1795395870000,
    }
    event = z2m(registry, "seat_w01", payload)
    assert isinstance(event, Heartbeat) and event.source == "zigbee2mqtt"
    assert event.extra == {
        "battery": 88.0,
        "linkquality": 120.0,
        "voltage": 2975.0,
        "illuminance": 312.5,
    }
    assert (event.at, event.device_time) == (RECEIVED, "1795395870000")


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b'{"state":"online"}', True),
        (b'{"state": "offline"}', False),
        (b"online", True),
        (b"offline", False),
    ],
)
def test_zigbee_availability_is_device_status_at_receipt(registry, payload, online):
    event = run(registry, "zigbee2mqtt/seat_w01/availability", payload)
    assert event == DeviceStatus(DESK_SEAT, RECEIVED, online, RECEIVED, "zigbee2mqtt")


def test_bad_zigbee_availability_is_rejected(registry):
    rejected(
        run(registry, "zigbee2mqtt/seat_w01/availability", b'{"state": 1}'), "online or offline"
    )
    rejected(run(registry, "zigbee2mqtt/seat_w01/availability", b'{"state": '), "bad JSON")


def test_a_friendly_name_with_slashes_is_found_whole(registry):
    event = z2m(registry, "floor1/seat_w02", {"presence": True})
    assert (event.device, event.occupied) == (FLOOR_SEAT, True)
    status = run(registry, "zigbee2mqtt/floor1/seat_w02/availability", b'{"state":"offline"}')
    assert (status.device, status.online) == (FLOOR_SEAT, False)


@pytest.mark.parametrize(
    "topic",
    [
        "zigbee2mqtt/bridge/devices",
        "zigbee2mqtt/bridge/logging",
        "zigbee2mqtt/bridge/response/device/rename",
        "zigbee2mqtt/bridge",
        "zigbee2mqtt/seat_w01/set",
        "zigbee2mqtt/seat_w01/get",
        "zigbee2mqtt/seat_w01/set/motion_sensitivity",
        "zigbee2mqtt/floor1/seat_w02/set",
        "zigbee2mqtt/some_lamp/set",
    ],
)
def test_bridge_traffic_and_commands_are_ignored(registry, topic):
    assert run(registry, topic, {"state": "ON"}) is None


def test_an_unregistered_friendly_name_is_rejected(registry):
    rejected(
        z2m(registry, "hallway_lamp", {"state": "ON"}), "unknown zigbee2mqtt device 'hallway_lamp'"
    )
    result = run(registry, "zigbee2mqtt/hallway_lamp/availability", b"online")
    rejected(result, "unknown zigbee2mqtt device 'hallway_lamp'")
    rejected(z2m(registry, "floor1/lamp", {"state": "ON"}), "'floor1/lamp'")
    rejected(run(registry, "zigbee2mqtt", {"state": "ON"}), "unknown zigbee2mqtt device")


def test_a_device_whose_name_extends_a_registered_one_is_not_mistaken_for_it(registry):
    rejected(z2m(registry, "seat_w01/lamp", {"state": "ON"}), "'seat_w01/lamp'")


def test_clearing_retained_zigbee_messages_is_ignored(registry):
    assert z2m(registry, "seat_w01", b"") is None
    assert run(registry, "zigbee2mqtt/seat_w01/availability", b"") is None


def test_a_zigbee_state_that_is_not_an_object_is_rejected(registry):
    rejected(z2m(registry, "seat_w01", b"[true]"), "must be a JSON object")
    rejected(z2m(registry, "seat_w01", b"occupied"), "bad JSON")


def test_attribute_output_mode_gives_presence_and_heartbeats(registry):
    event = run(registry, "zigbee2mqtt/seat_w01/occupancy", b"true")
    assert event == PresenceReport(DESK_SEAT, RECEIVED, True, RECEIVED, "zigbee2mqtt")
    battery = run(registry, "zigbee2mqtt/seat_w01/battery", b"87")
    assert battery == Heartbeat(DESK_SEAT, RECEIVED, RECEIVED, "zigbee2mqtt", {"battery": 87.0})
    mode = run(registry, "zigbee2mqtt/seat_w01/motion_sensitivity", b"high")
    assert isinstance(mode, Heartbeat) and mode.extra == {}


# ---------------------------------------------------------------- Tasmota


def tele(registry, topic, suffix, payload, **kw):
    return run(registry, f"tele/{topic}/{suffix}", payload, **kw)


def test_the_contract_s_rc522_example_is_an_office_badge_read_at_receipt(registry):
    payload = {
        "Time": "2026-11-23T09:01:12",
        "RC522": {"UID": "04A1B2C3", "DATA": "", "Type": "MIFARE 1KB"},
    }
    event = tele(registry, "civil_door", "SENSOR", payload)
    assert event == BadgeRead(
        OFFICE_DOOR, RECEIVED, "04A1B2C3", "in", RECEIVED, "tasmota", "2026-11-23T09:01:12"
    )


@pytest.mark.parametrize(
    ("section", "uid"),
    [
        ({"RC522": {"UID": "04a1b2c3", "Data": "", "Type": "MIFARE 1KB"}}, "04A1B2C3"),
        (
            {"PN532": {"UID": "04A1B2C3D4E5F6", "Data": "HALLWATCH", "Auth": "None"}},
            "04A1B2C3D4E5F6",
        ),
        ({"PN532": {"UID": "04A1B2C3"}}, "04A1B2C3"),
        ({"RDM6300": {"UID": "008EC793"}}, "8EC793"),  # a card is a number: no leading zeros
        ({"Wiegand": {"UID": 7748328, "Size": 26}}, "763AE8"),  # decimal, the default
        ({"Wiegand": {"UID": 4302741608, "Size": 34}}, "010076A068"),
        ({"Wiegand": {"UID": "763AE8h", "Size": 26}}, "763AE8"),  # SetOption123 1
        ({"Wiegand": {"UID": "0x763ae8", "Size": 26}}, "763AE8"),
        ({"rc522": {"uid": "04A1B2C3"}}, "04A1B2C3"),  # keys matched without regard to case
        ({"RC522": {"Data": "04A1B2C3"}}, "04A1B2C3"),  # no UID: Data stands in
    ],
)
def test_every_tasmota_reader_shape_gives_the_card_uid(registry, section, uid):
    event = tele(registry, "civil_door", "SENSOR", {"Time": "2026-11-23T09:01:12", **section})
    assert isinstance(event, BadgeRead) and event.uid == uid and event.source == "tasmota"


def test_a_card_in_a_tele_result_counts_too(registry):
    event = tele(
        registry,
        "civil_door",
        "RESULT",
        {"Time": "2026-11-23T09:01:12", "PN532": {"UID": "04A1B2C3"}},
    )
    assert isinstance(event, BadgeRead)


def test_a_tasmota_desk_reader_signs_in(registry):
    event = tele(
        registry,
        "w02_reader",
        "SENSOR",
        {"Time": "2026-11-23T09:02:00", "RC522": {"UID": "04A1B2C3"}},
    )
    assert (event.device, event.action) == (DESK_TASMOTA, "in")


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ({"Wiegand": {"UID": 0, "Size": 26}}, "'Wiegand.UID' 0 is not a card number"),
        ({"Wiegand": {"UID": 1234, "Size": 4}}, "Wiegand keypad entry (Size 4)"),
        ({"Wiegand": {"UID": 5, "Size": 8}}, "keypad"),
        ({"Wiegand": {"UID": -5, "Size": 26}}, "not a card number"),
        ({"RC522": {"UID": ""}}, "'RC522.UID' is empty"),
        ({"RC522": {"UID": "NOTHEX"}}, "'RC522.UID' is not a card number in hex"),
        ({"RC522": {"UID": True}}, "'RC522.UID' must be a card number, not true"),
        ({"RC522": {"UID": None}}, "not null"),
        ({"RC522": {"UID": 4.5}}, "not the number 4.5"),
        ({"RC522": {"UID": 10**40}}, "longer than 32 hex digits"),
        ({"PN532": {"Data": "HELLO"}}, "'PN532.Data' is not a card number in hex"),
        ({"RDM6300": "008EC793"}, "'RDM6300' must be a JSON object, not the string '008EC793'"),
    ],
)
def test_a_bad_tasmota_card_reading_is_rejected(registry, section, fragment):
    rejected(
        tele(registry, "civil_door", "SENSOR", {"Time": "2026-11-23T09:01:12", **section}), fragment
    )


@pytest.mark.parametrize(
    ("payload", "device_time"),
    [
        ({"Time": "2026-11-23T09:01:12+08:00"}, "2026-11-23T09:01:12+08:00"),  # SetOption52
        ({"Time": "2026-11-23T09:01:12.345"}, "2026-11-23T09:01:12.345"),
        ({"Time": 1795395672}, "1795395672"),  # epoch only
        ({"Time": "2026-11-23T09:01:12", "Epoch": 1795395673}, "1795395673"),  # Epoch first
        ({}, None),
        ({"Time": "1970-01-01T00:00:07"}, "1970-01-01T00:00:07"),  # before NTP sync
        ({"Time": "noon"}, "noon"),  # kept as written, whatever it says
    ],
)
def test_tasmota_events_take_the_receipt_time_and_keep_the_clock(registry, payload, device_time):
    event = tele(registry, "civil_door", "SENSOR", {**payload, "RC522": {"UID": "04A1B2C3"}})
    assert (event.at, event.device_time) == (RECEIVED, device_time)


def test_a_tasmota_sensor_message_without_a_card_is_a_heartbeat(registry):
    event = tele(
        registry, "civil_door", "SENSOR", {"Time": "2026-11-23T09:03:00", "ANALOG": {"A0": 12}}
    )
    assert event == Heartbeat(OFFICE_DOOR, RECEIVED, RECEIVED, "tasmota", {}, "2026-11-23T09:03:00")
    ack = tele(
        registry, "civil_door", "RESULT", {"Time": "2026-11-23T09:03:00", "PN532": {"COMMAND": "E"}}
    )
    assert isinstance(ack, Heartbeat)


def test_tasmota_state_is_a_heartbeat_with_wifi_signal_as_rssi(registry):
    payload = {
        "Time": "2026-11-23T09:00:00",
        "Uptime": "0T01:00:00",
        "UptimeSec": 3600,
        "Heap": 135,
        "SleepMode": "Dynamic",
        "LoadAvg": 19,
        "MqttCount": 1,
        "POWER": "ON",
        "Wifi": {"AP": 1, "SSId": "HallIoT", "RSSI": 84, "Signal": -58, "LinkCount": 1},
    }
    event = tele(registry, "civil_door", "STATE", payload)
    assert event == Heartbeat(
        OFFICE_DOOR,
        RECEIVED,
        RECEIVED,
        "tasmota",
        {
            "uptime_s": 3600.0,
            "heap_kb": 135.0,
            "load_avg": 19.0,
            "mqtt_count": 1.0,
            "rssi": -58.0,
            "wifi_quality": 84.0,
            "wifi_link_count": 1.0,
        },
        "2026-11-23T09:00:00",
    )


def test_a_card_section_in_state_is_not_a_badge_read(registry):
    event = tele(
        registry,
        "civil_door",
        "STATE",
        {"Time": "2026-11-23T09:00:00", "RC522": {"UID": "04A1B2C3"}},
    )
    assert isinstance(event, Heartbeat)


@pytest.mark.parametrize(
    ("payload", "online"), [(b"Online", True), (b"Offline", False), (b"online\n", True)]
)
def test_tasmota_lwt_is_device_status_at_receipt(registry, payload, online):
    event = tele(registry, "civil_door", "LWT", payload)
    assert event == DeviceStatus(OFFICE_DOOR, RECEIVED, online, RECEIVED, "tasmota")


def test_bad_or_cleared_tasmota_lwt(registry):
    rejected(tele(registry, "civil_door", "LWT", b"Restarting"), "online or offline")
    assert tele(registry, "civil_door", "LWT", b"") is None


def test_a_tasmota_card_read_from_a_device_registered_as_a_seat_sensor_is_rejected(registry):
    seat = Device("desk-w03-radar", "presence_sensor", window="W03", tasmota="w03_radar")
    hall = replace(registry, devices=(*registry.devices, seat))
    result = tele(hall, "w03_radar", "SENSOR", {"RC522": {"UID": "04A1B2C3"}})
    rejected(result, "'desk-w03-radar' is a presence_sensor")


def test_an_unknown_tasmota_topic_is_rejected(registry):
    rejected(
        tele(registry, "garage", "SENSOR", {"RC522": {"UID": "04A1B2C3"}}),
        "unknown tasmota topic 'garage'",
    )
    rejected(tele(registry, "garage", "LWT", b"Online"), "'garage'")


@pytest.mark.parametrize("payload", [b"", b"[]", b"{", b"\xff"])
def test_a_tasmota_sensor_payload_that_is_not_an_object_is_rejected(registry, payload):
    assert isinstance(tele(registry, "civil_door", "SENSOR", payload), Rejection)


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
