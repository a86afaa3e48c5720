"""Two collectors on one client id: the second stops at start with a clear error and a
non-zero exit, and the first keeps its session and stores everything (issue 17, item 3)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from console.services import Influxd, Mosquitto
from tests.faults.harness import Stream, assert_each_once, base_ms, fault_env, new_database
from tests.helpers import wait_until


def second_collector(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "collector"],
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


def test_two_collectors_started_in_the_same_instant_on_one_id_leave_one_running(
    start_service, registry_url, streams, tmp_path
):
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    env = fault_env(registry_url, broker.url, db, tmp_path / "spool")
    logs = [tmp_path / f"twin-{n}.log" for n in range(2)]
    twins = [launch(env, log) for log in logs]  # neither finds the other when it looks
    try:
        wait_until(
            lambda: sum(t.poll() is not None for t in twins) == 1,
            timeout=60,
            message=lambda: "\n".join(log.read_text() for log in logs),
        )
        gone = next(n for n, t in enumerate(twins) if t.poll() is not None)
        stays = twins[1 - gone]
        assert twins[gone].returncode == 1
        assert "another collector is already connected as" in logs[gone].read_text()
        wait_until(lambda: "subscribing" in logs[1 - gone].read_text(), timeout=20)
        base = base_ms()
        stream = Stream(broker.url, 300, base, rate=300)
        streams.append(stream)
        stream.start()
        stream.wait_published()
        assert_each_once(db, 300, base)
        assert stays.poll() is None
        stays.send_signal(signal.SIGTERM)
        assert stays.wait(timeout=30) == 0
    finally:
        for twin in twins:
            if twin.poll() is None:
                twin.kill()
                twin.wait()


def launch(env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "console.cli", "collector"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
