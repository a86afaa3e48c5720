"""Random halls and days, and the reference state function at every candidate instant, for
checking the sweep against hall_at (test_sweep_equivalence, test_pir_stillness)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from hallwatch.events import BadgeRead, DeviceStatus, Event, Heartbeat, PresenceReport
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
from hallwatch.state import HallTracker
from tests.unit.hall import MONDAY, TZ, WEEKDAYS, at


def random_hall(rng: random.Random) -> Registry:
    """30 windows in 3 departments; a third badge-only, some with two seat sensors."""
    departments = tuple(Department(f"d{d}", f"部门{d}") for d in range(3))
    windows = tuple(
        Window(f"W{w:02d}", f"{w}号窗口", f"d{w % 3}", (w // 10, w % 10)) for w in range(WINDOWS)
    )
    staff = tuple(
        StaffMember(f"s{s:02d}", f"员工{s}", f"d{s % 3}", (f"B{s:04X}",)) for s in range(STAFF)
    )
    devices: list[Device] = []
    for w in windows:
        devices.append(Device(f"card-{w.id}", "badge_reader", window=w.id))
        sensors = rng.choice((0, 1, 1, 1, 2))
        devices += [
            Device(f"seat-{w.id}-{n}", "presence_sensor", window=w.id) for n in range(sensors)
        ]
    devices += [Device(f"office-{d.id}", "badge_reader", department=d.id) for d in departments]
    roster = []
    for s in staff:
        for window in rng.sample(windows, rng.choice((1, 1, 2))):
            hours = None
            if rng.random() < 0.2:  # a part-time entry
                hours = ((time(rng.choice((8, 9, 10)), 30), time(rng.choice((12, 15, 16)), 0)),)
            roster.append(RosterEntry(s.id, window.id, WEEKDAYS, hours=hours))
    leave = tuple(
        Leave(s.id, at("10:00") + timedelta(minutes=rng.randrange(0, 300)), at("16:00"), "事假")
        for s in rng.sample(staff, 5)
    )
    settings = HallSettings(
        name="随机大厅",
        hours=((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30))),
        empty_grace_minutes=7,
        offline_after_minutes=5,
    )
    return Registry(settings, departments, windows, staff, tuple(devices), tuple(roster), leave)


def random_day(rng: random.Random, registry: Registry) -> list[Event]:
    """Events from the evening before to the evening, most of them in opening hours."""
    sensors = [d.id for d in registry.devices if d.kind == "presence_sensor"]
    readers = [d.id for d in registry.devices if d.kind == "badge_reader"]
    uids = [s.badges[0] for s in registry.staff] + ["DEADBEEF"]
    start = at("07:30")
    events: list[Event] = [
        PresenceReport(sensor, at("23:00", date(2026, 11, 22)), rng.random() < 0.5)
        for sensor in sensors
    ]
    for _ in range(EVENTS):
        when = start + timedelta(seconds=rng.randrange(0, 11 * 3600))
        kind = rng.random()
        if kind < 0.5:
            events.append(PresenceReport(rng.choice(sensors), when, rng.random() < 0.6))
        elif kind < 0.85:
            action = rng.choice(("in", "in", "out"))
            events.append(BadgeRead(rng.choice(readers), when, rng.choice(uids), action))
        elif kind < 0.95:
            events.append(DeviceStatus(rng.choice(sensors + readers), when, rng.random() < 0.7))
        else:
            events.append(Heartbeat(rng.choice(sensors + readers), when))
    # Ties: a few events at exactly the instant of another one.
    events += [_moved(e, rng.choice(events).at) for e in rng.sample(events, 60)]
    return events


def candidate_instants(registry: Registry, events: list[Event], day_start, end) -> list[datetime]:
    """Every instant at which a window's state or a device's status can change."""
    grace = timedelta(minutes=registry.hall.empty_grace_minutes)
    silence = timedelta(minutes=registry.hall.offline_after_minutes)
    found = {day_start + timedelta(minutes=m) for m in range(24 * 60)}
    for event in events:
        found |= {event.at, event.at + grace, event.at + silence}
    for period_start, period_end in registry.hall.hours:
        for moment in (period_start, period_end):
            found.add(datetime.combine(MONDAY, moment, tzinfo=TZ))
    tracker = HallTracker(registry, MONDAY)
    for intervals in tracker.schedule.open_intervals.values():
        for start, stop in intervals:
            found |= {start, start + grace, stop}
    return sorted(t for t in found if day_start <= t <= end)


def reference(registry: Registry, events: list[Event], instants: list[datetime]):
    """(window, instant) → (state, since) and (device, instant) → (online, since), plainly."""
    ordered = sorted(events, key=lambda e: e.at)
    silence = timedelta(minutes=registry.hall.offline_after_minutes)
    tracker, applied = HallTracker(registry, MONDAY), 0
    windows, devices = {}, {}
    for instant in instants:
        while applied < len(ordered) and ordered[applied].at <= instant:
            tracker.apply(ordered[applied])
            applied += 1
        for window in registry.windows:
            state = tracker.window_state(window.id, instant)
            windows[window.id, instant] = (state.state, state.since)
        for device in registry.devices:
            facts = tracker.devices.get(device.id)
            online = facts is not None and facts.online(instant, silence)
            devices[device.id, instant] = (online, _offline_since(facts, tracker, online))
    return windows, devices


WINDOWS = 30


STAFF = 40


EVENTS = 1500


def _moved(event: Event, when: datetime) -> Event:
    fields = {name: getattr(event, name) for name in event.__dataclass_fields__}
    return type(event)(**{**fields, "at": when})


def _offline_since(facts, tracker, online) -> datetime | None:
    if facts is None or online:
        return None
    if facts.last_status is False and facts.status_at:
        return facts.status_at
    return facts.last_seen or tracker.schedule.start
