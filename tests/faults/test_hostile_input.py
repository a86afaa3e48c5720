"""Hostile and odd input between good messages: poison, a bug for one message, late backlogs,
wrong device clocks and duplicate taps. A collector in this process on the shared real
Mosquitto and InfluxDB (no faults injected into those here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import collector.conversion as conversion_module
from tests.faults.harness import (
    CARD_TOPIC,
    SEAT_TOPIC,
    assert_each_once,
    base_ms,
    heartbeat,
    one_off,
)
from tests.helpers import RunningCollector, wait_until

POISON = [
    b"{not json",
    b"",
    b"\xff\xfe not utf-8",
    json.dumps({"type": "presence", "occupied": "yes"}).encode(),
    json.dumps({"type": "heartbeat", "ts": "not a time"}).encode(),
    json.dumps({"type": "teleport"}).encode(),
    b"[" * 70_000,  # over the payload limit
]


@pytest.fixture
def running(mosquitto, influx_db):
    started = RunningCollector(mosquitto.url, influx_db.url, influx_db.db)
    yield started
    started.stop()


def rejected_count(db) -> int:
    rows = db.rows('SELECT count("reason") FROM "hw_rejected"')
    return rows[0]["count"] if rows else 0


def test_poison_and_a_bug_for_one_message_never_stop_the_stream(
    mosquitto, influx_db, running, monkeypatch
):
    buggy = {40, 160}
    real = conversion_module.event_point

    def event_point(event, staff=None):  # a bug in our own code, for two messages only
        if int(getattr(event, "extra", {}).get("seq", -1)) in buggy:
            raise KeyError("simulated bug")
        return real(event, staff)

    monkeypatch.setattr(conversion_module, "event_point", event_point)
    base = base_ms()
    messages: list[tuple[str, bytes | str]] = []
    for seq in range(300):
        messages.append((SEAT_TOPIC, json.dumps(heartbeat(seq, base))))
        if seq % 40 == 7:
            messages.append((SEAT_TOPIC, POISON[(seq // 40) % len(POISON)]))
    messages.append(("hallwatch/devices/no-such-device/events", json.dumps({"type": "heartbeat"})))
    poison = len(messages) - 300
    one_off(mosquitto.url, messages)
    wanted = poison + len(buggy)
    wait_until(lambda: rejected_count(influx_db) >= wanted, timeout=30)
    rows = influx_db.rows('SELECT "x_seq" FROM "hw_event"')
    assert sorted(int(r["x_seq"]) for r in rows) == sorted(set(range(300)) - buggy)
    reasons = [r["reason"] for r in influx_db.rows('SELECT "reason" FROM "hw_rejected"')]
    assert len(reasons) == wanted
    assert sum(r.startswith("internal error: KeyError") for r in reasons) == len(buggy)
    assert running.collector.stats.internal_errors == len(buggy)
    assert running.thread.is_alive()


def test_a_late_backlog_is_stored_at_its_device_time(mosquitto, influx_db, running):
    base = base_ms(timedelta(hours=1, minutes=5))  # a device offline for an hour, then replaying
    one_off(mosquitto.url, [(SEAT_TOPIC, json.dumps(heartbeat(s, base))) for s in range(120)])
    assert_each_once(influx_db, 120, base)


def test_wrong_device_clocks_take_the_receipt_time_and_keep_the_reading(
    mosquitto, influx_db, running
):
    future = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    readings = {1: future, 2: 5, 3: "1970-01-01T08:00:07", 4: "2999-01-01T00:00:00+08:00"}
    before = datetime.now(UTC)
    one_off(
        mosquitto.url,
        [
            (SEAT_TOPIC, json.dumps({"type": "heartbeat", "ts": ts, "seq": s}))
            for s, ts in readings.items()
        ],
    )
    after = datetime.now(UTC)
    rows = wait_until(
        lambda: len(r := influx_db.rows('SELECT "x_seq", "device_time" FROM "hw_event"')) == 4
        and r,
        timeout=20,
    )
    for row in rows:
        at = datetime.fromtimestamp(row["time"] / 1000, UTC)
        assert before - timedelta(seconds=1) <= at <= after + timedelta(seconds=1)
        assert row["device_time"] == str(readings[int(row["x_seq"])])  # as the device wrote it


def test_a_duplicated_tap_is_one_point_and_a_second_tap_is_another(mosquitto, influx_db, running):
    at = int((datetime.now(UTC) - timedelta(minutes=3)).timestamp())
    tap = json.dumps({"type": "badge", "uid": "04A1B2C3", "ts": at})
    again = json.dumps({"type": "badge", "uid": "04A1B2C3", "ts": at + 10})
    broken_clock = json.dumps({"type": "badge", "uid": "04A1B2C4", "ts": 0})
    one_off(mosquitto.url, [(CARD_TOPIC, tap), (CARD_TOPIC, tap), (CARD_TOPIC, again)])
    one_off(mosquitto.url, [(CARD_TOPIC, broken_clock)])
    one_off(mosquitto.url, [(CARD_TOPIC, broken_clock)])
    wait_until(lambda: running.collector.stats.written >= 5, timeout=20)
    rows = influx_db.rows('SELECT "uid", "received_ms" FROM "hw_event"')
    good = [r for r in rows if r["uid"] == "04A1B2C3"]
    assert [r["time"] for r in good] == [at * 1000, (at + 10) * 1000]
    # A reader with a 1970 clock is stamped at receipt, so a redelivery is a second point
    # (the 60-second rule of docs/DEVICES.md still counts such taps once).
    assert len([r for r in rows if r["uid"] == "04A1B2C4"]) == 2
