"""A hall day as a time line: every window's state segments and every device's online spans.

`sweep()` steps one `HallTracker` through the day in time order and asks it
for a window's state only at the instants where it can change: an event of
that window's devices (any badge read, for all windows), the start and end of
an opening interval, and the moments a grace or a silence runs out. Between
those instants nothing changes, so the segments are exact. Alerts (and later
reports) read these segments; the state itself is still decided only by
`HallTracker.window_state`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hallwatch.events import BadgeRead, Event
from hallwatch.registry.spec import Registry
from hallwatch.state import HallTracker, WindowStateName


@dataclass(frozen=True)
class Segment:
    """A window in one state (with one `since`) over [start, end)."""

    state: WindowStateName
    since: datetime
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Span:
    """A device online or offline over [start, end); `since` as the rules report it."""

    online: bool
    start: datetime
    end: datetime
    since: datetime


@dataclass
class Sweep:
    """The day up to `until`: segments per window, spans per device, and the tracker at `until`."""

    day: date
    until: datetime
    tracker: HallTracker
    windows: dict[str, list[Segment]] = field(default_factory=dict)
    devices: dict[str, list[Span]] = field(default_factory=dict)
    events_seen: int = 0  # events during the day itself (carried-over facts not counted)


class _Recorder:
    """Turns point-in-time evaluations into segments, merging repeats."""

    def __init__(self, start: datetime):
        self.start = start
        self.open: dict[str, tuple[tuple, datetime]] = {}
        self.closed: dict[str, list[tuple[tuple, datetime, datetime]]] = {}

    def observe(self, subject: str, value: tuple, at: datetime) -> None:
        current = self.open.get(subject)
        if current is not None and current[0] == value:
            return
        if current is not None and at > current[1]:
            self.closed.setdefault(subject, []).append((current[0], current[1], at))
        self.open[subject] = (value, at if current is not None else self.start)

    def finish(self, end: datetime) -> dict[str, list[tuple[tuple, datetime, datetime]]]:
        for subject, (value, start) in self.open.items():
            # Kept even when it starts at `end`: it is the state at that very instant.
            self.closed.setdefault(subject, []).append((value, start, end))
        return self.closed


def sweep(registry: Registry, events: Iterable[Event], day: date, until: datetime) -> Sweep:
    """Replay `day` up to `until` (events before the day only set the starting facts)."""
    tracker = HallTracker(registry, day)
    schedule = tracker.schedule
    end = min(until, schedule.end)
    grace = timedelta(minutes=registry.hall.empty_grace_minutes)
    silence = timedelta(minutes=registry.hall.offline_after_minutes)
    ordered = sorted(events, key=lambda e: e.at)
    before = [e for e in ordered if e.at < schedule.start]
    during = [e for e in ordered if schedule.start <= e.at <= end]
    tracker.apply_all(before)

    checks: list[tuple[datetime, str, str]] = []  # (instant, "window"|"device", id)
    window_ids = [w.id for w in registry.windows]
    for window, intervals in schedule.open_intervals.items():
        for start, stop in intervals:
            for instant in (start, start + grace, stop):
                heapq.heappush(checks, (instant, "window", window))
    for device in registry.devices:
        facts = tracker.devices.get(device.id)
        if facts is not None and facts.last_seen is not None:
            heapq.heappush(checks, (facts.last_seen + silence, "device", device.id))
    for start, _ in schedule.hall_periods:
        for device in registry.devices:
            heapq.heappush(checks, (start, "device", device.id))

    windows = _Recorder(schedule.start)
    devices = _Recorder(schedule.start)

    def look_at_window(window: str, at: datetime) -> None:
        state = tracker.window_state(window, at)
        windows.observe(window, (state.state, state.since), at)

    def look_at_device(device: str, at: datetime) -> None:
        facts = tracker.devices.get(device)
        online = facts is not None and facts.online(at, silence)
        since = (facts.status_at if facts and facts.last_status is False else None) or (
            facts.last_seen if facts and facts.last_seen else schedule.start
        )
        devices.observe(device, (online, None if online else since), at)

    def run_checks(upto: datetime, inclusive: bool) -> None:
        while checks and (checks[0][0] < upto or (inclusive and checks[0][0] == upto)):
            instant, kind, subject = heapq.heappop(checks)
            if instant > end:
                checks.clear()
                return
            (look_at_window if kind == "window" else look_at_device)(subject, instant)

    for window in window_ids:
        look_at_window(window, schedule.start)
    for device in registry.devices:
        look_at_device(device.id, schedule.start)
    for event in during:
        run_checks(event.at, inclusive=False)
        tracker.apply(event)
        device = registry.device_by_id.get(event.device)
        touched = window_ids if isinstance(event, BadgeRead) else [device.window] if device else []
        for window in touched:
            if window:
                look_at_window(window, event.at)
                heapq.heappush(checks, (event.at + grace, "window", window))
                heapq.heappush(checks, (event.at + silence, "window", window))
        if device is not None:
            look_at_device(device.id, event.at)
            heapq.heappush(checks, (event.at + silence, "device", device.id))
    run_checks(end, inclusive=True)

    result = Sweep(day=day, until=end, tracker=tracker, events_seen=len(during))
    for window, parts in windows.finish(end).items():
        result.windows[window] = _merge(
            [Segment(value[0], value[1], start, stop) for value, start, stop in parts]
        )
    for device, parts in devices.finish(end).items():
        result.devices[device] = [
            Span(value[0], start, stop, value[1] or start) for value, start, stop in parts
        ]
    return result


def _merge(segments: list[Segment]) -> list[Segment]:
    """Join neighbours with the same state and since (an evaluation that changed nothing)."""
    merged: list[Segment] = []
    for segment in segments:
        last = merged[-1] if merged else None
        if last and (last.state, last.since, last.end) == (
            segment.state,
            segment.since,
            segment.start,
        ):
            merged[-1] = Segment(last.state, last.since, last.start, segment.end)
        else:
            merged.append(segment)
    return merged
