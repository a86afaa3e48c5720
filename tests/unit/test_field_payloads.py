"""Payloads real firmware publishes, read right: every fixture here comes from the firmware's
source or from a message a user pasted in a public report, cited beside it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import devices
from devices import esphome, tasmota, zigbee2mqtt
from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport, Rejection
from hallwatch.registry.spec import (
    Department,
    Device,
    HallSettings,
    Registry,
    StaffMember,
    Window,
    bridge_id,
)

RECEIVED = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)  # Monday 09:05 in the hall
CARD = "8EC793"  # printed on the card as 0009357203 (Tasmota xsns_51_rdm6300.ino's example)


def reader(device_id: str, **firmware) -> Device:
    return Device(device_id, "badge_reader", window="W01", **firmware)


def seat(device_id: str, window: str = "W01", **firmware) -> Device:
    return Device(device_id, "presence_sensor", window=window, **firmware)


@pytest.fixture
def hall() -> Registry:
    """A hall whose devices are named as the reports below name theirs."""
    return Registry(
        hall=HallSettings(name="测试大厅"),
        departments=(Department("civil", "民政局"),),
        windows=(Window("W01", "1号窗口", "civil"), Window("W02", "2号窗口", "civil")),
        staff=(StaffMember("s001", "张三", "civil", (CARD, "04A1B2C3")),),
        devices=(
            seat("pir", zigbee2mqtt="EntranceDD"),
            seat("ikea", zigbee2mqtt="0x000d6ffffe699d8b"),
            seat("aqara", zigbee2mqtt="KeukenMotionSensorMS4"),
            seat("fp1", zigbee2mqtt=" Presence_DiningRoom"),
            seat("ts0225", zigbee2mqtt="Tuya Presense"),
            seat("zg205z", zigbee2mqtt="human presence detector"),
            seat("east", window="W02", zigbee2mqtt="seat_w02", zigbee2mqtt_base="z2m_east"),
            reader("rdm", tasmota="tasmota_4A72B7"),
            reader("wiegand", tasmota="EMLL_62DE74"),
            reader("pn532", tasmota="sonoff"),
            reader("rc522", tasmota="rfid-test"),
            reader("state", tasmota="RDR_50029179A1D5"),
            reader(
                "wemos",
                tasmota="WEMOS4",
                tasmota_full_topic="homeautomation/wemos/%prefix%/%topic%/",
            ),
            seat("ld2410", esphome="esp-w01/presence"),
            reader("esp-rc522", esphome="esp-w01/tag"),
            reader("esp-wiegand", esphome="esp-door/card", uid_decimal=True),
            reader("usb", uid_reversed=True),
        ),
    )


def heard(hall: Registry, topic: str, payload: object):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return devices.convert(topic, body, RECEIVED, hall)


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


# ---------------------------------------------------------------- Tasmota readers


@pytest.mark.parametrize(
    ("topic", "payload", "device", "card"),
    [
        # ioBroker/ioBroker.sonoff#131 (RDM6300)
        (
            "tele/tasmota_4A72B7/SENSOR",
            b'{"Time":"2020-08-27T08:03:07","RDM6300":{"UID":"00434343"}}',
            "rdm",
            "434343",
        ),
        # arendst/Tasmota#14834 (Wiegand, SetOption123 0: the UID is a decimal number)
        (
            "tele/EMLL_62DE74/SENSOR",
            b'{"Time":"2022-02-14T16:16:39","Wiegand":{"UID":16770365,"Size":26}}',
            "wiegand",
            "FFE53D",
        ),
        # arendst/Tasmota PR #4791 (PN532)
        (
            "tele/sonoff/SENSOR",
            b'{"Time":"2019-01-02T22:07:10","PN532":{"UID":"94D8FC5F"}}',
            "pn532",
            "94D8FC5F",
        ),
        # arendst/Tasmota PR #4860 (PN532, the old key DATA)
        (
            "tele/sonoff/SENSOR",
            b'{"Time":"2019-01-08T19:16:21","PN532":{"UID":"94D8FC5F", "DATA":"I_LOVE_TASMOTA"}}',
            "pn532",
            "94D8FC5F",
        ),
        # tasmota/docs docs/MFRC522.md (RC522)
        (
            "tele/rfid-test/SENSOR",
            b'{"Time":"2021-01-23T13:10:50",'
            b'"RC522":{"UID":"BA839D07","Data":"","Type":"MIFARE 1KB"}}',
            "rc522",
            "BA839D07",
        ),
        # xsns_82_wiegand.ino's header (Wiegand, 26 bits)
        (
            "tele/EMLL_62DE74/SENSOR",
            b'{"Time":"2021-01-21T16:04:12","Wiegand":{"UID":7748328,"Size":26}}',
            "wiegand",
            "763AE8",
        ),
    ],
)
def test_tasmota_readers_as_they_publish(hall, topic, payload, device, card):
    event = heard(hall, topic, payload)
    assert isinstance(event, BadgeRead), event
    assert (event.device, event.uid, event.at) == (device, card, RECEIVED)
    assert event.device_time == json.loads(payload)["Time"]  # kept, never the event time


def test_a_tasmota_state_is_a_heartbeat(hall):
    # arendst/Tasmota#9522 (an RDM6300 board's tele STATE)
    payload = (
        b'{"Time":"2020-10-13T19:28:40","Uptime":"0T00:00:50","UptimeSec":50,"Heap":25,'
        b'"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":0,"Wifi":{"AP":1,'
        b'"SSId":"RFID","BSSId":"CE:2D:E0:BD:AB:28","Channel":5,"RSSI":76,"Signal":-62,'
        b'"LinkCount":1,"Downtime":"0T00:00:09"}}'
    )
    event = heard(hall, "tele/RDR_50029179A1D5/STATE", payload)
    assert isinstance(event, Heartbeat) and event.extra["rssi"] == -62.0
    assert event.extra["uptime_s"] == 50.0 and event.at == RECEIVED


def test_a_tasmota_with_a_custom_full_topic_is_heard(hall):
    # arendst/Tasmota#885: "homeautomation/wemos/tele/WEMOS4/LWT = Online (retained)"
    status = heard(hall, "homeautomation/wemos/tele/WEMOS4/LWT", b"Online")
    assert status == DeviceStatus("wemos", RECEIVED, True, RECEIVED, "tasmota")
    read = heard(hall, "homeautomation/wemos/tele/WEMOS4/SENSOR", {"RDM6300": {"UID": "008EC793"}})
    assert (read.device, read.uid) == ("wemos", CARD)
    assert "homeautomation/wemos/tele/+/SENSOR" in devices.subscriptions(hall)
    assert not tasmota.matches("homeautomation/other/tele/WEMOS4/LWT", hall)


def test_a_full_topic_with_hostname_matches_any_host(hall):
    device = reader("x", tasmota="door", tasmota_full_topic="%prefix%/%hostname%/%topic%/")
    registry = Registry(devices=(device,))
    assert heard(registry, "tele/esp-4a72b7/door/LWT", b"Offline").online is False
    assert "tele/+/+/LWT" in devices.subscriptions(registry)


# ---------------------------------------------------------------- ESPHome


def test_an_ld2410_binary_sensor_is_presence(hall):
    # Topic by ESPHome's rules (mqtt_component.cpp: <prefix>/<component>/<object_id>/state,
    # mqtt_binary_sensor.cpp: ON/OFF) for an LD2410 `has_target` named "Presence".
    on = heard(hall, "esp-w01/binary_sensor/presence/state", b"ON")
    assert on == PresenceReport("ld2410", RECEIVED, True, RECEIVED, "esphome")
    assert heard(hall, "esp-w01/binary_sensor/presence/state", b"OFF").occupied is False


def test_an_esphome_tag_reads_in_either_of_its_forms(hall):
    # rc522.cpp / nfc.cpp format_uid: "74-10-37-94"; MQTT text sensors publish under sensor/
    # (mqtt_text_sensor.cpp), docs/DEVICES.md names text_sensor/: both are read.
    for component in ("sensor", "text_sensor"):
        event = heard(hall, f"esp-w01/{component}/tag/state", b"74-10-37-94")
        assert (event.device, event.uid, event.source) == ("esp-rc522", "74103794", "esphome")


def test_an_esphome_wiegand_tag_is_a_decimal_number(hall):
    # ssieb/esphome_components#42: "received 26-bit tag: 1539623" (wiegand.cpp to_string).
    event = heard(hall, "esp-door/sensor/card/state", b"1539623")
    assert event.uid == "177E27"  # 1539623 = 0x177E27


def test_a_nodes_will_makes_each_of_its_devices_offline(hall):
    # ESPHome's will on <topic_prefix>/status (esphome/components/mqtt/__init__.py).
    events = heard(hall, "esp-w01/status", b"offline")
    assert {(e.device, e.online) for e in events} == {("esp-rc522", False), ("ld2410", False)}
    assert all(e.at == RECEIVED for e in events)


def test_esphome_subscriptions_name_only_what_is_registered(hall):
    topics = esphome.subscriptions(hall)
    assert "esp-w01/status" in topics and "esp-w01/binary_sensor/presence/state" in topics
    assert "esp-door/sensor/card/state" in topics and "esp-door/text_sensor/card/state" in topics
    assert not any("binary_sensor/tag" in t for t in topics)


def test_an_unregistered_entity_of_a_known_node_is_kept_with_its_reason(hall):
    result = heard(hall, "esp-w01/binary_sensor/moving_target/state", b"ON")
    assert isinstance(result, Rejection) and "'moving_target'" in result.reason


# ---------------------------------------------------------------- one card, four readers


def test_a_reversed_reader_keeps_the_bytes_it_printed(hall):
    # A card whose UID starts with a zero byte: 00 34 AB 12 printed backwards is 12AB3400.
    event = heard(hall, "hallwatch/devices/usb/events", {"type": "badge", "uid": "12AB3400"})
    assert event.uid == "34AB12"
    event = heard(hall, "hallwatch/devices/usb/events", {"type": "badge", "uid": "0034AB12"})
    assert event.uid == "12AB3400"


def test_the_same_card_through_four_readers_is_the_same_person(hall):
    # The RDM6300 example of Tasmota's source (008EC793), printed on the card as 0009357203,
    # through: a Tasmota RDM6300, a Tasmota Wiegand (decimal), an ESPHome Wiegand (decimal
    # text), and a native desktop reader printing the bytes backwards.
    reads = [
        heard(hall, "tele/tasmota_4A72B7/SENSOR", {"RDM6300": {"UID": "008EC793"}}),
        heard(hall, "tele/EMLL_62DE74/SENSOR", {"Wiegand": {"UID": 9357203, "Size": 26}}),
        heard(hall, "esp-door/sensor/card/state", b"9357203"),
        heard(hall, "hallwatch/devices/usb/events", {"type": "badge", "uid": "93C78E00"}),
    ]
    assert [r.uid for r in reads] == [CARD] * 4
    assert {hall.holder_of(r.uid).id for r in reads} == {"s001"}


@pytest.mark.parametrize(
    ("topic", "device"),
    [
        ("hallwatch/devices/usb/events", "usb"),
        ("hallwatch/devices/no-such-reader/events", None),
        ("zigbee2mqtt/EntranceDD", "pir"),
        ("zigbee2mqtt/human presence detector/availability", "zg205z"),
        ("z2m_east/seat_w02", "east"),
        ("zigbee2mqtt/bridge/state", "zigbee2mqtt:zigbee2mqtt"),
        ("zigbee2mqtt/someone_elses_sensor", None),
        ("tele/tasmota_4A72B7/SENSOR", "rdm"),
        ("homeautomation/wemos/tele/WEMOS4/SENSOR", "wemos"),
        ("tele/not_ours/SENSOR", None),
        ("esp-door/status", "esp-wiegand"),
        ("esp-w01/binary_sensor/presence/state", "ld2410"),
        ("esp-w01/text_sensor/tag/state", "esp-rc522"),
        ("somewhere/else", None),
    ],
)
def test_the_device_a_topic_names_whatever_its_payload(hall, topic, device):
    """Which device (so which hall) a kept rejection belongs to: read from the topic alone."""
    assert devices.owner(topic, hall) == device
