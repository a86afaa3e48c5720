"""The collector's disk spool: durable before the ack, a torn tail cut off, replayed in order
when InfluxDB returns, and a full spool handing the backlog back to the broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from collector.spool import Spool, SpoolConfigError, SpoolSettings
from collector.status import STATUS_FILE, spool_summary
from console.services import Influxd, Mosquitto
from hallwatch.events import Heartbeat
from hallwatch.influx.eventstore import event_point
from hallwatch.registry.users import add_user
from tests.faults.harness import (
    SEAT,
    SEAT_TOPIC,
    Stream,
    assert_each_once,
    base_ms,
    fault_env,
    heartbeat,
    new_database,
    one_off,
    stored_seqs,
)
from tests.helpers import wait_until
from tests.web_helpers import app_for, basic

# A tiny memory queue and a short patience, so a few hundred messages reach the disk.
SPOOL_SOON = {"HALLWATCH_COLLECTOR_MAX_QUEUE": 50, "HALLWATCH_SPOOL_AFTER_S": 0.5}


def lines(first: int, count: int) -> list[str]:
    return [f"m,t=a v={n}i {n}" for n in range(first, first + count)]


# --- the spool file on its own ---------------------------------------------------------------


def test_a_torn_append_is_cut_off_and_the_whole_records_survive(tmp_path):
    spool = Spool(tmp_path, max_bytes=1_000_000, segment_bytes=300)
    for first in (0, 10, 20):
        assert spool.append(lines(first, 10))
    newest = spool.segments[-1].path
    whole = newest.stat().st_size
    with open(newest, "ab") as f:  # a crash half-way through the next append
        f.write(b"HWS1\x00\x00")
    reopened = Spool(tmp_path, max_bytes=1_000_000, segment_bytes=300)
    assert reopened.discarded_bytes == 6 and newest.stat().st_size == whole
    assert reopened.points == 30 and len(reopened.segments) >= 2
    replayed = [line for s in reopened.segments for line in reopened.lines_of(s)]
    assert replayed == lines(0, 30)  # oldest first, in the order appended
    first = reopened.segments[0]
    reopened.remove(first)
    assert not first.path.exists()
    assert Spool(tmp_path, 1_000_000).points == 30 - first.points


def test_a_damaged_last_record_is_kept_aside_not_cut_and_a_full_spool_refuses(tmp_path):
    spool = Spool(tmp_path, max_bytes=600)
    assert spool.append(lines(0, 5)) and spool.append(lines(5, 5))
    path = spool.segments[0].path
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # a flipped byte in the last record, which is whole: not a torn append
    path.write_bytes(bytes(data))
    again = Spool(tmp_path, max_bytes=600)
    assert again.points == 5 and again.discarded_bytes == 0
    assert (tmp_path / f"{path.name}.corrupt-1").read_bytes() == bytes(data)
    while again.append(lines(100, 5)):
        pass
    assert again.bytes <= 600  # bounded: the append that would not fit added nothing


# A flipped byte anywhere in the first record: its magic, its length, its checksum, its
# point count or its payload (the header is 24 bytes).
@pytest.mark.parametrize("at", [0, 5, 9, 13, 30], ids=["magic", "length", "crc", "count", "body"])
def test_a_damaged_first_record_keeps_every_record_after_it_and_tells(tmp_path, at):
    spool = Spool(tmp_path, max_bytes=1_000_000)
    for first in (0, 10, 20):
        assert spool.append(lines(first, 10))
    path = spool.segments[0].path
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    path.write_bytes(bytes(data))
    reopened = Spool(tmp_path, max_bytes=1_000_000)
    assert reopened.points == 20 and reopened.discarded_bytes == 0
    assert [line for s in reopened.segments for line in reopened.lines_of(s)] == lines(10, 20)
    assert (tmp_path / f"{path.name}.corrupt-1").read_bytes() == bytes(data)  # as found
    assert [(c.records, c.kept_as) for c in reopened.corrupt] == [(1, f"{path.name}.corrupt-1")]
    assert reopened.depth()["corrupt"] == [f"{tmp_path.name}/{path.name}.corrupt-1"]
    again = Spool(tmp_path, max_bytes=1_000_000)  # the rewritten segment is whole
    assert again.points == 20 and not again.corrupt


def test_a_record_damaged_after_opening_is_kept_aside_before_replay_deletes_it(tmp_path):
    spool = Spool(tmp_path, max_bytes=1_000_000)
    for first in (0, 10, 20):
        assert spool.append(lines(first, 10))
    segment = spool.segments[0]
    data = bytearray(segment.path.read_bytes())
    data[len(data) // 2] ^= 0x01  # bit rot in the middle record while the collector runs
    segment.path.write_bytes(bytes(data))
    assert spool.lines_of(segment) == lines(0, 10) + lines(20, 10)
    assert spool.kept_aside() == [f"{tmp_path.name}/{segment.path.name}.corrupt-1"]
    assert spool.points == 20 and spool.bytes == segment.path.stat().st_size


def test_a_collector_finding_a_damaged_segment_stores_the_rest_and_tells_the_operator(
    start_service, registry_url, collector, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    root = tmp_path / "spool"
    env = fault_env(registry_url, broker.url, db, root)
    base = base_ms()
    spool = Spool(root / env["HALLWATCH_COLLECTOR_ID"], max_bytes=1_000_000)
    for first in (0, 10, 20):  # acknowledged before a restart: three records of ten
        assert spool.append([seat_heartbeat(seq, base) for seq in range(first, first + 10)])
    path = spool.segments[0].path
    data = bytearray(path.read_bytes())
    data[40] ^= 0x01  # in the first record
    path.write_bytes(bytes(data))
    ingest = collector(env)
    ingest.start()
    wait_until(lambda: len(stored_seqs(db)) >= 20, timeout=30, message=ingest.log_text)
    assert sorted(stored_seqs(db)) == list(range(10, 30))
    assert "damaged records" in ingest.log_text() and "never acknowledged" not in ingest.log_text()
    wait_until(lambda: (spool_summary(root) or {}).get("corrupt"), timeout=10)
    app = app_for(env)
    app.config["HALLWATCH_SPOOL_DIR"] = str(root)
    with app.extensions["hallwatch"].sessions() as session:
        add_user(session, "ops", "hall_manager", "pw-ops")
        session.commit()
    kept = f"{env['HALLWATCH_COLLECTOR_ID']}/{path.name}.corrupt-1"
    operator = app.test_client().get("/healthz", headers=basic("ops", "pw-ops")).get_json()
    assert operator["spool_corrupt"] == [kept]
    public = app.test_client().get("/healthz").get_json()  # names no file to the world
    assert "spool_corrupt" not in public and public["problems"] == ["spool_corrupt"]
    page = app.test_client().get("/ops/devices", headers=basic("ops", "pw-ops"))
    html = page.get_data(as_text=True)
    assert "磁盘缓冲:损坏的段" in html and kept in html
    assert ingest.stop() == 0


def seat_heartbeat(seq: int, base: int) -> str:
    at = datetime.fromtimestamp((base + seq) / 1000, UTC)
    return event_point(Heartbeat(SEAT, at, at, "native", {"seq": seq})).to_line()


def test_spool_settings_name_the_variable_they_reject():
    with pytest.raises(SpoolConfigError, match="HALLWATCH_SPOOL_MAX_MB"):
        SpoolSettings.from_env({"HALLWATCH_SPOOL_MAX_MB": "lots"})
    settings = SpoolSettings.from_env({"HALLWATCH_SPOOL_MAX_MB": "2", "HALLWATCH_SPOOL_DIR": "/x"})
    assert settings.max_bytes == 2 * 1024 * 1024 and str(settings.directory("c1")) == "/x/c1"


# --- the collector spooling -------------------------------------------------------------------


def spooled(root) -> int:
    depth = spool_summary(root)
    return depth["points"] if depth else 0


def test_a_collector_killed_while_spooling_loses_nothing_once_influxdb_returns(
    start_service, registry_url, collector, streams, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    root = tmp_path / "spool"
    ingest = collector(fault_env(registry_url, broker.url, db, root, **SPOOL_SOON))
    ingest.start()
    influxd.stop()
    base = base_ms()
    stream = Stream(broker.url, 1000, base, rate=500)
    streams.append(stream)
    stream.start()
    wait_until(lambda: spooled(root) >= 300, timeout=30, message=ingest.log_text)
    ingest.kill()  # mid-spool: possibly half-way through an append
    ingest.start()
    stream.wait_published()
    wait_until(lambda: spooled(root) >= 1000, timeout=30, message=lambda: str(spooled(root)))
    influxd.start()
    assert_each_once(db, 1000, base, timeout=60)
    wait_until(lambda: spooled(root) == 0, timeout=10)  # every segment deleted after its 204
    assert not list(root.glob("*/seg-*.hws"))
    # status.json says so as each segment goes; the log line follows the last one.
    wait_until(lambda: "spool replayed" in ingest.log_text(), timeout=10)
    assert "spool: " in ingest.log_text()
    assert ingest.stop() == 0


def test_a_full_spool_stops_acknowledging_and_the_broker_keeps_the_rest(
    start_service, registry_url, collector, streams, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    root = tmp_path / "spool"
    env = fault_env(registry_url, broker.url, db, root, HALLWATCH_SPOOL_MAX_MB=0.02, **SPOOL_SOON)
    ingest = collector(env)
    ingest.start()
    influxd.stop()
    base = base_ms()
    stream = Stream(broker.url, 600, base, rate=1000)
    streams.append(stream)
    stream.start()
    stream.wait_published()
    wait_until(lambda: "spool full" in ingest.log_text(), timeout=30, message=ingest.log_text)
    wait_until(lambda: 0 < spooled(root) < 600, timeout=5, message=lambda: str(spooled(root)))
    assert (next(root.glob("*")) / STATUS_FILE).exists()
    # What operators see meanwhile: /healthz and the devices page report the spool's depth.
    app = app_for(env)
    app.config["HALLWATCH_SPOOL_DIR"] = str(root)
    with app.extensions["hallwatch"].sessions() as session:
        add_user(session, "ops", "hall_manager", "pw-ops")
        session.commit()
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and health.get_json()["down"] == ["influx"]
    assert health.get_json()["spool_points"] == spooled(root)
    page = app.test_client().get("/ops/devices", headers=basic("ops", "pw-ops"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "磁盘缓冲:待写入点数" in html
    assert f'id="ingest-spool_points">{spooled(root)}<' in html
    influxd.start()
    assert_each_once(db, 600, base, timeout=60)
    wait_until(lambda: spooled(root) == 0, timeout=10)
    assert ingest.stop() == 0


def test_a_collector_stopped_during_an_outage_spools_what_it_holds(
    start_service, registry_url, collector, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    root = tmp_path / "spool"
    ingest = collector(fault_env(registry_url, broker.url, db, root))  # default 30 s patience
    ingest.start()
    influxd.stop()
    base = base_ms()
    one_off(broker.url, [(SEAT_TOPIC, json.dumps(heartbeat(s, base))) for s in range(200)])
    wait_until(lambda: "InfluxDB write failed" in ingest.log_text(), timeout=10)
    assert ingest.stop() == 0  # SIGTERM: what it holds goes to disk instead of waiting
    assert spooled(root) == 200
    influxd.start()
    ingest.start()
    assert_each_once(db, 200, base)
    wait_until(lambda: spooled(root) == 0, timeout=10)
    assert ingest.stop() == 0
