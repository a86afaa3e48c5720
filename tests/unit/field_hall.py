"""The hall of the field payload tests, whose devices are named as the public reports name
theirs, and `heard`: a payload as the collector would receive it. Every payload those tests
read comes from the firmware's source or from a message a user pasted in a public report,
cited beside it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import devices
from hallwatch.registry.spec import (
    Department,
    Device,
    HallSettings,
    Registry,
    StaffMember,
    Window,
)

RECEIVED = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)  # Monday 09:05 in the hall
CARD = "8EC793"  # printed on the card as 0009357203 (Tasmota xsns_51_rdm6300.ino's example)


def reader(device_id: str, **firmware) -> Device:
    return Device(device_id, "badge_reader", window="W01", **firmware)


def seat(device_id: str, window: str = "W01", **firmware) -> Device:
    return Device(device_id, "presence_sensor", window=window, **firmware)


def field_hall() -> Registry:
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
