"""Today's events kept in memory and topped up, so live views and alert checks stay cheap.

A refresh asks InfluxDB only for points the collector received since the last
one (minus a margin, since a batch is written a little after its messages were
received). Points written much later than they were received — a backlog
replayed after an InfluxDB outage — are caught by a full reload every
FULL_RELOAD_S. Duplicates are harmless: a point is kept once per identity.
"""

from __future__ import annotations

import threading
import time
from bisect import insort
from datetime import date, datetime, timedelta

from hallwatch.events import BadgeRead, Event, event_type
from hallwatch.influx.eventstore import EventStore
from hallwatch.registry.spec import HallSettings
from hallwatch.schedule import day_of, local_midnight

RECEIPT_MARGIN = timedelta(seconds=30)  # how long a received message may take to be written
FULL_RELOAD_S = 60.0  # the slowest a late-written point takes to appear


def _identity(event: Event) -> tuple:
    uid = event.uid if isinstance(event, BadgeRead) else ""
    return (event.device, event_type(event), uid, event.at)


class DayEvents:
    """The carried-over facts plus every event of the current hall day, in time order."""

    def __init__(self, store: EventStore, clock=time.monotonic):
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._day: date | None = None
        self._events: list[tuple[datetime, int, Event]] = []
        self._seen: set[tuple] = set()
        self._newest_receipt: datetime | None = None
        self._loaded_at = 0.0
        self._counter = 0

    def history(self, hall: HallSettings, at: datetime) -> list[Event]:
        """What the state function needs at `at`: the day's events up to it (and carry-over)."""
        day = day_of(hall, at)
        day_start = local_midnight(hall, day)
        with self._lock:
            if day != self._day or self.clock() - self._loaded_at > FULL_RELOAD_S:
                self._reload(day, day_start, local_midnight(hall, day + timedelta(days=1)))
            else:
                self._top_up(day_start)
            return [event for moment, _, event in self._events if moment <= at]

    def _reload(self, day: date, day_start: datetime, day_end: datetime) -> None:
        self._day, self._events, self._seen = day, [], set()
        self._newest_receipt = None
        for event in self.store.day_history(day_start, day_end):
            self._add(event)
        self._loaded_at = self.clock()

    def _top_up(self, day_start: datetime) -> None:
        since = (self._newest_receipt or day_start) - RECEIPT_MARGIN
        for event in self.store.received_since(day_start, since):
            self._add(event)

    def _add(self, event: Event) -> None:
        key = _identity(event)
        if key in self._seen:
            return
        self._seen.add(key)
        self._counter += 1
        insort(self._events, (event.at, self._counter, event))
        if event.received and (
            self._newest_receipt is None or event.received > self._newest_receipt
        ):
            self._newest_receipt = event.received
