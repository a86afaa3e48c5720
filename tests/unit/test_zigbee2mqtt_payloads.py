"""Zigbee2MQTT payloads → typed events: occupancy, last_seen, availability, bridge traffic."""

from __future__ import annotations

import pytest

from hallwatch.events import DeviceStatus, Heartbeat, PresenceReport
from tests.unit.device_payloads import (
    DESK_SEAT,
    FLOOR_SEAT,
    RECEIVED,
    rejected,
    run,
)

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
