"""The alert rules at fixed instants, in the hall's own words."""

from datetime import date, timedelta

from hallwatch.rules import episodes
from hallwatch.timeline import sweep
from tests.unit.hall import MONDAY, at, hall, seat, status, tap, with_leave

ONLINE = [status(at("08:00"), True)]
W02_CARD, W01_CARD, OFFICE = "desk-w02-card", "desk-w01-card", "office-civil"
LI_SI = "04A1B2C4"  # s002, rostered at W02 (badge only)
NATIONAL_DAY = date(2026, 10, 1)
MAKE_UP_SATURDAY = date(2026, 10, 10)


def kinds(found, kind):
    return [e for e in found if e.kind == kind]


SEAT = "desk-w01-seat"
OTHER_TRAFFIC = tap(at("08:00"), "desk-w03-card", "04A1B2C5")  # the hall was collecting
DEFAULT_SUBJECT = {"empty_window": "W01", "device_offline": SEAT}


def of(kind, events, now, registry=None, online=True, subject=None):
    """The episodes of one kind; for empty_window and device_offline, W01 and its seat only."""
    found = kinds(episodes(registry or hall(), (ONLINE if online else []) + events, now), kind)
    subject = subject or DEFAULT_SUBJECT.get(kind)
    if subject is None:
        return found
    return [e for e in found if subject in (e.window if kind == "empty_window" else e.device,)]


# --- empty_window ---------------------------------------------------------------------


def test_an_empty_seat_opens_empty_window_exactly_at_the_grace():
    events = [seat(at("09:00"), True), seat(at("10:00"), False)]
    assert of("empty_window", events, at("10:09", seconds=59)) == []
    [episode] = of("empty_window", events, at("10:10"))
    assert (episode.window, episode.opened_at, episode.since) == ("W01", at("10:10"), at("10:00"))
    assert episode.resolved_at is None and episode.department == "civil"


def test_empty_window_resolves_when_the_seat_is_occupied_again():
    events = [seat(at("09:00"), True), seat(at("10:00"), False), seat(at("10:30"), True)]
    [episode] = of("empty_window", events, at("11:00"))
    assert (episode.resolved_at, episode.resolution) == (at("10:30"), "occupied")


def test_the_lunch_break_does_not_open_or_split_an_empty_window():
    events = [seat(at("09:00"), True), seat(at("11:55"), False)]
    assert of("empty_window", events, at("12:30")) == []
    [episode] = of("empty_window", events, at("13:45"))
    assert episode.opened_at == at("13:40") and episode.since == at("11:55")
    events_morning = [seat(at("09:00"), True), seat(at("11:40"), False)]
    [morning] = of("empty_window", events_morning, at("14:00"))
    assert morning.opened_at == at("11:50") and morning.resolved_at is None


def test_an_offline_sensor_is_device_offline_never_empty_window():
    events = [seat(at("09:00"), False), status(at("09:05"), False)]
    assert of("empty_window", events, at("10:00")) == []
    [offline] = of("device_offline", events, at("10:00"))
    assert (offline.device, offline.since) == ("desk-w01-seat", at("09:05"))


def test_no_alert_on_a_statutory_holiday_and_alerts_on_a_make_up_saturday():
    holiday = [status(at("08:00", NATIONAL_DAY), True), seat(at("09:00", NATIONAL_DAY), False)]
    assert episodes(hall(), holiday, at("11:00", NATIONAL_DAY)) == []
    saturday = [
        status(at("08:00", MAKE_UP_SATURDAY), True),
        seat(at("09:00", MAKE_UP_SATURDAY), False),
    ]
    assert kinds(episodes(hall(), saturday, at("11:00", MAKE_UP_SATURDAY)), "empty_window")


def test_the_same_evaluation_twice_gives_the_same_episodes():
    events = [seat(at("09:00"), True), seat(at("10:00"), False), tap(at("09:40"), OFFICE)]
    first = episodes(hall(), ONLINE + events, at("11:00"))
    assert first == episodes(hall(), ONLINE + list(reversed(events)), at("11:00"))


# --- absent ---------------------------------------------------------------------------


