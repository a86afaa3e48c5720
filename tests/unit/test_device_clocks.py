"""Zigbee2MQTT and Tasmota events: the receipt time live, the device's clock after an outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devices.clocks import (
    DEFAULT_REPEAT_DELAY,
    RELEARN_AFTER,
    DeviceClocks,
    Placement,
    Reading,
    reading_of,
)

MONDAY = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in a Shanghai hall
NETWORK = timedelta(milliseconds=40)
CET = timedelta(hours=1)  # stock Tasmota: APP_TIMEZONE 1 (my_user_config.h)


def tasmota_time(at: datetime, zone: timedelta = CET) -> Reading:
    """Tasmota's `Time`: the device's local time, without an offset."""
    return reading_of((at + zone).replace(tzinfo=None).isoformat(timespec="seconds"))


def last_seen(at: datetime) -> Reading:
    """Zigbee2MQTT's `last_seen` as ISO_8601 (UTC with Z)."""
    return reading_of(at.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def live(clocks: DeviceClocks, device: str, reading: Reading, at: datetime, **kw) -> Placement:
    """A message received as it happened, on a connection open since an hour before."""
    return clocks.place(device, reading, at + NETWORK, MONDAY - timedelta(hours=1), **kw)


def test_readings_keep_their_form():
    assert reading_of("2026-11-23T09:01:12") == Reading(
        datetime(2026, 11, 23, 9, 1, 12, tzinfo=UTC), False
    )
    assert reading_of("2026-11-23T01:01:12Z").absolute
    assert reading_of("1795395672").at == datetime.fromtimestamp(1795395672, UTC)
    assert reading_of("1795395672123").absolute  # epoch milliseconds
    assert reading_of("noon") is None and reading_of(None) is None and reading_of("") is None


def test_a_live_tap_takes_its_receipt_time_whatever_the_device_clock_says():
    clocks = DeviceClocks()
    for clock_zone in (CET, timedelta(hours=-5), timedelta(0)):
        placed = live(clocks, f"reader-{clock_zone}", tasmota_time(MONDAY, clock_zone), MONDAY)
        assert placed == Placement(MONDAY + NETWORK)


def test_a_backlog_after_an_outage_is_placed_by_the_clock_learned_live():
    # A stock Tasmota (CET) tapped at 08:30 and 08:40 live; the collector is down from 08:45 to
    # 09:05, and the taps of 08:50 and 09:01 wait in its session until it returns.
    clocks = DeviceClocks()
    for at in (MONDAY, MONDAY + minutes(10)):
        live(clocks, "reader", tasmota_time(at), at)
    back = MONDAY + minutes(35)
    for tapped in (MONDAY + minutes(20), MONDAY + minutes(31)):
        placed = clocks.place("reader", tasmota_time(tapped), back + NETWORK, back)
        assert placed.late and abs(placed.at - tapped) <= NETWORK


def test_a_clock_five_hours_off_places_the_backlog_right():
    clocks = DeviceClocks()
    wrong = timedelta(hours=-5)
    live(clocks, "reader", tasmota_time(MONDAY, wrong), MONDAY)
    back = MONDAY + minutes(30)
    placed = clocks.place("reader", tasmota_time(MONDAY + minutes(9), wrong), back, back)
    assert placed.late and abs(placed.at - (MONDAY + minutes(9))) <= NETWORK


def test_a_device_first_heard_in_a_backlog_with_a_naive_clock_takes_the_receipt_time():
    clocks = DeviceClocks()
    back = MONDAY + minutes(30)
    placed = clocks.place("reader", tasmota_time(MONDAY), back, back)
    assert placed == Placement(back)


def test_a_reading_with_its_own_offset_places_a_backlog_even_before_anything_is_learned():
    clocks = DeviceClocks()
    back = MONDAY + minutes(30)
    placed = clocks.place("seat", last_seen(MONDAY), back, back, contact=True)
    assert placed == Placement(MONDAY, late=True)


def test_zigbee2mqtts_own_false_lands_after_the_true_it_repeats():
    # Koenkk/zigbee2mqtt#11582: the false a PIR's timeout makes repeats the true's last_seen.
    clocks = DeviceClocks()
    seen = last_seen(MONDAY)
    assert live(clocks, "seat", seen, MONDAY, contact=True) == Placement(MONDAY + NETWORK)
    generated = MONDAY + timedelta(seconds=90)
    assert live(clocks, "seat", seen, generated, contact=True) == Placement(generated + NETWORK)


def test_a_backlog_keeps_a_pir_occupied_for_its_timeout_not_for_the_outage():
    # Live, Zigbee2MQTT's false followed each true 65 s later (its occupancy_timeout here,
    # as in Koenkk/zigbee2mqtt#2830); the same pair queued during an outage keeps that gap.
    clocks = DeviceClocks()
    timeout = timedelta(seconds=65)
    live(clocks, "seat", last_seen(MONDAY), MONDAY, contact=True)
    live(clocks, "seat", last_seen(MONDAY), MONDAY + timeout, contact=True)
    back = MONDAY + minutes(30)
    motion = MONDAY + minutes(9)
    true = clocks.place("seat", last_seen(motion), back, back, contact=True)
    false = clocks.place("seat", last_seen(motion), back, back, contact=True)
    assert true.late and abs(true.at - motion) <= NETWORK
    assert false.late and abs(false.at - (motion + timeout)) <= NETWORK


def test_an_unlearned_timeout_is_taken_as_zigbee2mqtts_default():
    clocks = DeviceClocks()
    back = MONDAY + minutes(30)
    clocks.place("seat", last_seen(MONDAY), back, back, contact=True)
    false = clocks.place("seat", last_seen(MONDAY), back, back, contact=True)
    assert false == Placement(MONDAY + DEFAULT_REPEAT_DELAY, late=True)


def test_a_message_delayed_in_a_hall_bridge_is_placed_by_its_clock():
    clocks = DeviceClocks()
    live(clocks, "reader", tasmota_time(MONDAY), MONDAY)
    tapped, delivered = MONDAY + minutes(10), MONDAY + minutes(25)  # the link was down
    placed = live(clocks, "reader", tasmota_time(tapped), delivered)
    assert placed.late and abs(placed.at - tapped) <= NETWORK


def test_a_clock_set_back_is_learned_anew_after_a_while():
    clocks = DeviceClocks()
    live(clocks, "reader", tasmota_time(MONDAY), MONDAY)
    set_back = timedelta(hours=-1) + CET
    placements = [
        live(clocks, "reader", tasmota_time(MONDAY + minutes(k), set_back), MONDAY + minutes(k))
        for k in range(1, 16)
    ]
    assert placements[0].late  # at first it looks like a queue
    relearned = [p for p in placements if not p.late]
    assert relearned and relearned[0].at <= MONDAY + RELEARN_AFTER + minutes(1) + NETWORK
    assert all(not p.late for p in placements[placements.index(relearned[0]) :])


def test_a_clock_that_restarted_in_1970_is_never_a_backlog():
    clocks = DeviceClocks()
    live(clocks, "reader", tasmota_time(MONDAY), MONDAY)
    booted = reading_of("1970-01-01T00:00:07")
    back = MONDAY + minutes(30)
    assert clocks.place("reader", booted, back, back) == Placement(back)


def test_what_was_learned_survives_a_restart():
    clocks = DeviceClocks()
    live(clocks, "reader", tasmota_time(MONDAY), MONDAY)
    live(clocks, "seat", last_seen(MONDAY), MONDAY, contact=True)
    live(clocks, "seat", last_seen(MONDAY), MONDAY + timedelta(seconds=65), contact=True)
    restarted = DeviceClocks()
    assert restarted.restore(clocks.snapshot()) == 2
    assert restarted.offset("reader") == clocks.offset("reader")
    back = MONDAY + minutes(30)
    placed = restarted.place("reader", tasmota_time(MONDAY + minutes(5)), back, back)
    assert placed.late and abs(placed.at - (MONDAY + minutes(5))) <= NETWORK


def test_a_damaged_snapshot_is_skipped_entry_by_entry():
    clocks = DeviceClocks()
    assert clocks.restore({"a": {"offset_ms": "x"}, "b": {}, "c": {"offset_ms": 40}}) == 1
    assert clocks.offset("c") == timedelta(milliseconds=40)


def test_an_event_without_a_clock_takes_its_receipt():
    assert DeviceClocks().place("seat", None, MONDAY, MONDAY) == Placement(MONDAY)
