"""Department metrics (docs/API.md): withdrawn days, the department ratio, months, hall days."""

from datetime import timedelta

from hallwatch.metrics import add_up, department_rows, window_rows
from hallwatch.metrics.source import day_parts
from tests.unit.hall import MONDAY, at, hall, seat, status, tap
from tests.unit.metrics_day import (
    LI_SI,
    OFFICE,
    ONLINE,
    OTHER_TRAFFIC,
    TUESDAY,
    W01_DAY,
    W02_CARD,
    W03_CARD,
    WANG_WU,
    summary,
)

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
