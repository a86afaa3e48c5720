"""Department ranking, its ties and coverage threshold, and rounding minutes and ratios half up."""

from datetime import timedelta

from hallwatch.metrics.day import StaffCounts, WindowMinutes
from hallwatch.metrics.report import minutes, rank, ratio

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
