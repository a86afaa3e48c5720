"""The hall registry as plain immutable values.

This is what the pure domain (converters, schedule, state) reads. It is built
either from a parsed registry file or from the database (`registry.store`),
and knows nothing about SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

DeviceKind = Literal["badge_reader", "presence_sensor"]
Period = tuple[time, time]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULT_HOURS: tuple[Period, ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
DEFAULT_HALL_ID = "main"  # the id of a hall given as a single `hall:` (contract §2)


@dataclass(frozen=True)
class HallSettings:
    name: str = "政务服务大厅"
    timezone: str = "Asia/Shanghai"
    hours: tuple[Period, ...] = DEFAULT_HOURS
    holidays: Literal["cn", "none"] = "cn"
    closed_days: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()
    empty_grace_minutes: float = 10
    absent_grace_minutes: float = 15
    offline_after_minutes: float = 10
    id: str = DEFAULT_HALL_ID  # one hall of a deployment (docs/MULTI-HALL.md)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Department:
    id: str
    name: str


@dataclass(frozen=True)
class Window:
    id: str
    name: str
    department: str
    position: tuple[int, int] | None = None


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    department: str
    badges: tuple[str, ...] = ()  # upper-case hex UIDs


@dataclass(frozen=True)
class Device:
    id: str
    kind: DeviceKind
    window: str | None = None  # a desk device…
    department: str | None = None  # …or an office reader at the department's premises
    zigbee2mqtt: str | None = None
    tasmota: str | None = None

    @property
    def at_desk(self) -> bool:
        return self.window is not None


@dataclass(frozen=True)
class RosterEntry:
    staff: str
    window: str
    days: frozenset[str]  # subset of WEEKDAYS
    from_date: date | None = None
    until_date: date | None = None
    hours: tuple[Period, ...] | None = None  # overrides the hall's hours


@dataclass(frozen=True)
class Leave:
    staff: str
    start: datetime  # aware
    end: datetime  # aware
    reason: str = ""


@dataclass(frozen=True)
class Registry:
    """One consistent snapshot of the hall, with the look-ups the domain needs."""

    hall: HallSettings = field(default_factory=HallSettings)
    departments: tuple[Department, ...] = ()
    windows: tuple[Window, ...] = ()
    staff: tuple[StaffMember, ...] = ()
    devices: tuple[Device, ...] = ()
    roster: tuple[RosterEntry, ...] = ()
    leave: tuple[Leave, ...] = ()

    @cached_property
    def device_by_id(self) -> dict[str, Device]:
        return {d.id: d for d in self.devices}

    @cached_property
    def device_ids(self) -> frozenset[str]:
        return frozenset(self.device_by_id)

    @cached_property
    def device_by_zigbee_name(self) -> dict[str, Device]:
        return {d.zigbee2mqtt: d for d in self.devices if d.zigbee2mqtt}

    @cached_property
    def device_by_tasmota_topic(self) -> dict[str, Device]:
        return {d.tasmota: d for d in self.devices if d.tasmota}

    @cached_property
    def staff_by_id(self) -> dict[str, StaffMember]:
        return {s.id: s for s in self.staff}

    @cached_property
    def staff_by_badge(self) -> dict[str, StaffMember]:
        return {uid: s for s in self.staff for uid in s.badges}

    @cached_property
    def window_by_id(self) -> dict[str, Window]:
        return {w.id: w for w in self.windows}

    @cached_property
    def department_by_id(self) -> dict[str, Department]:
        return {d.id: d for d in self.departments}

    @cached_property
    def seat_sensors(self) -> dict[str, tuple[str, ...]]:
        """Window id → ids of its presence sensors."""
        sensors: dict[str, list[str]] = {}
        for d in self.devices:
            if d.kind == "presence_sensor" and d.window:
                sensors.setdefault(d.window, []).append(d.id)
        return {w: tuple(ids) for w, ids in sensors.items()}

    def only_department(self, department: str) -> Registry:
        """The same hall seen by a department head: their windows, people and devices."""
        windows = tuple(w for w in self.windows if w.department == department)
        window_ids = {w.id for w in windows}
        return Registry(
            hall=self.hall,
            departments=tuple(d for d in self.departments if d.id == department),
            windows=windows,
            staff=tuple(s for s in self.staff if s.department == department),
            devices=tuple(
                d for d in self.devices if d.window in window_ids or d.department == department
            ),
            roster=tuple(r for r in self.roster if r.window in window_ids),
            leave=self.leave,
        )


def normalise_uid(uid: str) -> str:
    """Card UIDs compare case-insensitively and without separators."""
    return "".join(ch for ch in uid.strip().upper() if ch not in " :-")
