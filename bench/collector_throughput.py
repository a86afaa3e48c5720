"""Sustained collector throughput, and the two limits it sits between, measured in one run.

    python -m bench.collector_throughput [--messages N] [--repeat 3] [--soak-seconds 300]
        [--soak-rate R] [--out docs/BENCHMARKS.md]

Everything runs on loopback in a temporary directory: our own Mosquitto and influxd
(`console.services`, the same configuration as the demo and the tests), and a SQLite
registry of 200 windows, each with a native seat sensor, loaded with `hallwatch import`.
Every message is a native presence event with its own (device, ts), so every message is
its own point and `count(occupied)` in InfluxDB proves zero loss.

Each repetition measures, in turn:

1. broker limit: publisher processes (paho, QoS 1, 1,000 in flight, payloads encoded
   beforehand) → Mosquitto → a bare paho subscriber process (QoS 1, auto-ack, counts);
   messages/s from the first to the last message it receives, all N received;
2. InfluxDB limit: the same N points (`event_point(PresenceReport)`) written in batches
   of 5,000 with `InfluxClient`, one after another like the collector's one worker;
3. collector: `hallwatch collector` as a real process, the same publishers; messages/s
   from the first publish until `count(occupied)` in InfluxDB reaches N, plus its CPU and
   RSS (from /proc) and the broker's and influxd's CPU over the same window.

Then a soak: the collector under a steady paced load for --soak-seconds, its RSS sampled
every 5 s, zero loss checked at the end. Medians are reported; the ratio is the
collector's median over the lower of the two limits' medians.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import multiprocessing as mp
import os
import platform
import queue
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt

from console.services import HOST, Influxd, Mosquitto, ensure_binaries, find_binary
from hallwatch.events import PresenceReport
from hallwatch.influx.client import InfluxClient, QueryError, quote_identifier
from hallwatch.influx.eventstore import event_point

WINDOWS = 200
TOPIC_FILTER = "hallwatch/devices/+/events"
INFLUX_BATCH = 5_000  # the collector's MAX_BATCH
PUBLISH_INFLIGHT = 1_000  # QoS 1 messages a publisher keeps on the wire
POLL_S = 0.2  # InfluxDB count polling during a collector run
SOAK_SAMPLE_S = 5.0
STALL_S = 30.0  # no progress for this long: the run failed
READY_TIMEOUT_S = 60.0
TS_BACK = timedelta(hours=6)  # message times start this far back: recent, but never in the future
PROBE_TS_OFFSET_MS = -60_000  # the probe's time: just before every measured message
PROFILE_RATE = 100  # py-spy samples per second
DEFAULT_SOAK_SHARE = 0.6  # soak at this share of the collector's measured rate
MARK = "<!-- bench:collector_throughput:{section}:{end} -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A measurement could not be completed (lost messages, a stall, a process failed)."""


# --- the messages ---------------------------------------------------------------------------


def device_id(i: int) -> str:
    return f"seat-W{i % WINDOWS + 1:03d}"


def topic(i: int) -> str:
    return f"hallwatch/devices/{device_id(i)}/events"


