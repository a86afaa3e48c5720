"""A PIR's "empty" at a window where a clerk is signed in (issue 16, part 4)."""

from dataclasses import replace

from hallwatch.rules import episodes_of_day
from hallwatch.state import hall_at
from hallwatch.timeline import sweep
from tests.unit.hall import MONDAY, at, hall, seat, status, tap

ONLINE = [status(at("08:00"), True)]


def pir_hall(sensing="pir"):
    registry = hall()
    devices = tuple(
        replace(d, sensing=sensing) if d.id == "desk-w01-seat" else d for d in registry.devices
    )
    return replace(registry, devices=devices)


def w01(registry, events, when):
    state = hall_at(registry, ONLINE + events, when)
    return next(w for w in state.windows if w.window == "W01")


SIGNED_IN_STILL = [
    tap(at("09:01"), "desk-w01-card"),
    seat(at("09:02"), True),
    seat(at("10:00"), False),  # the PIR's timeout after the last motion
]


def test_a_signed_in_clerk_still_before_a_pir_stays_staffed_within_the_grace():
    w = w01(pir_hall(), SIGNED_IN_STILL, at("10:09", seconds=59))
    assert (w.state, w.since) == ("staffed", at("09:02"))


def test_the_grace_over_the_pir_seat_is_empty_since_the_pirs_empty_as_without_corroboration():
    w = w01(pir_hall(), SIGNED_IN_STILL, at("10:10"))
    assert (w.state, w.since) == ("empty", at("10:00"))
    assert w01(hall(), SIGNED_IN_STILL, at("10:10")) == w


def test_without_a_sign_in_a_pirs_empty_is_away_at_once():
    events = SIGNED_IN_STILL[1:]
    assert w01(pir_hall(), events, at("10:05")).state == "away"


def test_signing_out_ends_the_benefit_of_the_doubt():
    events = SIGNED_IN_STILL + [tap(at("10:03"), "desk-w01-card", action="out")]
    w = w01(pir_hall(), events, at("10:04"))
    assert (w.state, w.since) == ("away", at("10:00"))


def test_radars_and_sensors_of_unsaid_kind_are_taken_at_their_word():
    for registry in (pir_hall("radar"), hall()):
        w = w01(registry, SIGNED_IN_STILL, at("10:05"))
        assert (w.state, w.since) == ("away", at("10:00"))


def test_the_days_sweep_and_its_alerts_agree_with_the_state_at_every_minute():
    registry = pir_hall()
    events = ONLINE + SIGNED_IN_STILL + [seat(at("10:20"), True), seat(at("11:00"), False)]
    day = sweep(registry, events, MONDAY, at("12:00"))
    minute = at("09:00")
    while minute < at("12:00"):
        segment = next(s for s in day.windows["W01"] if s.start <= minute < s.end)
        state = w01(registry, [e for e in events if e.at <= minute][1:], minute)
        assert (segment.state, segment.since) == (state.state, state.since), minute
        minute += at("09:01") - at("09:00")
    found = episodes_of_day(registry, events, MONDAY, at("12:00"))
    empties = [e for e in found if e.kind == "empty_window" and e.window == "W01"]
    assert [(e.since, e.opened_at) for e in empties] == [
        (at("10:00"), at("10:10")),
        (at("11:00"), at("11:10")),
    ]


def test_a_random_day_with_pirs_and_radars_sweeps_exactly_as_the_state_function():
    import random
    from bisect import bisect_right

    from tests.unit.sweep_cases import (
        candidate_instants,
        random_day,
        random_hall,
        reference,
    )

    rng = random.Random(16)
    base = random_hall(rng)
    kinds = ("pir", "pir", "radar", None)
    devices = tuple(
        replace(d, sensing=rng.choice(kinds)) if d.kind == "presence_sensor" else d
        for d in base.devices
    )
    registry = replace(base, devices=devices)
    events = random_day(rng, registry)
    until = at("19:00")
    day = sweep(registry, events, MONDAY, until)
    instants = candidate_instants(registry, events, day.tracker.schedule.start, until)
    windows, _ = reference(registry, events, instants)
    unsaid, _ = reference(base, events, instants)
    assert sum(1 for k in windows if windows[k] != unsaid[k]) > 50  # the PIR rule is exercised
    for window, segments in day.windows.items():
        starts = [s.start for s in segments]
        for instant in instants:
            segment = segments[max(0, bisect_right(starts, instant) - 1)]
            assert (segment.state, segment.since) == windows[window, instant], (window, instant)
