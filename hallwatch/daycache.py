"""Today's events kept in memory and topped up, so live views and alert checks stay cheap.

A refresh asks InfluxDB only for points the collector received since the last
one (minus a margin, since a batch is written a little after its messages were
received), at most once every TOP_UP_S whatever the number of requests.
Points written much later than they were received — a backlog replayed after
an InfluxDB outage — are caught by a full reload every FULL_RELOAD_S, or less
often when a reload is slow (a big day): reloading may take at most
MAX_RELOAD_SHARE of the time (200 windows late in the day: every ~3 minutes).
Duplicates are harmless: a point is kept once per identity.

The live state is incremental: a `HallTracker` (the one state function) is fed
the day's events once, up to RECEIPT_MARGIN before the instant asked — by then
nothing earlier should still arrive — and each request forks it and applies
only the few newer events. An event arriving before what the tracker already
took, or another registry snapshot, makes it start again from the day's list.
Requests within SAME_LIVE_STATE of each other, with nothing new in between,
share one computed state: the page shows whole seconds, and the events in
memory are up to TOP_UP_S old anyway.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from operator import itemgetter

from hallwatch.events import BadgeRead, Event, event_type
from hallwatch.influx.eventstore import Devices, EventStore
from hallwatch.registry.spec import HallSettings, Registry
from hallwatch.schedule import day_of, local_midnight
from hallwatch.state import HallState, HallTracker

RECEIPT_MARGIN = timedelta(seconds=30)  # how long a received message may take to be written
FULL_RELOAD_S = 60.0  # the slowest a late-written point takes to appear
TOP_UP_S = 1.0  # how stale the events in memory may be (one query per interval, not per request)
MAX_RELOAD_SHARE = 0.05  # a big day reloads less often, so reloads take at most this share of time
# A live request this soon after the last one, with no new event since, gets the same state.
SAME_LIVE_STATE = timedelta(seconds=TOP_UP_S)

Entry = tuple[datetime, int, Event]  # (event time, arrival order, event)
_moment = itemgetter(0)


def _identity(event: Event) -> tuple:
    uid = event.uid if isinstance(event, BadgeRead) else ""
    return (event.device, event_type(event), uid, event.at)


class _Settled:
    """A tracker that has taken the first `applied` entries of a day's list."""

    def __init__(self, registry: Registry, day: date):
        self.registry = registry
        self.tracker = HallTracker(registry, day)
        self.applied = 0

    def advance(self, entries: list[Entry], until: datetime) -> None:
        end = bisect_right(entries, until, lo=self.applied, key=_moment)
        for _, _, event in entries[self.applied : end]:
            self.tracker.apply(event)
        self.applied = end


class DayLog:
    """One hall day's events in time order (ties in arrival order), and its live tracker.

    Pure and not thread-safe: `DayEvents` guards it with a lock.
    """

    def __init__(self, day: date, events: Iterable[Event] = ()):
        self.day = day
        self.builds = 0  # how often the live tracker was started from the beginning
        self.entries: list[Entry] = []
        self._seen: set[tuple] = set()
        self._counter = 0
        self._settled: _Settled | None = None
        self.newest_receipt: datetime | None = None
        self.version = 0  # grows with every event kept
        for event in sorted(events, key=lambda e: e.at):
            if self._keep(event):
                self.entries.append((event.at, self._counter, event))

    def add(self, event: Event) -> bool:
        """Keep `event` unless already known; True if it was new."""
        if not self._keep(event):
            return False
        index = bisect_right(self.entries, event.at, key=_moment)
        self.entries.insert(index, (event.at, self._counter, event))
        if self._settled is not None and index < self._settled.applied:
            self._settled = None  # it belongs before what the tracker took: start again
        return True

    def _keep(self, event: Event) -> bool:
        key = _identity(event)
        if key in self._seen:
            return False
        self._seen.add(key)
        self._counter += 1
        self.version += 1
        if event.received and (self.newest_receipt is None or event.received > self.newest_receipt):
            self.newest_receipt = event.received
        return True

    def until(self, at: datetime) -> list[Event]:
        """The events up to `at`, in time order."""
        end = bisect_right(self.entries, at, key=_moment)
        return [event for _, _, event in self.entries[:end]]

    def settle(self, registry: Registry, until: datetime) -> None:
        """Feed the live tracker (for this registry snapshot) every event up to `until`."""
        if self._settled is None or self._settled.registry is not registry:
            self._settled = _Settled(registry, self.day)
            self.builds += 1
        self._settled.advance(self.entries, until)

    def view(self, registry: Registry, at: datetime) -> tuple[HallTracker, list[Event]]:
        """A tracker of its own and the events it still needs for the hall at `at`.

        Live (`at` not before the settled point): a fork of the live tracker and the
        few events after it. Replay of an earlier instant: a fresh tracker and all.
        """
        self.settle(registry, at - RECEIPT_MARGIN)
        settled = self._settled
        assert settled is not None
        end = bisect_right(self.entries, at, key=_moment)
        if end < settled.applied:
            return HallTracker(registry, day_of(registry.hall, at)), self.until(at)
        return settled.tracker.fork(), [e for _, _, e in self.entries[settled.applied : end]]

    def state(self, registry: Registry, at: datetime) -> HallState:
        """The hall at `at` — what `hall_at(registry, self.until(at), at)` gives, cheaper."""
        return _finish(*self.view(registry, at), at)


