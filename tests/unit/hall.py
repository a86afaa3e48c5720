"""A small hand-built hall for unit tests of the pure domain."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hallwatch.events import BadgeRead, DeviceStatus, PresenceReport
from hallwatch.registry.spec import (
    Department,
    Device,
    HallSettings,
    Leave,
    Registry,
    RosterEntry,
    StaffMember,
    Window,
)

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 23)
WEEKDAYS = frozenset({"mon", "tue", "wed", "thu", "fri"})


def at(hhmm: str, day: date = MONDAY, seconds: int = 0) -> datetime:
    """An aware hall-time instant on `day`."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=TZ) + timedelta(seconds=seconds)


def hall(**overrides) -> Registry:
    """民政局: W01 (seat sensor) and W02 (badge only), staffed by 张三 and 李四; 税务局: W03."""
    settings = HallSettings(name="测试大厅", **overrides)
    return Registry(
        hall=settings,
        departments=(Department("civil", "民政局"), Department("tax", "税务局")),
        windows=(
            Window("W01", "1号窗口", "civil", (1, 1)),
            Window("W02", "2号窗口", "civil", (1, 2)),
            Window("W03", "3号窗口", "tax", (1, 3)),
        ),
        staff=(
            StaffMember("s001", "张三", "civil", ("04A1B2C3",)),
            StaffMember("s002", "李四", "civil", ("04A1B2C4",)),
            StaffMember("s003", "王五", "tax", ("04A1B2C5",)),
        ),
        devices=(
            Device("desk-w01-card", "badge_reader", window="W01"),
            Device("desk-w01-seat", "presence_sensor", window="W01", zigbee2mqtt="seat_w01"),
            Device("desk-w02-card", "badge_reader", window="W02"),
            Device("desk-w03-card", "badge_reader", window="W03"),
            Device("office-civil", "badge_reader", department="civil", tasmota="civil_door"),
        ),
        roster=(
            RosterEntry("s001", "W01", WEEKDAYS),
            RosterEntry("s002", "W02", WEEKDAYS),
        ),
        leave=(),
    )


def with_leave(registry: Registry, staff: str, start: datetime, end: datetime) -> Registry:
    return Registry(
        registry.hall,
        registry.departments,
        registry.windows,
        registry.staff,
        registry.devices,
        registry.roster,
        (Leave(staff, start, end, "培训"),),
    )


def seat(when: datetime, occupied: bool, device: str = "desk-w01-seat") -> PresenceReport:
    return PresenceReport(device, when, occupied)


def tap(when: datetime, device: str, uid: str = "04A1B2C3", action: str = "in") -> BadgeRead:
    return BadgeRead(device, when, uid, action)


def status(when: datetime, online: bool, device: str = "desk-w01-seat") -> DeviceStatus:
    return DeviceStatus(device, when, online)
