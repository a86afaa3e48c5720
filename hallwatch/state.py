"""The hall at any instant, derived from the registry and the events before it.

`HallTracker` folds events of one hall day in time order (plus the last known
device facts carried over from before the day) and answers `state_at(at)`.
`hall_at()` is the one-shot form. The live page, replay, alerts and reports
all go through here; nothing else decides a window's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from hallwatch.events import BadgeRead, DeviceStatus, Event, Heartbeat, PresenceReport
from hallwatch.registry.spec import Registry
from hallwatch.schedule import DaySchedule, containing, day_of

WindowStateName = Literal["closed", "unknown", "staffed", "away", "empty"]
STATES: tuple[WindowStateName, ...] = ("staffed", "away", "empty", "closed", "unknown")

REPEAT_TAP_WINDOW = timedelta(seconds=60)  # the same card at the same reader counts once


@dataclass
class DeviceFacts:
    """What we know about one device from its messages so far."""

    last_seen: datetime | None = None
    last_status: bool | None = None  # True online, False offline, None never sent
    status_at: datetime | None = None
    occupied: bool | None = None
    occupancy_changed_at: datetime | None = None
    occupied_from: datetime | None = None  # when it last turned occupied
    extra: dict[str, float] = field(default_factory=dict)

    def online(self, at: datetime, offline_after: timedelta) -> bool:
        """The last status decides; a device that never sent one must not be silent.

        This is the device's own evidence; `HallTracker.device_online` adds its bridge's.
        """
        if self.last_seen is None:
            return False
        if self.last_status is not None:
            # A report after an offline status means it is back.
            return self.last_status or (
                self.status_at is not None and self.last_seen > self.status_at
            )
        return at - self.last_seen < offline_after


@dataclass(frozen=True)
class CountedRead:
    """A badge read of a known person that counted (after the 60 s repeat rule)."""

    at: datetime
    staff: str
    device: str
    window: str | None  # a desk reader's window…
    department: str | None  # …or the office reader's department
    action: str


@dataclass(frozen=True)
class SignIn:
    staff: str
    window: str
    at: datetime


@dataclass(frozen=True)
class SignInSpan:
    """One sign-in of the day and when it ended (None: still signed in)."""

    staff: str
    window: str
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class WindowState:
    window: str
    state: WindowStateName
    since: datetime
    signed_in: tuple[SignIn, ...]
    rostered: tuple[str, ...]
    on_leave: tuple[str, ...]


@dataclass(frozen=True)
class HallState:
    at: datetime
    windows: tuple[WindowState, ...]
    warning: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for w in self.windows:
            counts[w.state] += 1
        return counts


class HallTracker:
    """Folds one hall day's events; ask `state_at()` for any instant not before the last event."""

    def __init__(self, registry: Registry, day: date):
        self.registry = registry
        self.schedule = DaySchedule(registry, day)
        self.devices: dict[str, DeviceFacts] = {}
        self.signed_in: dict[str, SignIn] = {}  # staff id → where they are signed in
        # The same sign-ins by window (window → staff id → sign-in, in sign-in order), so a
        # window's state does not look through the whole hall's.
        self.signed_in_at: dict[str, dict[str, SignIn]] = {}
        self.at_office: dict[str, datetime] = {}  # staff id → last office read today
        self.unknown_cards: dict[str, datetime] = {}  # uid → last seen today
        self.badge_occupancy: dict[str, tuple[bool, datetime]] = {}  # window → (anyone?, since)
        self._last_counted: dict[tuple[str, str, str], datetime] = {}
        self.reads: list[CountedRead] = []  # today's counted reads of known people, in order
        self.sign_ins: list[SignInSpan] = []  # today's sign-ins, in order, with their ends
        self._open_sign_in: dict[str, int] = {}  # staff id → index of their open one in sign_ins
        self.latest: datetime | None = None
        self._grace = timedelta(minutes=registry.hall.empty_grace_minutes)

    def apply(self, event: Event) -> None:
        """Take one event into account; events must come in time order."""
        self.latest = event.at if self.latest is None else max(self.latest, event.at)
        facts = self.devices.setdefault(event.device, DeviceFacts())
        if facts.last_seen is None or event.at >= facts.last_seen:
            facts.last_seen = event.at
        if isinstance(event, DeviceStatus):
            facts.last_status, facts.status_at = event.online, event.at
        elif isinstance(event, PresenceReport):
            if facts.occupied is None or facts.occupied != event.occupied:
                facts.occupancy_changed_at = event.at
                if event.occupied:
                    facts.occupied_from = event.at
            facts.occupied = event.occupied
            facts.extra.update(event.extra)
        elif isinstance(event, Heartbeat):
            facts.extra.update(event.extra)
        elif isinstance(event, BadgeRead) and event.at >= self.schedule.start:
            self._badge(event)

    @property
    def last_applied(self) -> datetime | None:
        """The time of the newest event applied so far (None before any)."""
        return self.latest

    def fork(self) -> HallTracker:
        """An independent copy: applying events to it leaves this tracker as it was."""
        twin = copy(self)
        for name, value in vars(self).items():
            if isinstance(value, dict | list):
                setattr(twin, name, copy(value))
        twin.signed_in_at = {window: dict(here) for window, here in self.signed_in_at.items()}
        twin.devices = {
            device: DeviceFacts(**{**vars(facts), "extra": dict(facts.extra)})
            for device, facts in self.devices.items()
        }
        return twin

    def apply_all(self, events: Iterable[Event]) -> HallTracker:
        for event in sorted(events, key=lambda e: e.at):
            self.apply(event)
        return self

    def _badge(self, read: BadgeRead) -> None:
        key = (read.device, read.uid, read.action)
        last = self._last_counted.get(key)
        if last is not None and read.at - last < REPEAT_TAP_WINDOW:
            return
        self._last_counted[key] = read.at
        device = self.registry.device_by_id.get(read.device)
        person = self.registry.holder_of(read.uid)
        if device is None:
            return
        if person is None:
            self.unknown_cards[read.uid] = read.at
            return
        self.reads.append(
            CountedRead(
                read.at, person.id, device.id, device.window, device.department, read.action
            )
        )
        current = self.signed_in.get(person.id)
        if device.window is None:  # an office reader: back at the home department
            self.at_office[person.id] = read.at
            self._sign_out(person.id, read.at)
        elif read.action == "out":
            if current and current.window == device.window:
                self._sign_out(person.id, read.at)
        elif current is None or current.window != device.window:
            self._sign_out(person.id, read.at)
            sign_in = SignIn(person.id, device.window, read.at)
            self.signed_in[person.id] = sign_in
            self.signed_in_at.setdefault(device.window, {})[person.id] = sign_in
            self._open_sign_in[person.id] = len(self.sign_ins)
            self.sign_ins.append(SignInSpan(person.id, device.window, read.at))
            self._mark_badge_occupancy(device.window, read.at)

    def _sign_out(self, staff: str, at: datetime) -> None:
        current = self.signed_in.pop(staff, None)
        if current is not None:
            del self.signed_in_at[current.window][staff]
            index = self._open_sign_in.pop(staff, None)
            if index is not None:  # None: signed in before the day (carried over)
                self.sign_ins[index] = replace(self.sign_ins[index], end=at)
            self._mark_badge_occupancy(current.window, at)

    def _mark_badge_occupancy(self, window: str, at: datetime) -> None:
        anyone = bool(self.signed_in_at.get(window))
        previous = self.badge_occupancy.get(window)
        if previous is None or previous[0] != anyone:
            self.badge_occupancy[window] = (anyone, at)

    def state_at(self, at: datetime) -> HallState:
        """Every window's state at `at` (on this tracker's day), from what was applied."""
        windows = tuple(self.window_state(w.id, at) for w in self.registry.windows)
        return HallState(at=at, windows=windows, warning=self.schedule.warning)

    def window_state(self, window: str, at: datetime) -> WindowState:
        state, since = self.status(window, at)
        here = self.signed_in_at.get(window)
        signed = tuple(sorted(here.values(), key=_signed_at)) if here else ()
        rostered = () if state == "closed" else tuple(self.schedule.rostered_at(window, at))
        on_leave = tuple(self.schedule.on_leave_at(window, at))
        return WindowState(window, state, since, signed, rostered, on_leave)

    def status(self, window: str, at: datetime) -> tuple[WindowStateName, datetime]:
        """A window's state and its since at `at`: `window_state` without who is there."""
        intervals = self.schedule.open_intervals.get(window, [])
        open_now = containing(intervals, at)
        if open_now is None:
            return "closed", max(
                [end for _, end in intervals if end <= at], default=self.schedule.start
            )
        open_since = open_now[0]
        seat = self._seat(window, at)
        if seat is None:
            return "unknown", max(open_since, self._offline_since(window) or open_since)
        occupied, changed_at = seat
        if occupied:
            return "staffed", max(changed_at, open_since)
        away_for = at - max(changed_at, open_since)
        if away_for >= self._grace:
            return "empty", changed_at
        still_since = self._still_at_pir(window, at)
        if still_since is not None:
            return "staffed", max(still_since, open_since)
        return "away", changed_at

    def device_online(self, device: str, at: datetime) -> bool:
        """Whether a device counts as online at `at` (by its statuses and its own silence
        allowance): its last status, else its silence; never while its Zigbee2MQTT bridge
        says it is offline (a dead bridge's devices keep their last reading)."""
        facts = self.devices.get(device)
        if facts is None or not facts.online(at, self.registry.offline_after(device)):
            return False
        return self._bridge_down(device) is None

    def offline_since(self, device: str) -> datetime | None:
        """When an offline device went offline as far as known: when it (or its bridge) said
        so, or else its last contact (None: never heard)."""
        said = self._said_offline_at(device)
        if said is not None:
            return said
        facts = self.devices.get(device)
        return facts.last_seen if facts is not None else None

    def _said_offline_at(self, device: str) -> datetime | None:
        """The latest offline status still in force, the device's own or its bridge's."""
        facts, bridge = self.devices.get(device), self._bridge_down(device)
        own = facts.status_at if facts is not None and facts.last_status is False else None
        return max((t for t in (own, bridge.status_at if bridge else None) if t), default=None)

    def bridge_offline_since(self, device: str) -> datetime | None:
        """When the device's Zigbee2MQTT bridge said it was offline, while it still is."""
        bridge = self._bridge_down(device)
        return bridge.status_at if bridge is not None else None

    def _bridge_down(self, device: str) -> DeviceFacts | None:
        """The facts of the device's bridge when its last status said offline, else None."""
        known = self.registry.device_by_id.get(device)
        bridge = self.devices.get(known.bridge) if known is not None and known.bridge else None
        return bridge if bridge is not None and bridge.last_status is False else None

    def _seat(self, window: str, at: datetime) -> tuple[bool, datetime] | None:
        """(occupied, since when) from the seat sensors, or from sign-ins if it has none."""
        sensors = self.registry.seat_sensors.get(window)
        if not sensors:
            return self.badge_occupancy.get(window, (False, self.schedule.start))
        readings = [
            (f.occupied, f.occupancy_changed_at)
            for d, f in ((d, self.devices.get(d)) for d in sensors)
            if f is not None and f.occupied is not None and self.device_online(d, at)
        ]
        if not readings:
            return None
        occupied = [changed for is_occupied, changed in readings if is_occupied]
        if occupied:
            return True, min(occupied)
        return False, max(changed for _, changed in readings)

    def _still_at_pir(self, window: str, at: datetime) -> datetime | None:
        """When a PIR's "empty" is more likely a clerk sitting still: since when the seat counts
        as occupied, or None.

        A PIR sees motion, not people; its "empty" comes a timeout after the last motion,
        whether the clerk left or just sat still. With someone signed in at the window and
        only PIRs saying "empty", the seat is not called away on that word alone, but only for
        less than the grace: `status` still makes it empty, since the PIR's "empty", once the
        grace has run, so a real empty seat is reported exactly when it would be without this
        (docs/ACCURACY.md has the measurements).
        """
        if not self.signed_in_at.get(window):
            return None
        devices = self.registry.device_by_id
        said_empty = [
            (devices[d].sensing, facts)
            for d in self.registry.seat_sensors.get(window, ())
            if (facts := self.devices.get(d)) is not None
            and facts.occupied is False
            and self.device_online(d, at)
        ]
        if not said_empty or any(sensing != "pir" for sensing, _ in said_empty):
            return None
        return max(f.occupied_from or f.occupancy_changed_at or at for _, f in said_empty)

    def _offline_since(self, window: str) -> datetime | None:
        """When the window's seat sensors (or their bridge) last said offline (for the `since`
        of unknown)."""
        sensors = self.registry.seat_sensors.get(window, ())
        return max((t for d in sensors if (t := self._said_offline_at(d))), default=None)


def _signed_at(sign_in: SignIn) -> datetime:
    return sign_in.at


def hall_at(registry: Registry, events: Iterable[Event], at: datetime) -> HallState:
    """The hall at instant `at` from the events up to it (the one state function)."""
    tracker = HallTracker(registry, day_of(registry.hall, at))
    tracker.apply_all(e for e in events if e.at <= at)
    return tracker.state_at(at)
