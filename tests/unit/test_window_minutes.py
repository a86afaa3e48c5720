"""Window minutes (docs/API.md): a hand-built day of the test hall split by state, exactly."""

from datetime import date

from hallwatch.metrics import add_up, window_rows
from hallwatch.metrics.report import minutes
from tests.unit.hall import at, hall, seat, status, tap, with_leave
from tests.unit.metrics_day import (
    LI_SI,
    OFFICE,
    ONLINE,
    TUESDAY,
    W01_CARD,
    W01_DAY,
    W02_CARD,
    ZHANG_SAN,
    person,
    summary,
)

NATIONAL_DAY = date(2026, 10, 1)
MAKE_UP_SATURDAY = date(2026, 10, 10)


def window_minutes(events, window="W01", online=True, **kwargs) -> dict:
    """The window's minutes (scheduled, staffed, away, empty, unknown) as published."""
    m = summary((ONLINE if online else []) + events, **kwargs).windows[window]
    return {
        "scheduled": minutes(m.scheduled),
        "staffed": minutes(m.staffed),
        "away": minutes(m.away),
        "empty": minutes(m.empty),
        "unknown": minutes(m.unknown),
    }


def mins(scheduled, staffed=0.0, away=0.0, empty=0.0, unknown=0.0) -> dict:
    return dict(scheduled=scheduled, staffed=staffed, away=away, empty=empty, unknown=unknown)


# --- window minutes -------------------------------------------------------------------


def test_a_working_day_splits_the_opening_hours_by_state():
    # 09:00–12:00 and 13:30–17:30 = 420 minutes; away for the 10-minute grace, then empty.
    assert window_minutes(W01_DAY) == mins(420, staffed=390, away=10, empty=20)
    [row] = [
        r for r in window_rows(hall(), add_up([summary(ONLINE + W01_DAY)])) if r["window"] == "W01"
    ]
    assert row == {
        "window": "W01",
        "department": "civil",
        "scheduled_minutes": 420.0,
        "staffed_minutes": 390.0,
        "away_minutes": 10.0,
        "empty_minutes": 20.0,
        "unknown_minutes": 0.0,
        "staffed_ratio": 0.929,  # 390 / 420
        "coverage": 1.0,
    }


def test_a_window_without_seat_sensor_is_staffed_while_someone_is_signed_in():
    assert window_minutes([tap(at("09:05"), W02_CARD, LI_SI)], "W02") == mins(
        420, staffed=415, away=5
    )


def test_a_range_boundary_cutting_a_segment_counts_only_the_part_inside():
    cut = window_minutes(W01_DAY, start=at("09:30"), end=at("10:15"))
    assert cut == mins(45, staffed=30, away=10, empty=5)
    seconds = window_minutes(W01_DAY, start=at("09:59", seconds=30), end=at("10:00", seconds=30))
    assert seconds == mins(1, staffed=0.5, away=0.5)


def test_a_state_change_exactly_at_the_range_edge_belongs_to_the_later_range():
    assert window_minutes(W01_DAY, start=at("09:00"), end=at("10:00")) == mins(60, staffed=60)
    assert window_minutes(W01_DAY, start=at("10:00"), end=at("10:10")) == mins(10, away=10)
    assert window_minutes(W01_DAY, start=at("10:10"), end=at("10:10")) == mins(0)


def test_the_lunch_break_and_the_night_are_not_scheduled():
    assert window_minutes(W01_DAY, start=at("11:00"), end=at("14:00")) == mins(90, staffed=90)
    assert window_minutes(W01_DAY, start=at("17:30"), end=at("23:59")) == mins(0)


def test_leave_takes_its_time_out_of_the_window_and_is_the_persons_leave():
    registry = with_leave(hall(), "s001", at("09:00"), at("10:00"))
    assert window_minutes(W01_DAY, registry=registry) == mins(360, staffed=330, away=10, empty=20)
    zhang = person(W01_DAY, "s001", registry=registry)
    assert (zhang["rostered_minutes"], zhang["leave_minutes"]) == (420.0, 60.0)


def test_a_window_whose_only_worker_is_on_leave_all_day_has_no_ratio():
    registry = with_leave(hall(), "s002", at("00:00"), at("00:00", TUESDAY))
    day = summary(ONLINE + [tap(at("09:30"), W02_CARD, LI_SI)], registry=registry)
    [w02] = [r for r in window_rows(registry, add_up([day])) if r["window"] == "W02"]
    assert (w02["scheduled_minutes"], w02["staffed_ratio"]) == (0.0, None)
    li = person([tap(at("09:30"), W02_CARD, LI_SI)], registry=registry)
    assert (li["leave_minutes"], li["late_sign_ins"], li["absences"]) == (420.0, 0, 0)


def test_an_offline_sensor_is_unknown_and_left_out_of_the_ratio():
    events = [seat(at("09:00"), True), status(at("11:00"), False), status(at("14:00"), True)]
    assert window_minutes(events) == mins(420, staffed=330, unknown=90)
    [row] = [
        r for r in window_rows(hall(), add_up([summary(ONLINE + events)])) if r["window"] == "W01"
    ]
    assert row["staffed_ratio"] == 1.0  # 330 / (420 − 90)


def test_a_sensor_that_never_reported_is_unknown_all_day_and_has_no_ratio():
    events = [tap(at("09:00"), W01_CARD, ZHANG_SAN)]
    assert window_minutes(events, online=False) == mins(420, unknown=420)
    rows = window_rows(hall(), add_up([summary(events)]))
    assert rows[0]["staffed_ratio"] is None


def test_a_statutory_holiday_has_no_minutes_and_a_make_up_saturday_has_them():
    holiday = [status(at("08:00", NATIONAL_DAY), True), seat(at("09:00", NATIONAL_DAY), True)]
    assert window_minutes(
        holiday, online=False, day=NATIONAL_DAY, now=at("23:00", NATIONAL_DAY)
    ) == mins(0)
    assert person(holiday, "s001", day=NATIONAL_DAY)["rostered_minutes"] == 0.0
    saturday = [
        status(at("08:00", MAKE_UP_SATURDAY), True),
        seat(at("09:00", MAKE_UP_SATURDAY), True),
    ]
    on_saturday = window_minutes(
        saturday, online=False, day=MAKE_UP_SATURDAY, now=at("23:00", MAKE_UP_SATURDAY)
    )
    assert on_saturday == mins(420, staffed=420)


def test_a_day_without_any_device_event_is_not_scheduled_and_listed_apart():
    day = summary([])
    assert not day.collected and day.working and day.not_collected
    # Not unknown either: that would lower everyone's coverage for a day HallWatch was down,
    # and a badge-only window would otherwise read as empty all day.
    assert {w: minutes(m.scheduled) for w, m in day.windows.items()} == {
        "W01": 0.0,
        "W02": 0.0,
        "W03": 0.0,
    }
    assert all(c.absences == 0 for c in day.staff.values()) and day.withdrawn == frozenset()


def test_nothing_is_counted_after_now():
    assert window_minutes(W01_DAY, now=at("10:15")) == mins(75, staffed=60, away=10, empty=5)
    assert summary(ONLINE + W01_DAY, now=at("10:15")).end == at("10:15")


def test_half_days_add_up_to_the_whole_day():
    events = ONLINE + W01_DAY + [tap(at("09:40"), W02_CARD, LI_SI), tap(at("10:20"), OFFICE, LI_SI)]
    whole = add_up([summary(events)])
    halves = add_up([summary(events, end=at("10:05")), summary(events, start=at("10:05"))])
    assert halves == whole
