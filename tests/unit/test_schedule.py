from datetime import date

from hallwatch.registry.spec import HallSettings, RosterEntry
from hallwatch.schedule import (
    DaySchedule,
    calendar_warning,
    is_working_day,
    subtract,
    union,
    works_on,
)
from tests.unit.hall import MONDAY, WEEKDAYS, at, hall, with_leave

CN = HallSettings()
NONE = HallSettings(holidays="none")
NATIONAL_DAY = date(2026, 10, 1)  # a Thursday, statutory holiday
MAKE_UP_SATURDAY = date(2026, 10, 10)  # 调休: a working Saturday
PLAIN_SATURDAY = date(2026, 11, 28)


def test_a_weekday_is_a_working_day():
    assert is_working_day(CN, MONDAY)


def test_a_statutory_holiday_closes_the_hall():
    assert not is_working_day(CN, NATIONAL_DAY)
    assert is_working_day(NONE, NATIONAL_DAY)  # holidays: none means weekends only


def test_a_make_up_saturday_opens_the_hall():
    assert is_working_day(CN, MAKE_UP_SATURDAY)
    assert not is_working_day(CN, PLAIN_SATURDAY)
    assert not is_working_day(NONE, MAKE_UP_SATURDAY)


def test_registry_closed_and_working_days_override_everything():
    settings = HallSettings(
        closed_days=frozenset({MONDAY}), working_days=frozenset({PLAIN_SATURDAY})
    )
    assert not is_working_day(settings, MONDAY)
    assert is_working_day(settings, PLAIN_SATURDAY)


def test_a_year_the_library_lacks_falls_back_to_weekends_and_warns():
    monday_2027 = date(2027, 1, 4)
    assert is_working_day(CN, monday_2027)
    assert not is_working_day(CN, date(2027, 1, 2))
    assert "2027" in calendar_warning(CN, monday_2027)
    assert calendar_warning(CN, MONDAY) is None
    extra = HallSettings(closed_days=frozenset({monday_2027}))
    assert not is_working_day(extra, monday_2027)


def test_everyone_rostered_on_a_weekday_works_a_make_up_saturday():
    entry = RosterEntry("s001", "W01", frozenset({"mon"}))
    assert works_on(entry, CN, MAKE_UP_SATURDAY)
    assert not works_on(entry, CN, PLAIN_SATURDAY)
    assert not works_on(RosterEntry("s001", "W01", frozenset({"tue"})), CN, MONDAY)


def test_roster_dates_bound_the_entry():
    entry = RosterEntry("s001", "W01", WEEKDAYS, from_date=date(2026, 11, 24))
    assert not works_on(entry, CN, MONDAY)
    assert works_on(entry, CN, date(2026, 11, 24))


def test_the_lunch_break_is_not_open_time():
    schedule = DaySchedule(hall(), MONDAY)
    assert schedule.open_intervals["W01"] == [
        (at("09:00"), at("12:00")),
        (at("13:30"), at("17:30")),
    ]
    assert schedule.rostered_at("W01", at("12:30")) == []
    assert schedule.rostered_at("W01", at("13:30")) == ["s001"]


def test_leave_takes_its_hours_out_of_the_window():
    registry = with_leave(hall(), "s001", at("09:00"), at("10:30"))
    schedule = DaySchedule(registry, MONDAY)
    assert schedule.open_intervals["W01"][0] == (at("10:30"), at("12:00"))
    assert schedule.on_leave_at("W01", at("10:00")) == ["s001"]
    assert schedule.rostered_at("W01", at("10:00")) == []


def test_a_window_without_roster_is_never_open():
    assert DaySchedule(hall(), MONDAY).open_intervals["W03"] == []


def test_interval_arithmetic():
    a, b, c, d = at("09:00"), at("10:00"), at("11:00"), at("12:00")
    assert subtract([(a, d)], [(b, c)]) == [(a, b), (c, d)]
    assert union([(c, d), (a, b), (b, c)]) == [(a, d)]
