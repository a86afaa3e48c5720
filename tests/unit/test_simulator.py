"""The simulated day at the demo hall: believable, deterministic, and in each device's own form."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hallwatch.cards import canonical
from hallwatch.config import MqttTarget
from hallwatch.events import Rejection, event_type
from hallwatch.registry.spec import (
    Leave,
    Registry,
)
from simulator.dayplan import DayPlan, PlannedMessage, ground_truth_csv, plan_day
from simulator.simulator import Simulator, run_simulation
from tests.unit.simulator_demo import MONDAY, FakeClient, demo_registry, monday

TZ = ZoneInfo("Asia/Shanghai")
TRAINING_DAY = date(2026, 12, 2)  # 胡斌 (s015) is at training from 1 Dec 13:30 to 2 Dec 17:30
NATIONAL_DAY = date(2026, 10, 1)
MAKE_UP_SATURDAY = date(2026, 10, 10)
PLAIN_SATURDAY = date(2026, 11, 28)
SEEDS = (1, 2, 3)
TARGET = MqttTarget("127.0.0.1", 1883, False, None, None)


def _decode(registry: Registry, message: PlannedMessage) -> tuple[str, str, dict | str]:
    """(device id, kind of message, parsed payload), checking the topic names a known device."""
    parts = message.topic.split("/")
    if parts[:2] == ["hallwatch", "devices"]:
        device = registry.device_by_id[parts[2]]
        assert not device.zigbee2mqtt and not device.tasmota, message.topic
        if parts[3] == "status":
            return device.id, "status", message.payload.decode()
        body = json.loads(message.payload)
        return device.id, body["type"], body
    if parts[0] in registry.zigbee2mqtt_names:
        device = registry.zigbee2mqtt_names[parts[0]][parts[1]]
        if parts[2:] == ["availability"]:
            return device.id, "status", json.loads(message.payload)
        assert len(parts) == 2, message.topic
        return device.id, "presence", json.loads(message.payload)
    if parts[0] in registry.esphome_nodes:
        entities = registry.esphome_nodes[parts[0]]
        if parts[1:] == ["status"]:  # the node's, said for each entity: its seat's here
            seats = [d.id for d in entities.values() if d.kind == "presence_sensor"]
            return (
                min(seats or [d.id for d in entities.values()]),
                "status",
                message.payload.decode(),
            )
        component, object_id = parts[1:3]
        kind = "presence" if component == "binary_sensor" else "badge"
        return entities[object_id].id, kind, message.payload.decode()
    assert parts[0] == "tele" and len(parts) == 3, message.topic
    device = registry.tasmota_topics["%prefix%/%topic%/"][parts[1]]
    kinds = {"SENSOR": "badge", "STATE": "heartbeat", "LWT": "status"}
    payload = message.payload.decode() if parts[2] == "LWT" else json.loads(message.payload)
    return device.id, kinds[parts[2]], payload


def _hall_instant(value) -> datetime:
    """A native `ts`: ISO-8601 with offset, or epoch seconds or milliseconds."""
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, UTC)
    at = datetime.fromisoformat(value)
    assert at.tzinfo is not None, value
    return at


def _badge_reads(plan: DayPlan, registry: Registry) -> list[tuple[datetime, str, str]]:
    """(planned instant, reader id, card uid) of every badge read in the plan."""
    reads = []
    for message in plan.messages:
        device, kind, body = _decode(registry, message)
        if kind != "badge":
            continue
        if isinstance(body, str):  # an ESPHome tag
            uid = canonical(f"dec:{body}" if registry.device_by_id[device].uid_decimal else body)
        elif "uid" in body:
            uid = body["uid"]
        else:
            uid = next(v["UID"] for k, v in body.items() if k not in ("Time", "Epoch"))
        reads.append((message.at, device, uid))
    return reads


def _reads_of(plan: DayPlan, registry: Registry, staff: str) -> list[tuple[datetime, str, str]]:
    badges = set(registry.staff_by_id[staff].badges)
    return [r for r in _badge_reads(plan, registry) if r[2] in badges]


def _during_hours(registry: Registry, at: datetime) -> bool:
    local = at.astimezone(registry.hall.tz).time()
    return any(start <= local < end for start, end in registry.hall.hours)


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
        device, kind, body = _decode(hall, message)
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
        device, kind, _ = _decode(hall, message)
        (event,) = [
            e for e in (result if isinstance(result, tuple) else (result,)) if e.device == device
        ]
        assert event_type(event) == kind
        assert abs(event.at - message.at) < timedelta(seconds=1), message


def test_every_device_says_it_is_online_and_keeps_talking():
    hall = demo_registry()
    heard: dict[str, set[str]] = {}
    for message in monday(1).messages:
        device, kind, _ = _decode(hall, message)
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
        device, kind, _ = _decode(hall, message)
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
            for device, kind, body in [_decode(hall, m)]
            if device == sensor and kind == "status"
        ]
        assert statuses == ["online", "offline", "online"]


def test_people_on_leave_do_not_badge():
    hall = demo_registry()
    assert _reads_of(monday(1), hall, "s017") == []  # 何芳, maternity leave
    for seed in SEEDS[:2]:
        assert _reads_of(plan_day(hall, TRAINING_DAY, seed), hall, "s015") == []
        first_day = plan_day(hall, date(2026, 12, 1), seed)  # training from 13:30
        reads = _reads_of(first_day, hall, "s015")
        assert all(at.astimezone(TZ).time() < time(13, 30) for at, _, _ in reads)


def test_a_whole_day_of_leave_keeps_a_person_away_from_the_seat():
    hall = demo_registry()
    start = datetime.combine(MONDAY, time(0), tzinfo=TZ)
    on_leave = replace(hall, leave=(Leave("s001", start, start + timedelta(days=1), "病假"),))
    plan = plan_day(on_leave, MONDAY, 1)
    assert _reads_of(plan, on_leave, "s001") == []
    assert not any(row.staff == "s001" for row in plan.ground_truth)


def test_the_absent_person_never_badges_nor_sits():
    hall = demo_registry()
    for seed in SEEDS:
        plan = monday(seed)
        absent = plan.story["absent"]
        assert _reads_of(plan, hall, absent) == []
        assert not any(row.staff == absent for row in plan.ground_truth)


def test_the_pulled_back_person_reads_at_their_office_during_hours_and_returns():
    hall = demo_registry()
    for seed in SEEDS:
        plan = monday(seed)
        person = hall.staff_by_id[plan.story["pulled_back"]]
        office = next(d.id for d in hall.devices if d.department == person.department)
        reads = _reads_of(plan, hall, person.id)
        at_office = [at for at, device, _ in reads if device == office and _during_hours(hall, at)]
        assert at_office, seed
        first = min(at_office)
        minute = first.replace(second=0, microsecond=0)
        seated_then = [r for r in plan.ground_truth if r.at == minute and r.staff == person.id]
        assert seated_then == []
        back = [at for at, device, _ in reads if device != office and at > first]
        assert back and _during_hours(hall, min(back))
        assert any(r.staff == person.id and r.at > min(back) for r in plan.ground_truth)


def test_most_people_sit_at_their_window_in_the_middle_of_the_morning():
    plan = monday(1)
    ten = datetime.combine(MONDAY, time(9, 30), tzinfo=TZ)
    rows = [r for r in plan.ground_truth if r.at == ten]
    assert sum(r.occupied for r in rows) >= 0.7 * len(rows)


def test_nobody_signs_in_on_a_statutory_holiday_or_a_plain_weekend():
    hall = demo_registry()
    assert plan_day(hall, NATIONAL_DAY, 1) == DayPlan(NATIONAL_DAY)
    assert plan_day(hall, PLAIN_SATURDAY, 1).messages == []
    assert plan_day(hall, MONDAY, 1, is_working_day=lambda day: False).messages == []


def test_a_make_up_saturday_is_a_working_day():
    hall = demo_registry()
    assert _badge_reads(plan_day(hall, MAKE_UP_SATURDAY, 1), hall)


def test_a_caller_may_open_the_hall_on_any_day():
    hall = demo_registry()
    plan = plan_day(hall, PLAIN_SATURDAY, 1, is_working_day=lambda day: True)
    assert _badge_reads(plan, hall)


def test_ground_truth_covers_every_minute_of_opening_hours_for_every_window():
    hall = demo_registry()
    plan = monday(1)
    minutes = [
        datetime.combine(MONDAY, start, tzinfo=TZ) + timedelta(minutes=i)
        for start, end in hall.hall.hours
        for i in range(
            (datetime.combine(MONDAY, end) - datetime.combine(MONDAY, start))
            // timedelta(minutes=1)
        )
    ]
    expected = {(m, w.id) for m in minutes for w in hall.windows}
    got = [(r.at, r.window) for r in plan.ground_truth]
    assert len(got) == len(expected) == 420 * 30
    assert set(got) == expected
    assert all(r.occupied == (r.staff is not None) for r in plan.ground_truth)


def test_ground_truth_csv_has_one_line_per_window_minute():
    plan = monday(1)
    lines = ground_truth_csv(plan).splitlines()
    assert lines[0] == "time,window,staff,occupied"
    assert len(lines) == len(plan.ground_truth) + 1
    assert lines[1].startswith("2026-11-23T09:00:00+08:00,W01,")


# ---------------------------------------------------------------- the simulator


def _simulator(client: FakeClient, clock=None, speed: float = 1.0, stop=None) -> Simulator:
    kwargs = {"clock": clock} if clock else {}
    return Simulator(
        demo_registry(),
        TARGET,
        speed,
        stop_event=stop,
        client_factory=lambda target, client_id: client,
        **kwargs,
    )


def _as_sent(messages: list[PlannedMessage]) -> list[tuple[str, bytes, int, bool]]:
    return [(m.topic, m.payload, m.qos, m.retain) for m in messages]


def test_a_compressed_replay_publishes_the_whole_day_in_order():
    plan = monday(1)
    client = FakeClient()
    published = _simulator(client, speed=10_000_000).play(plan)
    assert published == len(plan.messages)
    assert client.sent == _as_sent(plan.messages)
    assert not client.running


def test_live_mode_sends_the_past_at_once_then_waits_for_the_rest():
    plan = monday(1)
    now = datetime.combine(MONDAY, time(10, 30), tzinfo=TZ)
    past = [m for m in plan.messages if m.at < now]
    stop = threading.Event()
    client = FakeClient(on_published=lambda n: n == len(past) and stop.set())
    published = _simulator(client, clock=lambda: now, stop=stop).live(plan)
    assert published == len(past)
    assert client.sent == _as_sent(past)


def test_a_stopped_simulator_publishes_nothing():
    stop = threading.Event()
    stop.set()
    client = FakeClient()
    assert _simulator(client, stop=stop).play(monday(1)) == 0


def test_live_mode_refuses_another_day():
    with pytest.raises(ValueError, match="today"):
        run_simulation(
            demo_registry(),
            TARGET,
            MONDAY,
            1.0,
            "live",
            1,
            None,
            threading.Event(),
            clock=lambda: datetime.combine(PLAIN_SATURDAY, time(10), tzinfo=TZ),
        )
