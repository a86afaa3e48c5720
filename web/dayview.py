"""One hall day for the department and window pages: `?day=`, its events, and its sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import format_datetime, gettext

from hallwatch.events import Event
from hallwatch.registry.spec import Registry
from hallwatch.schedule import day_of, local_midnight
from hallwatch.timeline import Sweep, sweep
from web.timeparam import EARLIEST_YEAR, LATEST_YEAR


class BadDay(ValueError):
    """`?day=` is not a YYYY-MM-DD date."""


def parse_day(text: str | None, today: date) -> date:
    """`?day=YYYY-MM-DD` (default `today`); BadDay says what was wrong, in the page's language."""
    if text is None or not text.strip():
        return today
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise BadDay(
            gettext("日期格式不正确,应为 YYYY-MM-DD(例如 2026-11-23):%(day)s", day=text[:40])
        ) from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise BadDay(
            gettext(
                "日期须在 %(first)d 年至 %(last)d 年之间:%(day)s",
                first=EARLIEST_YEAR,
                last=LATEST_YEAR,
                day=text[:40],
            )
        )
    return day


@dataclass(frozen=True)
class DayView:
    """A hall day up to `until` (now, for today; its end, for a past day)."""

    day: date
    today: date
    start: datetime
    end: datetime
    until: datetime
    events: list[Event]  # carried-over facts and the day's events up to `until`
    sweep: Sweep

    @property
    def is_today(self) -> bool:
        return self.day == self.today

    @property
    def future(self) -> bool:
        return self.day > self.today

    @property
    def during(self) -> list[Event]:
        """The day's own events (not the facts carried over from before it)."""
        return [e for e in self.events if self.start <= e.at <= self.until]


def load_day(runtime, registry: Registry, day: date, now: datetime) -> DayView:
    """Read `day`'s events (today's from the runtime's memory) and sweep it; QueryError passes."""
    hall = registry.hall
    today = day_of(hall, now)
    start = local_midnight(hall, day)
    end = local_midnight(hall, day + timedelta(days=1))
    until = max(start, min(now, end))
    if day == today:
        events = runtime.history(registry, now)
    elif day < today:
        events = runtime.stored_history(registry, start, end)
    else:
        events = []
    return DayView(day, today, start, end, until, events, sweep(registry, events, day, until))


def clock(at: datetime, day_end: datetime | None = None) -> str:
    """Hall wall-clock HH:MM; the day's end reads 24:00, not the next day's 00:00."""
    if day_end is not None and at >= day_end:
        return "24:00"
    return format_datetime(at, "HH:mm")