def test_absent_when_nobody_signs_in_within_the_grace():
    assert of("absent", [], at("09:14")) == []
    found = of("absent", [], at("09:15"))
    by_staff = {e.staff: e for e in found}
    assert by_staff["s002"].window == "W02" and by_staff["s002"].opened_at == at("09:15")


def test_a_sign_in_on_time_means_no_absence_and_a_late_one_resolves_it():
    on_time = [tap(at("09:14"), W02_CARD, LI_SI)]
    assert [e for e in of("absent", on_time, at("10:00")) if e.staff == "s002"] == []
    late = [tap(at("09:40"), W02_CARD, LI_SI)]
    [episode] = [e for e in of("absent", late, at("10:00")) if e.staff == "s002"]
    assert (episode.resolved_at, episode.resolution) == (at("09:40"), "signed_in")


def test_a_person_signed_in_at_the_wrong_window_is_still_absent_from_theirs():
    wrong = [tap(at("09:00"), W01_CARD, LI_SI)]
    assert [e.staff for e in of("absent", wrong, at("10:00"))].count("s002") == 1


def test_an_out_tapped_at_another_window_leaves_the_sign_in_standing():
    # As the state function does: only an `out` here, an office read or an `in` elsewhere ends it.
    events = [tap(at("09:00"), W02_CARD, LI_SI), tap(at("12:50"), W01_CARD, LI_SI, action="out")]
    assert [e for e in of("absent", events, at("14:00")) if e.staff == "s002"] == []


def test_an_absence_that_lasts_through_lunch_is_one_alert():
    found = [e for e in of("absent", [], at("14:00")) if e.staff == "s002"]
    assert len(found) == 1 and found[0].resolved_at is None


def test_a_morning_sign_in_counts_for_the_afternoon_period():
    morning = [tap(at("09:00"), W02_CARD, LI_SI)]
    assert [e for e in of("absent", morning, at("14:00")) if e.staff == "s002"] == []


def test_leave_covering_part_of_a_period_moves_the_grace_to_when_duty_starts():
    registry = with_leave(hall(), "s002", at("09:00"), at("10:00"))
    assert [e for e in of("absent", [], at("10:14"), registry) if e.staff == "s002"] == []
    [episode] = [e for e in of("absent", [], at("10:15"), registry) if e.staff == "s002"]
    assert episode.since == at("10:00")


def test_nobody_on_leave_is_ever_absent():
    registry = with_leave(hall(), "s002", at("00:00"), at("23:59"))
    assert [e for e in of("absent", [], at("16:00"), registry) if e.staff == "s002"] == []


# --- pulled_back ----------------------------------------------------------------------


def test_an_office_read_during_rostered_hours_is_pulled_back_until_signed_in_again():
    events = [tap(at("09:00"), W02_CARD, LI_SI), tap(at("10:20"), OFFICE, LI_SI)]
    [episode] = of("pulled_back", events, at("10:21"))
    assert (episode.staff, episode.window, episode.opened_at) == ("s002", "W02", at("10:20"))
    back = events + [tap(at("11:00"), W02_CARD, LI_SI)]
    [resolved] = of("pulled_back", back, at("11:01"))
    assert (resolved.key, resolved.resolved_at) == (episode.key, at("11:00"))


def test_an_office_read_outside_rostered_hours_is_not_pulled_back():
    assert of("pulled_back", [tap(at("08:30"), OFFICE, LI_SI)], at("09:05")) == []
    assert of("pulled_back", [tap(at("12:30"), OFFICE, LI_SI)], at("12:40")) == []


def test_repeated_office_reads_while_pulled_back_are_one_alert():
    events = [tap(at("10:00"), OFFICE, LI_SI), tap(at("10:30"), OFFICE, LI_SI)]
    assert len(of("pulled_back", events, at("11:00"))) == 1


def test_a_duplicate_office_read_within_60_s_counts_once():
    events = [tap(at("10:00"), OFFICE, LI_SI), tap(at("10:00", seconds=30), OFFICE, LI_SI)]
    assert len(of("pulled_back", events, at("10:05"))) == 1


def test_a_late_event_is_found_by_a_later_evaluation():
    late_read = tap(at("10:00"), OFFICE, LI_SI)
    assert len(of("pulled_back", [late_read], at("10:30"))) == 1  # arrived at 10:29, say


# --- device_offline -------------------------------------------------------------------


