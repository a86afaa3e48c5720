"""Small helpers shared by the tests: waiting on a condition, a per-test InfluxDB database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
import requests

from collector.collector import Collector
from hallwatch.config import Settings
from hallwatch.influx.client import InfluxClient
from hallwatch.mqtt import make_client

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the zone of the halls whose tests use fixed instants


def midday_zone(now: datetime | None = None) -> ZoneInfo:
    """A fixed-offset zone in which it is about noon now: a hall in it is an hour or more from
    its midnight whenever the tests run, so "30 minutes ago" is always today there."""
    hour = (now or datetime.now(UTC)).astimezone(UTC).hour
    offset = 12 - hour  # −11 … +12 hours, all of them IANA Etc zones
    return ZoneInfo("Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}")


T = TypeVar("T")

HTTP_TIMEOUT_S = 10.0


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10,
    interval: float = 0.05,
    message: str | Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(
                f"timed out after {timeout:g} s: {text or getattr(predicate, '__name__', '?')}"
                f" (last value {value!r})"
            )
        time.sleep(interval)


@dataclass(frozen=True)
class InfluxDB:
    """One InfluxDB 1.x database for one test: where it is, plus raw write and query."""

    url: str
    db: str

    def write(self, lines: str, precision: str = "ms") -> requests.Response:
        """POST line protocol to /write; raise unless the answer is 204."""
        answer = requests.post(
            f"{self.url}/write",
            params={"db": self.db, "precision": precision},
            data=lines.encode("utf-8"),
            timeout=HTTP_TIMEOUT_S,
        )
        if answer.status_code != 204:
            raise AssertionError(f"write answered {answer.status_code}: {answer.text}")
        return answer

    def query(self, q: str, **params: Any) -> list[dict]:
        """Run InfluxQL read-only (GET) and return the series of the first statement."""
        form: dict[str, Any] = {"db": self.db, "q": q, "epoch": "ms"}
        if params:
            form["params"] = json.dumps(params)
        answer = requests.get(f"{self.url}/query", params=form, timeout=HTTP_TIMEOUT_S)
        answer.raise_for_status()
        result = answer.json()["results"][0]
        if "error" in result:
            raise AssertionError(f"query {q!r} failed: {result['error']}")
        return result.get("series", [])

    def rows(self, q: str, **params: Any) -> list[dict]:
        """The rows of the first statement's series as dicts (column -> value)."""
        return [
            dict(zip(series["columns"], values, strict=True))
            for series in self.query(q, **params)
            for values in series["values"]
        ]


def influx_admin(url: str, statement: str) -> None:
    """Run a schema statement (CREATE/DROP DATABASE ...) through POST /query."""
    answer = requests.post(f"{url}/query", data={"q": statement}, timeout=HTTP_TIMEOUT_S)
    answer.raise_for_status()
    result = answer.json()["results"][0]
    if "error" in result:
        raise AssertionError(f"{statement!r} failed: {result['error']}")


def hallwatch(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    """Run `hallwatch ARGS` as a real process with `env`; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def deployment_env(database_url: str, mqtt_url: str, influx: InfluxDB) -> dict[str, str]:
    """The environment every HallWatch process of one test deployment shares."""
    return {
        **os.environ,
        "HALLWATCH_DATABASE_URL": database_url,
        "HALLWATCH_MQTT_URL": mqtt_url,
        "HALLWATCH_INFLUX_URL": influx.url,
        "HALLWATCH_INFLUX_DB": influx.db,
        "HALLWATCH_SECRET_KEY": "test-secret",
        "HALLWATCH_COLLECTOR_ID": f"test-{uuid.uuid4().hex[:8]}",
    }


def start_collector(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """`hallwatch collector ARGS` as a real process logging to `log`, once it has subscribed.

    Its persistent session must exist before anything is published, or the broker keeps
    nothing for it. The caller stops it (terminate, or kill).
    """
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "collector", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "subscribing" in log.read_text(), timeout=20, message=log.read_text)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


class RunningCollector:
    """A collector in a thread of the test process, stopped like SIGTERM would; started again
    on the same `client_id` it finds what its persistent session held (and its clocks.json).
    `load_registry` defaults to the unit tests' small hall."""

    def __init__(
        self,
        broker_url: str,
        influx_url: str,
        db: str,
        client_id: str | None = None,
        load_registry: Callable | None = None,
    ):
        target = Settings(mqtt_url=broker_url).mqtt_target()
        self.client_id = client_id or f"test-collector-{uuid.uuid4().hex[:6]}"
        client = make_client(target, self.client_id, persistent=True, manual_ack=True, bulk=True)
        if load_registry is None:
            from tests.unit.hall import hall

            load_registry = hall
        self.collector = Collector(
            client, InfluxClient(influx_url, db), load_registry, collector_id=self.client_id
        )
        self.collector.start(target.host, target.port)
        self.thread = threading.Thread(target=self.collector.run, daemon=True)
        self.thread.start()
        # Subscribed, not only connected: a new session misses what was published before.
        wait_until(self.collector.subscribed.is_set, message="collector subscribed")

    def stop(self) -> None:
        self.collector.stop()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()


BACKENDS = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
