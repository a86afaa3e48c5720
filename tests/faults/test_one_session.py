"""Two collectors on one client id: the second stops at start with a clear error and a
non-zero exit, and the first keeps its session and stores everything (issue 17, item 3)."""

from __future__ import annotations

import subprocess
import sys

from hallwatch.services import Influxd, Mosquitto
from tests.faults.harness import Stream, assert_each_once, base_ms, fault_env, new_database


def second_collector(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hallwatch.cli", "collector"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_collector_on_a_running_ones_session_exits_and_the_first_loses_nothing(
    start_service, registry_url, collector, streams, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    env = fault_env(registry_url, broker.url, db, tmp_path / "spool")
    first = collector(env)
    first.start()
    base = base_ms()
    stream = Stream(broker.url, 600, base, rate=300)
    streams.append(stream)
    stream.start()
    twice = second_collector(env)  # the same HALLWATCH_COLLECTOR_ID, started by mistake
    assert twice.returncode != 0
    assert "another collector is already connected as" in twice.stderr, twice.stderr
    assert env["HALLWATCH_COLLECTOR_ID"] in twice.stderr
    stream.wait_published()
    assert_each_once(db, 600, base)
    assert first.alive() and "disconnected from the broker" not in first.log_text()
    assert first.stop() == 0
    assert first.written_per_run() == [600]
    first.start()  # stopped cleanly, it said so: the same id starts again at once
    assert first.stop() == 0
