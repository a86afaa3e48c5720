"""The report page's month: its bounds, each person's days as one mark, each window's worst day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from hallwatch.metrics import day_summary
from hallwatch.metrics.day import DaySummary, StaffCounts, WindowMinutes
from hallwatch.metrics.month import Month, day_mark, month_calendar, worst_days
from hallwatch.registry.spec import HallSettings, Registry, RosterEntry
from tests.unit.hall import MONDAY, TZ, at, hall, seat, tap

NOVEMBER = Month(2026, 11)
HOUR = timedelta(hours=1)
TUESDAY = MONDAY + timedelta(days=1)


def day_of_counts(collected: bool = True, day: date = MONDAY, **staff: StaffCounts) -> DaySummary:
    start = datetime.combine(day, datetime.min.time(), tzinfo=TZ)
    return DaySummary(day, start, start + timedelta(days=1), collected, staff=staff)


def rostered(**counts) -> StaffCounts:
    return StaffCounts(rostered=7 * HOUR, **counts)


@pytest.mark.parametrize(
    ("text", "month"),
    [("2026-11", Month(2026, 11)), (" 2026-01 ", Month(2026, 1)), ("2000-12", Month(2000, 12))],
)
def test_a_month_is_written_yyyy_mm(text, month):
    assert Month.parse(text) == month
    assert str(month) == text.strip()


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "2026-11-01", "11/2026", ""])
def test_anything_else_is_not_a_month(text):
    with pytest.raises(ValueError):
        Month.parse(text)


def test_months_follow_each_other_across_the_year():
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2027, 1).previous() == Month(2026, 12)
    assert Month(2026, 3).previous() == Month(2026, 2)
    assert Month(2026, 11) < Month(2026, 12) < Month(2027, 1)
    assert Month.of(date(2026, 11, 28)) == NOVEMBER
    assert NOVEMBER.plus(-23) == Month(2024, 12) and NOVEMBER.plus(14) == Month(2028, 1)


def test_a_month_has_its_days_and_hall_time_bounds():
    assert Month(2028, 2).days()[-1] == date(2028, 2, 29)  # a leap year
    assert len(NOVEMBER.days()) == 30 and NOVEMBER.last == date(2026, 11, 30)
    start, end = NOVEMBER.bounds(HallSettings())
    assert start.isoformat() == "2026-11-01T00:00:00+08:00"
    assert end.isoformat() == "2026-12-01T00:00:00+08:00"


@pytest.mark.parametrize(
    ("counts", "mark"),
    [
        (rostered(), "normal"),
        (rostered(late_sign_ins=1), "late"),
        (rostered(late_sign_ins=1, absences=1), "absent"),
        (rostered(absences=1, pulled_back=2), "pulled_back"),
        (rostered(leave=7 * HOUR), "leave"),
        (rostered(leave=HOUR, late_sign_ins=1), "late"),  # leave for a part of the day
        (StaffCounts(), "pending"),  # today, before their first period
    ],
)
def test_the_worst_of_a_persons_day_is_its_mark(counts, mark):
    assert day_mark(day_of_counts(s001=counts), "s001") == mark


def test_a_day_without_a_summary_has_not_come_and_one_without_counts_had_no_duty():
    assert day_mark(None, "s001") == "future"
    assert day_mark(day_of_counts(s002=rostered()), "s001") == "no_duty"


def test_a_day_the_hall_was_not_collecting_is_unknown_but_leave_is_still_leave():
    assert day_mark(day_of_counts(False, s001=rostered()), "s001") == "unknown"
    assert day_mark(day_of_counts(False, s001=rostered(leave=7 * HOUR)), "s001") == "leave"


def test_the_calendar_marks_each_day_of_the_month_from_the_real_summaries():
    registry = hall()
    # Monday: 张三 signs in 10 minutes late at W01; 李四 signs in at 09:00, then is read at
    # the office.
    monday = day_summary(
        registry,
        [
            seat(at("08:00"), True),
            tap(at("09:00"), "desk-w02-card", "04A1B2C4"),
            tap(at("09:10"), "desk-w01-card"),  # within the absence grace
            tap(at("10:00"), "office-civil", "04A1B2C4"),
        ],
        MONDAY,
        at("02:00", TUESDAY),
    )
    tuesday = day_summary(registry, [], TUESDAY, at("12:00", TUESDAY))  # nothing came in
    calendar = month_calendar(registry, NOVEMBER, [monday, tuesday], ["s001", "s002", "s003"])
    assert [len(days) for days in calendar.values()] == [30, 30, 30]
    zhang, li, wang = (calendar[s] for s in ("s001", "s002", "s003"))
    assert (zhang[22].day, zhang[22].mark, zhang[22].windows) == (MONDAY, "late", ("W01",))
    assert zhang[22].counts.late_sign_ins == 1
    assert (li[22].mark, li[22].windows) == ("pulled_back", ("W02",))
    assert (zhang[23].mark, zhang[23].windows) == ("unknown", ("W01",))
    assert wang[22].mark == "no_duty" and wang[22].windows == ()  # 王五 has no roster entry
    assert zhang[0].mark == "future" and zhang[29].mark == "future"  # no summaries for them


def test_the_calendar_names_every_window_of_a_person_once():
    base = hall()
    registry = Registry(
        base.hall,
        base.departments,
        base.windows,
        base.staff,
        base.devices,
        (
            RosterEntry("s001", "W01", frozenset({"mon"})),
            RosterEntry("s001", "W02", frozenset({"mon"})),
            RosterEntry("s001", "W01", frozenset({"mon"})),
        ),
    )
    summary = day_of_counts(s001=rostered())
    [cells] = month_calendar(registry, NOVEMBER, [summary], ["s001"]).values()
    assert cells[22].windows == ("W01", "W02")


def test_a_windows_worst_day_is_its_longest_empty_one_the_earliest_of_equals():
    def empty(day: date, **minutes: float) -> DaySummary:
        start = datetime.combine(day, datetime.min.time(), tzinfo=TZ)
        windows = {w: WindowMinutes(empty=timedelta(minutes=m)) for w, m in minutes.items()}
        return DaySummary(day, start, start, True, windows=windows)

    days = [
        empty(date(2026, 11, 3), W01=30, W02=0),
        empty(date(2026, 11, 2), W01=10, W02=0, W03=5),
        empty(date(2026, 11, 4), W01=30, W02=0, W03=5),
    ]
    assert worst_days(days, ["W01", "W02", "W03"]) == {
        "W01": date(2026, 11, 3),
        "W03": date(2026, 11, 2),
    }
    assert worst_days(days, ["W03"]) == {"W03": date(2026, 11, 2)}
