from datetime import date, datetime, time

from console.demo.clock import fit_to_now
from hallwatch.schedule import DaySchedule
from simulator.dayplan import plan_day
from tests.unit.hall import MONDAY, at, hall

SATURDAY = date(2026, 11, 28)


def test_a_demo_started_during_opening_hours_keeps_the_real_calendar():
    fitted, notes = fit_to_now(hall(), at("10:00"))
    assert fitted == hall() and notes == []


def test_a_demo_started_on_a_saturday_evening_opens_the_hall_now():
    now = at("21:05", day=SATURDAY)
    fitted, notes = fit_to_now(hall(), now)
    assert len(notes) == 2
    assert fitted.hall.hours[0] == (time(20, 5), time(23, 5))
    schedule = DaySchedule(fitted, SATURDAY)
    assert schedule.rostered_at("W01", now) == ["s001"]


def test_periods_never_cross_midnight():
    fitted, _ = fit_to_now(hall(), at("23:50", day=MONDAY))
    assert all(start < end for start, end in fitted.hall.hours)
    assert all(end <= time(23, 59) for _, end in fitted.hall.hours)


def test_a_demo_started_on_a_listed_closed_day_still_opens_the_hall():
    closed = hall(closed_days=frozenset({MONDAY}))
    fitted, _ = fit_to_now(closed, at("10:00"))
    assert DaySchedule(fitted, MONDAY).rostered_at("W01", at("10:00")) == ["s001"]


def test_a_demo_started_just_after_midnight_opens_late_enough_for_the_arrivals():
    """Started at 00:37, the morning may not begin at midnight: the simulator's people arrive
    up to 20 minutes before opening, and those taps would fall on the day before."""
    now = at("00:37", day=SATURDAY)
    fitted, notes = fit_to_now(hall(), now)
    assert fitted.hall.hours[0][0] == time(0, 30)
    assert "00:30" in notes[-1]
    plan = plan_day(fitted, SATURDAY, seed=1)
    taps = [m for m in plan.messages if "card" in m.topic or "reader" in m.topic]
    assert taps and all(m.at.date() == SATURDAY for m in plan.messages)
    first_in = min(m.at for m in taps)
    assert first_in >= datetime.combine(SATURDAY, time(0, 0), tzinfo=fitted.hall.tz)
