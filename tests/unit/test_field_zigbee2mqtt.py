"""Zigbee2MQTT payloads as users pasted them or its converters define them, each source cited."""

from __future__ import annotations

import pytest

import devices
from devices import zigbee2mqtt
from hallwatch.events import DeviceStatus, Heartbeat, PresenceReport, Rejection
from hallwatch.registry.spec import Registry, bridge_id
from tests.unit.field_hall import RECEIVED, heard

# ---------------------------------------------------------------- Zigbee2MQTT PIRs


def test_the_false_zigbee2mqtt_makes_after_a_pirs_timeout_is_its_own_event(hall):
    # Koenkk/zigbee2mqtt#11582 (Tuya TS0202_CR): the timeout's false repeats the true's last_seen.
    device = {"applicationVersion": 68, "friendlyName": "EntranceDD", "model": "TS0202_CR"}
    common = {"battery": 100, "battery_low": False, "device": device, "linkquality": 61}
    seen = "2022-02-22T15:05:30.292Z"
    true = heard(hall, "zigbee2mqtt/EntranceDD", {**common, "last_seen": seen, "occupancy": True})
    false = heard(hall, "zigbee2mqtt/EntranceDD", {**common, "last_seen": seen, "occupancy": False})
    battery = {"battery": 100.0, "linkquality": 61.0}
    assert true == PresenceReport("pir", RECEIVED, True, RECEIVED, "zigbee2mqtt", seen, battery)
    assert false == PresenceReport("pir", RECEIVED, False, RECEIVED, "zigbee2mqtt", seen, battery)
    # Neither takes last_seen as its time: the collector stamps each with its own receipt.


@pytest.mark.parametrize(
    ("topic", "payload", "device", "occupied"),
    [
        # stas-demydiuk/domoticz-zigbee2mqtt-plugin#96 (IKEA E1525, Zigbee2MQTT's log)
        (
            "zigbee2mqtt/0x000d6ffffe699d8b",
            b'{"battery":87,"linkquality":21,"occupancy":true}',
            "ikea",
            True,
        ),
        (
            "zigbee2mqtt/0x000d6ffffe699d8b",
            b'{"battery":87,"linkquality":21,"occupancy":false}',
            "ikea",
            False,
        ),
        # Koenkk/zigbee2mqtt#2830 (Aqara RTCGQ11LM)
        (
            "zigbee2mqtt/KeukenMotionSensorMS4",
            b'{"battery":97,"voltage":2995,"illuminance":0,"linkquality":86,"occupancy":true}',
            "aqara",
            True,
        ),
    ],
)
def test_pirs_as_users_pasted_them(hall, topic, payload, device, occupied):
    event = heard(hall, topic, payload)
    assert (event.device, event.occupied, event.at) == (device, occupied, RECEIVED)


# ---------------------------------------------------------------- radars that speak enums


def test_an_fp1_in_the_room_stays_occupied_whatever_its_presence_event(hall):
    # Koenkk/zigbee2mqtt#11935 (Aqara FP1): presence_event moves while presence stays true.
    common = {"approach_distance": "medium", "linkquality": 204, "monitoring_mode": "undirected"}
    common |= {"power_outage_count": 1, "presence": True, "temperature": 24}
    for event_word in ("approach", "right_leave", "away"):
        body = {**common, "presence_event": event_word, "update": {"state": "idle"}}
        assert heard(hall, "zigbee2mqtt/ Presence_DiningRoom", body).occupied is True


def test_a_ts0225_reporting_large_motion_is_occupied(hall):
    # Koenkk/zigbee2mqtt#25682 (TS0225), with the boolean removed so the enum decides.
    body = {
        "fading_time": 10,
        "illuminance": 2353,
        "indicator": "ON",
        "last_seen": "2025-01-08T18:39:34+01:00",
        "linkquality": 152,
        "motion_state": "large",
    }
    event = heard(hall, "zigbee2mqtt/Tuya Presense", body)
    assert isinstance(event, PresenceReport) and event.occupied
    assert event.device_time == "2025-01-08T18:39:34+01:00"


def test_a_radar_whose_presence_is_null_is_only_alive(hall):
    # Koenkk/zigbee2mqtt#28467 (ZG-205Z, Z2M 2.6.1): presence and presence_state both null.
    body = {
        "breath_sensitivity": 9,
        "illuminance": 0,
        "last_seen": "2025-09-03T07:43:37.680Z",
        "linkquality": 70,
        "presence": None,
        "presence_state": None,
        "target_distance": 5.88,
    }
    event = heard(hall, "zigbee2mqtt/human presence detector", body)
    assert isinstance(event, Heartbeat)
    assert event.extra == {"illuminance": 0.0, "linkquality": 70.0, "target_distance": 5.88}


