"""Day summaries of the hall read from the event store, closed past days kept in memory.

`DaySummaries.day()` is the one place a report gets a whole day: today from
the runtime's in-memory day, a past day from InfluxDB (`day_history`). A day
that ended at least SETTLE ago is kept in a small LRU for CACHE_TTL_S (late
points, e.g. a collector's backlog, show up once it expired); a table of
precomputed closed days can later take its place behind the same method.
The cache key includes the registry's fingerprint, so a changed roster or
leave is never answered from an old summary.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from hallwatch.events import Event
from hallwatch.metrics.day import DaySummary, day_summary
from hallwatch.registry.spec import HallSettings, Registry
from hallwatch.schedule import day_of, local_midnight

if TYPE_CHECKING:
    from hallwatch.runtime import Runtime

CACHE_MAX_DAYS = 800  # entries (registry version × day): two years of one registry
CACHE_TTL_S = 3600.0  # how long a cached closed day is trusted before it is read again
SETTLE = timedelta(hours=1)  # a day is cached only once it ended this long before now

ONE_DAY = timedelta(days=1)
DayPart = tuple[date, datetime, datetime]  # a hall day and the part of a range within it


def day_parts(hall: HallSettings, start: datetime, end: datetime) -> list[DayPart]:
    """The hall days that [start, end) touches, each with its share [lo, hi) of the range."""
    parts: list[DayPart] = []
    day = day_of(hall, start)
    while (day_start := local_midnight(hall, day)) < end:
        day_end = local_midnight(hall, day + ONE_DAY)
        lo, hi = max(start, day_start), min(end, day_end)
        if lo < hi:
            parts.append((day, lo, hi))
        day += ONE_DAY
    return parts


class DaySummaries:
    """Summaries of hall days for the reports, with an LRU of closed past days."""

    def __init__(
        self, max_days: int = CACHE_MAX_DAYS, ttl_s: float = CACHE_TTL_S, clock=time.monotonic
    ):
        self.max_days = max_days
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: OrderedDict[tuple[int, date], tuple[float, DaySummary]] = OrderedDict()
        self._lock = threading.Lock()

    def between(
        self, runtime: Runtime, registry: Registry, start: datetime, end: datetime, now: datetime
    ) -> list[DaySummary]:
        """One summary per hall day of [start, min(end, now)), the first and last clipped."""
        hall = registry.hall
        end = min(end, now)
        fingerprint = hash(registry)  # computed once: a registry hashes all its entries
        summaries = []
        for day, lo, hi in day_parts(hall, start, end):
            if (lo, hi) == (local_midnight(hall, day), local_midnight(hall, day + ONE_DAY)):
                summaries.append(self.day(runtime, registry, day, now, fingerprint))
            else:
                events = events_of_day(runtime, registry, day, now)
                summaries.append(day_summary(registry, events, day, now, lo, hi))
        return summaries

    def day(
        self,
        runtime: Runtime,
        registry: Registry,
        day: date,
        now: datetime,
        fingerprint: int | None = None,
    ) -> DaySummary:
        """The whole of hall day `day` as seen at `now` (from the cache when it is settled)."""
        hall = registry.hall
        settled = local_midnight(hall, day + ONE_DAY) + SETTLE <= now
        key = (hash(registry) if fingerprint is None else fingerprint, day)
        if settled and (cached := self._get(key)) is not None:
            return cached
        summary = day_summary(registry, events_of_day(runtime, registry, day, now), day, now)
        if settled:
            self._put(key, summary)
        return summary

    def _get(self, key: tuple[int, date]) -> DaySummary | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            stored_at, summary = entry
            if self.clock() - stored_at > self.ttl_s:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return summary

    def _put(self, key: tuple[int, date], summary: DaySummary) -> None:
        with self._lock:
            self._cache[key] = (self.clock(), summary)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_days:
                self._cache.popitem(last=False)


def events_of_day(runtime: Runtime, registry: Registry, day: date, now: datetime) -> list[Event]:
    """The events a day's summary needs up to `now`: carried-over facts plus the day's own."""
    hall = registry.hall
    if day_of(hall, now) == day:
        return runtime.history(registry, now)
    day_start = local_midnight(hall, day)
    return runtime.store.day_history(day_start, min(now, local_midnight(hall, day + ONE_DAY)))
