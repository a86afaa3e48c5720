"""One hall's sections read entry by entry (the hall's settings, departments, windows,
staff, devices, roster, leave, swaps): the keys each section allows, each value converted by
hallwatch.registry.values, the references within a hall (a window's department, a roster
line's staff member and window) and what must be unique across the whole deployment (ids,
cards, the topics that name a device), every problem reported into one shared list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hallwatch.registry import values
from hallwatch.registry.spec import (
    DEFAULT_HALL_ID,
    LEAVE_TYPES,
    SEAT_SENSINGS,
    TASMOTA_FULL_TOPIC,
    ZIGBEE2MQTT_BASE,
    Department,
    Device,
    HallSettings,
    Leave,
    RosterEntry,
    StaffMember,
    Swap,
    Window,
    tasmota_telemetry,
)

HALL_KEYS = (
    "name",
    "timezone",
    "hours",
    "holidays",
    "closed_days",
    "working_days",
    "empty_grace_minutes",
    "absent_grace_minutes",
    "offline_after_minutes",
)
HOLIDAY_RULES = ("cn", "none")
DEVICE_KINDS = ("badge_reader", "presence_sensor")
FIRMWARE_KEYS = ("zigbee2mqtt", "tasmota", "esphome")  # a device speaks one form (else native)
DEVICE_KEYS = (
    "id",
    "kind",
    "window",
    "department",
    *FIRMWARE_KEYS,
    "zigbee2mqtt_base",
    "tasmota_full_topic",
    "uid_reversed",
    "uid_decimal",
    "offline_after_minutes",
    "sensing",
)
# A setting that means something only beside another key (or for one kind of device).
NEEDS = {"zigbee2mqtt_base": "zigbee2mqtt", "tasmota_full_topic": "tasmota"}
READER_ONLY = ("uid_reversed", "uid_decimal")
NATIVE_FIRST_LEVEL = "hallwatch"  # the native form's topics: no firmware may publish there
# The key that says where a form's topics are, for each form.
LAYOUT_KEYS = {
    "zigbee2mqtt": "zigbee2mqtt_base",
    "tasmota": "tasmota_full_topic",
    "esphome": "esphome",
}


def _reference(known: dict[str, int], what: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        ident = values.ident(value)
        if ident not in known:
            raise values.Invalid(f"unknown {what} '{ident}'")
        return ident

    return convert


@dataclass
class Entry:
    """One mapping of the file, with where it is, reporting into the shared problem list."""

    where: str
    data: dict[Any, Any]
    problems: list[str]

    def report(self, message: str, key: str | None = None) -> None:
        prefix = f"{self.where}: key '{key}'" if key else self.where
        self.problems.append(f"{prefix}: {message}")

    def allow_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                self.report(f"unknown key (expected {', '.join(allowed)})", str(key))

    def get(self, key: str, convert: Callable[[Any], Any], required=False, default=None) -> Any:
        """The converted value of `key`, or `default` after reporting what is wrong with it."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.report("missing", key)
            return default
        try:
            return convert(value)
        except values.Invalid as exc:
            self.report(str(exc), key)
            return default


@dataclass
class Unique:
    """What must be unique across the whole deployment, and where each was first seen."""

    ids: dict[str, dict[str, str]] = field(default_factory=dict)  # section → id → location
    cards: dict[str, str] = field(default_factory=dict)  # uid → holder
    firmware: dict[str, str] = field(default_factory=dict)  # a device's topic → the device


