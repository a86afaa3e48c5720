from datetime import timedelta

from hallwatch.state import hall_at
from tests.unit.hall import MONDAY, at, hall, seat, status, tap, with_leave

OFFICE = "office-civil"
ONLINE = [status(at("08:00"), True)]  # the seat sensor announced itself


def window(registry, events, when, window_id="W01", online=True):
    state = hall_at(registry, (ONLINE if online else []) + events, when)
    return next(w for w in state.windows if w.window == window_id)


def test_an_occupied_seat_is_staffed_since_it_was_taken():
    w = window(hall(), [seat(at("09:02"), True)], at("10:20"))
    assert (w.state, w.since) == ("staffed", at("09:02"))
    assert w.rostered == ("s001",)


def test_a_seat_taken_before_opening_is_staffed_since_opening():
    w = window(hall(), [seat(at("08:50"), True)], at("09:10"))
    assert (w.state, w.since) == ("staffed", at("09:00"))


def test_a_seat_empty_less_than_the_grace_is_away_then_empty():
    events = [seat(at("09:00"), True), seat(at("10:00"), False)]
    assert window(hall(), events, at("10:09", seconds=59)).state == "away"
    w = window(hall(), events, at("10:10"))
    assert (w.state, w.since) == ("empty", at("10:00"))


def test_the_grace_runs_from_the_start_of_the_period_when_the_seat_emptied_before_it():
    events = [seat(at("09:00"), True), seat(at("11:55"), False)]
    assert window(hall(), events, at("13:35")).state == "away"
    w = window(hall(), events, at("13:40"))
    assert (w.state, w.since) == ("empty", at("11:55"))


def test_outside_hours_lunch_and_holidays_the_window_is_closed():
    events = [seat(at("09:00"), True)]
    assert window(hall(), events, at("08:59")).state == "closed"
    lunch = window(hall(), events, at("12:30"))
    assert (lunch.state, lunch.since) == ("closed", at("12:00"))
    from datetime import date

    national_day = date(2026, 10, 1)
    assert window(hall(), [], at("10:00", day=national_day)).state == "closed"


def test_a_window_with_nobody_rostered_is_closed():
    assert window(hall(), [], at("10:00"), "W03").state == "closed"


def test_a_window_whose_only_worker_is_on_leave_is_closed():
    registry = with_leave(hall(), "s001", at("09:00"), at("12:00"))
    w = window(registry, [], at("10:00"))
    assert (w.state, w.on_leave) == ("closed", ("s001",))
    assert window(registry, [seat(at("13:00"), False)], at("13:45")).state == "empty"


def test_a_sensor_that_never_reported_occupancy_is_unknown_never_empty():
    assert window(hall(), [], at("10:00"), online=False).state == "unknown"
    assert window(hall(), [], at("10:00")).state == "unknown"


def test_an_offline_sensor_makes_the_window_unknown_until_it_reports_again():
    events = [seat(at("09:00"), False), status(at("10:00"), False)]
    w = window(hall(), events, at("10:30"))
    assert (w.state, w.since) == ("unknown", at("10:00"))
    back = events + [seat(at("10:40"), True)]
    assert window(hall(), back, at("10:41")).state == "staffed"


def test_a_sensor_without_status_messages_that_falls_silent_is_unknown():
    events = [seat(at("09:00"), True)]
    assert window(hall(), events, at("09:09"), online=False).state == "staffed"
    assert window(hall(), events, at("09:10"), online=False).state == "unknown"


def test_a_sensor_with_an_online_status_may_report_only_changes():
    assert window(hall(), [seat(at("09:00"), True)], at("11:00")).state == "staffed"


def test_a_window_without_seat_sensor_is_occupied_while_someone_is_signed_in():
    card = "desk-w02-card"
    events = [tap(at("09:05"), card, "04A1B2C4")]
    w = window(hall(), events, at("09:30"), "W02")
    assert (w.state, w.since, [s.staff for s in w.signed_in]) == ("staffed", at("09:05"), ["s002"])
    out = events + [tap(at("10:00"), card, "04A1B2C4", "out")]
    assert window(hall(), out, at("10:05"), "W02").state == "away"
    assert window(hall(), out, at("10:10"), "W02").state == "empty"


def test_nobody_signed_in_at_a_badge_only_window_is_empty_after_the_grace():
    w = window(hall(), [], at("09:10"), "W02")
    assert w.state == "empty"


def test_signing_in_elsewhere_signs_out_of_the_first_window():
    events = [
        tap(at("09:00"), "desk-w02-card", "04A1B2C4"),
        tap(at("09:30"), "desk-w01-card", "04A1B2C4"),
    ]
    state = hall_at(hall(), ONLINE + events, at("09:35"))
    w01, w02 = state.windows[0], state.windows[1]
    assert [s.staff for s in w01.signed_in] == ["s002"]
    assert w02.signed_in == () and w02.state == "away"


def test_an_office_read_signs_the_person_out_of_the_hall():
    events = [tap(at("09:00"), "desk-w02-card", "04A1B2C4"), tap(at("10:00"), OFFICE, "04A1B2C4")]
    w = window(hall(), events, at("10:30"), "W02")
    assert (w.state, w.signed_in, w.since) == ("empty", (), at("10:00"))


def test_the_same_card_at_the_same_reader_within_60_s_counts_once():
    card = "desk-w02-card"
    events = [
        tap(at("09:00"), card, "04A1B2C4"),
        tap(at("09:00", seconds=20), card, "04A1B2C4", "out"),
        tap(at("09:00", seconds=50), card, "04A1B2C4", "out"),  # a repeat of the out
        tap(at("09:01", seconds=10), card, "04A1B2C4"),
    ]
    w = window(hall(), events, at("09:02"), "W02")
    assert [s.at for s in w.signed_in] == [at("09:01", seconds=10)]


def test_sign_ins_end_at_the_close_of_each_day():
    events = [tap(at("09:00"), "desk-w02-card", "04A1B2C4")]
    tuesday = MONDAY + timedelta(days=1)
    assert window(hall(), events, at("09:20", day=tuesday), "W02").signed_in == ()


def test_an_unknown_card_signs_nobody_in():
    w = window(hall(), [tap(at("09:00"), "desk-w02-card", "DEADBEEF")], at("09:05"), "W02")
    assert w.signed_in == ()


def test_replay_of_a_past_instant_ignores_later_events():
    events = [seat(at("09:00"), True), seat(at("10:00"), False), seat(at("10:30"), True)]
    assert window(hall(), events, at("09:30")).state == "staffed"
    assert window(hall(), events, at("10:20")).state == "empty"
    assert window(hall(), events, at("10:31")).state == "staffed"


def test_counts_cover_every_window():
    state = hall_at(hall(), ONLINE + [seat(at("09:00"), True)], at("09:30"))
    assert state.counts == {"staffed": 1, "away": 0, "empty": 1, "closed": 1, "unknown": 0}
