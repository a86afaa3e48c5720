"""Geometry of a window's day band: which hours it spans, where each state segment and tick falls.

Pure (no Flask): the template draws the result as inline SVG with percentage
x/width, so the band stretches to any screen without a style attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from hallwatch.schedule import DaySchedule
from hallwatch.timeline import Segment

HOUR = timedelta(hours=1)
MAX_TICK_LABELS = 12  # more would not fit a phone, even with every other one hidden
TICK_STEPS_H = (1, 2, 3, 4, 6)


@dataclass(frozen=True)
class Bar:
    """A state segment clipped to the band; x and width in percent of the band."""

    state: str
    start: datetime
    end: datetime
    x: float
    width: float


@dataclass(frozen=True)
class Tick:
    at: datetime
    x: float
    minor: bool  # hidden on narrow screens


def _floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(at: datetime) -> datetime:
    floor = _floor_hour(at)
    return floor if floor == at else floor + HOUR


def band_range(schedule: DaySchedule, window: str) -> tuple[datetime, datetime]:
    """Whole hours covering the hall's opening hours and the window's rostered intervals.

    On a day the hall is closed, the hours it keeps on working days; with none, the whole day.
    """
    tz = schedule.hall.tz
    spans = [*schedule.hall_periods, *schedule.open_intervals.get(window, [])]
    if not spans:
        day = schedule.day
        spans = [
            (datetime.combine(day, a, tzinfo=tz), datetime.combine(day, b, tzinfo=tz))
            for a, b in schedule.hall.hours
        ]
    if not spans:
        return schedule.start, schedule.end
    start = _floor_hour(min(a for a, _ in spans).astimezone(tz))
    end = _ceil_hour(max(b for _, b in spans).astimezone(tz))
    if end.time() == time(0) and end > start:  # 23:59 rounds up to midnight
        end = schedule.end
    return max(start, schedule.start), min(end, schedule.end)


def _percent(at: datetime, start: datetime, end: datetime) -> float:
    total = (end - start).total_seconds()
    return round(100 * (at - start).total_seconds() / total, 3) if total > 0 else 0.0


def bars(segments: list[Segment], start: datetime, end: datetime) -> list[Bar]:
    """The segments that overlap [start, end), clipped to it."""
    found = []
    for segment in segments:
        a, b = max(segment.start, start), min(segment.end, end)
        if b <= a:
            continue
        x = _percent(a, start, end)
        found.append(Bar(segment.state, a, b, x, round(_percent(b, start, end) - x, 3)))
    return found


def ticks(start: datetime, end: datetime) -> list[Tick]:
    """A tick on whole hours, spaced so at most MAX_TICK_LABELS are labelled."""
    hours = (end - start) / HOUR
    step = next((s for s in TICK_STEPS_H if hours / s <= MAX_TICK_LABELS), TICK_STEPS_H[-1])
    found, at, n = [], _ceil_hour(start), 0
    while at <= end:
        found.append(Tick(at, _percent(at, start, end), n % 2 == 1))
        at += step * HOUR
        n += 1
    return found