def _still(recent, log: DayLog | None, registry: Registry, at: datetime) -> bool:
    """Whether the last live state computed stands for `at` (see SAME_LIVE_STATE)."""
    if recent is None or log is None:
        return False
    same_log, version, same_registry, state = recent
    return (
        same_log is log
        and version == log.version
        and same_registry is registry
        and timedelta(0) <= at - state.at < SAME_LIVE_STATE
    )


def _finish(tracker: HallTracker, events: list[Event], at: datetime) -> HallState:
    for event in events:
        tracker.apply(event)
    return tracker.state_at(at)


class DayEvents:
    """The carried-over facts plus every event of the current hall day, shared by threads.

    InfluxDB is read outside the lock. One thread at a time loads a whole day or
    tops up, and meanwhile the others carry on with what is in memory (a new day
    is waited for).
    """

    def __init__(self, store: EventStore, clock=time.monotonic, devices: Devices = None):
        self.store = store
        self.clock = clock
        self.devices = devices  # one hall's, when the store holds other halls' (None: all)
        self._lock = threading.Lock()  # guards everything below
        self._loading = threading.Lock()  # one whole-day load at a time
        self._log: DayLog | None = None
        self._loaded_at = 0.0
        self._topped_at = 0.0
        self._topping = False
        self._reload_every = FULL_RELOAD_S
        self._recent: tuple[DayLog, int, Registry, HallState] | None = None

    def history(self, hall: HallSettings, at: datetime) -> list[Event]:
        """What the state function needs at `at`: the day's events up to it (and carry-over)."""
        day = day_of(hall, at)
        self._refresh(hall, day, at)
        with self._lock:
            if self._log is not None and self._log.day == day:
                return self._log.until(at)
        # the day turned meanwhile
        return self.store.day_history(local_midnight(hall, day), at, self.devices)

    def state(self, registry: Registry, at: datetime) -> HallState:
        """The hall at `at` (on the day cached), incrementally when `at` is about now."""
        hall = registry.hall
        day = day_of(hall, at)
        self._refresh(hall, day, at, registry)
        with self._lock:
            log, recent = self._log, self._recent
            if _still(recent, log, registry, at):
                return recent[3]  # type: ignore[index]
            view = log.view(registry, at) if log is not None and log.day == day else None
        if view is None:  # the day turned meanwhile
            events = self.store.day_history(local_midnight(hall, day), at, self.devices)
            view = HallTracker(registry, day), events
            return _finish(*view, at)
        state = _finish(*view, at)  # outside the lock: the tracker is a copy of our own
        with self._lock:
            if recent is self._recent:
                self._recent = (log, log.version, registry, state)
        return state

    def _refresh(
        self, hall: HallSettings, day: date, at: datetime, registry: Registry | None = None
    ) -> None:
        day_start = local_midnight(hall, day)
        with self._lock:
            current = self._log is not None and self._log.day == day
            due = not current or self._stale()
        if due and self._loading.acquire(blocking=not current):
            try:
                with self._lock:
                    log = self._log
                    done = log is not None and log.day == day and not self._stale()
                if not done:
                    self._load(hall, day, day_start, at, registry)
                    return
            finally:
                self._loading.release()
        self._top_up(day_start)

    def _stale(self) -> bool:
        return self.clock() - self._loaded_at > self._reload_every

    def _load(
        self,
        hall: HallSettings,
        day: date,
        day_start: datetime,
        at: datetime,
        registry: Registry | None,
    ) -> None:
        """Read the whole day and build its log (and live tracker) before swapping it in."""
        began = self.clock()
        day_end = local_midnight(hall, day + timedelta(days=1))
        log = DayLog(day, self.store.day_history(day_start, day_end, self.devices))
        if registry is not None:
            log.settle(registry, at - RECEIPT_MARGIN)
        with self._lock:
            self._log = log
            self._loaded_at = self._topped_at = self.clock()
            took = self._loaded_at - began
            self._reload_every = max(FULL_RELOAD_S, took / MAX_RELOAD_SHARE)

    def _top_up(self, day_start: datetime) -> None:
        """Add what the collector received since the newest point held (at most every TOP_UP_S)."""
        with self._lock:
            log = self._log
            if log is None or self._topping or self.clock() - self._topped_at < TOP_UP_S:
                return
            self._topping = True
            since = (log.newest_receipt or day_start) - RECEIPT_MARGIN
        events: list[Event] = []
        try:
            events = self.store.received_since(day_start, since, self.devices)
        finally:
            with self._lock:
                self._topping, self._topped_at = False, self.clock()
                if self._log is log:
                    for event in events:
                        log.add(event)
