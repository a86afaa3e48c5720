"""Processes dying, restarting and hanging mid-stream: every numbered event stored exactly once.

Each test has a private Mosquitto and/or InfluxDB (tests/conftest.py `start_service`) and the
collector as a real `hallwatch collector` process. Already proved elsewhere, so not repeated:
the collector stopped cleanly while messages arrive, and InfluxDB stopped while the collector
waits (tests/integration/test_collector.py).
"""

from __future__ import annotations

from console.services import Influxd, Mosquitto
from tests.faults.harness import (
    Stream,
    assert_each_once,
    base_ms,
    fault_env,
    new_database,
    stored_count,
)
from tests.helpers import wait_until

STREAM = 800


def failures(ingest) -> int:
    return ingest.log_text().count("InfluxDB write failed")


def test_a_collector_killed_mid_stream_and_restarted_loses_and_doubles_nothing(
    start_service, registry_url, collector, streams, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    ingest = collector(fault_env(registry_url, broker.url, db, tmp_path / "spool"))
    ingest.start()
    base = base_ms()
    stream = Stream(broker.url, STREAM, base)
    streams.append(stream)
    stream.start()
    wait_until(lambda: stored_count(db) >= STREAM // 4, timeout=30, message="a quarter stored")
    ingest.kill()  # mid-batch: some written and not acked, some acked, some in flight
    killed_at = stored_count(db)
    ingest.start()  # same client id: the persistent session resumes
    stream.wait_published()
    assert_each_once(db, STREAM, base)
    assert killed_at < STREAM, "the kill came after the end of the stream"
    assert ingest.stop() == 0


def test_a_broker_restarted_mid_stream_keeps_the_collectors_queue(
    start_service, registry_url, collector, streams, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    ingest = collector(fault_env(registry_url, broker.url, db, tmp_path / "spool"))
    ingest.start()
    base = base_ms()
    stream = Stream(broker.url, STREAM, base)
    streams.append(stream)
    stream.start()
    wait_until(lambda: stream.published >= STREAM // 3, timeout=30)
    broker.restart()  # clean stop: persistence saves sessions and queued messages
    stream.wait_published(timeout=60)  # the publisher reconnects and re-sends its unacked
    assert_each_once(db, STREAM, base)
    assert "session present: True" in ingest.log_text()  # it resumed, not started afresh
    assert ingest.stop() == 0


def test_influxdb_hung_then_restarted_mid_stream_loses_nothing(
    start_service, registry_url, collector, streams, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    ingest = collector(fault_env(registry_url, broker.url, db, tmp_path / "spool"))
    ingest.start()
    base = base_ms()
    stream = Stream(broker.url, STREAM, base, rate=300)
    streams.append(stream)
    stream.start()
    wait_until(lambda: stored_count(db) >= 100, timeout=30)
    influxd.pause()  # SIGSTOP: connections accepted, never answered
    # Past the client's write timeout: the batch is retried while the hung write may still land.
    wait_until(lambda: failures(ingest) == 1, timeout=30, message="write timeout noticed")
    influxd.resume()
    wait_until(lambda: "InfluxDB is back" in ingest.log_text(), timeout=30)
    wait_until(lambda: stream.published >= 3 * STREAM // 4, timeout=30)
    influxd.stop()  # and then away altogether for a while
    wait_until(lambda: failures(ingest) == 2, timeout=30, message="outage noticed")
    influxd.start()
    stream.wait_published()
    assert_each_once(db, STREAM, base, timeout=90)
    assert ingest.stop() == 0
