"""Day summaries of the hall for the reports: closed days from the table, the rest computed.

`DaySummaries.between()` / `.day()` are the one place a report gets its days.
Today and a cut part of a day are computed from the events (today's from the
runtime's memory, a past day's from InfluxDB, `day_history`). A whole day that
ended at least SETTLE ago is read from the table of precomputed days
(`hallwatch.metrics.store`) when its row matches the registry as it applies to
that day; otherwise it is computed from InfluxDB once and stored. Parsed rows
are kept in a small in-process LRU keyed by the row's version, so a row the
`hallwatch alerts` job rewrote (late events) is never answered from memory.

A runtime without a database (`sessions`) keeps closed days in the LRU only, for
CACHE_TTL_S, as before the table existed. Rows and cached days are per hall.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from hallwatch.events import Event
from hallwatch.metrics.day import DaySummary, day_summary
from hallwatch.metrics.store import (
    Receipts,
    day_fingerprint,
    load_summaries,
    save_summary,
    stored_days,
)
from hallwatch.registry.spec import HallSettings, Registry
from hallwatch.schedule import day_of, local_midnight

if TYPE_CHECKING:
    from hallwatch.runtime import Runtime

log = logging.getLogger(__name__)

CACHE_MAX_DAYS = 800  # parsed closed days kept in memory: two years
CACHE_TTL_S = 3600.0  # how long a parsed day is trusted before it is looked up again
SETTLE = timedelta(hours=1)  # a day is read from or written to the table once ended this long

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


def settled(hall: HallSettings, day: date, now: datetime) -> bool:
    """Whether hall day `day` ended at least SETTLE before `now`."""
    return local_midnight(hall, day + ONE_DAY) + SETTLE <= now


class DaySummaries:
    """Summaries of hall days for the reports: closed days stored, parsed ones in an LRU."""

    def __init__(
        self, max_days: int = CACHE_MAX_DAYS, ttl_s: float = CACHE_TTL_S, clock=time.monotonic
    ):
        self.max_days = max_days
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: OrderedDict[Hashable, tuple[float, DaySummary]] = OrderedDict()
        self._lock = threading.Lock()
        self._store_failing = False

    def between(
        self, runtime: Runtime, registry: Registry, start: datetime, end: datetime, now: datetime
    ) -> list[DaySummary]:
        """One summary per hall day of [start, min(end, now)), the first and last clipped, each
        counted with the registry of its day (`Runtime.day_registry`); `registry` names the hall."""
        hall = registry.hall
        parts = day_parts(hall, start, min(end, now))
        whole = {day for day, lo, hi in parts if (lo, hi) == _whole(hall, day)}
        closed = sorted(d for d in whole if settled(hall, d, now))
        then = {day: runtime.day_registry(registry, day, now) for day, _, _ in parts}
        prints = {day: day_fingerprint(then[day], day) for day in closed}
        found = self._look_up(runtime, registry, prints)
        summaries = []
        for day, lo, hi in parts:
            if day in prints:
                summary = found.get(day) or self._compute(runtime, then[day], day, now, prints[day])
            else:
                events = events_of_day(runtime, then[day], day, now)
                cut = (None, None) if day in whole else (lo, hi)
                summary = day_summary(then[day], events, day, now, *cut)
            summaries.append(summary)
        return summaries

    def day(self, runtime: Runtime, registry: Registry, day: date, now: datetime) -> DaySummary:
        """The whole of hall day `day` as seen at `now` (stored once it is settled)."""
        if settled(registry.hall, day, now):
            return self.between(runtime, registry, *_whole(registry.hall, day), now)[0]
        then = runtime.day_registry(registry, day, now)
        return day_summary(then, events_of_day(runtime, then, day, now), day, now)

    def _look_up(
        self, runtime: Runtime, registry: Registry, prints: dict[date, str]
    ) -> dict[date, DaySummary]:
        """The days of `prints` (day → fingerprint) known in memory or stored and still valid."""
        sessions = getattr(runtime, "sessions", None)
        hall = registry.hall.id
        if sessions is None or not prints:
            found = {day: self._get((hall, day, fp)) for day, fp in prints.items()}
            return {day: summary for day, summary in found.items() if summary is not None}
        found: dict[date, DaySummary] = {}
        stored = stored_days(sessions, hall, min(prints), max(prints))
        usable = [d for d in prints if d in stored and stored[d].fingerprint == prints[d]]
        for day in usable:
            if (cached := self._get((hall, day, stored[day].version))) is not None:
                found[day] = cached
        wanted = [d for d in usable if d not in found]
        for day, (row, summary) in load_summaries(sessions, hall, wanted, registry.hall.tz).items():
            if row.fingerprint == prints[day]:  # not rewritten for another registry meanwhile
                found[day] = self._put((hall, day, row.version), summary)
        return found

    def _compute(
        self, runtime: Runtime, registry: Registry, day: date, now: datetime, fingerprint: str
    ) -> DaySummary:
        """A settled day from InfluxDB, stored in the table (when there is one) and kept."""
        summary, receipts = compute_day(runtime, registry, day, now)
        sessions = getattr(runtime, "sessions", None)
        hall = registry.hall.id
        if sessions is None:
            return self._put((hall, day, fingerprint), summary)
        if receipts.count == 0 and (kept := _outlived_events(sessions, registry, day)):
            return self._put((hall, day, kept[0].version), kept[1])
        try:
            row = save_summary(sessions, hall, summary, fingerprint, receipts, now)
        except SQLAlchemyError as exc:  # the report is still right; the next one tries again
            if not self._store_failing:
                log.warning("could not store the summary of %s: %s", day, exc)
            self._store_failing = True
            return summary
        if self._store_failing:
            log.info("storing day summaries works again")
            self._store_failing = False
        return self._put((hall, day, row.version), summary)

    def _get(self, key: Hashable) -> DaySummary | None:
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

    def _put(self, key: Hashable, summary: DaySummary) -> DaySummary:
        with self._lock:
            self._cache[key] = (self.clock(), summary)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_days:
                self._cache.popitem(last=False)
        return summary


def _outlived_events(sessions, registry: Registry, day: date) -> tuple | None:
    """The stored row of a day whose events are gone from InfluxDB (retention), if any.

    A summary computed from the day's events outlives them: recomputing it for a changed
    registry would turn a worked day into an unknown one, so the stored one stands.
    """
    row = load_summaries(sessions, registry.hall.id, [day], registry.hall.tz).get(day)
    if row is None or row[0].receipts.count == 0:
        return None
    log.warning(
        "the events of %s are gone from InfluxDB; the summary computed at %s from %d of them "
        "stands although the registry changed since",
        day,
        row[0].computed_at.isoformat(),
        row[0].receipts.count,
    )
    return row


def _whole(hall: HallSettings, day: date) -> tuple[datetime, datetime]:
    return local_midnight(hall, day), local_midnight(hall, day + ONE_DAY)


def compute_day(
    runtime: Runtime, registry: Registry, day: date, now: datetime
) -> tuple[DaySummary, Receipts]:
    """A closed day's summary from its events, with what it was computed from.

    The receipts count the hall's points of the day in the store: the same figure the
    job's aggregate query gives (`jobs.receipts_by_day`), so a row stays current until a
    point of the hall's arrives for that span of time.
    """
    lo, hi = _whole(registry.hall, day)
    events = runtime.stored_history(registry, lo, min(now, hi))
    in_day = [e for e in events if lo <= e.at < hi]
    newest = max((e.received for e in in_day if e.received is not None), default=None)
    return day_summary(registry, events, day, now), Receipts(len(in_day), newest)


def events_of_day(runtime: Runtime, registry: Registry, day: date, now: datetime) -> list[Event]:
    """The events a day's summary needs up to `now`: carried-over facts plus the day's own
    (its own hall's: the store holds every hall's)."""
    hall = registry.hall
    if day_of(hall, now) == day:
        return runtime.history(registry, now)
    day_start, day_end = _whole(hall, day)
    return runtime.stored_history(registry, day_start, min(now, day_end))
