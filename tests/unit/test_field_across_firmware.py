"""Across firmware: one card through four readers is one person; the device a topic names."""

from __future__ import annotations

import pytest

import devices
from tests.unit.field_hall import CARD, heard

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
