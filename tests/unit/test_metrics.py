"""Assessment metrics (docs/API.md) from hand-built days of the test hall, in exact minutes."""

from datetime import date, timedelta

from hallwatch.metrics import add_up, department_rows, staff_rows, window_rows
from hallwatch.metrics.day import StaffCounts, WindowMinutes
from hallwatch.metrics.report import minutes, rank, ratio
from hallwatch.metrics.source import DaySummaries, day_parts
from tests.unit.hall import MONDAY, at, hall, seat, status, tap, with_leave
from tests.unit.metrics_day import (
    OFFICE,
    ONLINE,
    TUESDAY,
    W01_CARD,
    W01_DAY,
    W02_CARD,
    W03_CARD,
    summary,
)

ZHANG_SAN, LI_SI, WANG_WU = "04A1B2C3", "04A1B2C4", "04A1B2C5"
OTHER_TRAFFIC = [tap(at("08:00"), W03_CARD, WANG_WU)]  # the hall was collecting that day
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


def person(events, staff="s002", **kwargs) -> dict:
    """One person's report row (docs/API.md) for the day."""
    registry = kwargs.pop("registry", None) or hall()
    day = summary(ONLINE + events, registry=registry, **kwargs)
    return next(r for r in staff_rows(registry, add_up([day])) if r["staff"] == staff)


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


# --- per person -----------------------------------------------------------------------


def test_a_first_sign_in_after_the_period_started_is_late_and_on_the_dot_is_not():
    assert person([tap(at("09:00"), W02_CARD, LI_SI)])["late_sign_ins"] == 0
    assert person([tap(at("08:50"), W02_CARD, LI_SI)])["late_sign_ins"] == 0
    late = person([tap(at("09:05"), W02_CARD, LI_SI)])
    assert (late["late_sign_ins"], late["absences"]) == (1, 0)  # within the absent grace


def test_a_late_sign_in_counts_once_per_day_not_again_after_lunch():
    events = [
        tap(at("09:05"), W02_CARD, LI_SI),
        tap(at("12:00"), W02_CARD, LI_SI, "out"),
        tap(at("13:35"), W02_CARD, LI_SI),
    ]
    assert person(events)["late_sign_ins"] == 1


def test_leave_at_the_start_of_the_day_moves_when_a_sign_in_is_late():
    registry = with_leave(hall(), "s002", at("09:00"), at("10:00"))
    assert person([tap(at("09:55"), W02_CARD, LI_SI)], registry=registry)["late_sign_ins"] == 0
    assert person([tap(at("10:01"), W02_CARD, LI_SI)], registry=registry)["late_sign_ins"] == 1


def test_a_very_late_sign_in_is_late_and_an_absence():
    late = person([tap(at("09:40"), W02_CARD, LI_SI)])
    assert (late["late_sign_ins"], late["absences"]) == (1, 1)


def test_an_absence_through_lunch_is_one_absence():
    assert person(OTHER_TRAFFIC)["absences"] == 1


def test_pulled_back_counts_trips_to_the_office_during_rostered_hours():
    events = [
        tap(at("09:00"), W02_CARD, LI_SI),
        tap(at("10:20"), OFFICE, LI_SI),
        tap(at("10:20", seconds=30), OFFICE, LI_SI),  # the same tap again
        tap(at("10:50"), OFFICE, LI_SI),  # still the same trip: one episode, as the alert
        tap(at("11:10"), W02_CARD, LI_SI),
        tap(at("12:30"), OFFICE, LI_SI),  # lunch
        tap(at("18:00"), OFFICE, LI_SI),  # after hours
    ]
    assert person(events)["pulled_back"] == 1
    second_trip = [*events, tap(at("15:00"), OFFICE, LI_SI)]
    assert person(second_trip)["pulled_back"] == 2


def test_an_office_read_while_on_leave_is_not_pulled_back():
    registry = with_leave(hall(), "s002", at("10:00"), at("11:00"))
    events = [tap(at("09:00"), W02_CARD, LI_SI), tap(at("10:30"), OFFICE, LI_SI)]
    assert person(events, registry=registry)["pulled_back"] == 0


def test_each_count_belongs_to_the_instant_it_happened():
    late_and_absent = [tap(at("09:40"), W02_CARD, LI_SI)]
    before = person(late_and_absent, start=at("09:00"), end=at("09:15"))
    assert (before["late_sign_ins"], before["absences"]) == (0, 0)
    raised = person(late_and_absent, start=at("09:15"), end=at("09:16"))
    assert (raised["late_sign_ins"], raised["absences"]) == (0, 1)  # raised at start + grace
    signed = person(late_and_absent, start=at("09:40"), end=at("09:41"))
    assert (signed["late_sign_ins"], signed["absences"]) == (1, 0)
    assert person(late_and_absent, start=at("11:00"))["rostered_minutes"] == 300.0


def test_a_person_without_roster_has_a_row_of_zeros():
    assert person(OTHER_TRAFFIC, "s003") == {
        "staff": "s003",
        "department": "tax",
        "rostered_minutes": 0.0,
        "leave_minutes": 0.0,
        "late_sign_ins": 0,
        "absences": 0,
        "pulled_back": 0,
    }


# --- departments and months -----------------------------------------------------------


def test_withdrawn_days_count_days_not_windows():
    monday = summary(ONLINE + OTHER_TRAFFIC)
    assert monday.withdrawn == frozenset({"W01", "W02"})
    tuesday_traffic = [tap(at("08:00", TUESDAY), W03_CARD, WANG_WU)]
    tuesday = summary(tuesday_traffic, day=TUESDAY, now=at("02:00", TUESDAY + timedelta(days=1)))
    [civil, _] = department_rows(hall(), add_up([monday, tuesday]))
    assert (civil["department"], civil["withdrawn_days"]) == ("civil", 2)


