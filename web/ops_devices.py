"""The devices page's table: every registry device with what its messages say, from the
state function's device facts (online is
`DeviceFacts.online`, nowhere else)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hallwatch.events import Event
from hallwatch.registry.spec import Registry
from hallwatch.schedule import day_of
from hallwatch.state import DeviceFacts, HallTracker

BATTERY_KEY = "battery"  # the Heartbeat extra (percent) Zigbee2MQTT and native devices send
DEVICE_STATES = ("online", "offline")


@dataclass(frozen=True)
class DeviceLine:
    """One row of the devices page."""

    id: str
    kind: str
    window: str | None  # a desk device's window id…
    department: str | None  # …or an office reader's department (else the window's)
    online: bool
    last_seen: datetime | None
    last_status: bool | None  # the last status message: online, offline, or never sent
    status_at: datetime | None
    battery: float | None
    occupied: bool | None  # presence sensors: None when unknown (offline or never reported)
    bridge_offline_since: datetime | None = None  # its Zigbee2MQTT bridge is down
    silence_minutes: float | None = None  # its own offline_after_minutes, if it has one

    @property
    def state(self) -> str:
        return "online" if self.online else "offline"

    @property
    def office(self) -> bool:
        return self.window is None


def device_lines(registry: Registry, events: Iterable[Event], now: datetime) -> list[DeviceLine]:
    """Every current device at `now`, offline ones first, otherwise in registry order."""
    tracker = HallTracker(registry, day_of(registry.hall, now))
    tracker.apply_all(e for e in events if e.at <= now)
    lines = []
    for device in registry.devices:
        facts = tracker.devices.get(device.id, DeviceFacts())
        online = tracker.device_online(device.id, now)
        department = device.department
        if department is None and device.window in registry.window_by_id:
            department = registry.window_by_id[device.window].department
        occupied = None
        if device.kind == "presence_sensor" and online:
            occupied = facts.occupied  # an offline sensor means "unknown", never "empty"
        lines.append(
            DeviceLine(
                id=device.id,
                kind=device.kind,
                window=device.window,
                department=department,
                online=online,
                last_seen=facts.last_seen,
                last_status=facts.last_status,
                status_at=facts.status_at,
                battery=facts.extra.get(BATTERY_KEY),
                occupied=occupied,
                bridge_offline_since=tracker.bridge_offline_since(device.id),
                silence_minutes=device.offline_after_minutes,
            )
        )
    return sorted(lines, key=lambda line: line.online)  # stable: registry order within


def state_counts(lines: Iterable[DeviceLine]) -> dict[str, int]:
    """How many devices are online and offline."""
    counts = dict.fromkeys(DEVICE_STATES, 0)
    for line in lines:
        counts[line.state] += 1
    return counts
