"""The hall registry as plain immutable values.

This is what the pure domain (converters, schedule, state) reads. It is built
either from a parsed registry file or from the database (`registry.load`),
and knows nothing about SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from hallwatch.cards import canonical_or_none

DeviceKind = Literal["badge_reader", "presence_sensor"]
Period = tuple[time, time]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULT_HOURS: tuple[Period, ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
DEFAULT_HALL_ID = "main"  # the id of a hall given as a single `hall:` (docs/REGISTRY.md)
ZIGBEE2MQTT_BASE = "zigbee2mqtt"  # Zigbee2MQTT's default `mqtt.base_topic`
TASMOTA_FULL_TOPIC = "%prefix%/%topic%/"  # Tasmota's default `FullTopic`
TASMOTA_TELEMETRY = "tele"  # Tasmota's %prefix% for the telemetry HallWatch reads
BRIDGE_PREFIX = "zigbee2mqtt:"  # + a base topic: the event source of that bridge's own state


SeatSensing = Literal["pir", "radar"]
SEAT_SENSINGS: tuple[SeatSensing, ...] = ("pir", "radar")


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
    badges: tuple[str, ...] = ()  # canonical card numbers (hallwatch.cards.card_hex)


@dataclass(frozen=True)
class Device:
    id: str
    kind: DeviceKind
    window: str | None = None  # a desk device…
    department: str | None = None  # …or an office reader at the department's premises
    zigbee2mqtt: str | None = None  # friendly name under `zigbee2mqtt_base`
    tasmota: str | None = None  # Tasmota `Topic`, within `tasmota_full_topic`
    esphome: str | None = None  # "<node>/<object_id>": the node's topic prefix and the entity
    zigbee2mqtt_base: str = ZIGBEE2MQTT_BASE  # the base topic of its coordinator's Zigbee2MQTT
    tasmota_full_topic: str = TASMOTA_FULL_TOPIC
    uid_reversed: bool = False  # a reader printing UID bytes in the reverse order
    uid_decimal: bool = False  # a reader printing card numbers in decimal
    offline_after_minutes: float | None = None  # silence allowed before offline (hall's if None)
    sensing: SeatSensing | None = None  # a seat sensor's principle: "pir" or "radar" (None: unsaid)

    @property
    def at_desk(self) -> bool:
        return self.window is not None

    @property
    def bridge(self) -> str | None:
        """The event source standing for its Zigbee2MQTT bridge, for a Zigbee device."""
        return bridge_id(self.zigbee2mqtt_base) if self.zigbee2mqtt else None

    @property
    def esphome_node(self) -> str | None:
        return self.esphome.rpartition("/")[0] if self.esphome else None


def tasmota_telemetry(full_topic: str, topic: str, host: str = "+") -> str:
    """The head (ending in `/`) of a Tasmota's telemetry topics in its FullTopic: %prefix% is
    `tele`, %topic% its Topic, %hostname% and %id% `host` (any one level by default)."""
    head = full_topic.replace("%prefix%", TASMOTA_TELEMETRY).replace("%topic%", topic)
    return head.replace("%hostname%", host).replace("%id%", host)


def bridge_id(base: str) -> str:
    """The event source of the Zigbee2MQTT bridge publishing under `base`."""
    return BRIDGE_PREFIX + base


@dataclass(frozen=True)
class RosterEntry:
    staff: str
    window: str
    days: frozenset[str]  # subset of WEEKDAYS
    from_date: date | None = None
    until_date: date | None = None
    hours: tuple[Period, ...] | None = None  # overrides the hall's hours


# Kinds of leave (docs/REGISTRY.md `leave: type`): id → the hall's word for it.
LEAVE_TYPES: dict[str, str] = {
    "personal": "事假",
    "sick": "病假",
    "annual": "年假",
    "compensatory": "调休",
    "official": "公出",
    "training": "培训",
    "other": "其他",
}


@dataclass(frozen=True)
class Leave:
    staff: str
    start: datetime  # aware
    end: datetime  # aware
    reason: str = ""
    type: str | None = None  # one of LEAVE_TYPES, None when the file does not say


@dataclass(frozen=True)
class Swap:
    """A one-day shift swap (调班): two people exchange their duties that day, or the people
    rostered at two windows exchange windows. Exactly one of `staff` and `windows` is set."""

    day: date
    staff: tuple[str, str] | None = None
    windows: tuple[str, str] | None = None


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
    swaps: tuple[Swap, ...] = ()

    @cached_property
    def device_by_id(self) -> dict[str, Device]:
        return {d.id: d for d in self.devices}

    @cached_property
    def device_ids(self) -> frozenset[str]:
        """Every event source of the hall: its devices and its Zigbee2MQTT bridges."""
        return frozenset(self.device_by_id) | frozenset(self.bridge_devices)

    @cached_property
    def zigbee2mqtt_names(self) -> dict[str, dict[str, Device]]:
        """Base topic → friendly name → device; the default base is always there."""
        bases: dict[str, dict[str, Device]] = {ZIGBEE2MQTT_BASE: {}}
        for d in self.devices:
            if d.zigbee2mqtt:
                bases.setdefault(d.zigbee2mqtt_base, {})[d.zigbee2mqtt] = d
        return bases

    @cached_property
    def zigbee2mqtt_bases(self) -> tuple[str, ...]:
        """The base topics, longest first (so a nested base is matched before its parent)."""
        return tuple(sorted(self.zigbee2mqtt_names, key=len, reverse=True))

    @cached_property
    def bridge_devices(self) -> dict[str, tuple[str, ...]]:
        """Bridge source id → ids of the devices it publishes for."""
        bridges: dict[str, list[str]] = {}
        for d in self.devices:
            if d.bridge:
                bridges.setdefault(d.bridge, []).append(d.id)
        return {bridge: tuple(ids) for bridge, ids in bridges.items()}

    @cached_property
    def tasmota_topics(self) -> dict[str, dict[str, Device]]:
        """FullTopic → Tasmota Topic → device; the default FullTopic is always there."""
        layouts: dict[str, dict[str, Device]] = {TASMOTA_FULL_TOPIC: {}}
        for d in self.devices:
            if d.tasmota:
                layouts.setdefault(d.tasmota_full_topic, {})[d.tasmota] = d
        return layouts

    @cached_property
    def esphome_nodes(self) -> dict[str, dict[str, Device]]:
        """ESPHome topic prefix (node) → object id → device."""
        nodes: dict[str, dict[str, Device]] = {}
        for d in self.devices:
            if d.esphome:
                node, _, object_id = d.esphome.rpartition("/")
                nodes.setdefault(node, {})[object_id] = d
        return nodes

    def offline_after(self, device_id: str) -> timedelta:
        """How long a device may stay silent before it counts as offline."""
        device = self.device_by_id.get(device_id)
        if device is not None and device.offline_after_minutes is not None:
            return timedelta(minutes=device.offline_after_minutes)
        return timedelta(minutes=self.hall.offline_after_minutes)

    @cached_property
    def staff_by_id(self) -> dict[str, StaffMember]:
        return {s.id: s for s in self.staff}

    @cached_property
    def staff_by_badge(self) -> dict[str, StaffMember]:
        """Canonical card (hallwatch.cards.card_hex) → who holds it."""
        return {key: s for s in self.staff for uid in s.badges if (key := canonical_or_none(uid))}

    def holder_of(self, card: str) -> StaffMember | None:
        """Who holds a card, however it is written (hex in any case, leading zeros, dec:)."""
        held = self.staff_by_badge.get(card)
        if held is None:
            key = canonical_or_none(card)
            held = self.staff_by_badge.get(key) if key and key != card else None
        return held

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
            swaps=self.swaps,
        )
