"""A collector that cannot read the registry takes no messages: it waits, says so, and
stores what waited in its session once the registry can be read (issue 17, item 1)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid

import psycopg
import pytest

from collector.status import spool_summary
from console.services import Influxd, Mosquitto
from tests.conftest import PG_ADMIN, PG_URL
from tests.faults.harness import (
    HALL_YAML,
    SEAT_TOPIC,
    assert_each_once,
    base_ms,
    fault_env,
    heartbeat,
    new_database,
    one_off,
)
from tests.helpers import InfluxDB, deployment_env, hallwatch, wait_until


@pytest.fixture
def reader_registry(tmp_path):
    """The fault hall in a PostgreSQL schema of its own, and a role the test lets read it
    or not: (the admin's URL, the reader's URL, grant(bool))."""
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"hw_reader_{uuid.uuid4().hex[:10]}"
    options = f"?options=-csearch_path%3D{name}"
    admin.execute(f"CREATE SCHEMA {name}")
    admin.execute(f"CREATE ROLE {name} LOGIN")
    admin.execute(f"GRANT USAGE ON SCHEMA {name} TO {name}")
    admin_url = PG_URL + options
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(HALL_YAML, encoding="utf-8")
    env = deployment_env(admin_url, "mqtt://127.0.0.1:9", InfluxDB("http://127.0.0.1:9", "x"))
    hallwatch("import", str(hall_file), env=env)

    def grant(readable: bool) -> None:
        verb = "GRANT SELECT ON ALL TABLES IN SCHEMA {0} TO {0}"
        if not readable:
            verb = "REVOKE SELECT ON ALL TABLES IN SCHEMA {0} FROM {0}"
        admin.execute(verb.format(name))

    try:
        yield admin_url, PG_URL.replace("postgres@", f"{name}@") + options, grant
    finally:
        admin.execute(f"DROP SCHEMA {name} CASCADE")
        admin.execute(f"DROP OWNED BY {name}")
        admin.execute(f"DROP ROLE {name}")
        admin.close()


def launch(env: dict, log_path) -> subprocess.Popen:
    """The collector process, without waiting for it to subscribe (it must not, yet)."""
    with log_path.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "console.cli", "collector"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.postgres
def test_an_unreadable_registry_at_start_rejects_nothing_and_what_waited_is_stored_once_it_reads(
    start_service, reader_registry, collector, tmp_path
):
    _admin_url, reader_url, grant = reader_registry
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    root = tmp_path / "spool"
    env = fault_env(reader_url, broker.url, db, root)
    grant(True)
    first = collector(env)
    first.start()  # its persistent session exists from now on
    assert first.stop() == 0
    grant(False)  # the registry cannot be read (a database down or locked is the same to it)
    base = base_ms()
    one_off(broker.url, [(SEAT_TOPIC, json.dumps(heartbeat(s, base))) for s in range(20)])
    log_path = tmp_path / "second.log"
    process = launch(env, log_path)
    try:
        wait_until(
            lambda: (spool_summary(root) or {}).get("registry_errors"),
            timeout=20,
            message=log_path.read_text,
        )
        assert "cannot read the registry" in log_path.read_text()
        assert "subscribing" not in log_path.read_text()
        grant(True)
        assert_each_once(db, 20, base, timeout=30)
        assert db.rows('SELECT count("reason") FROM "hw_rejected"') == []
        wait_until(lambda: "registry_errors" not in (spool_summary(root) or {}), timeout=10)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.postgres
def test_a_registry_that_cannot_be_reread_keeps_the_last_one_read(
    start_service, reader_registry, collector, tmp_path
):
    _admin_url, reader_url, grant = reader_registry
    broker, influxd = start_service(Mosquitto), start_service(Influxd)
    db = new_database(influxd.url)
    root = tmp_path / "spool"
    grant(True)
    ingest = collector(fault_env(reader_url, broker.url, db, root))
    ingest.start()
    grant(False)  # the next re-read (every 10 s) fails
    wait_until(
        lambda: (spool_summary(root) or {}).get("registry_errors"),
        timeout=30,
        message=ingest.log_text,
    )
    assert "keeping the previous one" in ingest.log_text()
    base = base_ms()
    one_off(broker.url, [(SEAT_TOPIC, json.dumps(heartbeat(s, base))) for s in range(20)])
    assert_each_once(db, 20, base, timeout=30)  # converted with the registry read before
    assert db.rows('SELECT count("reason") FROM "hw_rejected"') == []
    assert ingest.stop() == 0


def test_a_registry_database_down_at_start_is_waited_for_not_a_crash(tmp_path):
    env = deployment_env(
        "postgresql://nobody@127.0.0.1:9/none",  # nothing listens there
        "mqtt://127.0.0.1:9",
        InfluxDB("http://127.0.0.1:9", "unused"),
    )
    root = tmp_path / "spool"
    env["HALLWATCH_SPOOL_DIR"] = str(root)
    log_path = tmp_path / "collector.log"
    process = launch(env, log_path)
    try:
        wait_until(
            lambda: (spool_summary(root) or {}).get("registry_errors")
            or process.poll() is not None,
            timeout=30,
            message=log_path.read_text,
        )
        assert process.poll() is None, log_path.read_text()
        assert "cannot read the registry" in log_path.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
