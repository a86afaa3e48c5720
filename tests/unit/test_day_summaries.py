"""DaySummaries: closed days read once and kept, cut or changed days read again, today never."""

from datetime import timedelta

from hallwatch.metrics.report import minutes
from hallwatch.metrics.source import DaySummaries, day_parts
from tests.unit.hall import MONDAY, at, hall, with_leave
from tests.unit.metrics_day import (
    ONLINE,
    TUESDAY,
    W01_DAY,
)

# --- reading days (a stand-in for the runtime's event store) --------------------------


class Store:
    """Our EventStore's `day_history`, over a list, counting the days read."""

    def __init__(self, events):
        self.events = sorted(events, key=lambda e: e.at)
        self.days_read = []

    def day_history(self, day_start, end, devices=None):
        self.days_read.append(day_start.date())
        return [e for e in self.events if e.at <= end]


class Runtime:
    def __init__(self, events):
        self.store = Store(events)
        self.today_read = 0

    def hall_devices(self, registry):
        return None

    def day_registry(self, registry, day, now):
        return registry  # one registry all along

    def stored_history(self, registry, day_start, end):
        return self.store.day_history(day_start, end)

    def history(self, registry, at):
        self.today_read += 1
        return [e for e in self.store.events if e.at <= at]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


WEDNESDAY = TUESDAY + timedelta(days=1)
THURSDAY = WEDNESDAY + timedelta(days=1)


def test_whole_closed_days_are_read_once_and_cut_days_every_time():
    runtime, summaries = Runtime(ONLINE + W01_DAY), DaySummaries()
    start, end, now = at("10:00"), at("11:00", WEDNESDAY), at("12:00", THURSDAY)
    first = summaries.between(runtime, hall(), start, end, now)
    assert [(s.day, s.start, s.end) for s in first] == day_parts(hall().hall, start, end)
    assert minutes(first[0].windows["W01"].scheduled) == 360.0  # Monday from 10:00
    assert summaries.between(runtime, hall(), start, end, now) == first
    assert runtime.store.days_read == [MONDAY, TUESDAY, WEDNESDAY, MONDAY, WEDNESDAY]


def test_a_changed_registry_or_an_expired_entry_is_read_again():
    runtime, clock = Runtime(ONLINE + W01_DAY), Clock()
    summaries = DaySummaries(ttl_s=60, clock=clock)
    now = at("12:00", THURSDAY)
    summaries.day(runtime, hall(), MONDAY, now)
    summaries.day(runtime, hall(), MONDAY, now)
    on_leave = with_leave(hall(), "s001", at("09:00"), at("10:00"))
    assert minutes(summaries.day(runtime, on_leave, MONDAY, now).windows["W01"].scheduled) == 360
    clock.now = 61
    summaries.day(runtime, hall(), MONDAY, now)
    assert runtime.store.days_read == [MONDAY] * 3


def test_today_comes_from_the_runtimes_day_and_is_never_kept():
    runtime, summaries = Runtime(ONLINE + W01_DAY), DaySummaries()
    for _ in range(2):
        today = summaries.day(runtime, hall(), MONDAY, at("10:15"))
        assert minutes(today.windows["W01"].scheduled) == 75.0
    assert (runtime.today_read, runtime.store.days_read) == (2, [])
    summaries.day(runtime, hall(), MONDAY, at("00:30", TUESDAY))  # over, but not yet settled
    summaries.day(runtime, hall(), MONDAY, at("00:30", TUESDAY))
    assert runtime.store.days_read == [MONDAY, MONDAY]
