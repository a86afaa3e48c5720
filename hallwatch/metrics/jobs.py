"""Keeping the table of day summaries current: the work of `hallwatch alerts`' summary jobs.

Plain functions of (runtime, now). A closed day's row is (re)computed when it is
missing, was computed for another registry than the day's own (`Runtime.day_registry`),
or when InfluxDB holds other points for the day than the row was computed from (a late
event: a collector's backlog, a device's spool): the row keeps their number and
newest receipt time, and one aggregate query per run (`EventStore.receipts`)
gives the same two numbers for every recent day.

A late event also changes what the following day carries over (a seat's last
report before midnight); that day is recomputed only when its own points change.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from hallwatch.metrics.source import compute_day
from hallwatch.metrics.store import (
    Receipts,
    StoredDay,
    day_fingerprint,
    save_summary,
    stored_days,
)
from hallwatch.registry.spec import HallSettings, Registry
from hallwatch.schedule import day_of, local_midnight

if TYPE_CHECKING:
    from hallwatch.influx.eventstore import Devices, EventStore
    from hallwatch.runtime import Runtime

log = logging.getLogger(__name__)

BACKFILL_DAYS = 40  # at start-up and after each close: every closed day this far back
LATE_DAYS = 7  # every few minutes: late events for closed days this far back

ONE_DAY = timedelta(days=1)


def receipts_by_day(
    store: EventStore,
    hall: HallSettings,
    first: date,
    until: date,
    devices: Devices = None,
) -> dict[date, Receipts]:
    """The points InfluxDB holds per hall day of first..until (exclusive), days with any;
    of `devices` only when given (the hall's, when the store holds several halls')."""
    found: dict[date, Receipts] = {}
    buckets = store.receipts(
        local_midnight(hall, first), local_midnight(hall, until), devices=devices
    )
    for start, count, newest in buckets:
        day = day_of(hall, start)
        before = found.get(day, Receipts())
        latest = max((t for t in (before.newest, newest) if t is not None), default=None)
        found[day] = Receipts(before.count + count, latest)
    return found


def is_current(row: StoredDay | None, fingerprint: str, held: Receipts) -> bool:
    """Whether a stored row can stand: same registry for its day, computed from the same points."""
    return row is not None and row.fingerprint == fingerprint and row.receipts == held


def refresh_days(runtime: Runtime, now: datetime, lookback_days: int) -> list[date]:
    """Store the closed days of the last `lookback_days` that have events and no current row,
    for every hall of the deployment (each by its own calendar and time zone)."""
    done = []
    for registry in runtime.deployment(fresh=True).halls:
        done += refresh_hall_days(runtime, registry, now, lookback_days)
    return done


def refresh_hall_days(
    runtime: Runtime, registry: Registry, now: datetime, lookback_days: int
) -> list[date]:
    """`refresh_days` for one hall."""
    hall = registry.hall
    today = day_of(hall, now)
    first = today - timedelta(days=lookback_days)
    held = receipts_by_day(runtime.store, hall, first, today, runtime.hall_devices(registry))
    stored = stored_days(runtime.sessions, hall.id, first, today - ONE_DAY)
    done = []
    for day in sorted(held):
        then = runtime.day_registry(registry, day, now)  # the day as its own registry had it
        fingerprint = day_fingerprint(then, day)
        if is_current(stored.get(day), fingerprint, held[day]):
            continue
        summary, _ = compute_day(runtime, then, day, now)
        # The counts read before computing: a point written meanwhile makes the next run look again.
        save_summary(runtime.sessions, hall.id, summary, fingerprint, held[day], now)
        done.append(day)
    if done:
        log.info("day summaries of hall %s stored: %s", hall.id, ", ".join(map(str, done)))
    return done
