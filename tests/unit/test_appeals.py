"""Accepted appeals applied to the report totals (hallwatch.metrics.appeals), in exact minutes."""

from datetime import timedelta

from hallwatch.metrics import add_up, department_rows, window_rows
from hallwatch.metrics.appeals import (
    Adjustment,
    adjust,
    appealed,
    episode_count,
    from_microseconds,
    mark_rows,
    published,
    stretch_minutes,
    to_microseconds,
    within,
)
from hallwatch.metrics.day import StaffCounts, WindowMinutes
from hallwatch.metrics.report import Totals
from hallwatch.registry.appeals import ABSENCE, PULLED_BACK, WINDOW
from tests.unit.hall import MONDAY, at, hall, tap
from tests.unit.metrics_day import NEXT_MORNING, OFFICE, ONLINE, W01_DAY, W02_CARD, summary

LI_SI = "04A1B2C4"


def m(scheduled=0, staffed=0, away=0, empty=0, unknown=0) -> WindowMinutes:
    return WindowMinutes(
        *(timedelta(minutes=x) for x in (scheduled, staffed, away, empty, unknown))
    )


def stretch(minutes: WindowMinutes, window="W01", appeal=1) -> Adjustment:
    return Adjustment(appeal, WINDOW, MONDAY, at("10:00"), "civil", window=window, minutes=minutes)


def excuse(subject: str, staff="s002", count=1, appeal=2) -> Adjustment:
    return Adjustment(appeal, subject, MONDAY, at("10:20"), "civil", staff=staff, count=count)


def test_an_excused_stretch_leaves_scheduled_and_its_state():
    totals = Totals(windows={"W01": m(420, staffed=390, away=10, empty=20)})
    adjusted = adjust(totals, [stretch(m(30, away=10, empty=20))])
    assert adjusted.windows["W01"] == m(390, staffed=390)
    assert totals.windows["W01"] == m(420, staffed=390, away=10, empty=20)  # left as it was
    [row] = [r for r in window_rows(hall(), adjusted) if r["window"] == "W01"]
    assert (row["scheduled_minutes"], row["empty_minutes"], row["staffed_ratio"]) == (
        390.0,
        0.0,
        1.0,
    )


def test_an_adjustment_never_goes_below_zero():
    totals = Totals(windows={"W01": m(10, empty=10)}, staff={"s002": StaffCounts(absences=1)})
    adjusted = adjust(
        totals, [stretch(m(30, empty=30)), excuse(ABSENCE, count=2), excuse(PULLED_BACK)]
    )
    assert adjusted.windows["W01"] == m()
    assert adjusted.staff["s002"] == StaffCounts()


def test_excused_incidents_leave_the_person_and_the_department():
    totals = Totals(staff={"s002": StaffCounts(absences=2, pulled_back=3, late_sign_ins=1)})
    adjusted = adjust(totals, [excuse(ABSENCE), excuse(PULLED_BACK, count=2, appeal=3)])
    assert adjusted.staff["s002"] == StaffCounts(absences=1, pulled_back=1, late_sign_ins=1)
    civil = next(r for r in department_rows(hall(), adjusted) if r["department"] == "civil")
    assert (civil["absences"], civil["pulled_back"]) == (1, 1)


def test_an_appeal_belongs_to_its_instant():
    a = stretch(m(30, empty=30))
    assert within([a], at("10:00"), at("10:01")) == [a]
    assert within([a], at("09:00"), at("10:00")) == []


def test_rows_keep_the_original_beside_the_adjusted_figure():
    totals = add_up([summary(ONLINE + W01_DAY)])
    adjustments = [stretch(m(30, away=10, empty=20))]
    rows = mark_rows(
        window_rows(hall(), adjust(totals, adjustments)),
        window_rows(hall(), totals),
        "window",
        appealed(adjustments, "window"),
    )
    w01, w02 = rows[0], rows[1]
    assert (w01["appealed"], w01["empty_minutes"], w01["original"]["empty_minutes"]) == (
        True,
        0.0,
        20.0,
    )
    assert "appealed" not in w01["original"]
    assert (w02["appealed"], w02["original"]) == (False, None)
    assert appealed(adjustments, "department") == {"civil"}
    assert appealed(adjustments, "staff") == set()


def test_published_rows_rank_on_the_adjusted_figures():
    totals = Totals(
        windows={"W01": m(420, staffed=210, empty=210), "W03": m(420, staffed=300, empty=120)}
    )
    plain = published(department_rows, "department", hall(), totals, [])
    assert [(r["department"], r["appealed"], r["original"]) for r in plain] == [
        ("tax", False, None),
        ("civil", False, None),
    ]
    adjustments = [stretch(m(210, empty=210))]
    rows = published(department_rows, "department", hall(), totals, adjustments)
    assert [(r["department"], r["rank"], r["appealed"]) for r in rows] == [
        ("civil", 1, True),
        ("tax", 2, False),
    ]
    assert (rows[0]["original"]["rank"], rows[0]["original"]["staffed_ratio"]) == (2, 0.5)


def test_the_snapshot_is_the_stretch_as_the_reports_count_it():
    # Staffed to 10:00, away for the 10-minute grace, empty until 10:30, staffed again.
    got = stretch_minutes(
        hall(), ONLINE + W01_DAY, MONDAY, "W01", at("09:50"), at("10:40"), NEXT_MORNING
    )
    assert got == m(50, staffed=20, away=10, empty=20)
    assert from_microseconds(to_microseconds(got)) == got


def test_a_stretch_of_a_day_not_collected_excuses_nothing():
    # Nobody is scheduled on a working day HallWatch was not collecting.
    got = stretch_minutes(hall(), [], MONDAY, "W01", at("09:00"), at("10:00"), NEXT_MORNING)
    assert got == m()


def test_an_episode_is_one_incident_while_the_rules_find_it():
    # 李四 signs in at W02, is read at the office at 10:20 (a pull-back) and never
    # returns: an absence in the afternoon.
    events = ONLINE + [tap(at("09:05"), W02_CARD, LI_SI), tap(at("10:20"), OFFICE, LI_SI)]
    pulled = f"pulled_back:s002:{at('10:20').isoformat(timespec='seconds')}"
    absent = f"absent:s002:W02:{at('13:30').isoformat(timespec='seconds')}"
    args = (hall(), events, MONDAY)
    assert episode_count(*args, PULLED_BACK, pulled, NEXT_MORNING) == 1
    assert episode_count(*args, ABSENCE, absent, NEXT_MORNING) == 1
    assert episode_count(*args, ABSENCE, "absent:nope", NEXT_MORNING) == 0


def test_nothing_to_excuse_on_a_day_without_events():
    key = f"pulled_back:s002:{at('10:20').isoformat(timespec='seconds')}"
    assert episode_count(hall(), [], MONDAY, PULLED_BACK, key, NEXT_MORNING) == 0
