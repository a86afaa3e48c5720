"""The live hall kept up incrementally is exactly the hall the one state function gives."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hallwatch.daycache import DayLog
from hallwatch.events import Event, Heartbeat
from hallwatch.state import HallTracker, hall_at
from tests.unit.hall import MONDAY, at, hall, seat, status, tap, with_leave

UIDS = ("04A1B2C3", "04A1B2C4", "04A1B2C5", "DEADBEEF")
READERS = ("desk-w01-card", "desk-w02-card", "desk-w03-card", "office-civil")


def random_event(rng: random.Random, when: datetime) -> Event:
    kind = rng.random()
    if kind < 0.45:
        return seat(when, rng.random() < 0.6)
    if kind < 0.85:
        return tap(when, rng.choice(READERS), rng.choice(UIDS), rng.choice(("in", "in", "out")))
    if kind < 0.95:
        return status(when, rng.random() < 0.7)
    return Heartbeat(rng.choice(READERS), when)


def arrivals(rng: random.Random, count: int) -> list[Event]:
    """A day's events in the order they arrive: mostly in time order, some late, some tied."""
    start, events = at("07:30"), []
    for i in range(count):
        when = start + timedelta(seconds=20 * i + rng.choice((0, 0, 5, 10)))
        if rng.random() < 0.08:  # a device that held its message back, up to an hour
            when -= timedelta(seconds=rng.randrange(1, 3600))
        events.append(random_event(rng, when))
    return events


def test_the_incremental_state_equals_hall_at_over_a_random_day():
    rng = random.Random(20261123)
    original, changed = hall(), with_leave(hall(), "s001", at("10:00"), at("11:30"))
    log, arrived, newest = DayLog(MONDAY), [], at("07:30")
    for i, event in enumerate(arrivals(rng, 1500)):
        if log.add(event):
            arrived.append(event)
        newest = max(newest, event.at)
        registry = original if i < 900 else changed
        # About now: a little after the newest event, or a little before (still live).
        asked = [newest + timedelta(seconds=rng.randrange(-25, 90))]
        if i % 50 == 0:  # a replay of an earlier instant of the day
            asked.append(newest - timedelta(minutes=rng.randrange(1, 240)))
        for when in asked:
            assert log.state(registry, when) == hall_at(registry, arrived, when), (i, when)
    assert log.builds > 2  # late arrivals and the registry change made it start again


def test_events_in_time_order_never_make_the_tracker_start_again():
    registry, log = hall(), DayLog(MONDAY)
    for minute in range(0, 480, 2):
        when = at("08:00") + timedelta(minutes=minute)
        log.add(seat(when, minute % 6 != 0))
        log.state(registry, when)
    assert log.builds == 1


def test_an_event_older_than_those_the_tracker_took_starts_it_again():
    early = [status(at("08:00"), True), seat(at("09:00"), False), seat(at("09:20"), True)]
    registry, log = hall(), DayLog(MONDAY, early)
    assert log.state(registry, at("10:00")).windows[0].since == at("09:20")
    log.add(seat(at("09:10"), True))  # held back by the device for fifty minutes
    assert log.state(registry, at("10:00")).windows[0].since == at("09:10")
    assert log.builds == 2


def test_another_registry_snapshot_starts_again():
    log = DayLog(MONDAY, [status(at("08:00"), True), seat(at("09:00"), False)])
    log.state(hall(), at("09:05"))
    shorter_grace = hall(empty_grace_minutes=3)
    assert log.state(shorter_grace, at("09:05")).windows[0].state == "empty"
    assert log.builds == 2


def test_a_fork_leaves_the_tracker_it_came_from_as_it_was():
    registry = hall()
    tracker = HallTracker(registry, MONDAY).apply_all(
        [status(at("08:00"), True), seat(at("09:00"), True), tap(at("09:01"), "desk-w01-card")]
    )
    before = tracker.state_at(at("09:30"))
    twin = tracker.fork()
    twin.apply(seat(at("09:10"), False))
    twin.apply(Heartbeat("desk-w01-seat", at("09:11"), extra={"battery": 80.0}))
    twin.apply(tap(at("09:12"), "office-civil"))
    assert tracker.state_at(at("09:30")) == before
    assert twin.state_at(at("09:30")) != before
    assert tracker.devices["desk-w01-seat"].extra == {}
    assert len(tracker.reads) == 1 and tracker.last_applied == at("09:01")
