"""`hallwatch rejected --replay`: messages rejected for what the registry said when they
came are stored once it says more, once only however often it runs (issue 17, item 1)."""

from __future__ import annotations

import json

from console.services import Influxd, Mosquitto
from tests.faults.harness import (
    HALL_YAML,
    SEAT_TOPIC,
    base_ms,
    fault_env,
    heartbeat,
    import_hall,
    new_database,
    one_off,
)
from tests.helpers import hallwatch, wait_until

NEW_SEAT, NEW_CARD = "desk-w02-seat", "desk-w02-card"
# The second window's desk, registered a while after it first spoke.
LATER_YAML = HALL_YAML.replace(
    "windows:\n", "windows:\n  - {id: W02, name: 2号窗口, department: civil}\n"
) + (
    f"  - {{id: {NEW_CARD}, kind: badge_reader, window: W02}}\n"
    f"  - {{id: {NEW_SEAT}, kind: presence_sensor, window: W02}}\n"
)


def replay(env: dict) -> dict:
    result = hallwatch("rejected", "--replay", "--hours", "2", env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def count(db, measurement: str) -> int:
    rows = db.rows(f'SELECT count("received_ms") FROM "{measurement}"')
    return rows[0]["count"] if rows else 0


def test_rejections_of_a_device_registered_later_are_stored_by_a_replay_once(
    start_service, collector, tmp_path
):
    registry_url = import_hall(tmp_path)
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    env = fault_env(registry_url, broker.url, db, tmp_path / "spool")
    ingest = collector(env)
    ingest.start()
    base = base_ms()
    card = {"type": "badge", "uid": "04A1B2C3", "ts": base + 100}
    one_off(
        broker.url,
        [(f"hallwatch/devices/{NEW_SEAT}/events", json.dumps(heartbeat(s, base))) for s in range(5)]
        + [(f"hallwatch/devices/{NEW_CARD}/events", json.dumps(card)), (SEAT_TOPIC, "{not json")],
    )
    kept = 'SELECT count("reason") FROM "hw_rejected"'
    wait_until(lambda: db.rows(kept) and db.rows(kept)[0]["count"] == 7, message=ingest.log_text)
    assert count(db, "hw_event") == 0
    (tmp_path / "later.yaml").write_text(LATER_YAML, encoding="utf-8")
    hallwatch("import", str(tmp_path / "later.yaml"), env=env)

    first = replay(env)
    assert (first["stored"], first["events"], first["still_rejected"]) == (6, 6, 1)
    rows = db.rows('SELECT * FROM "hw_event"')
    beats = sorted((r["time"], r["x_seq"]) for r in rows if r["type"] == "heartbeat")
    assert beats == [(base + s, s) for s in range(5)]  # each at its device time
    badge = next(r for r in rows if r["type"] == "badge")
    assert (badge["device"], badge["staff"], badge["time"]) == (NEW_CARD, "s001", base + 100)

    again = replay(env)
    assert (again["stored"], again["already_replayed"], again["still_rejected"]) == (0, 6, 1)
    assert count(db, "hw_event") == 6  # nothing doubled
    listed = [json.loads(line) for line in hallwatch("rejected", env=env).stdout.splitlines()]
    assert sorted(bool(r.get("replayed")) for r in listed) == [False] + [True] * 6
    assert ingest.stop() == 0