def test_a_withdrawal_before_the_close_is_not_counted_yet():
    assert summary(ONLINE + OTHER_TRAFFIC, now=at("17:00")).withdrawn == frozenset()


def test_the_department_ratio_is_over_the_sum_of_its_windows():
    events = ONLINE + W01_DAY + [tap(at("09:05"), W02_CARD, LI_SI), tap(at("10:20"), OFFICE, LI_SI)]
    [civil, tax] = department_rows(hall(), add_up([summary(events)]))
    # W01: staffed 390 of 420, empty 20. W02: staffed 09:05–10:20 = 75; after the office read
    # away for the grace, then empty 10:30–12:00 and (the grace again from 13:30) 13:40–17:30.
    assert civil == {
        "department": "civil",
        "name": "民政局",
        "rank": 1,
        "staffed_ratio": 0.554,  # (390 + 75) / 840
        "coverage": 1.0,
        "empty_minutes": 20.0 + 90.0 + 230.0,
        "absences": 2,  # 张三 never signed in; 李四 was not back for the afternoon
        "pulled_back": 1,
        "withdrawn_days": 0,
    }
    assert (tax["department"], tax["rank"], tax["staffed_ratio"]) == ("tax", None, None)


def test_a_month_is_the_sum_of_its_days():
    days = [MONDAY + timedelta(days=n) for n in range(5)]
    summaries = [
        summary(
            [status(at("08:00", d), True), seat(at("09:00", d), True)],
            day=d,
            now=at("02:00", d + timedelta(days=1)),
        )
        for d in days
    ]
    [w01, *_] = window_rows(hall(), add_up(summaries))
    assert (w01["scheduled_minutes"], w01["staffed_minutes"]) == (5 * 420.0, 5 * 420.0)


def test_a_range_is_cut_into_hall_days():
    parts = day_parts(hall().hall, at("10:00"), at("11:00", MONDAY + timedelta(days=2)))
    assert parts == [
        (MONDAY, at("10:00"), at("00:00", TUESDAY)),
        (TUESDAY, at("00:00", TUESDAY), at("00:00", TUESDAY + timedelta(days=1))),
        (
            TUESDAY + timedelta(days=1),
            at("00:00", TUESDAY + timedelta(days=1)),
            at("11:00", TUESDAY + timedelta(days=1)),
        ),
    ]
    assert day_parts(hall().hall, at("10:00"), at("10:00")) == []


# --- ranking and rounding -------------------------------------------------------------


def dept(
    department,
    staffed_ratio,
    withdrawn_days=0,
    empty=0.0,
    absences=0,
    pulled_back=0,
    coverage=1.0,
):
    return {
        "department": department,
        "name": department,
        "rank": None,
        "staffed_ratio": staffed_ratio,
        "coverage": coverage,
        "empty_minutes": empty,
        "absences": absences,
        "pulled_back": pulled_back,
        "withdrawn_days": withdrawn_days,
    }


def test_equal_departments_share_a_rank_and_the_next_rank_skips():
    rows = [
        dept("d", 0.8, empty=10.0),
        dept("b", 0.9, empty=30.0),
        dept("c", 0.9, empty=30.0),
        dept("a", 0.95),
        dept("e", None),
        dept("f", 0.9, empty=30.0, absences=1),
    ]
    ranked = [(r["department"], r["rank"]) for r in rank(rows)]
    assert ranked == [("a", 1), ("b", 2), ("c", 2), ("f", 4), ("d", 5), ("e", None)]


def test_a_department_measured_less_than_95_percent_of_its_time_is_not_ranked():
    rows = [
        dept("full", 0.80),
        dept("unplugged", 1.0, coverage=0.949),  # an unplugged sensor must not lift it
        dept("edge", 0.85, coverage=0.95),
        dept("half", 0.99, coverage=0.5),
    ]
    ranked = [(r["department"], r["rank"]) for r in rank(rows)]
    # The unranked follow the ranked, best covered first, each with its coverage.
    assert ranked == [("edge", 1), ("full", 2), ("unplugged", None), ("half", None)]


def test_ties_on_the_ratio_are_broken_by_withdrawals_then_empty_time_absences_pull_backs():
    rows = [
        dept("p", 0.9, pulled_back=2),
        dept("a", 0.9, absences=1),
        dept("e", 0.9, empty=5.0),
        dept("w", 0.9, withdrawn_days=1),
        dept("z", 0.9),
    ]
    assert [r["department"] for r in rank(rows)] == ["z", "p", "a", "e", "w"]


def test_minutes_and_ratios_are_rounded_half_up_from_exact_time():
    assert minutes(timedelta(seconds=3)) == 0.1  # 0.05 minutes
    assert minutes(timedelta(seconds=2, microseconds=999_999)) == 0.0
    assert minutes(timedelta(minutes=420)) == 420.0
    assert ratio(timedelta(minutes=1), timedelta(minutes=2000)) == 0.001  # 0.0005
    assert ratio(timedelta(minutes=1), timedelta(0)) is None
    assert WindowMinutes(timedelta(minutes=5)) + WindowMinutes(unknown=timedelta(minutes=1)) == (
        WindowMinutes(timedelta(minutes=5), unknown=timedelta(minutes=1))
    )
    assert StaffCounts(absences=1) + StaffCounts(absences=2) == StaffCounts(absences=3)


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
