"""The day's sweep is exactly the one state function asked at every instant that matters.

A random 30-window day (seat sensors, badge-only windows, shared windows, leave,
office reads, status and silence, facts carried over from the day before) is
swept once; a plain tracker stepped through every instant where anything can
change (each event, each event plus the grace or the silence, each opening
interval's start, start plus grace and end, every minute) gives the reference.
Each segment and span must agree with it at every one of those instants and may
begin only at one of them, so its boundaries are exact.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
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
from hallwatch.rules import episodes
from hallwatch.state import HallTracker, hall_at
from hallwatch.timeline import sweep
from tests.unit.hall import MONDAY, TZ, WEEKDAYS, at, hall, seat, tap

WINDOWS = 30
STAFF = 40
EVENTS = 1500
# The outputs of the day below as the code computed them before sweep() was made to
# re-check only the windows an event can affect: any change in them is a change in behaviour.
PINNED = ("8141cfd054446633", "9fabc6bd710fad07", "57f053e05e3894db", "14890300baaf5097")


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


def _moved(event: Event, when: datetime) -> Event:
    fields = {name: getattr(event, name) for name in event.__dataclass_fields__}
    return type(event)(**{**fields, "at": when})


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


def _offline_since(facts, tracker, online) -> datetime | None:
    if facts is None or online:
        return None
    if facts.last_status is False and facts.status_at:
        return facts.status_at
    return facts.last_seen or tracker.schedule.start


def _value_at(parts, instant, value):
    """The value of the part holding `instant` (the last one at the very end)."""
    starts = [p.start for p in parts]
    return value(parts[max(0, bisect_right(starts, instant) - 1)])


def test_every_segment_and_span_is_the_state_function_at_every_instant():
    rng = random.Random(20261123)
    registry = random_hall(rng)
    events = random_day(rng, registry)
    until = at("19:00")
    day = sweep(registry, events, MONDAY, until)
    instants = candidate_instants(registry, events, day.tracker.schedule.start, until)
    windows, devices = reference(registry, events, instants)
    allowed = set(instants)

    assert set(day.windows) == {w.id for w in registry.windows}
    for window, segments in day.windows.items():
        assert segments[0].start == day.tracker.schedule.start and segments[-1].end == until
        assert all(s.start in allowed for s in segments), window
        for instant in instants:
            found = _value_at(segments, instant, lambda s: (s.state, s.since))
            assert found == windows[window, instant], (window, instant)
    for device, spans in day.devices.items():
        assert all(s.start in allowed for s in spans), device
        for instant in instants:
            online, since = devices[device, instant]
            found = _value_at(spans, instant, lambda s: (s.online, s.since))
            span = spans[max(0, bisect_right([s.start for s in spans], instant) - 1)]
            assert found == (online, since or span.start), (device, instant)
    assert day.tracker.state_at(until) == hall_at(registry, events, until)


def test_the_state_at_any_instant_is_hall_at():
    rng = random.Random(7)
    registry = random_hall(rng)
    events = sorted(random_day(rng, registry), key=lambda e: e.at)
    tracker, applied = HallTracker(registry, MONDAY), 0
    for minutes in range(0, 12 * 60, 23):
        instant = at("07:00") + timedelta(minutes=minutes, seconds=rng.randrange(60))
        while applied < len(events) and events[applied].at <= instant:
            tracker.apply(events[applied])
            applied += 1
        assert tracker.state_at(instant) == hall_at(registry, events, instant), instant
        assert tracker.fork().state_at(instant) == tracker.state_at(instant)


def _digest(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _sorted(found: list) -> list:
    """Episodes by key: pull_backs() goes through its people in set order."""
    return sorted(found, key=lambda e: e.key)


def test_the_outputs_are_the_ones_pinned():
    """Segments, spans, episodes and states as computed before the sweep re-checked less."""
    rng = random.Random(20261123)
    registry = random_hall(rng)
    events = random_day(rng, registry)
    day = sweep(registry, events, MONDAY, at("19:00"))
    tracker = HallTracker(registry, MONDAY).apply_all(e for e in events if e.at <= at("12:34"))
    states = [tracker.state_at(at("12:34", seconds=s)) for s in (0, 30, 59)]
    found = (
        _digest(sorted(day.windows.items())),
        _digest(sorted(day.devices.items())),
        _digest(
            [_sorted(episodes(registry, events, at(hhmm))) for hhmm in ("10:00", "15:00", "19:00")]
        ),
        _digest(states),
    )
    assert found == PINNED


def test_a_seat_sensor_heard_only_the_day_before_goes_silent_at_its_exact_instant():
    """Open from midnight: the sensor's last report at 23:55 counts until 00:05, not later."""
    registry = hall(hours=((time(0, 0), time(23, 59)),))
    sunday = MONDAY - timedelta(days=1)
    events = [
        seat(at("23:55", sunday), True),
        tap(at("00:07"), "desk-w03-card", "04A1B2C5"),  # elsewhere in the hall
    ]
    day = sweep(registry, events, MONDAY, at("01:00"))
    assert [(s.state, s.start) for s in day.windows["W01"]] == [
        ("staffed", at("00:00")),
        ("unknown", at("00:05")),
    ]
