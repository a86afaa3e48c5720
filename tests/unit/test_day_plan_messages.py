"""The simulated day's messages: deterministic, in time order, each in its device's own form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hallwatch.events import Rejection, event_type
from simulator.dayplan import plan_day
from tests.unit.simulated_day import SEEDS, TZ, decode
from tests.unit.simulator_demo import MONDAY, demo_registry, monday


def _hall_instant(value) -> datetime:
    """A native `ts`: ISO-8601 with offset, or epoch seconds or milliseconds."""
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, UTC)
    at = datetime.fromisoformat(value)
    assert at.tzinfo is not None, value
    return at


# ---------------------------------------------------------------- the demo hall


def test_the_demo_hall_has_the_shape_of_a_county_hall():
    hall = demo_registry()
    assert len(hall.departments) == 20 and len(hall.windows) == 30
    desk_readers = [d for d in hall.devices if d.kind == "badge_reader" and d.window]
    assert {d.window for d in desk_readers} == {w.id for w in hall.windows}
    badge_only = {w.id for w in hall.windows} - set(hall.seat_sensors)
    assert 2 <= len(badge_only) <= 3
    offices = [d for d in hall.devices if d.department]
    assert len(offices) >= 4 and any(d.tasmota for d in offices)
    rostered = {r.window for r in hall.roster}
    assert rostered == {w.id for w in hall.windows}
    uids = [uid for s in hall.staff for uid in s.badges]
    assert len(uids) == len(set(uids)) and all(len(u) == 8 for u in uids)


# ---------------------------------------------------------------- the plan


def test_the_same_seed_plans_the_same_day():
    again = plan_day(demo_registry(), MONDAY, 1)
    assert again.messages == monday(1).messages
    assert again.ground_truth == monday(1).ground_truth
    assert again.story == monday(1).story


def test_another_seed_tells_another_story():
    assert monday(1).messages != monday(2).messages


def test_messages_are_in_time_order_and_on_the_day():
    for seed in SEEDS:
        times = [m.at for m in monday(seed).messages]
        assert times == sorted(times)
        assert {t.astimezone(TZ).date() for t in times} == {MONDAY}


def test_every_message_is_in_its_devices_own_form():
    hall = demo_registry()
    for message in monday(1).messages:
        device, kind, body = decode(hall, message)
        d = hall.device_by_id[device]
        if kind == "status":
            assert message.retain and message.qos == 1
            assert body in ("online", "offline", "Online", "Offline") or body["state"] in (
                "online",
                "offline",
            )
        elif d.zigbee2mqtt:
            key = "presence" if "presence" in body else "occupancy"
            assert isinstance(body[key], bool)
            assert 0 <= body["linkquality"] <= 255
            assert "last_seen" in body
        elif d.esphome:
            assert not message.retain  # as ESPHome's entities are set up in docs/DEVICES.md
            if kind == "presence":
                assert d.kind == "presence_sensor" and body in ("ON", "OFF")
            else:  # RC522 tags as 74-10-37-94; a Wiegand reader's decimal numbers
                card = f"dec:{body}" if d.uid_decimal else body
                assert kind == "badge" and hall.holder_of(card) is not None, body
        elif d.tasmota:
            local = datetime.fromisoformat(body["Time"])
            assert local.tzinfo is None  # Tasmota's Time is hall time without offset
            assert local.replace(tzinfo=TZ) == message.at.replace(microsecond=0)
            assert body["Epoch"] == int(message.at.timestamp())  # `Time 2`, as DEVICES.md says
            if kind == "badge":
                (reading,) = [v for k, v in body.items() if k not in ("Time", "Epoch")]
                assert set(body) - {"Time", "Epoch"} <= {"RC522", "PN532"}
                assert reading["UID"] in hall.staff_by_badge
            else:
                assert body["UptimeSec"] > 0 and "Wifi" in body
        else:
            assert abs(_hall_instant(body["ts"]) - message.at) < timedelta(seconds=1)
            if kind == "badge":
                assert body["uid"] in hall.staff_by_badge
                assert body.get("action", "in") in ("in", "out")
                assert d.window or "action" not in body
            elif kind == "presence":
                assert d.kind == "presence_sensor" and isinstance(body["occupied"], bool)
            else:
                assert kind == "heartbeat" and isinstance(body["rssi"], int)


def test_the_collector_understands_every_planned_message():
    import devices

    convert = getattr(devices, "convert", None)
    if convert is None:
        pytest.skip("the device converters (devices.convert) are not there yet")
    hall = demo_registry()
    for message in monday(1).messages:
        result = convert(message.topic, message.payload, message.at, hall)
        assert result is not None and not isinstance(result, Rejection), (message, result)
        device, kind, _ = decode(hall, message)
        (event,) = [
            e for e in (result if isinstance(result, tuple) else (result,)) if e.device == device
        ]
        assert event_type(event) == kind
        assert abs(event.at - message.at) < timedelta(seconds=1), message


def test_every_device_says_it_is_online_and_keeps_talking():
    hall = demo_registry()
    heard: dict[str, set[str]] = {}
    for message in monday(1).messages:
        device, kind, _ = decode(hall, message)
        heard.setdefault(device, set()).add(kind)
    for entities in hall.esphome_nodes.values():  # a node's status is each entity's
        node_kinds = set().union(*(heard.get(d.id, set()) for d in entities.values()))
        for d in entities.values():
            heard.setdefault(d.id, set()).update(node_kinds & {"status"})
    assert set(heard) == {d.id for d in hall.devices}
    for device in hall.devices:
        assert "status" in heard[device.id]
        if device.kind == "presence_sensor":
            assert "presence" in heard[device.id]
        elif not device.esphome:  # ESPHome sends no heartbeat: its node's status says it all
            assert "heartbeat" in heard[device.id]


def test_seat_sensors_re_report_at_the_given_interval():
    hall = demo_registry()
    plan = plan_day(hall, MONDAY, 1, report_interval_s=30)
    reports: dict[str, list[datetime]] = {}
    for message in plan.messages:
        device, kind, _ = decode(hall, message)
        if kind == "presence" and device != plan.story["sensor_dropout"]:
            reports.setdefault(device, []).append(message.at)
    assert len(reports) == len(hall.seat_sensors) - 1
    for sensor, times in reports.items():
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert max(gaps) <= 30 + 5, sensor


def test_a_seat_sensor_drops_out_and_comes_back():
    hall = demo_registry()
    for seed in SEEDS:
        plan = monday(seed)
        sensor = plan.story["sensor_dropout"]
        statuses = [
            body if isinstance(body, str) else body["state"]
            for m in plan.messages
            for device, kind, body in [decode(hall, m)]
            if device == sensor and kind == "status"
        ]
        assert statuses == ["online", "offline", "online"]
