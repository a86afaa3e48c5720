"""When the hall is open and who is rostered: working days, opening periods, roster, leave.

All functions are pure. A day's schedule is a set of intervals per window,
computed once (`DaySchedule`) and shared by the live state, alerts and reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property

import chinese_calendar

from hallwatch.registry.spec import (
    WEEKDAYS,
    HallSettings,
    Period,
    Registry,
    RosterEntry,
    Swap,
)

log = logging.getLogger(__name__)

Interval = tuple[datetime, datetime]  # [start, end), aware


def _cn_official(day: date) -> bool | None:
    """chinese-calendar's verdict, or None when it has no data for that year."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def holiday_data_missing(hall: HallSettings, day: date) -> bool:
    """True when `holidays: cn` is set but the library knows nothing of that year."""
    return hall.holidays == "cn" and _cn_official(day) is None


def calendar_warning(hall: HallSettings, day: date) -> str | None:
    """A loud message for /healthz and the pages when holidays of `day`'s year are unknown."""
    if not holiday_data_missing(hall, day):
        return None
    return (
        f"{day.year} 年法定节假日数据缺失(chinese-calendar 未收录),"
        "暂按周末休息计算;请在登记文件的 closed_days / working_days 中补录国务院放假通知。"
        f" No statutory holiday data for {day.year}: weekends only, plus closed_days/working_days."
    )


def is_working_day(hall: HallSettings, day: date) -> bool:
    """docs/REGISTRY.md: weekday or listed/make-up working day, and not a holiday or closed day."""
    if day in hall.closed_days:
        return False
    if day in hall.working_days:
        return True
    if hall.holidays == "cn":
        official = _cn_official(day)
        if official is not None:
            return official
    return day.weekday() < 5


def next_working_day(hall: HallSettings, day: date, horizon_days: int = 31) -> date:
    """The first working day after `day` (or `day` + horizon if none is found)."""
    for offset in range(1, horizon_days + 1):
        candidate = day + timedelta(days=offset)
        if is_working_day(hall, candidate):
            return candidate
    return day + timedelta(days=horizon_days)


def works_on(entry: RosterEntry, hall: HallSettings, day: date) -> bool:
    """Whether a roster entry puts its person at the window on `day`."""
    if entry.from_date and day < entry.from_date:
        return False
    if entry.until_date and day > entry.until_date:
        return False
    if not is_working_day(hall, day):
        return False
    weekday = WEEKDAYS[day.weekday()]
    if weekday in entry.days:
        return True
    # A make-up Saturday or Sunday: everyone rostered on any day of the week works.
    return day.weekday() >= 5 and bool(entry.days)


def local_midnight(hall: HallSettings, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=hall.tz)


def day_of(hall: HallSettings, at: datetime) -> date:
    """The hall's calendar date of an aware instant."""
    return at.astimezone(hall.tz).date()


def _periods(hall: HallSettings, day: date, periods: tuple[Period, ...]) -> list[Interval]:
    return [
        (datetime.combine(day, start, tzinfo=hall.tz), datetime.combine(day, end, tzinfo=hall.tz))
        for start, end in periods
    ]


def subtract(intervals: list[Interval], holes: list[Interval]) -> list[Interval]:
    """Intervals minus holes, both [start, end)."""
    result = intervals
    for hole_start, hole_end in holes:
        cut: list[Interval] = []
        for start, end in result:
            if hole_end <= start or hole_start >= end:
                cut.append((start, end))
                continue
            if start < hole_start:
                cut.append((start, hole_start))
            if hole_end < end:
                cut.append((hole_end, end))
        result = cut
    return result


def union(intervals: list[Interval]) -> list[Interval]:
    """Merge overlapping or touching intervals, sorted."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def containing(intervals: Sequence[Interval], at: datetime) -> Interval | None:
    """The interval holding `at`, if any."""
    for start, end in intervals:
        if start <= at < end:
            return start, end
    return None


@dataclass(frozen=True)
class Duty:
    """One person's rostered time at one window on one day, leave already taken out."""

    staff: str
    window: str
    periods: tuple[Interval, ...]  # rostered periods (the hall's or the entry's hours)
    intervals: tuple[Interval, ...]  # periods minus leave
    leave: tuple[Interval, ...]  # leave overlapping the periods