def occupied(i: int) -> bool:
    return (i // WINDOWS) % 2 == 0


def payload(i: int, base_ms: int) -> bytes:
    """Message i: its own millisecond, so (device, ts) and hence the point is unique."""
    state = "true" if occupied(i) else "false"
    return f'{{"type":"presence","occupied":{state},"ts":{base_ms + i}}}'.encode()


def at_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def new_base_ms() -> int:
    return int((datetime.now(UTC) - TS_BACK).timestamp()) * 1000


def registry_yaml() -> str:
    """A hall of WINDOWS windows, each with a native seat sensor (docs/REGISTRY.md)."""
    lines = [
        "hall:",
        "  name: 压测大厅",
        "  timezone: Asia/Shanghai",
        '  hours: [["09:00", "12:00"], ["13:30", "17:30"]]',
        "  holidays: cn",
        "departments:",
        "  - {id: bench, name: 压测局}",
        "windows:",
    ]
    for w in range(1, WINDOWS + 1):
        lines.append(
            f"  - {{id: W{w:03d}, name: {w}号窗口, department: bench, "
            f"position: [{(w - 1) // 20 + 1}, {(w - 1) % 20 + 1}]}}"
        )
    lines.append("devices:")
    for w in range(1, WINDOWS + 1):
        lines.append(f"  - {{id: seat-W{w:03d}, kind: presence_sensor, window: W{w:03d}}}")
    return "\n".join(lines) + "\n"


# --- /proc ------------------------------------------------------------------------------------


def cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process, in seconds (None once it is gone)."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def rss_mb(pid: int | None) -> float | None:
    """VmRSS of a process in MiB (None once it is gone)."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class CpuMeter:
    """CPU used by named processes between start() and stop(), as % of one core."""

    def __init__(self, pids: dict[str, int | None]):
        self.pids = pids
        self.begin: dict[str, float | None] = {}
        self.t0 = 0.0

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.begin = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.t0
        shares = {}
        for name, pid in self.pids.items():
            before, after = self.begin.get(name), cpu_seconds(pid)
            if before is not None and after is not None and elapsed > 0:
                shares[name] = 100 * (after - before) / elapsed
        return shares


def _die_with_parent() -> None:
    """In a child between fork and exec: SIGTERM it when the benchmark dies."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# --- child processes: publishers and the bare subscriber -----------------------------------


def _publisher_main(
    port: int,
    qos: int,
    first: int,
    count: int,
    base_ms: int,
    rate: float | None,
    ready: Any,
    go: Any,
    results: Any,
    progress: Any,
) -> None:
    """Publish messages first..first+count-1, as fast as the broker takes them or at `rate`/s."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{os.getpid()}",
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    # Our own window of PUBLISH_INFLIGHT unacknowledged messages, with paho's limit off: with
    # it on, paho rescans every message in flight on each PUBACK (`_update_inflight`), which
    # at 1,000 in flight makes the publisher, not the broker, the bottleneck.
    client.max_inflight_messages_set(0)
    window = threading.BoundedSemaphore(PUBLISH_INFLIGHT)
    acked = [0]
    done_at = [0.0]
    all_acked = threading.Event()

    def on_publish(client, userdata, mid, reason_code, properties):
        window.release()
        acked[0] += 1
        if acked[0] == count:
            done_at[0] = time.monotonic()
            all_acked.set()

    client.on_publish = on_publish
    client.connect(HOST, port, keepalive=60)
    client.loop_start()
    encoded = None
    if rate is None:
        encoded = [(topic(i), payload(i, base_ms)) for i in range(first, first + count)]
    ready.put(os.getpid())
    go.wait()
    started = time.monotonic()
    failures = 0
    if encoded is not None:
        for t, p in encoded:
            window.acquire()
            if client.publish(t, p, qos).rc != mqtt.MQTT_ERR_SUCCESS:
                failures += 1
    else:
        sent = 0
        while sent < count:
            due = min(count, int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                i = first + sent
                window.acquire()
                if client.publish(topic(i), payload(i, base_ms), qos).rc != mqtt.MQTT_ERR_SUCCESS:
                    failures += 1
                sent += 1
            progress.value = sent
            time.sleep(0.005)
    finished_publish = time.monotonic()
    all_acked.wait(timeout=max(STALL_S, count / 1000))
    results.put(
        {
            "pid": os.getpid(),
            "started": started,
            "published": finished_publish,
            "acked_at": done_at[0] or None,
            "acked": acked[0],
            "failures": failures,
        }
    )
    client.disconnect()
    client.loop_stop()


def _subscriber_main(port: int, n: int, ready: Any, results: Any, stop: Any) -> None:
    """A bare QoS 1 subscriber (clean session, auto-ack) that only counts."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-sub-{os.getpid()}",
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    state: dict[str, Any] = {"count": 0, "first": 0.0, "last": 0.0, "marks": []}
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client, userdata, message):
        now = time.monotonic()
        if state["count"] == 0:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if state["count"] % 10_000 == 0:
            state["marks"].append(now)
        if state["count"] >= n:
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(HOST, port, keepalive=60)
    client.loop_start()
    client.subscribe(TOPIC_FILTER, qos=1)
    if subscribed.wait(READY_TIMEOUT_S):
        ready.put(os.getpid())
    while not done.wait(0.2):
        if stop.is_set():
            break
        if state["count"] and time.monotonic() - state["last"] > STALL_S:
            break
    results.put(dict(state))
    client.disconnect()
    client.loop_stop()


