"""Stored day summaries: the JSON round trip is exact; the fingerprint follows the day."""

from dataclasses import replace
from datetime import UTC, date, timedelta

import pytest

from hallwatch.metrics import DaySummary, StaffCounts, WindowMinutes, day_summary
from hallwatch.metrics.store import (
    FORMAT,
    day_fingerprint,
    summary_from_json,
    summary_to_json,
)
from hallwatch.registry.spec import RosterEntry
from tests.unit.hall import MONDAY, TZ, WEEKDAYS, at, hall, seat, status, tap, with_leave

TUESDAY = MONDAY + timedelta(days=1)
FRIDAY = MONDAY + timedelta(days=4)
# 张三 signs in late and leaves his seat; 李四 is read at the office; W02 is never staffed.
MONDAY_EVENTS = [
    status(at("08:00"), True),
    seat(at("09:00"), True),
    tap(at("09:20"), "desk-w01-card"),
    seat(at("10:00"), False),
    tap(at("10:20"), "office-civil", "04A1B2C4"),
    seat(at("10:30", seconds=7), True),
]


def test_a_computed_day_comes_back_equal():
    summary = day_summary(hall(), MONDAY_EVENTS, MONDAY, at("02:00", TUESDAY))
    assert summary.windows and summary.staff and summary.withdrawn == {"W02"}
    back = summary_from_json(summary_to_json(summary), TZ)
    assert back == summary
    assert back.start.tzinfo == TZ and back.start.utcoffset() == timedelta(hours=8)


def test_odd_microseconds_and_a_cut_day_survive_exactly():
    odd = timedelta(minutes=419, seconds=59, microseconds=999_999)
    summary = DaySummary(
        MONDAY,
        at("09:30", seconds=1) + timedelta(microseconds=3),
        at("17:15"),
        True,
        {"W01": WindowMinutes(odd, odd - timedelta(microseconds=1), unknown=timedelta(0, 0, 1))},
        {"s001": StaffCounts(odd, timedelta(hours=1), 1, 2, 3)},
        frozenset({"W02", "W01"}),
    )
    text = summary_to_json(summary)
    assert summary_from_json(text, TZ) == summary
    assert summary_from_json(text) == summary  # instants are instants, whatever the zone
    assert summary_from_json(text).start.tzinfo == UTC
    assert '"s001":[25199999999,3600000000,1,2,3]' in text  # microseconds, fields in order


def test_a_day_without_events_round_trips():
    summary = day_summary(hall(), [], MONDAY, at("02:00", TUESDAY))
    assert not summary.collected
    assert summary_from_json(summary_to_json(summary), TZ) == summary


def test_another_format_is_refused():
    text = summary_to_json(DaySummary(MONDAY, at("00:00"), at("00:00"), False))
    with pytest.raises(ValueError, match="format"):
        summary_from_json(text.replace(f'"format":{FORMAT}', '"format":99'))


def test_the_fingerprint_is_that_of_the_registry_as_it_applies_to_the_day():
    monday = day_fingerprint(hall(), MONDAY)
    assert day_fingerprint(hall(), MONDAY) == monday  # equal registries, separate objects
    assert len(monday) == 64 and day_fingerprint(hall(), TUESDAY) != monday
    # Leave on Monday changes Monday; leave on Friday does not.
    assert day_fingerprint(with_leave(hall(), "s001", at("09:00"), at("10:00")), MONDAY) != monday
    friday_leave = with_leave(hall(), "s001", at("09:00", FRIDAY), at("10:00", FRIDAY))
    assert day_fingerprint(friday_leave, MONDAY) == monday
    assert day_fingerprint(friday_leave, FRIDAY) != day_fingerprint(hall(), FRIDAY)
    # The calendar: only the day's own status counts.
    assert day_fingerprint(hall(closed_days=frozenset({FRIDAY})), MONDAY) == monday
    assert day_fingerprint(hall(closed_days=frozenset({MONDAY})), MONDAY) != monday
    assert day_fingerprint(hall(empty_grace_minutes=5), MONDAY) != monday


def test_roster_entries_count_only_on_the_days_they_apply():
    monday = day_fingerprint(hall(), MONDAY)
    later = RosterEntry("s003", "W03", WEEKDAYS, from_date=date(2026, 12, 1))
    extended = replace(hall(), roster=(*hall().roster, later))
    assert day_fingerprint(extended, MONDAY) == monday
    december = date(2026, 12, 1)
    assert day_fingerprint(extended, december) != day_fingerprint(hall(), december)
    reordered = replace(hall(), roster=tuple(reversed(hall().roster)))
    assert day_fingerprint(reordered, MONDAY) != monday  # a window's duties are in roster order
