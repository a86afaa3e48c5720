"""A hall day as a time line: every window's state segments and every device's online spans.

`sweep()` steps one `HallTracker` through the day in time order and asks it
for a window's state only at the instants where it can change: an event of
that window's devices, a badge read that signs someone in or out there (at
whichever reader), the start and end of an opening interval, and the moments a
grace or a silence runs out (also the silence of a seat sensor last heard the
day before), and a Zigbee2MQTT bridge's status for every device it carries. Between those
instants nothing changes, so the segments are exact. Alerts (and later reports) read these
segments; the state itself is still decided only by `HallTracker.window_state`, and a
device's online state only by `HallTracker.device_online`.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hallwatch.events import BadgeRead, Event
from hallwatch.registry.spec import Registry
from hallwatch.schedule import Interval, containing, union
from hallwatch.state import CountedRead, HallTracker, SignInSpan, WindowStateName


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

    # The facts every rule reads (alerts, reports, day summaries, pages): one definition each.

    @property
    def collected(self) -> bool:
        """A working day on which at least one device of the hall reported.

        On any other working day HallWatch was not collecting (not installed yet, or down):
        nobody is scheduled, no alert is raised, and the reports list the day apart.
        """
        return self.tracker.schedule.working and self.events_seen > 0

    def sign_ins_of(self, staff: str, windows: Collection[str] | None = None) -> list[SignInSpan]:
        """The person's sign-ins of the day (at `windows`, when given), in order."""
        return [
            s
            for s in self.tracker.sign_ins
            if s.staff == staff and (windows is None or s.window in windows)
        ]

    def signed_in_spans(self, staff: str, window: str) -> list[Interval]:
        """When the person was signed in at `window` today; an open sign-in runs to `until`."""
        return [(s.start, s.end or self.until) for s in self.sign_ins_of(staff, (window,))]

    def first_sign_in(self, staff: str) -> SignInSpan | None:
        """The day's first sign-in at one of the windows the person is rostered at."""
        windows = {d.window for d in self.tracker.schedule.duties_of(staff)}
        return next(iter(self.sign_ins_of(staff, windows)), None)

    def late_by(self, staff: str) -> timedelta | None:
        """How long after their first duty started the first sign-in came (None: not late).

        A late sign-in is at most one per person and day: a morning sign-in lasts through
        lunch, so counting the afternoon again would only punish those who tap out to eat.
        """
        first = self.first_sign_in(staff)
        starts = [i[0] for d in self.tracker.schedule.duties_of(staff) for i in d.intervals]
        if first is None or not starts or first.start <= min(starts):
            return None
        return first.start - min(starts)

    def office_reads_on_duty(self, staff: str) -> list[CountedRead]:
        """The person's counted office reads during their rostered hours (leave excluded)."""
        duties = self.tracker.schedule.duties_of(staff)
        on_duty = union([i for d in duties for i in d.intervals])
        return [
            r
            for r in self.tracker.reads
            if r.staff == staff and r.window is None and containing(on_duty, r.at)
        ]


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
    ordered = sorted(events, key=lambda e: e.at)
    before = [e for e in ordered if e.at < schedule.start]
    during = [e for e in ordered if schedule.start <= e.at <= end]
    tracker.apply_all(before)
    stepper = _Stepper(tracker, end)
    for event in during:
        stepper.take(event)
    stepper.run_checks(end, inclusive=True)

    result = Sweep(day=day, until=end, tracker=tracker, events_seen=len(during))
    for window, parts in stepper.windows.finish(end).items():
        result.windows[window] = _merge(
            [Segment(value[0], value[1], start, stop) for value, start, stop in parts]
        )
    for device, parts in stepper.devices.finish(end).items():
        result.devices[device] = [
            Span(value[0], start, stop, value[1] or start) for value, start, stop in parts
        ]
    return result


