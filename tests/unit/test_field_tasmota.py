"""Tasmota card readers' payloads as their source or users' reports show them, cited beside each."""

from __future__ import annotations

import json

import pytest

import devices
from devices import tasmota
from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat
from hallwatch.registry.spec import Registry
from tests.unit.field_hall import CARD, RECEIVED, heard, reader

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
