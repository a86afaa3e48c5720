"""The window page's day band: its hours, its bars and its ticks."""

from datetime import date

from hallwatch.schedule import DaySchedule
from hallwatch.timeline import Segment
from tests.unit.hall import MONDAY, at, hall
from web.timeline_band import band_range, bars, ticks

SUNDAY = date(2026, 11, 22)


def test_the_band_spans_the_opening_hours_in_whole_hours():
    assert band_range(DaySchedule(hall(), MONDAY), "W01") == (at("09:00"), at("18:00"))


def test_a_closed_day_still_shows_the_usual_hours():
    expected = (at("09:00", SUNDAY), at("18:00", SUNDAY))
    assert band_range(DaySchedule(hall(), SUNDAY), "W01") == expected


def test_hours_to_23_59_end_at_midnight():
    registry = hall(hours=((at("00:00").time(), at("23:59").time()),))
    start, end = band_range(DaySchedule(registry, MONDAY), "W01")
    assert start == at("00:00") and (end - start).total_seconds() == 24 * 3600


def test_bars_are_clipped_to_the_band_in_percent():
    segments = [
        Segment("closed", at("00:00"), at("00:00"), at("09:00")),
        Segment("staffed", at("09:00"), at("09:00"), at("13:30")),
        Segment("empty", at("13:30"), at("13:30"), at("23:00")),
    ]
    found = bars(segments, at("09:00"), at("18:00"))
    assert [(b.state, b.x, b.width) for b in found] == [
        ("staffed", 0.0, 50.0),
        ("empty", 50.0, 50.0),
    ]
    assert found[-1].end == at("18:00")


def test_ticks_every_hour_or_fewer_on_a_long_day():
    assert [t.x for t in ticks(at("09:00"), at("18:00"))][:2] == [0.0, 11.111]
    assert len(ticks(at("09:00"), at("18:00"))) == 10
    long_day = ticks(at("00:00"), at("23:00"))
    assert len(long_day) <= 13 and long_day[1].at == at("02:00") and long_day[1].minor
