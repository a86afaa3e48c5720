"""When a seat sensor counts: a dead Zigbee2MQTT bridge, and a battery PIR's long silence."""

from dataclasses import replace
from datetime import timedelta

from hallwatch.events import DeviceStatus, Heartbeat
from hallwatch.registry.spec import bridge_id
from hallwatch.state import HallTracker, hall_at
from hallwatch.timeline import sweep
from tests.unit.hall import MONDAY, at, hall, seat

BRIDGE = bridge_id("zigbee2mqtt")  # desk-w01-seat is a Zigbee2MQTT device (tests/unit/hall.py)
SEAT = "desk-w01-seat"


def bridge(when, online: bool) -> DeviceStatus:
    return DeviceStatus(BRIDGE, when, online)


def seat_online(when) -> DeviceStatus:
    return DeviceStatus(SEAT, when, True)


def w01(registry, events, when):
    return next(w for w in hall_at(registry, events, when).windows if w.window == "W01")


def with_silence(minutes: float):
    """The hall with its seat sensor allowed `minutes` of silence (a battery PIR)."""
    registry = hall()
    devices = tuple(
        replace(d, offline_after_minutes=minutes) if d.id == SEAT else d for d in registry.devices
    )
    return replace(registry, devices=devices)


def test_a_dead_bridge_makes_its_seats_unknown_until_it_is_back():
    events = [seat_online(at("08:00")), seat(at("09:02"), True), bridge(at("09:30"), False)]
    dead = w01(hall(), events, at("10:00"))
    assert (dead.state, dead.since) == ("unknown", at("09:30"))
    back = w01(hall(), [*events, bridge(at("10:05"), True)], at("10:06"))
    assert (back.state, back.since) == ("staffed", at("09:02"))


def test_a_bridge_that_never_said_anything_changes_nothing():
    events = [seat_online(at("08:00")), seat(at("09:02"), True)]
    assert w01(hall(), events, at("10:00")).state == "staffed"


def test_a_device_offline_of_its_own_stays_offline_when_its_bridge_returns():
    events = [
        seat(at("09:02"), True),
        DeviceStatus(SEAT, at("09:20"), False),
        bridge(at("09:30"), False),
        bridge(at("09:40"), True),
    ]
    tracker = HallTracker(hall(), MONDAY).apply_all(events)
    assert not tracker.device_online(SEAT, at("09:45"))
    assert tracker.offline_since(SEAT) == at("09:20")  # its own word, not the bridge's


def test_a_silent_pir_on_an_empty_seat_stays_empty_within_its_allowance():
    # No availability status: the hall's 10 minutes would make the empty seat unknown.
    events = [seat(at("09:00"), True), seat(at("09:40"), False)]
    assert w01(hall(), events, at("10:30")).state == "unknown"
    allowed = w01(with_silence(70), events, at("10:30"))
    assert (allowed.state, allowed.since) == ("empty", at("09:40"))
    assert w01(with_silence(70), events, at("10:50")).state == "unknown"  # 70 min silent


def test_a_heartbeat_renews_the_allowance():
    events = [seat(at("09:40"), False), Heartbeat(SEAT, at("10:35"), extra={"battery": 90.0})]
    assert w01(with_silence(60), events, at("11:30")).state == "empty"


def test_the_day_sweep_follows_the_bridge_and_the_allowance():
    events = [
        seat(at("09:00"), True),
        seat(at("09:40"), False),
        bridge(at("10:00"), False),
        bridge(at("10:30"), True),
    ]
    day = sweep(with_silence(120), events, MONDAY, at("11:00"))
    states = [(s.state, s.start) for s in day.windows["W01"] if at("09:00") <= s.start]
    assert states == [
        ("staffed", at("09:00")),
        ("away", at("09:40")),
        ("empty", at("09:50")),
        ("unknown", at("10:00")),
        ("empty", at("10:30")),
    ]
    spans = [(s.online, s.start, s.since) for s in day.devices[SEAT]]
    assert (False, at("10:00"), at("10:00")) in spans
    assert spans[-1][:2] == (True, at("10:30"))


def test_a_seat_with_its_own_allowance_goes_unknown_in_the_sweep_when_it_runs_out():
    events = [seat(at("09:00"), False)]
    day = sweep(with_silence(30), events, MONDAY, at("10:00"))
    last = day.windows["W01"][-1]
    assert (last.state, last.start) == ("unknown", at("09:30"))
    assert day.devices[SEAT][-1].start == at("09:00") + timedelta(minutes=30)


def test_the_devices_page_says_the_bridge_is_why_and_shows_an_own_allowance():
    from web.ops_devices import device_lines

    events = [seat_online(at("08:00")), seat(at("09:02"), True), bridge(at("09:30"), False)]
    lines = {line.id: line for line in device_lines(with_silence(70), events, at("10:00"))}
    assert not lines[SEAT].online
    assert lines[SEAT].bridge_offline_since == at("09:30")
    assert lines[SEAT].silence_minutes == 70
    assert lines["desk-w01-card"].bridge_offline_since is None