class HallParser:
    """Parses one hall's sections in dependency order, remembering ids for the references."""

    def __init__(self, problems: list[str], prefix: str = "", unique: Unique | None = None):
        self.problems = problems
        self.prefix = prefix  # "" for a single hall, "halls[1] (id west)." for one of several
        self.unique = unique or Unique()
        self.departments: dict[str, int] = {}
        self.windows: dict[str, int] = {}
        self.staff: dict[str, int] = {}
        self.tz: tzinfo = HallSettings().tz
        self.department_ref = _reference(self.departments, "department")
        self.window_ref = _reference(self.windows, "window")
        self.staff_ref = _reference(self.staff, "staff member")

    def entries(
        self, section: str, value: Any, label_key: str = "id"
    ) -> Iterator[tuple[int, Entry]]:
        """Each mapping of a section's list with its index, labelled `section[i] (id X)`."""
        if value is None:
            return
        if not isinstance(value, list):
            self.problems.append(
                f"{self.prefix}{section}: expected a list of entries, got {values.show(value)}"
            )
            return
        for index, item in enumerate(value):
            where = f"{self.prefix}{section}[{index}]"
            if not isinstance(item, dict):
                self.problems.append(f"{where}: expected a mapping, got {values.show(item)}")
                continue
            label = item.get(label_key)
            if isinstance(label, str) and len(label) <= values.MAX_TEXT_LEN:
                where += f" ({label_key} {label})"
            yield index, Entry(where, item, self.problems)

    def claim_id(self, entry: Entry, seen: dict[str, int], section: str, index: int) -> str | None:
        """The entry's id, reported when another entry of the deployment has it already."""
        ident = entry.get("id", values.ident, required=True)
        if ident is not None:
            claimed = self.unique.ids.setdefault(section, {})
            if ident in claimed:
                entry.report(f"duplicate id '{ident}' (also {claimed[ident]})", "id")
            else:
                claimed[ident] = f"{self.prefix}{section}[{index}]"
                seen[ident] = index
        return ident

    def hall(self, value: Any) -> HallSettings:
        """The settings of a single `hall:` (docs/REGISTRY.md: its id is always `main`)."""
        defaults = HallSettings()
        if value is None:
            return defaults
        if not isinstance(value, dict):
            self.problems.append(f"hall: expected a mapping of settings, got {values.show(value)}")
            return defaults
        e = Entry("hall", value, self.problems)
        e.allow_keys(HALL_KEYS)
        return self.settings(e, DEFAULT_HALL_ID)

    def settings(self, e: Entry, hall_id: str) -> HallSettings:
        """A hall's settings from the keys of `e` (defaults for those missing)."""
        defaults = HallSettings()
        timezone = e.get("timezone", values.timezone, default=defaults.timezone)
        self.tz = ZoneInfo(timezone)
        closed = e.get("closed_days", values.dates, default=frozenset())
        working = e.get("working_days", values.dates, default=frozenset())
        for day in sorted(closed & working):
            e.report(f"{day} is also listed in 'closed_days'", "working_days")
        return HallSettings(
            id=hall_id,
            name=e.get("name", values.text, default=defaults.name),
            timezone=timezone,
            hours=e.get("hours", values.periods, default=defaults.hours),
            holidays=e.get("holidays", values.choice(HOLIDAY_RULES), default=defaults.holidays),
            closed_days=closed,
            working_days=working,
            **{
                key: e.get(key, values.minutes, default=float(getattr(defaults, key)))
                for key in ("empty_grace_minutes", "absent_grace_minutes", "offline_after_minutes")
            },
        )

    def department_list(self, value: Any) -> list[Department]:
        result = []
        for index, e in self.entries("departments", value):
            e.allow_keys(("id", "name"))
            ident = self.claim_id(e, self.departments, "departments", index)
            name = e.get("name", values.text, required=True)
            result.append(Department(ident, name))
        return result

    def window_list(self, value: Any) -> list[Window]:
        result: list[Window] = []
        at_position: dict[tuple[int, int], str] = {}
        for index, e in self.entries("windows", value):
            e.allow_keys(("id", "name", "department", "position"))
            ident = self.claim_id(e, self.windows, "windows", index)
            name = e.get("name", values.text, required=True)
            department = e.get("department", self.department_ref, required=True)
            position = e.get("position", values.position)
            if position is not None and position in at_position:
                e.report(f"{list(position)} is also where {at_position[position]} is", "position")
            elif position is not None:
                at_position[position] = ident or "?"
            result.append(Window(ident, name, department, position))
        return result

    def staff_list(self, value: Any) -> list[StaffMember]:
        result: list[StaffMember] = []
        for index, e in self.entries("staff", value):
            e.allow_keys(("id", "name", "department", "badges"))
            ident = self.claim_id(e, self.staff, "staff", index)
            name = e.get("name", values.text, required=True)
            department = e.get("department", self.department_ref, required=True)
            badges = e.get("badges", values.badges, default=())
            for uid in badges:
                if uid in self.unique.cards:
                    e.report(f"card '{uid}' is also held by {self.unique.cards[uid]}", "badges")
                else:
                    self.unique.cards[uid] = ident or f"{self.prefix}staff[{index}]"
            result.append(StaffMember(ident, name, department, badges))
        return result

    def device_list(self, value: Any) -> list[Device]:
        result: list[Device] = []
        ids: dict[str, int] = {}
        for index, e in self.entries("devices", value):
            e.allow_keys(DEVICE_KEYS)
            ident = self.claim_id(e, ids, "devices", index)
            kind = e.get("kind", values.choice(DEVICE_KINDS), required=True)
            window = e.get("window", self.window_ref)
            department = e.get("department", self.department_ref)
            at_window = e.data.get("window") is not None
            if at_window == (e.data.get("department") is not None):
                e.report("a device sits at exactly one of 'window' or 'department'")
            elif kind == "presence_sensor" and not at_window:
                e.report("a presence sensor sits at a window, not at a department", "department")
            device = Device(
                ident,
                kind,
                window,
                department,
                zigbee2mqtt=e.get("zigbee2mqtt", values.zigbee2mqtt_name),
                tasmota=e.get("tasmota", values.tasmota_topic),
                esphome=e.get("esphome", values.esphome_entity),
                zigbee2mqtt_base=e.get(
                    "zigbee2mqtt_base", values.topic_levels, default=ZIGBEE2MQTT_BASE
                ),
                tasmota_full_topic=e.get(
                    "tasmota_full_topic", values.tasmota_full_topic, default=TASMOTA_FULL_TOPIC
                ),
                uid_reversed=e.get("uid_reversed", values.flag, default=False),
                uid_decimal=e.get("uid_decimal", values.flag, default=False),
                offline_after_minutes=e.get("offline_after_minutes", values.positive_minutes),
                sensing=e.get("sensing", values.choice(SEAT_SENSINGS)),
            )
            if kind != "presence_sensor" and device.sensing is not None:
                e.report("only a presence sensor has a 'sensing'", "sensing")
            self._check_firmware(e, device, ident or f"{self.prefix}devices[{index}]")
            result.append(device)
        return result

    def _check_firmware(self, e: Entry, device: Device, label: str) -> None:
        """One firmware form per device, settings beside their form, each topic once."""
        given = [key for key in FIRMWARE_KEYS if e.data.get(key) is not None]
        if len(given) > 1:
            e.report(f"a device speaks one form: '{given[0]}' or '{given[1]}', not both", given[1])
        for key, needed in NEEDS.items():
            if e.data.get(key) is not None and e.data.get(needed) is None:
                e.report(f"only means something beside '{needed}'", key)
        for key in READER_ONLY:
            if e.data.get(key) is not None and device.kind != "badge_reader":
                e.report("only a badge_reader reads cards", key)
        for key, topic in _firmware_topics(device):
            if topic.split("/")[0] == NATIVE_FIRST_LEVEL:
                e.report(f"'{NATIVE_FIRST_LEVEL}/' topics are HallWatch's own", LAYOUT_KEYS[key])
            claimed = self.unique.firmware
            if topic in claimed:
                name = getattr(device, key)
                e.report(f"'{name}' is also device {claimed[topic]}", key)
            else:
                claimed[topic] = label

    def roster_list(self, value: Any) -> list[RosterEntry]:
        result: list[RosterEntry] = []
        seen: dict[RosterEntry, int] = {}
        for index, e in self.entries("roster", value, label_key="staff"):
            e.allow_keys(("staff", "window", "days", "from", "until", "hours"))
            entry = RosterEntry(
                staff=e.get("staff", self.staff_ref, required=True),
                window=e.get("window", self.window_ref, required=True),
                days=e.get("days", values.days, required=True, default=frozenset()),
                from_date=e.get("from", values.iso_date),
                until_date=e.get("until", values.iso_date),
                hours=e.get("hours", values.periods),
            )
            if entry.from_date and entry.until_date and entry.until_date < entry.from_date:
                e.report(f"{entry.until_date} is before 'from' {entry.from_date}", "until")
            if entry in seen:
                e.report(f"the same entry as roster[{seen[entry]}]")
            seen.setdefault(entry, index)
            result.append(entry)
        return result

    def leave_list(self, value: Any) -> list[Leave]:
        result: list[Leave] = []
        seen: dict[tuple, int] = {}
        for index, e in self.entries("leave", value, label_key="staff"):
            e.allow_keys(("staff", "from", "until", "reason", "type"))
            leave = Leave(
                staff=e.get("staff", self.staff_ref, required=True),
                start=e.get("from", values.instant(self.tz, end_of_day=False), required=True),
                end=e.get("until", values.instant(self.tz, end_of_day=True), required=True),
                reason=e.get("reason", values.text, default=""),
                type=e.get("type", values.choice(tuple(LEAVE_TYPES))),
            )
            if leave.start and leave.end and leave.end <= leave.start:
                start, end = (t.isoformat(timespec="minutes") for t in (leave.start, leave.end))
                e.report(f"{end} is not after 'from' {start}", "until")
            key = (leave.staff, leave.start, leave.end)
            if key in seen:
                e.report(f"the same staff member and times as leave[{seen[key]}]")
            seen.setdefault(key, index)
            result.append(leave)
        return result

    def swap_list(self, value: Any) -> list[Swap]:
        """One-day swaps: a `date` and either two `staff` or two `windows` of the hall."""
        result: list[Swap] = []
        seen: dict[Swap, int] = {}
        for index, e in self.entries("swaps", value, label_key="date"):
            e.allow_keys(("date", "staff", "windows"))
            day = e.get("date", values.iso_date, required=True)
            if (e.data.get("staff") is None) == (e.data.get("windows") is None):
                e.report("a swap names exactly one of 'staff' or 'windows' (two of them)")
            swap = Swap(
                day,
                staff=e.get("staff", _pair(self.staff_ref)),
                windows=e.get("windows", _pair(self.window_ref)),
            )
            if swap in seen:
                e.report(f"the same swap as swaps[{seen[swap]}]")
            seen.setdefault(swap, index)
            result.append(swap)
        return result


def _pair(reference: Callable[[Any], str]) -> Callable[[Any], tuple[str, str]]:
    """Two different ids, each a reference of the hall."""

    def convert(value: Any) -> tuple[str, str]:
        if not isinstance(value, list) or len(value) != 2:
            raise values.Invalid(f"expected a list of two ids, got {values.show(value)}")
        first, second = (reference(item) for item in value)
        if first == second:
            raise values.Invalid(f"'{first}' twice: a swap is between two")
        return first, second

    return convert


def _firmware_topics(device: Device) -> list[tuple[str, str]]:
    """(registry key, the topic that names the device) for each firmware name it has."""
    topics = []
    if device.zigbee2mqtt:
        topics.append(("zigbee2mqtt", f"{device.zigbee2mqtt_base}/{device.zigbee2mqtt}"))
    if device.tasmota:
        topics.append(("tasmota", tasmota_telemetry(device.tasmota_full_topic, device.tasmota)))
    if device.esphome:
        topics.append(("esphome", device.esphome))
    return topics
