"""Tasmota telemetry → typed events: card readers, STATE heartbeats, LWT status."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, Rejection
from hallwatch.registry.spec import Device
from tests.unit.device_payloads import (
    DESK_TASMOTA,
    OFFICE_DOOR,
    RECEIVED,
    rejected,
    run,
)

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