class _Stepper:
    """Feeds the tracker the day's events and looks at what each one (or the clock) can change.

    A window's state depends on the clock only at the start, start + grace and end of its
    opening intervals, a grace after its seat last changed (a presence report or a sign-in
    or out that changed it), and when one of its seat sensors falls silent; those are
    the checks queued for it. Every other window is left alone by an event.
    """

    def __init__(self, tracker: HallTracker, end: datetime):
        registry, schedule = tracker.registry, tracker.schedule
        self.tracker, self.end = tracker, end
        self.grace = timedelta(minutes=registry.hall.empty_grace_minutes)
        self.silence = {d.id: registry.offline_after(d.id) for d in registry.devices}
        self.known = {w.id for w in registry.windows}
        self.sensor_window = {d: w for w, ids in registry.seat_sensors.items() for d in ids}
        self.windows = _Recorder(schedule.start)
        self.devices = _Recorder(schedule.start)
        self.checks: list[tuple[datetime, str, str]] = []  # (instant, "window"|"device", id)
        for window, intervals in schedule.open_intervals.items():
            for start, stop in intervals:
                for instant in (start, start + self.grace, stop):
                    self.checks.append((instant, "window", window))
        for device in registry.devices:
            facts = tracker.devices.get(device.id)
            if facts is not None and facts.last_seen is not None:
                self.checks.append((facts.last_seen + self.silence[device.id], "device", device.id))
        for start, _ in schedule.hall_periods:
            self.checks += [(start, "device", device.id) for device in registry.devices]
        heapq.heapify(self.checks)
        for window in registry.windows:
            self.look_at_window(window.id, schedule.start)
        for device in registry.devices:
            self.look_at_device(device.id, schedule.start)

    def take(self, event: Event) -> None:
        """Apply one event (in time order) and look at the windows and device it can change."""
        self.run_checks(event.at, inclusive=False)
        tracker = self.tracker
        registry = tracker.registry
        device = registry.device_by_id.get(event.device)
        carried = registry.bridge_devices.get(event.device, ())  # a bridge's devices
        if isinstance(event, BadgeRead):
            touched = _signed_in_windows(tracker, event, self.known)
        else:
            tracker.apply(event)
            touched = [device.window] if device and device.window else []
            touched += [w for d in carried if (w := registry.device_by_id[d].window)]
        for window in dict.fromkeys(touched):
            self.look_at_window(window, event.at)
            if _seat_changed(tracker, window, event.at):
                heapq.heappush(self.checks, (event.at + self.grace, "window", window))
        for carried_device in carried:
            self.look_at_device(carried_device, event.at)
        if device is not None:
            self.look_at_device(device.id, event.at)
            heapq.heappush(self.checks, (event.at + self.silence[device.id], "device", device.id))

    def run_checks(self, upto: datetime, inclusive: bool) -> None:
        checks = self.checks
        while checks and (checks[0][0] < upto or (inclusive and checks[0][0] == upto)):
            instant, kind, subject = heapq.heappop(checks)
            if instant > self.end:
                checks.clear()
                return
            if kind == "window":
                self.look_at_window(subject, instant)
                continue
            self.look_at_device(subject, instant)
            window = self.sensor_window.get(subject)
            facts = self.tracker.devices.get(subject)
            silent_from = (
                facts.last_seen + self.silence[subject] if facts and facts.last_seen else None
            )
            if window and silent_from == instant:
                self.look_at_window(window, instant)  # its seat sensor may just have gone silent

    def look_at_window(self, window: str, at: datetime) -> None:
        self.windows.observe(window, self.tracker.status(window, at), at)

    def look_at_device(self, device: str, at: datetime) -> None:
        tracker = self.tracker
        online = tracker.device_online(device, at)
        since = None if online else tracker.offline_since(device) or tracker.schedule.start
        self.devices.observe(device, (online, since), at)


def _signed_in_windows(tracker: HallTracker, read: BadgeRead, known: set[str]) -> list[str]:
    """Apply `read`; the windows whose sign-ins it may have changed, and its reader's.

    A read changes only its person's sign-in: the window they left and the one they
    signed in at are the only ones whose badge occupancy can differ.
    """
    person = tracker.registry.holder_of(read.uid)
    before = tracker.signed_in.get(person.id) if person else None
    tracker.apply(read)
    after = tracker.signed_in.get(person.id) if person else None
    device = tracker.registry.device_by_id.get(read.device)
    touched = [device.window] if device and device.window else []
    for sign_in in (before, after):
        if sign_in is not None and before is not after and sign_in.window not in touched:
            touched.append(sign_in.window)
    return [window for window in touched if window in known]


def _seat_changed(tracker: HallTracker, window: str, at: datetime) -> bool:
    """Whether a seat sensor's occupancy, or the window's badge occupancy, changed at `at`."""
    badge = tracker.badge_occupancy.get(window)
    if badge is not None and badge[1] == at:
        return True
    for sensor in tracker.registry.seat_sensors.get(window, ()):
        facts = tracker.devices.get(sensor)
        if facts is not None and facts.occupancy_changed_at == at:
            return True
    return False


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
