"""The day's sweep is exactly the one state function asked at every instant that matters.

A random 30-window day (seat sensors, badge-only windows, shared windows, leave,
office reads, status and silence, facts carried over from the day before) is
swept once; a plain tracker stepped through every instant where anything can
change (each event, each event plus the grace or the silence, each opening
interval's start, start plus grace and end, every minute) gives the reference.
Each segment and span must agree with it at every one of those instants and may
begin only at one of them, so its boundaries are exact.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from datetime import time, timedelta

from hallwatch.rules import episodes
from hallwatch.state import HallTracker, hall_at
from hallwatch.timeline import sweep
from tests.unit.hall import MONDAY, at, hall, seat, tap
from tests.unit.sweep_cases import candidate_instants, random_day, random_hall, reference

# The outputs of the day below as the code computed them before sweep() was made to
# re-check only the windows an event can affect: any change in them is a change in behaviour.
PINNED = ("8141cfd054446633", "9fabc6bd710fad07", "57f053e05e3894db", "14890300baaf5097")


def _value_at(parts, instant, value):
    """The value of the part holding `instant` (the last one at the very end)."""
    starts = [p.start for p in parts]
    return value(parts[max(0, bisect_right(starts, instant) - 1)])


def test_every_segment_and_span_is_the_state_function_at_every_instant():
    rng = random.Random(20261123)
    registry = random_hall(rng)
    events = random_day(rng, registry)
    until = at("19:00")
    day = sweep(registry, events, MONDAY, until)
    instants = candidate_instants(registry, events, day.tracker.schedule.start, until)
    windows, devices = reference(registry, events, instants)
    allowed = set(instants)

    assert set(day.windows) == {w.id for w in registry.windows}
    for window, segments in day.windows.items():
        assert segments[0].start == day.tracker.schedule.start and segments[-1].end == until
        assert all(s.start in allowed for s in segments), window
        for instant in instants:
            found = _value_at(segments, instant, lambda s: (s.state, s.since))
            assert found == windows[window, instant], (window, instant)
    for device, spans in day.devices.items():
        assert all(s.start in allowed for s in spans), device
        for instant in instants:
            online, since = devices[device, instant]
            found = _value_at(spans, instant, lambda s: (s.online, s.since))
            span = spans[max(0, bisect_right([s.start for s in spans], instant) - 1)]
            assert found == (online, since or span.start), (device, instant)
    assert day.tracker.state_at(until) == hall_at(registry, events, until)


def test_the_state_at_any_instant_is_hall_at():
    rng = random.Random(7)
    registry = random_hall(rng)
    events = sorted(random_day(rng, registry), key=lambda e: e.at)
    tracker, applied = HallTracker(registry, MONDAY), 0
    for minutes in range(0, 12 * 60, 23):
        instant = at("07:00") + timedelta(minutes=minutes, seconds=rng.randrange(60))
        while applied < len(events) and events[applied].at <= instant:
            tracker.apply(events[applied])
            applied += 1
        assert tracker.state_at(instant) == hall_at(registry, events, instant), instant
        assert tracker.fork().state_at(instant) == tracker.state_at(instant)


def _digest(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _sorted(found: list) -> list:
    """Episodes by key: pull_backs() goes through its people in set order."""
    return sorted(found, key=lambda e: e.key)


def test_the_outputs_are_the_ones_pinned():
    """Segments, spans, episodes and states as computed before the sweep re-checked less."""
    rng = random.Random(20261123)
    registry = random_hall(rng)
    events = random_day(rng, registry)
    day = sweep(registry, events, MONDAY, at("19:00"))
    tracker = HallTracker(registry, MONDAY).apply_all(e for e in events if e.at <= at("12:34"))
    states = [tracker.state_at(at("12:34", seconds=s)) for s in (0, 30, 59)]
    found = (
        _digest(sorted(day.windows.items())),
        _digest(sorted(day.devices.items())),
        _digest(
            [_sorted(episodes(registry, events, at(hhmm))) for hhmm in ("10:00", "15:00", "19:00")]
        ),
        _digest(states),
    )
    assert found == PINNED


def test_a_seat_sensor_heard_only_the_day_before_goes_silent_at_its_exact_instant():
    """Open from midnight: the sensor's last report at 23:55 counts until 00:05, not later."""
    registry = hall(hours=((time(0, 0), time(23, 59)),))
    sunday = MONDAY - timedelta(days=1)
    events = [
        seat(at("23:55", sunday), True),
        tap(at("00:07"), "desk-w03-card", "04A1B2C5"),  # elsewhere in the hall
    ]
    day = sweep(registry, events, MONDAY, at("01:00"))
    assert [(s.state, s.start) for s in day.windows["W01"]] == [
        ("staffed", at("00:00")),
        ("unknown", at("00:05")),
    ]
