"""The hall of the device payload tests (one device of every payload form) and the helpers
that hand a payload to the converters and check what comes back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import devices
from hallwatch.events import Rejection
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


def payload_hall() -> Registry:
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
