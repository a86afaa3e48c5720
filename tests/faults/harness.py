"""What the fault tests share: a private deployment, the collector as a real process, and a
numbered stream of heartbeats whose sequence numbers prove what InfluxDB kept.

Each heartbeat of a stream carries `seq` (stored as the field `x_seq`) and the device time
`base_ms + seq`, so every message is a point of its own and a redelivery overwrites it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import requests

from hallwatch.config import Settings
from hallwatch.mqtt import make_client
from tests.helpers import InfluxDB, deployment_env, hallwatch, influx_admin, wait_until

SEAT = "desk-w01-seat"
CARD = "desk-w01-card"
SEAT_TOPIC = f"hallwatch/devices/{SEAT}/events"
CARD_TOPIC = f"hallwatch/devices/{CARD}/events"
COLLECTOR_START_S = 20.0
PUBLISH_WAIT_S = 30.0
STOP_SUMMARY = re.compile(r"collector stopped: \d+ received, (\d+) written")

HALL_YAML = """
hall:
  name: 故障测试大厅
  timezone: Asia/Shanghai
  hours: [["00:00", "23:59"]]
  holidays: none
departments:
  - {id: civil, name: 民政局}
windows:
  - {id: W01, name: 1号窗口, department: civil}
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01}
"""


def import_hall(home: Path) -> str:
    """A SQLite registry holding HALL_YAML; its URL."""
    url = f"sqlite:///{home / 'registry.sqlite3'}"
    hall_file = home / "hall.yaml"
    hall_file.write_text(HALL_YAML, encoding="utf-8")
    env = deployment_env(url, "mqtt://127.0.0.1:9", InfluxDB("http://127.0.0.1:9", "unused"))
    hallwatch("import", str(hall_file), env=env)
    return url


def new_database(influx_url: str) -> InfluxDB:
    db = InfluxDB(influx_url, f"hw_fault_{uuid.uuid4().hex[:8]}")
    influx_admin(db.url, f'CREATE DATABASE "{db.db}"')
    return db


def base_ms(ago: timedelta = timedelta(minutes=30), now: datetime | None = None) -> int:
    """A whole-second device time in the trusted range, as epoch milliseconds."""
    return int(((now or datetime.now(UTC)) - ago).timestamp()) * 1000


def store_clock(influx_url: str) -> datetime:
    """InfluxDB's own time (its Date header), to the second: it judges retention by it."""
    date = requests.get(f"{influx_url}/ping", timeout=10).headers["Date"]
    return parsedate_to_datetime(date).astimezone(UTC)


def heartbeat(seq: int, base: int) -> dict:
    return {"type": "heartbeat", "ts": base + seq, "seq": seq}


class CollectorProcess:
    """`hallwatch collector` as a real process, which a test may SIGKILL and start again."""

    def __init__(self, env: dict, log_path: Path, args: tuple[str, ...] = ()):
        self.env = env
        self.log_path = log_path
        self.args = args  # e.g. ("--group", "hall"): more of the command line
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        """Start it and wait until it has subscribed (its persistent session exists)."""
        before = self._log().count("subscribing")
        with self.log_path.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "console.cli", "collector", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        wait_until(
            lambda: self._log().count("subscribing") > before,
            timeout=COLLECTOR_START_S,
            message=self._log,
        )

    def kill(self) -> None:
        """SIGKILL: nothing flushed, nothing acknowledged that was not already."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM; the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("the collector ignored SIGTERM for 30 s") from None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_text(self) -> str:
        return self._log()

    def written_per_run(self) -> list[int]:
        """How many points each cleanly stopped run wrote (its stop summary), oldest first."""
        return [int(n) for n in STOP_SUMMARY.findall(self._log())]


@dataclass
class Stream:
    """Publish heartbeats seq 0..count-1 at QoS 1 from a thread, `rate` per second."""

    broker_url: str
    count: int
    base: int
    rate: float = 400.0
    topic: str = SEAT_TOPIC
    published: int = 0
    infos: list = field(default_factory=list)

    def __post_init__(self) -> None:
        target = Settings(mqtt_url=self.broker_url).mqtt_target()
        self.client = make_client(target, f"fault-pub-{uuid.uuid4().hex[:6]}", persistent=True)
        self.client.max_queued_messages_set(0)  # unlimited: a broker restart must not refuse
        self.client.connect(target.host, target.port)
        self.client.loop_start()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Stream:
        self.thread.start()
        return self

    def _run(self) -> None:
        pause = 1.0 / self.rate
        for seq in range(self.count):
            payload = json.dumps(heartbeat(seq, self.base))
            self.infos.append(self.client.publish(self.topic, payload, qos=1))
            self.published = seq + 1
            time.sleep(pause)

    def wait_published(self, timeout: float = PUBLISH_WAIT_S) -> None:
        """Every message was acknowledged by the broker; one refused while the broker was
        away is published again (a device would retry too; a duplicate overwrites)."""
        self.thread.join(timeout)
        wait_until(self.client.is_connected, timeout=timeout, message="publisher reconnected")
        for seq, info in enumerate(self.infos):
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                payload = json.dumps(heartbeat(seq, self.base))
                self.infos[seq] = self.client.publish(self.topic, payload, qos=1)
        wait_until(
            lambda: all(info.is_published() for info in self.infos),
            timeout=timeout,
            message=lambda: f"{sum(i.is_published() for i in self.infos)} of {self.count} sent",
        )

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def one_off(broker_url: str, messages: list[tuple[str, bytes | str]]) -> None:
    """Publish a few messages at QoS 1 and wait for the broker's PUBACKs."""
    target = Settings(mqtt_url=broker_url).mqtt_target()
    client: mqtt.Client = make_client(target, f"fault-one-{uuid.uuid4().hex[:6]}")
    client.connect(target.host, target.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def stored_seqs(db: InfluxDB) -> list[int]:
    """The sequence numbers of every stored heartbeat, one per point, in time order."""
    rows = db.rows('SELECT "x_seq" FROM "hw_event" WHERE "type" = \'heartbeat\'')
    return [int(r["x_seq"]) for r in rows if r.get("x_seq") is not None]


def stored_count(db: InfluxDB) -> int:
    try:
        rows = db.rows('SELECT count("x_seq") FROM "hw_event"')
    except Exception:  # InfluxDB paused or down: not yet
        return -1
    return rows[0]["count"] if rows else 0


def assert_each_once(db: InfluxDB, count: int, base: int, timeout: float = 60) -> None:
    """Wait until `count` heartbeats are stored, then check each seq is there once, at its time."""
    wait_until(
        lambda: stored_count(db) >= count,
        timeout=timeout,
        message=lambda: f"{stored_count(db)} of {count} stored",
    )
    rows = db.rows('SELECT "x_seq" FROM "hw_event" WHERE "type" = \'heartbeat\'')
    seqs = [int(r["x_seq"]) for r in rows]
    assert len(seqs) == count, f"{len(seqs)} points for {count} events"
    assert sorted(seqs) == list(range(count))
    assert all(r["time"] == base + int(r["x_seq"]) for r in rows)  # each at its device time


def fault_env(registry_url: str, broker_url: str, db: InfluxDB, spool_dir: Path, **extra) -> dict:
    env = deployment_env(registry_url, broker_url, db)
    env["HALLWATCH_COLLECTOR_ID"] = f"fault-{uuid.uuid4().hex[:8]}"
    env["HALLWATCH_SPOOL_DIR"] = str(spool_dir)
    env.update({k: str(v) for k, v in extra.items()})
    return env