# Value lists from zigbee-herdsman-converters src/devices/tuya.ts and lumi.ts.
ENUMS = [
    ("presence_state", ["none", "presence"], [False, True]),  # _TZE28C1000000_jlbsptkl
    (
        "presence_state",  # ZG-205Z _TZE204_dapwryy7
        ["none", "presence", "peaceful", "small_movement", "large_movement"],
        [False, True, True, True, True],
    ),
    ("presence_state", ["none", "motion", "stationary"], [False, True, True]),  # RD24G01
    ("presence_state", ["NONE", "PRESENCE"], [False, True]),  # ZG-301A
    ("state", ["none", "presence", "move"], [False, True, True]),  # ZY-M100-24G
    ("motion_state", ["none", "large", "small", "static"], [False, True, True, True]),
    (
        "motion_state",  # ZG-205Z/A
        ["none", "small", "medium", "large", "far", "near"],
        [False, True, True, True, True, True],
    ),
    (
        "presence_event",  # Aqara FP1 RTCZCGQ11LM
        [
            "enter",
            "leave",
            "left_enter",
            "right_leave",
            "right_enter",
            "left_leave",
            "approach",
            "away",
        ],
        [True, False, True, False, True, False, True, True],
    ),
]


@pytest.mark.parametrize(("key", "words", "meanings"), ENUMS)
def test_every_enum_word_of_the_converters_reads_as_occupied_or_empty(hall, key, words, meanings):
    for word, occupied in zip(words, meanings, strict=True):
        event = heard(hall, "zigbee2mqtt/Tuya Presense", {key: word, "linkquality": 100})
        assert isinstance(event, PresenceReport), (key, word, event)
        assert event.occupied is occupied, (key, word)


@pytest.mark.parametrize(
    ("word", "occupied"),
    [("Breathe", True), ("no presence", False), ("No-Presence", False), ("Small_Move", True)],
)
def test_the_same_words_as_other_firmware_spells_them(hall, word, occupied):
    # make-all/tuya-local PR #5465: the ZG-205Z's DPS 116 as Large/Small/Breathe/None.
    event = heard(hall, "zigbee2mqtt/Tuya Presense", {"presence_state": word})
    assert event.occupied is occupied


def test_an_enum_word_nobody_taught_us_is_kept_with_its_reason(hall):
    # #25682's title: the TS0225 sent a value outside its converter's list.
    result = heard(hall, "zigbee2mqtt/Tuya Presense", {"motion_state": "5"})
    assert isinstance(result, Rejection) and "'motion_state' '5'" in result.reason


def test_a_switchs_state_is_not_presence(hall):
    event = heard(hall, "zigbee2mqtt/Tuya Presense", {"state": "ON", "linkquality": 100})
    assert isinstance(event, Heartbeat)


def test_an_enum_in_attribute_output_mode(hall):
    event = heard(hall, "zigbee2mqtt/Tuya Presense/presence_state", b"none")
    assert isinstance(event, PresenceReport) and not event.occupied


# ---------------------------------------------------------------- the bridge, and other bases


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b'{"state":"offline"}', False),  # Z2M >= 2.0, its MQTT will (lib/mqtt.ts)
        (b'{"state":"online"}', True),
        (b"offline", False),  # before 1.24, and 1.x with legacy_availability_payload
        (b"online", True),
    ],
)
def test_the_bridges_state_is_the_status_of_that_bridge(hall, payload, online):
    event = heard(hall, "zigbee2mqtt/bridge/state", payload)
    source = bridge_id("zigbee2mqtt")
    assert event == DeviceStatus(source, RECEIVED, online, RECEIVED, "zigbee2mqtt")
    assert "pir" in hall.bridge_devices[source]


def test_a_second_coordinator_has_its_own_base_topic_and_bridge(hall):
    assert heard(hall, "z2m_east/seat_w02", {"occupancy": True}).device == "east"
    status = heard(hall, "z2m_east/bridge/state", b'{"state":"offline"}')
    assert status.device == bridge_id("z2m_east") and hall.bridge_devices[status.device] == (
        "east",
    )
    assert heard(hall, "z2m_east/seat_w02/availability", b"offline").device == "east"
    assert "z2m_east/#" in devices.subscriptions(hall)
    assert zigbee2mqtt.matches("z2m_east/anything", hall)
    assert not zigbee2mqtt.matches("z2m_eastern/seat_w02", hall)


def test_a_bridge_with_no_registered_device_is_ignored():
    assert heard(Registry(), "zigbee2mqtt/bridge/state", b"offline") is None


def test_friendly_names_with_spaces_and_a_leading_space_are_names(hall):
    # Both as pasted: "zigbee2mqtt/ Presence_DiningRoom" (#11935), "Tuya Presense" (#25682).
    assert heard(hall, "zigbee2mqtt/ Presence_DiningRoom", {"presence": True}).device == "fp1"
    assert heard(hall, "zigbee2mqtt/Tuya Presense/availability", b"online").device == "ts0225"