class DaySchedule:
    """Who should be at which window when, for one hall day."""

    def __init__(self, registry: Registry, day: date):
        self.registry = registry
        self.day = day
        self.hall = registry.hall
        self.working = is_working_day(self.hall, day)
        self.warning = calendar_warning(self.hall, day)

    @cached_property
    def start(self) -> datetime:
        return local_midnight(self.hall, self.day)

    @cached_property
    def end(self) -> datetime:
        return local_midnight(self.hall, self.day + timedelta(days=1))

    @cached_property
    def hall_periods(self) -> list[Interval]:
        return _periods(self.hall, self.day, self.hall.hours) if self.working else []

    @cached_property
    def duties(self) -> tuple[Duty, ...]:
        leave_by_staff: dict[str, list[Interval]] = {}
        for leave in self.registry.leave:
            if leave.start < self.end and leave.end > self.start:
                leave_by_staff.setdefault(leave.staff, []).append((leave.start, leave.end))
        duties = []
        for staff, window, periods in self._rostered():
            holes = leave_by_staff.get(staff, [])
            on_leave = [
                (max(s, ps), min(e, pe))
                for s, e in holes
                for ps, pe in periods
                if s < pe and e > ps
            ]
            duties.append(
                Duty(
                    staff=staff,
                    window=window,
                    periods=tuple(periods),
                    intervals=tuple(subtract(periods, holes)),
                    leave=tuple(union(on_leave)),
                )
            )
        return tuple(duties)

    def _rostered(self) -> list[tuple[str, str, list[Interval]]]:
        """(staff, window, periods) of each roster line working today, the day's swaps
        applied in file order (leave is the swapped-in person's own, taken out after)."""
        rostered = [
            (
                entry.staff,
                entry.window,
                _periods(self.hall, self.day, entry.hours or self.hall.hours),
            )
            for entry in self.registry.roster
            if entry.staff in self.registry.staff_by_id
            and entry.window in self.registry.window_by_id
            and works_on(entry, self.hall, self.day)
        ]
        for swap in self.registry.swaps:
            if swap.day == self.day:
                rostered = [swapped(swap, *duty) for duty in rostered]
        return rostered

    @cached_property
    def open_intervals(self) -> dict[str, list[Interval]]:
        """Window id → when it should be staffed (someone rostered and not on leave)."""
        by_window: dict[str, list[Interval]] = {w.id: [] for w in self.registry.windows}
        for duty in self.duties:
            by_window.setdefault(duty.window, []).extend(duty.intervals)
        return {window: union(intervals) for window, intervals in by_window.items()}

    @cached_property
    def duties_by_window(self) -> dict[str, tuple[Duty, ...]]:
        """Window id → its duties, in roster order (a window's state looks only at these)."""
        return _group(self.duties, lambda d: d.window)

    @cached_property
    def duties_by_staff(self) -> dict[str, tuple[Duty, ...]]:
        """Staff id → their duties, in roster order."""
        return _group(self.duties, lambda d: d.staff)

    def rostered_at(self, window: str, at: datetime) -> list[str]:
        """Staff rostered at `window` at `at` and not on leave, in roster order."""
        seen: list[str] = []
        for duty in self.duties_by_window.get(window, ()):
            if duty.staff not in seen and containing(duty.intervals, at):
                seen.append(duty.staff)
        return seen

    def on_leave_at(self, window: str, at: datetime) -> list[str]:
        """Staff rostered at `window` at `at` but on leave."""
        return [d.staff for d in self.duties_by_window.get(window, ()) if containing(d.leave, at)]

    def duties_of(self, staff: str) -> list[Duty]:
        return list(self.duties_by_staff.get(staff, ()))


def swapped(
    swap: Swap, staff: str, window: str, periods: list[Interval]
) -> tuple[str, str, list[Interval]]:
    """One roster line's duty after a swap: the other person works it, or it moves to the
    other window."""
    if swap.staff is not None:
        staff = _other(swap.staff, staff)
    if swap.windows is not None:
        window = _other(swap.windows, window)
    return staff, window, periods


def _other(pair: tuple[str, str], one: str) -> str:
    first, second = pair
    return second if one == first else first if one == second else one


def _group(duties: tuple[Duty, ...], key: Callable[[Duty], str]) -> dict[str, tuple[Duty, ...]]:
    grouped: dict[str, list[Duty]] = {}
    for duty in duties:
        grouped.setdefault(key(duty), []).append(duty)
    return {k: tuple(v) for k, v in grouped.items()}
