"""A department's people over a day, in the hall's words: signed in, late, absent, pulled back."""

from datetime import date, timedelta

from hallwatch.day_people import people_of_day
from hallwatch.schedule import local_midnight
from hallwatch.timeline import sweep
from tests.unit.hall import MONDAY, at, hall, tap, with_leave

W01_CARD, W02_CARD, OFFICE = "desk-w01-card", "desk-w02-card", "office-civil"
ZHANG_SAN, LI_SI = "04A1B2C3", "04A1B2C4"
COLLECTING = [tap(at("08:00"), "desk-w03-card", "04A1B2C5")]  # the hall was collecting


def person(staff, events, now, registry=None, day=MONDAY):
    registry = registry or hall()
    day_sweep = sweep(registry, COLLECTING + events, day, now)
    [found] = people_of_day(registry, day_sweep, now, [staff])
    return found


def test_a_sign_in_before_the_period_starts_is_on_time():
    found = person("s001", [tap(at("08:55"), W01_CARD)], at("10:00"))
    assert (found.status, found.first_sign_in, found.late_by) == ("signed_in", at("08:55"), None)
    assert found.windows == ("W01",) and found.signed_in_window == "W01"


def test_a_first_sign_in_after_the_period_started_is_late():
    found = person("s001", [tap(at("09:07"), W01_CARD)], at("10:00"))
    assert found.status == "late" and found.late_by == timedelta(minutes=7)


def test_nobody_is_absent_before_the_grace_runs_out():
    assert person("s002", [], at("09:14")).status == "pending"
    found = person("s002", [], at("09:15"))
    assert found.status == "absent" and len(found.absences) == 1


def test_an_absent_person_who_comes_is_late_with_the_absence_kept():
    found = person("s002", [tap(at("09:40"), W02_CARD, LI_SI)], at("10:00"))
    assert found.status == "late" and found.late_by == timedelta(minutes=40)
    assert found.absences[0].resolved_at == at("09:40")


def test_a_sign_in_at_another_window_does_not_count():
    found = person("s002", [tap(at("08:50"), W01_CARD, LI_SI)], at("10:00"))
    assert found.status == "absent" and found.first_sign_in is None


def test_an_office_read_during_hours_is_pulled_back_until_they_return():
    events = [tap(at("08:55"), W02_CARD, LI_SI), tap(at("10:20"), OFFICE, LI_SI)]
    assert person("s002", events, at("10:30")).status == "pulled_back"
    back = [*events, tap(at("11:00"), W02_CARD, LI_SI)]
    found = person("s002", back, at("11:30"))
    assert found.status == "signed_in" and len(found.pull_backs) == 1


def test_a_past_day_tells_how_it_ended():
    day_end = local_midnight(hall().hall, MONDAY + timedelta(days=1))
    never = person("s002", [], day_end + timedelta(days=2))
    assert never.status == "absent"
    gone = [tap(at("08:55"), W02_CARD, LI_SI), tap(at("15:00"), OFFICE, LI_SI)]
    assert person("s002", gone, day_end + timedelta(days=2)).status == "pulled_back"


def test_leave_now_or_all_day_shows_as_leave():
    afternoon = with_leave(hall(), "s002", at("13:00"), at("18:00"))
    found = person("s002", [tap(at("08:55"), W02_CARD, LI_SI)], at("14:00"), afternoon)
    assert found.status == "on_leave" and found.leave == ((at("13:30"), at("17:30")),)
    whole_day = with_leave(hall(), "s002", at("00:00"), at("23:59"))
    assert person("s002", [], at("16:00"), whole_day).status == "on_leave"


def test_people_without_a_duty_today():
    assert person("s003", [], at("10:00")).status == "not_rostered"  # 王五 has no roster
    saturday = date(2026, 11, 28)
    found = person("s001", [], at("10:00", saturday), day=saturday)
    assert found.status == "not_rostered"


def test_no_absence_on_a_day_nothing_was_collected():
    registry = hall()
    day_sweep = sweep(registry, [], MONDAY, at("11:00"))
    [found] = people_of_day(registry, day_sweep, at("11:00"), ["s002"])
    assert found.status == "pending" and found.absences == ()
