"""InfluxDB refusing part of a batch: the rest is stored once, the refused points are kept
in `hw_rejected` with InfluxDB's reason (or, when even that cannot be stored, counted)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from console.services import Influxd, Mosquitto
from tests.faults.harness import (
    SEAT_TOPIC,
    assert_each_once,
    base_ms,
    fault_env,
    heartbeat,
    new_database,
    one_off,
    store_clock,
    stored_count,
    stored_seqs,
)
from tests.helpers import influx_admin, wait_until


def rejected(db) -> list[dict]:
    return db.rows('SELECT "reason", "payload", "topic" FROM "hw_rejected"')


def test_a_field_type_conflict_rejects_only_the_conflicting_points(
    start_service, registry_url, collector, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    base = base_ms()
    # `x_battery` exists as a string in this shard (written by something else); a heartbeat
    # sending a battery level, a number, conflicts with it.
    db.write(f'hw_event,device=desk-w01-seat,type=heartbeat x_battery="text" {base - 1}')
    ingest = collector(fault_env(registry_url, broker.url, db, tmp_path / "spool"))
    ingest.start()
    bad = set(range(0, 300, 50))
    one_off(
        broker.url,
        [
            (
                SEAT_TOPIC,
                json.dumps({**heartbeat(seq, base), **({"battery": 1} if seq in bad else {})}),
            )
            for seq in range(300)
        ],
    )
    wait_until(lambda: len(rejected(db)) >= len(bad), timeout=30, message=lambda: str(rejected(db)))
    assert sorted(stored_seqs(db)) == sorted(set(range(300)) - bad)
    reasons = rejected(db)
    assert len(reasons) == len(bad)
    assert all("field type conflict" in r["reason"] for r in reasons)
    assert sorted(json.loads(r["payload"])["seq"] for r in reasons) == sorted(bad)
    assert ingest.stop() == 0


def test_points_beyond_the_retention_policy_are_kept_as_rejected(
    start_service, registry_url, collector, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    influx_admin(
        db.url, f'CREATE RETENTION POLICY "two_days" ON "{db.db}" DURATION 2d REPLICATION 1 DEFAULT'
    )
    ingest = collector(fault_env(registry_url, broker.url, db, tmp_path / "spool"))
    ingest.start()
    # Three days old is a trusted device time (a backlog, by the collector's clock) but beyond
    # a two-day retention (by InfluxDB's clock): true whatever the two clocks say, within
    # three weeks of each other, as under `./dev test-at`, where InfluxDB keeps the true time.
    recent = base_ms(timedelta(minutes=10))
    old = base_ms(timedelta(days=3), min(store_clock(db.url), datetime.now(UTC)))
    messages = [
        (SEAT_TOPIC, json.dumps(heartbeat(seq, old if seq % 2 else recent))) for seq in range(200)
    ]
    one_off(broker.url, messages)
    wait_until(lambda: len(rejected(db)) >= 100, timeout=30, message=lambda: str(len(rejected(db))))
    assert sorted(stored_seqs(db)) == list(range(0, 200, 2))
    reasons = rejected(db)
    assert len(reasons) == 100
    assert all("beyond retention" in r["reason"] for r in reasons)
    assert ingest.stop() == 0


def test_an_oversized_body_is_split_and_a_point_too_big_alone_is_kept_cut(
    start_service, registry_url, collector, tmp_path
):
    broker = start_service(Mosquitto)
    influxd = start_service(Influxd, http_conf="max-body-size = 8000")
    db = new_database(influxd.url)
    ingest = collector(fault_env(registry_url, broker.url, db, tmp_path / "spool"))
    ingest.start()
    base = base_ms()
    messages = [(SEAT_TOPIC, json.dumps(heartbeat(seq, base))) for seq in range(2000)]
    # Not JSON, so kept as a rejection carrying its payload: over 8,000 bytes by itself.
    messages.insert(1000, (SEAT_TOPIC, "x" * 12_000))
    one_off(broker.url, messages)
    assert_each_once(db, 2000, base)
    # Too large even for hw_rejected: kept there with its payload cut, the reason saying so.
    kept = wait_until(lambda: db.rows('SELECT * FROM "hw_rejected"'), timeout=10)
    assert len(kept) == 1
    assert "payload of 12000 bytes cut to 1000" in kept[0]["reason"]
    assert kept[0]["payload"] == "x" * 1000 and kept[0]["size"] == 1000
    assert stored_count(db) == 2000
    assert ingest.stop() == 0
    assert "0 dropped" in ingest.log_text()  # the stop summary