class Children:
    """Publisher (and subscriber) processes started together and released at once."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.ready = self.ctx.Queue()
        self.results = self.ctx.Queue()
        self.go = self.ctx.Event()
        self.stop_event = self.ctx.Event()
        self.procs: list[mp.process.BaseProcess] = []
        self.publishers: list[mp.process.BaseProcess] = []
        self.subscriber: mp.process.BaseProcess | None = None
        self.progress = self.ctx.Value("q", 0, lock=False)

    def add_publishers(
        self, port: int, qos: int, n: int, count: int, base_ms: int, rate: float | None = None
    ) -> None:
        edges = [n * k // count for k in range(count + 1)]
        for k in range(count):
            proc = self.ctx.Process(
                target=_publisher_main,
                args=(port, qos, edges[k], edges[k + 1] - edges[k], base_ms, rate)
                + (self.ready, self.go, self.results, self.progress),
                daemon=True,
            )
            self.publishers.append(proc)
            self.procs.append(proc)

    def add_subscriber(self, port: int, n: int) -> None:
        self.subscriber = self.ctx.Process(
            target=_subscriber_main,
            args=(port, n, self.ready, self.results, self.stop_event),
            daemon=True,
        )
        self.procs.append(self.subscriber)

    def start(self) -> None:
        for proc in self.procs:
            proc.start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = len(self.procs)
        while waiting:
            try:
                self.ready.get(timeout=0.5)
                waiting -= 1
            except queue.Empty:
                dead = [p for p in self.procs if p.exitcode is not None]
                if dead or time.monotonic() > deadline:
                    raise BenchError(
                        "a publisher or the subscriber did not get ready "
                        f"(exit codes {[p.exitcode for p in self.procs]})"
                    ) from None

    def release(self) -> float:
        t0 = time.monotonic()
        self.go.set()
        return t0

    def pids(self) -> dict[str, int | None]:
        pids: dict[str, int | None] = {
            f"publisher {k + 1}": p.pid for k, p in enumerate(self.publishers)
        }
        if self.subscriber is not None:
            pids["subscriber"] = self.subscriber.pid
        return pids

    def collect(self, timeout: float) -> list[dict]:
        out = []
        deadline = time.monotonic() + timeout
        for _ in self.procs:
            try:
                out.append(self.results.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                raise BenchError("a publisher or the subscriber did not report") from None
        return out

    def close(self) -> None:
        self.stop_event.set()
        self.go.set()
        for proc in self.procs:
            if proc.pid is None:
                continue  # never started
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)


def publisher_summary(reports: list[dict], t0: float) -> dict:
    pubs = [r for r in reports if "acked" in r]
    acked = sum(r["acked"] for r in pubs)
    failures = sum(r["failures"] for r in pubs)
    ends = [r["acked_at"] for r in pubs]
    end = max(ends) if all(ends) else None
    return {"acked": acked, "failures": failures, "at_broker_s": end - t0 if end else None}


# --- the environment ------------------------------------------------------------------------


@dataclass
class Bench:
    workdir: Path
    qos: int
    publishers: int
    broker_conf: str = ""
    broker: Mosquitto | None = None
    influxd: Influxd | None = None
    database_url: str = ""
    collector_procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> None:
        ensure_binaries()
        self.broker = Mosquitto(self.workdir / "mosquitto", extra_conf=self.broker_conf)
        self.influxd = Influxd(self.workdir / "influxd")
        self.broker.start()
        self.influxd.start()
        self.database_url = f"sqlite:///{self.workdir / 'registry.sqlite3'}"
        registry = self.workdir / "hall.yaml"
        registry.write_text(registry_yaml(), encoding="utf-8")
        done = subprocess.run(
            [*hallwatch_command(), "import", str(registry)],
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise BenchError(f"hallwatch import failed:\n{done.stdout}\n{done.stderr}")

    def stop(self) -> None:
        for proc in self.collector_procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for service in (self.broker, self.influxd):
            if service is not None:
                with contextlib.suppress(Exception):
                    service.stop()

    def env(self, **extra: str) -> dict[str, str]:
        assert self.broker and self.influxd
        env = dict(os.environ)
        env.update(
            HALLWATCH_DATABASE_URL=self.database_url,
            HALLWATCH_MQTT_URL=self.broker.url,
            HALLWATCH_INFLUX_URL=self.influxd.url,
            HALLWATCH_SECRET_KEY="bench",
            **extra,
        )
        return env

    def influx(self, db: str) -> InfluxClient:
        assert self.influxd
        return InfluxClient(self.influxd.url, db)

    def service_pids(self) -> dict[str, int | None]:
        assert self.broker and self.influxd
        return {"mosquitto": self.broker.pid, "influxd": self.influxd.pid}


def hallwatch_command() -> list[str]:
    script = Path(sys.executable).parent / "hallwatch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "console.cli"]


def count_points(client: InfluxClient) -> int | None:
    try:
        series = client.query('SELECT count("occupied") FROM "hw_event"')
    except QueryError:
        return None
    return series[0]["values"][0][1] if series else 0


def drop_database(client: InfluxClient) -> None:
    with contextlib.suppress(Exception):
        client._post_query(f"DROP DATABASE {quote_identifier(client.database)}")


def mqtt_session(port: int, client_id: str, clean: bool = True) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=mqtt.MQTTv311,
    )
    client.connect(HOST, port, keepalive=30)
    client.loop_start()
    return client


# --- (1) the broker's limit ------------------------------------------------------------------


def broker_limit(bench: Bench, n: int) -> dict:
    assert bench.broker
    children = Children()
    children.add_subscriber(bench.broker.port, n)
    children.add_publishers(bench.broker.port, bench.qos, n, bench.publishers, new_base_ms())
    try:
        children.start()
        cpu = CpuMeter({**bench.service_pids(), **children.pids()})
        cpu.start()
        t0 = children.release()
        reports = children.collect(timeout=max(120, n / 500))
        shares = cpu.stop()
    finally:
        children.close()
    sub = next(r for r in reports if "count" in r)
    pubs = publisher_summary(reports, t0)
    if sub["count"] != n:
        raise BenchError(f"bare subscriber received {sub['count']} of {n} messages")
    elapsed = sub["last"] - sub["first"]
    return {
        "rate": n / elapsed,
        "seconds": elapsed,
        "publish_rate": n / pubs["at_broker_s"] if pubs["at_broker_s"] else None,
        "cpu": shares,
    }


# --- (2) InfluxDB's limit ---------------------------------------------------------------------


def influx_lines(n: int, base_ms: int) -> list[str]:
    """The points the collector would write for messages 0..n-1."""
    received = datetime.now(UTC)
    return [
        event_point(
            PresenceReport(device_id(i), at_ms(base_ms + i), occupied(i), received, "native")
        ).to_line()
        for i in range(n)
    ]


def influx_limit(bench: Bench, n: int, tag: str) -> dict:
    client = bench.influx(f"bench_influx_{tag}")
    client.create_database()
    lines = influx_lines(n, new_base_ms())
    cpu = CpuMeter({**bench.service_pids(), "bench (writer)": os.getpid()})
    try:
        cpu.start()
        t0 = time.monotonic()
        for k in range(0, n, INFLUX_BATCH):
            client.write(lines[k : k + INFLUX_BATCH])
        elapsed = time.monotonic() - t0
        shares = cpu.stop()
        stored = count_points(client)
    finally:
        drop_database(client)
    if stored != n:
        raise BenchError(f"InfluxDB holds {stored} of {n} points written")
    return {"rate": n / elapsed, "seconds": elapsed, "cpu": shares}


# --- (3) the collector -----------------------------------------------------------------------


class CollectorProcess:
    """`hallwatch collector` in its own process, its own database and MQTT session."""

    def __init__(self, bench: Bench, tag: str):
        self.bench = bench
        self.db = f"bench_collector_{tag}"
        self.client_id = f"bench-collector-{tag}-{uuid.uuid4().hex[:6]}"
        self.log_path = bench.workdir / f"collector-{tag}.log"
        self.influx = bench.influx(self.db)
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, probe_base_ms: int | None) -> None:
        """Start; with a probe time, wait until a probe message is stored (else only subscribed)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*hallwatch_command(), "collector"],
                env=self.bench.env(
                    HALLWATCH_INFLUX_DB=self.db, HALLWATCH_COLLECTOR_ID=self.client_id
                ),
                cwd=self.bench.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self.bench.collector_procs.append(self.proc)
        self.starts += 1
        self._wait(lambda: self.log().count("subscribing") >= self.starts, "its subscription")
        if probe_base_ms is not None:
            self._probe(probe_base_ms + PROBE_TS_OFFSET_MS)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _wait(self, predicate, what: str, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc and self.proc.poll() is not None:
                raise BenchError(f"the collector exited ({self.proc.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise BenchError(f"the collector did not show {what} in time:\n{self.log()}")
            time.sleep(0.1)

    def _probe(self, ts_ms: int) -> None:
        """One message end to end (the same point each time), so the pipeline is live."""
        assert self.bench.broker
        client = mqtt_session(self.bench.broker.port, f"bench-probe-{uuid.uuid4().hex[:6]}")
        body = f'{{"type":"presence","occupied":true,"ts":{ts_ms}}}'.encode()
        last = [0.0]

        def probed() -> bool:
            if time.monotonic() - last[0] > 0.5:
                client.publish(topic(0), body, qos=1)
                last[0] = time.monotonic()
            return (count_points(self.influx) or 0) >= 1

        try:
            self._wait(probed, "the probe message in InfluxDB")
        finally:
            client.disconnect()
            client.loop_stop()

    def stop(self, keep_session: bool = False) -> dict:
        """SIGTERM, wait, then (unless keep_session) forget its MQTT session and database."""
        assert self.proc and self.bench.broker
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if keep_session:
            return {"exit": code}
        # A persistent session left behind would queue every later run's messages.
        client = mqtt_session(self.bench.broker.port, self.client_id, clean=True)
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()
        drop_database(self.influx)
        found = re.findall(r"collector stopped: (.*)", self.log())
        warnings = [
            line for line in self.log().splitlines() if " WARNING " in line or " ERROR " in line
        ]
        return {
            "exit": code,
            "summary": found[-1] if found else "",
            "warnings": warnings,
            "warning_count": len(warnings),
        }


def collector_run(bench: Bench, n: int, tag: str) -> dict:
    assert bench.broker
    base_ms = new_base_ms()
    collector = CollectorProcess(bench, tag)
    children = Children()
    try:
        collector.start(base_ms)
        children.add_publishers(bench.broker.port, bench.qos, n, bench.publishers, base_ms)
        children.start()
        rss = [rss_mb(collector.pid) or 0.0]
        cpu = CpuMeter({"collector": collector.pid, **bench.service_pids(), **children.pids()})
        cpu.start()
        t0 = children.release()
        expected = n + 1  # the probe
        last_count, last_change = 1, t0
        while True:
            time.sleep(POLL_S)
            asked = time.monotonic()
            stored = count_points(collector.influx)
            rss.append(rss_mb(collector.pid) or 0.0)
            if stored is not None and stored >= expected:
                break
            if stored is not None and stored != last_count:
                last_count, last_change = stored, asked
            if asked - last_change > STALL_S:
                raise BenchError(
                    f"collector run {tag}: stuck at {last_count - 1} of {n} messages "
                    f"for {STALL_S:g} s\n{collector.log()[-3000:]}"
                )
        elapsed = asked - t0
        shares = cpu.stop()
        pubs = publisher_summary(children.collect(timeout=60), t0)
    finally:
        children.close()
        ended = collector.stop() if collector.proc else {}
    if stored != expected:
        raise BenchError(f"collector run {tag}: {stored - 1} points for {n} messages")
    return {
        "rate": n / elapsed,
        "seconds": elapsed,
        "at_broker_s": pubs["at_broker_s"],
        "lost": n - (stored - 1),
        "cpu": shares,
        "rss_start": rss[0],
        "rss_max": max(rss),
        **ended,
    }


# --- (3b) the collector alone, draining a backlog --------------------------------------------


def drain_run(bench: Bench, n: int, tag: str) -> dict:
    """N messages queued for the stopped collector's session, then the collector restarted.

    No publisher competes for the CPU: messages/s from its renewed subscription until the
    N points are counted in InfluxDB is what the collector alone manages on this machine.
    """
    assert bench.broker
    base_ms = new_base_ms()
    collector = CollectorProcess(bench, f"drain-{tag}")
    children = Children()
    try:
        collector.start(base_ms)
        collector.stop(keep_session=True)
        children.add_publishers(bench.broker.port, bench.qos, n, bench.publishers, base_ms)
        children.start()
        t_pub = children.release()
        pubs = publisher_summary(children.collect(timeout=max(120, n / 500)), t_pub)
        if pubs["acked"] != n:
            raise BenchError(f"drain run {tag}: the broker acknowledged {pubs['acked']} of {n}")
        time.sleep(1.5)  # the broker's autosave settles
        collector.start(None)
        cpu = CpuMeter({"collector": collector.pid, **bench.service_pids()})
        cpu.start()
        t0 = time.monotonic()  # its subscription renewed, to within 0.1 s
        rss = [rss_mb(collector.pid) or 0.0]
        expected, last_count, last_change = n + 1, -1, t0
        while True:
            time.sleep(POLL_S)
            asked = time.monotonic()
            stored = count_points(collector.influx)
            rss.append(rss_mb(collector.pid) or 0.0)
            if stored is not None and stored >= expected:
                break
            if stored != last_count:
                last_count, last_change = stored, asked
            if asked - last_change > STALL_S:
                raise BenchError(f"drain run {tag}: stuck at {stored} points\n{collector.log()}")
        elapsed = asked - t0
        shares = cpu.stop()
    finally:
        children.close()
        ended = collector.stop() if collector.proc else {}
    if stored != expected:
        raise BenchError(f"drain run {tag}: {stored - 1} points for {n} messages")
    return {
        "rate": n / elapsed,
        "seconds": elapsed,
        "lost": n - (stored - 1),
        "cpu": shares,
        "rss_max": max(rss),
        **ended,
    }


# --- (4) soak ---------------------------------------------------------------------------------


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) in MiB per minute."""
    if len(points) < 2:
        return 0.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return 60 * cov / var if var else 0.0


def soak(bench: Bench, rate: float, seconds: float) -> dict:
    assert bench.broker
    total = int(rate * seconds)
    base_ms = new_base_ms()
    collector = CollectorProcess(bench, "soak")
    children = Children()
    samples: list[dict] = []
    try:
        collector.start(base_ms)
        children.add_publishers(bench.broker.port, bench.qos, total, 1, base_ms, rate=rate)
        children.start()
        cpu = CpuMeter({"collector": collector.pid, **bench.service_pids(), **children.pids()})
        cpu.start()
        t0 = children.release()
        k = 0
        while True:
            now = time.monotonic()
            stored = count_points(collector.influx)
            published = children.progress.value
            samples.append(
                {
                    "t": now - t0,
                    "rss": rss_mb(collector.pid) or 0.0,
                    "broker_rss": rss_mb(bench.broker.pid) or 0.0,
                    "published": published,
                    "backlog": published - ((stored or 1) - 1),
                }
            )
            if published >= total:
                break
            k += 1
            time.sleep(max(0.0, t0 + k * SOAK_SAMPLE_S - time.monotonic()))
        load_s = time.monotonic() - t0
        shares = cpu.stop()
        last_count, last_change = -1, time.monotonic()
        while (stored := count_points(collector.influx)) != total + 1:
            if stored != last_count:
                last_count, last_change = stored, time.monotonic()
            if time.monotonic() - last_change > STALL_S:
                break
            time.sleep(POLL_S)
        caught_up_s = time.monotonic() - t0 - load_s
        children.collect(timeout=60)
    finally:
        children.close()
        ended = collector.stop() if collector.proc else {}
    rss = [s["rss"] for s in samples]
    after_first_minute = [(s["t"], s["rss"]) for s in samples if s["t"] >= 60]
    return {
        "rate": rate,
        "seconds": load_s,
        "messages": total,
        "lost": total - ((stored or 1) - 1),
        "caught_up_s": caught_up_s,
        "rss_start": rss[0],
        "rss_median": statistics.median(rss),
        "rss_max": max(rss),
        "rss_end": rss[-1],
        "slope": slope_per_minute([(s["t"], s["rss"]) for s in samples]),
        "slope_after_1min": slope_per_minute(after_first_minute),
        "rss_by_minute": [s["rss"] for s in samples if s["t"] % 60 < SOAK_SAMPLE_S],
        "broker_rss_start": samples[0]["broker_rss"],
        "broker_rss_end": samples[-1]["broker_rss"],
        "backlog_median": statistics.median(s["backlog"] for s in samples),
        "backlog_max": max(s["backlog"] for s in samples),
        "cpu": shares,
        **ended,
    }


# --- optional: a py-spy profile of the collector ---------------------------------------------


def profile_run(bench: Bench, n: int, seconds: float) -> str:
    """One unmeasured collector run sampled by py-spy; returns the top frames as text."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return "py-spy not found (`.venv/bin/pip install py-spy`)"
    assert bench.broker
    base_ms = new_base_ms()
    collector = CollectorProcess(bench, "profile")
    children = Children()
    raw = bench.workdir / "collector.pyspy.txt"
    try:
        collector.start(base_ms)
        children.add_publishers(bench.broker.port, bench.qos, n, bench.publishers, base_ms)
        children.start()
        # --gil: only the thread holding the GIL is sampled, so the sample count over
        # (rate × duration) is how busy the interpreter was.
        argv = f"record --gil --threads --format raw --rate {PROFILE_RATE} --duration {seconds:.0f}"
        spy = subprocess.Popen(
            [py_spy, *argv.split(), "--pid", str(collector.pid), "--output", str(raw)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        children.release()
        spy.wait(timeout=seconds + 60)
        children.collect(timeout=max(120, n / 500))
    finally:
        children.close()
        if collector.proc:
            collector.stop()
    return summarize_profile(raw, expected=PROFILE_RATE * round(seconds))


def summarize_profile(raw: Path, expected: int, top: int = 20) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    thread_counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, num = line.rpartition(" ")
        if not stack or not num.isdigit():
            continue
        count = int(num)
        frames = stack.split(";")
        total += count
        thread = frames[0]
        thread_counts[thread] = thread_counts.get(thread, 0) + count
        funcs = [re.sub(r":\d+\)$", ")", f) for f in frames[1:]]
        if funcs:
            self_counts[funcs[-1]] = self_counts.get(funcs[-1], 0) + count
        for f in set(funcs):
            incl_counts[f] = incl_counts.get(f, 0) + count
    if not total:
        return "py-spy recorded nothing"
    out = [
        f"{total} samples holding the GIL of {expected} taken: the interpreter was busy "
        f"{100 * total / expected:.0f} % of the time",
        "",
        "threads (share of the GIL):",
    ]
    out += [
        f"  {100 * c / total:5.1f}%  {t}"
        for t, c in sorted(thread_counts.items(), key=lambda x: -x[1])
    ]
    out += ["", "self (innermost frame):"]
    out += [
        f"  {100 * c / total:5.1f}%  {f}"
        for f, c in sorted(self_counts.items(), key=lambda x: -x[1])[:top]
    ]
    out += ["", "inclusive:"]
    out += [
        f"  {100 * c / total:5.1f}%  {f}"
        for f, c in sorted(incl_counts.items(), key=lambda x: -x[1])[:top]
    ]
    return "\n".join(out)


# --- report ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except OSError:
            return "?"
        text = (done.stdout + done.stderr).strip()
        return text.splitlines()[0] if text else "?"

    cpu_model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    mosquitto = find_binary("mosquitto") or "mosquitto"
    influxd = find_binary("influxd") or "influxd"
    return {
        "nproc": str(os.cpu_count()),
        "CPU": cpu_model,
        "RAM": ram,
        "kernel": platform.release(),
        "mosquitto": first_line([mosquitto, "-h"]),
        "influxd": first_line([influxd, "version"]),
        "python": platform.python_version(),
        "paho-mqtt": paho.mqtt.__version__,
    }


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def median_cpu(runs: list[dict], name: str) -> float | None:
    values = [r["cpu"][name] for r in runs if name in r.get("cpu", {})]
    return statistics.median(values) if values else None


def report(args: argparse.Namespace, results: dict, command: str) -> str:
    broker, influx, coll = results["broker"], results["influx"], results["collector"]
    b, i, c = median(broker, "rate"), median(influx, "rate"), median(coll, "rate")
    lower = min(b, i)
    lower_name = "broker" if b <= i else "InfluxDB"
    ratio = c / lower
    repeat = len(coll)
    queue_note = (
        f" but `max_queued_messages {args.broker_queue}` instead of 100000, so the burst "
        "queued ahead of the collector is not dropped"
        if args.broker_queue != 100_000
        else ""
    )
    qos_note = f", messages published at QoS {args.qos}" if args.qos != 1 else ""
    head = " | ".join(f"run {k + 1}" for k in range(repeat))
    sep = " | ".join("---:" for _ in range(repeat))

    def row(name: str, runs: list[dict], key: str, digits: int = 0) -> str:
        cells = " | ".join(fmt(r.get(key), digits) for r in runs)
        return f"| {name} | {cells} | **{fmt(median(runs, key), digits)}** |"

    lines = [
        f"Measured {results['when']} with",
        "",
        "```sh",
        command,
        "```",
        "",
        f"N = {args.messages:,} native presence messages per run (QoS {args.qos}, "
        f"{args.publishers} publisher process(es), {WINDOWS} seat sensors, every message its "
        f"own point); each measurement repeated {repeat} times, medians in bold. Broker: "
        "`console.services.Mosquitto` as the demo runs it (persistence, autosave every "
        f"second, `max_inflight_messages 1000`){queue_note}.",
        "",
        "**Machine:** " + "; ".join(f"{k} {v}" for k, v in results["machine"].items()),
        "",
        f"| measurement (messages/s) | {head} | median |",
        f"| --- | {sep} | ---: |",
        row(
            f"(1) broker → bare subscriber (QoS 1 subscription, auto-ack){qos_note}", broker, "rate"
        ),
        row("(2) InfluxDB `/write`, 5,000-point batches, one writer", influx, "rate"),
        row("(3) collector: first publish → N points counted in InfluxDB", coll, "rate"),
    ]
    drain = results.get("drain") or []
    if drain:
        lines.append(
            row(
                "(3b) collector alone: N queued while it was stopped → N in InfluxDB", drain, "rate"
            )
        )
    lines += [
        "",
        f"**Collector / lower limit ({lower_name}): {fmt(c)} / {fmt(lower)} = "
        f"{100 * ratio:.0f} %** (target ≥ 60 %). "
        f"Collector / broker limit {100 * c / b:.0f} %, / InfluxDB limit {100 * c / i:.0f} %.",
        "",
        f"| collector run detail | {head} | median |",
        f"| --- | {sep} | ---: |",
        row("seconds for N", coll, "seconds", 1),
        row("last message PUBACKed by the broker at (s)", coll, "at_broker_s", 1),
        row("messages lost (N − count in InfluxDB)", coll, "lost"),
        row("collector RSS before (MiB)", coll, "rss_start", 1),
        row("collector RSS max (MiB)", coll, "rss_max", 1),
        row("WARNING/ERROR lines in the collector's log", coll, "warning_count"),
        row("collector exit status after SIGTERM", coll, "exit"),
    ]
    if drain:
        lines += [
            row("(3b) seconds to drain N", drain, "seconds", 1),
            row("(3b) messages lost", drain, "lost"),
            row("(3b) collector RSS max (MiB)", drain, "rss_max", 1),
            row("(3b) WARNING/ERROR lines in the collector's log", drain, "warning_count"),
        ]
    lines += [
        "",
        "CPU over each measurement window, % of one core (median of the runs; the machine has "
        f"{results['machine']['nproc']} cores = {100 * int(results['machine']['nproc'])} %):",
        "",
        "| process | (1) broker limit | (2) InfluxDB limit | (3) collector |"
        + (" (3b) collector alone |" if drain else ""),
        "| --- | ---: | ---: | ---: |" + (" ---: |" if drain else ""),
    ]
    phases = (broker, influx, coll, drain) if drain else (broker, influx, coll)
    all_names = sorted({n for phase in phases for r in phase for n in r["cpu"]}, key=_cpu_order)
    for name in all_names:
        cells = " | ".join(fmt(median_cpu(phase, name)) for phase in phases)
        lines.append(f"| {name} | {cells} |")
    totals = []
    for phase in phases:
        totals.append(fmt(median([{"t": sum(r["cpu"].values())} for r in phase], "t")))
    lines.append(f"| **total** | {' | '.join(totals)} |")
    soak_result = results.get("soak")
    if soak_result:
        s = soak_result
        lines += [
            "",
            f"**Soak:** {fmt(s['rate'])} messages/s paced (QoS {args.qos}) for "
            f"{fmt(s['seconds'])} s = {s['messages']:,} messages; lost **{s['lost']}**; "
            f"InfluxDB had them all {s['caught_up_s']:.1f} s after the last publish.",
            "",
            "| collector RSS (MiB), sampled every 5 s | value |",
            "| --- | ---: |",
            f"| start (load begins) | {fmt(s['rss_start'], 1)} |",
            f"| median | {fmt(s['rss_median'], 1)} |",
            f"| max | {fmt(s['rss_max'], 1)} |",
            f"| end | {fmt(s['rss_end'], 1)} |",
            f"| slope, whole run (MiB/min) | {s['slope']:+.3f} |",
            f"| slope after the first minute (MiB/min) | {s['slope_after_1min']:+.3f} |",
            f"| backlog (published − stored) median / max | {fmt(s['backlog_median'])} / "
            f"{fmt(s['backlog_max'])} |",
            f"| collector CPU (% of one core) | {fmt(s['cpu'].get('collector'))} |",
            f"| WARNING/ERROR lines in the collector's log | {s.get('warning_count', '–')} |",
            f"| mosquitto RSS start → end (MiB) | {fmt(s['broker_rss_start'], 1)} → "
            f"{fmt(s['broker_rss_end'], 1)} |",
            "",
            "Collector RSS at each whole minute of the soak (MiB): "
            + ", ".join(fmt(v, 1) for v in s["rss_by_minute"])
            + ".",
        ]
    return "\n".join(lines)


def _cpu_order(name: str) -> tuple[int, str]:
    order = ["collector", "mosquitto", "influxd", "subscriber", "bench (writer)"]
    return (order.index(name) if name in order else len(order), name)


def write_out(path: Path, text: str, section: str) -> None:
    """Replace the generated `section` of `path` (between its markers), keeping the rest."""
    begin, end = MARK.format(section=section, end="begin"), MARK.format(section=section, end="end")
    block = f"{begin}\n{text}\n{end}"
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if begin in old and end in old:
            before, rest = old.split(begin, 1)
            after = rest.split(end, 1)[1]
            path.write_text(before + block + after, encoding="utf-8")
        else:
            path.write_text(old.rstrip() + "\n\n" + block + "\n", encoding="utf-8")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmarks\n\n## Collector throughput\n\n{block}\n", encoding="utf-8")


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.collector_throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--messages", type=int, default=200_000, help="N per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--soak-seconds", type=float, default=300, help="0 skips the soak")
    parser.add_argument(
        "--soak-rate",
        type=float,
        default=None,
        help=f"messages/s (default {DEFAULT_SOAK_SHARE * 100:.0f} %% of the collector's rate)",
    )
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1, help="publishers' QoS")
    parser.add_argument(
        "--broker-conf",
        default="",
        help="extra mosquitto.conf lines (\\n-separated), for experiments",
    )
    parser.add_argument(
        "--py-spy",
        type=float,
        default=0,
        metavar="SECONDS",
        help="also profile one extra collector run with py-spy",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the results into this Markdown file (between markers)",
    )
    parser.add_argument(
        "--section",
        default="main",
        help="which generated section of --out to replace (e.g. qos0 for a comparison run)",
    )
    parser.add_argument(
        "--broker-queue",
        type=int,
        default=None,
        help="the broker's max_queued_messages (default max(100000, 2N), so a burst of N "
        "queued for a slower collector is not dropped by the broker)",
    )
    parser.add_argument(
        "--skip-drain",
        action="store_true",
        help="skip (3b), the collector alone draining N messages queued while it was stopped",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench.collector_throughput " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    command = command.strip()
    workdir = Path(tempfile.mkdtemp(prefix="hallwatch-bench-"))
    queue_cap = args.broker_queue or max(100_000, 2 * args.messages)
    args.broker_queue = queue_cap
    broker_conf = f"max_queued_messages {queue_cap}\n" + args.broker_conf.replace("\\n", "\n")
    bench = Bench(workdir, args.qos, args.publishers, broker_conf)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results: dict[str, Any] = {
        "when": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "broker": [],
        "influx": [],
        "collector": [],
        "drain": [],
    }
    started = time.monotonic()
    try:
        bench.start()
        say(f"work directory {workdir}; broker {bench.broker.url}, influxd {bench.influxd.url}")
        for k in range(args.repeat):
            tag = f"{k + 1}"
            r = broker_limit(bench, args.messages)
            results["broker"].append(r)
            say(f"run {tag}: broker → bare subscriber {r['rate']:,.0f} msg/s")
            r = influx_limit(bench, args.messages, tag)
            results["influx"].append(r)
            say(f"run {tag}: InfluxDB writes {r['rate']:,.0f} points/s")
            r = collector_run(bench, args.messages, tag)
            results["collector"].append(r)
            for line in r.get("warnings", []):
                say(f"collector log: {line}")
            say(
                f"run {tag}: collector {r['rate']:,.0f} msg/s, lost {r['lost']}, "
                f"CPU {r['cpu'].get('collector', 0):.0f} %, RSS max {r['rss_max']:.0f} MiB"
            )
            if not args.skip_drain and args.qos > 0:  # QoS 0 is not queued offline
                d = drain_run(bench, args.messages, tag)
                results["drain"].append(d)
                say(
                    f"run {tag}: collector alone draining a backlog {d['rate']:,.0f} msg/s, "
                    f"CPU {d['cpu'].get('collector', 0):.0f} %"
                )
        if args.soak_seconds > 0:
            rate = args.soak_rate or DEFAULT_SOAK_SHARE * median(results["collector"], "rate")
            rate = round(rate, -1) or rate
            say(f"soak: {rate:,.0f} msg/s for {args.soak_seconds:g} s")
            results["soak"] = soak(bench, rate, args.soak_seconds)
            s = results["soak"]
            say(
                f"soak: lost {s['lost']}, RSS {s['rss_start']:.1f} → {s['rss_end']:.1f} MiB, "
                f"slope {s['slope']:+.3f} MiB/min"
            )
        if args.py_spy > 0:
            results["profile"] = profile_run(bench, args.messages, args.py_spy)
    finally:
        bench.stop()
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(args, results, command)
    text += f"\n\nTotal benchmark time {time.monotonic() - started:.0f} s."
    print(text)
    if "profile" in results:
        print("\npy-spy profile of the collector:\n" + results["profile"])
    if args.out:
        write_out(args.out, text, args.section)
        say(f"wrote {args.out}")
    return 0


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
