"""Per-person metrics (docs/API.md): late sign-ins, absences, pull-backs, rostered and leave."""

from tests.unit.hall import at, hall, tap, with_leave
from tests.unit.metrics_day import (
    LI_SI,
    OFFICE,
    OTHER_TRAFFIC,
    W02_CARD,
    person,
)

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