def test_a_device_back_online_resolves_after_it_stayed_back():
    events = [seat(at("09:00"), True), status(at("09:30"), False), status(at("09:40"), True)]
    [open_still] = of("device_offline", events, at("09:45"))
    assert open_still.resolved_at is None
    [resolved] = of("device_offline", events, at("09:51"))
    assert (resolved.resolved_at, resolved.resolution) == (at("09:40"), "reported")


def test_a_flapping_device_is_one_alert_not_twenty():
    events = [seat(at("09:00"), True)]
    for minute in range(10, 50, 4):
        events += [status(at(f"09:{minute}"), False), status(at(f"09:{minute + 2}"), True)]
    assert len(of("device_offline", events, at("11:00"))) == 1


def test_a_device_without_status_messages_is_offline_once_silent():
    events = [seat(at("09:00"), True)]
    assert of("device_offline", events, at("09:09"), online=False) == []
    [episode] = of("device_offline", events, at("09:10"), online=False)
    assert episode.since == at("09:00")


def test_a_device_offline_overnight_is_opened_when_the_hall_opens():
    events = [status(at("18:00", MONDAY - timedelta(days=3)), False), OTHER_TRAFFIC]
    [episode] = of("device_offline", events, at("09:01"), online=False)
    assert episode.opened_at == at("09:00")


# --- withdrawn ------------------------------------------------------------------------


def test_a_window_never_staffed_all_day_is_withdrawn_at_the_close():
    some_traffic = [tap(at("09:00"), "desk-w03-card", "04A1B2C5")]
    assert of("withdrawn", some_traffic, at("17:29")) == []
    found = {e.window: e for e in of("withdrawn", some_traffic, at("17:31"))}
    assert set(found) == {"W01", "W02"}
    assert found["W01"].opened_at == at("17:30") and found["W01"].resolved_at is None


def test_a_window_staffed_for_a_minute_is_not_withdrawn():
    events = [seat(at("15:00"), True), seat(at("15:01"), False)]
    assert "W01" not in {e.window for e in of("withdrawn", events, at("17:31"))}


def test_the_sweep_segments_cover_the_day_without_gaps():
    events = [seat(at("09:00"), True), seat(at("10:00"), False), seat(at("10:30"), True)]
    segments = sweep(hall(), ONLINE + events, MONDAY, at("18:00")).windows["W01"]
    assert segments[0].start == at("00:00") and segments[-1].end == at("18:00")
    assert all(a.end == b.start for a, b in zip(segments, segments[1:], strict=False))
    assert [s.state for s in segments] == [
        "closed",
        "staffed",
        "away",
        "empty",
        "staffed",
        "closed",
        "staffed",
        "closed",
    ]


def test_a_dead_device_is_one_alert_per_working_day_closed_at_the_close():
    events = [status(at("18:00", MONDAY - timedelta(days=3)), False), OTHER_TRAFFIC]
    [monday] = of("device_offline", events, at("17:31"), online=False)
    assert (monday.resolved_at, monday.resolution) == (at("17:30"), "day_closed")
    tuesday = MONDAY + timedelta(days=1)
    events.append(tap(at("08:00", tuesday), "desk-w03-card", "04A1B2C5"))
    [next_day] = of("device_offline", events, at("09:30", tuesday), online=False)
    assert next_day.key != monday.key and next_day.resolved_at is None


def test_a_withdrawn_day_stays_open_until_the_next_mornings_period_ends():
    from hallwatch.rules import episodes_of_day

    tuesday = MONDAY + timedelta(days=1)
    events = ONLINE + [tap(at("09:00"), "desk-w03-card", "04A1B2C5")]
    late = episodes_of_day(hall(), events, MONDAY, at("00:30", tuesday))
    [w01] = [e for e in late if e.kind == "withdrawn" and e.window == "W01"]
    assert w01.resolved_at is None
    later = episodes_of_day(hall(), events, MONDAY, at("12:00", tuesday))
    [w01] = [e for e in later if e.kind == "withdrawn" and e.window == "W01"]
    assert (w01.resolved_at, w01.resolution) == (at("12:00", tuesday), "seen")


def test_a_day_without_any_event_accuses_nobody_of_withdrawing():
    assert of("withdrawn", [], at("17:31"), online=False) == []
