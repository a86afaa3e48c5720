"""A calendar month of day summaries: its bounds, each person's days as one mark, worst days.

Pure. The report page (`web.reports_page`) shows a month as a calendar of
each person's days; a `DaySummary` already holds everything a mark needs
(the person's `StaffCounts` of the day, and whether the hall was collecting),
so a mark is a function of one summary and can never disagree with the report
numbers of the same month. The windows a person was rostered at come from the
day's schedule (`DaySchedule`), for links to that window's day.

A day's mark, first match wins:

- `future`: the day has no summary (it has not begun);
- `no_duty`: the person was not rostered (the summary has no counts for them);
- `leave`: approved leave covered all of their rostered time so far;
- `unknown`: the hall was not collecting that day (no device event at all);
- `pulled_back`, `absent`, `late`: at least one such incident, in that order
  (as the department page words a person's day);
- `pending`: rostered, but none of their rostered time has come yet (today);
- `normal`: on duty with none of the above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from hallwatch.metrics.day import ZERO, DaySummary, StaffCounts
from hallwatch.registry.spec import HallSettings, Registry
from hallwatch.schedule import DaySchedule, local_midnight

MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
EARLIEST_YEAR = 2000  # nothing older is stored: reports refuse earlier months

DayMark = Literal[
    "normal", "late", "absent", "pulled_back", "leave", "pending", "unknown", "no_duty", "future"
]
DAY_MARKS: tuple[DayMark, ...] = (
    "normal",
    "late",
    "absent",
    "pulled_back",
    "leave",
    "pending",
    "unknown",
    "no_duty",
    "future",
)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, written YYYY-MM."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 1 <= self.year <= 9999):
            raise ValueError(f"no such month: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """`YYYY-MM`; ValueError for anything else."""
        match = MONTH_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a month (YYYY-MM): {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return self.next().first - timedelta(days=1)

    def plus(self, months: int) -> Month:
        """The month `months` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def next(self) -> Month:
        return self.plus(1)

    def previous(self) -> Month:
        return self.plus(-1)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.last.day)]

    @classmethod
    def of_report(cls, text: str) -> Month:
        """A month a report may ask for (`YYYY-MM`, from EARLIEST_YEAR); ValueError saying why."""
        match = MONTH_RE.fullmatch(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"must be a month such as 2026-11 (YYYY-MM), got {text!r}")
        if int(match[1]) < EARLIEST_YEAR:
            raise ValueError(f"must not be before {EARLIEST_YEAR}-01, got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def bounds(self, hall: HallSettings) -> tuple[datetime, datetime]:
        """[start, end) of the month in hall time."""
        return local_midnight(hall, self.first), local_midnight(hall, self.next().first)


@dataclass(frozen=True)
class CalendarCell:
    """One person's day in the month's calendar."""

    day: date
    mark: DayMark
    counts: StaffCounts  # the day's (zero when not rostered or not yet come)
    windows: tuple[str, ...] = ()  # the windows rostered for the day, in roster order


def day_mark(summary: DaySummary | None, staff_id: str) -> DayMark:
    """The one mark of a person's day (see the module's docstring for the order)."""
    if summary is None:
        return "future"
    counts = summary.staff.get(staff_id)
    if counts is None:
        return "no_duty"
    if counts.rostered > ZERO and counts.leave >= counts.rostered:
        return "leave"
    if not summary.collected:
        return "unknown"
    if counts.pulled_back:
        return "pulled_back"
    if counts.absences:
        return "absent"
    if counts.late_sign_ins:
        return "late"
    if counts.rostered <= ZERO:
        return "pending"
    return "normal"


def month_calendar(
    registry: Registry, month: Month, summaries: Iterable[DaySummary], staff_ids: Sequence[str]
) -> dict[str, list[CalendarCell]]:
    """Staff id → one cell per day of `month` (the summaries of days not yet come are absent)."""
    by_day = {s.day: s for s in summaries}
    calendar: dict[str, list[CalendarCell]] = {staff: [] for staff in staff_ids}
    for day in month.days():
        summary = by_day.get(day)
        schedule = DaySchedule(registry, day) if summary is not None else None
        for staff in staff_ids:
            mark = day_mark(summary, staff)
            counts = summary.staff.get(staff, StaffCounts()) if summary else StaffCounts()
            windows: tuple[str, ...] = ()
            if schedule is not None and mark not in ("no_duty", "future"):
                windows = tuple(dict.fromkeys(d.window for d in schedule.duties_of(staff)))
            calendar[staff].append(CalendarCell(day, mark, counts, windows))
    return calendar


def worst_days(summaries: Iterable[DaySummary], window_ids: Iterable[str]) -> dict[str, date]:
    """Window id → the day it stood empty longest (the earliest of equals); never empty: absent."""
    wanted = set(window_ids)
    worst: dict[str, tuple[timedelta, date]] = {}
    for summary in sorted(summaries, key=lambda s: s.day):
        for window, minutes in summary.windows.items():
            if window in wanted and minutes.empty > worst.get(window, (ZERO, None))[0]:
                worst[window] = (minutes.empty, summary.day)
    return {window: day for window, (_, day) in worst.items()}
