"""Scale-out: HallWatch with 1 and 2 collectors against a Node-RED flow and the bare broker.

    python -m bench.scale_out [--desks 2000] [--window 15] [--out docs/BENCHMARKS.md]
    python -m bench.scale_out --quick          # everything at tiny scale, < 60 s

Everything on loopback in a temporary directory: our Mosquitto and influxd
(`console.services`), a SQLite registry of --desks desks (a window with a seat
sensor, a card reader and a rostered person each) plus a few probe windows, and
`hallwatch web`. Publisher processes simulate the desks (bench/scale_out_load.py).

For each target in turn — the bare broker (`mosquitto_sub`, C, counting), a bare paho
subscriber (Python's own ceiling), `hallwatch collector` alone, two `hallwatch collector
--group` sharing the stream, and the Node-RED flow in bench/node-red/ (if its node_modules
are installed) — the offered rate is stepped up for --window seconds a step until a step
loses or falls behind, then bisected (bench/scale_out_logic.py). A step passes when every
message is counted at the far end (InfluxDB for the pipelines, the subscriber for the
broker) within --grace seconds of the last PUBACK and the backlog did not grow. While a
step runs, a pipeline's progress is InfluxDB's own write counter (`SHOW STATS`, free);
the exact `count()` of the step's points, which costs InfluxDB CPU in proportion to
them, is taken only once the counter says all are there. The targets'
CPU (/proc) and peak RSS are read over each step.

For 1 and 2 collectors, under a steady --latency-rate load, probe windows' seats are
toggled one at a time and /api/live is polled until the window shows the change: that is
the end-to-end latency (device publish → visible in /api/live).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench import scale_out_logic as logic
from bench.collector_throughput import (
    _die_with_parent,
    cpu_seconds,
    hallwatch_command,
    machine,
    mqtt_session,
    rss_mb,
)
from bench.scale_out_load import BareSubscriber, DeskPool, PahoSubscriber, badge_uid, desk_id
from bench.web_speed import hall_timezone
from console.services import HOST, Influxd, Mosquitto, ensure_binaries, free_port
from hallwatch.influx.client import InfluxClient, QueryError

NODE_RED_DIR = Path(__file__).resolve().parent / "node-red"
HALLWATCH_DB, NODE_RED_DB = "hallwatch", "nodered"
LOAD_TS_BACK = timedelta(days=20)  # load events lie outside the day /api/live reads, and
# beyond its carry-over look-back (14 days), yet within the devices' clock policy (30 days)
PROBES = 8  # probe windows whose seats the latency phase toggles
PROBE_USER, PROBE_PASSWORD = "probe-head", "probe-password"  # a dept_head of the probes only
SAMPLE_S = 0.5  # backlog and RSS sampling during a step
LIVE_POLL_S = 0.05  # /api/live polling while a probe is outstanding
PROBE_TIMEOUT_S = 15.0
PROBE_GAP_S = 0.3  # between one probe seen and the next sent
NO_PROGRESS_S = 5.0  # the drain after a step ends when the count stops moving this long
READY_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0
DEFAULT_DESK_RATE = 1 / 30  # a seat sensor reporting every 30 s (bench/web_speed.py's day)
MARK = "<!-- bench:scale_out:{end} -->"
ALL_TARGETS = ("broker", "paho", "hallwatch-1", "hallwatch-2", "node-red")
LABELS = {
    "broker": "bare broker (`mosquitto_sub`)",
    "paho": "bare paho subscriber (Python)",
    "hallwatch-1": "HallWatch, 1 collector",
    "hallwatch-2": "HallWatch, 2 collectors (`--group`)",
    "node-red": "Node-RED flow",
}


class BenchError(RuntimeError):
    """A measurement could not be completed."""


# --- the hall ------------------------------------------------------------------------------


def registry_yaml(desks: int, tz_name: str, today: str) -> str:
    """`desks` desks and PROBES probe windows, open all day today, everyone rostered."""
    lines = [
        "hall:",
        "  name: 扩展压测大厅",
        f"  timezone: {tz_name}",
        '  hours: [["00:00", "23:59"]]',
        "  holidays: none",
        f"  working_days: [{today}]",
        "departments:",
        "  - {id: desks, name: 压测窗口}",
        "  - {id: probe, name: 探测窗口}",
        "windows:",
    ]
    probes = [f"P{p + 1:02d}" for p in range(PROBES)]
    lines += [
        f"  - {{id: {desk_id(d)}, name: 窗口{d + 1}, department: desks}}" for d in range(desks)
    ]
    lines += [f"  - {{id: {p}, name: 探测{p}, department: probe}}" for p in probes]
    lines.append("staff:")
    lines += [
        f"  - {{id: s{desk_id(d)}, name: 员工{d + 1}, department: desks, "
        f'badges: ["{badge_uid(d)}"]}}'
        for d in range(desks)
    ]
    lines += [f"  - {{id: s{p}, name: 探测员{p}, department: probe}}" for p in probes]
    lines.append("devices:")
    for d in range(desks):
        lines.append(f"  - {{id: seat-{desk_id(d)}, kind: presence_sensor, window: {desk_id(d)}}}")
        lines.append(f"  - {{id: card-{desk_id(d)}, kind: badge_reader, window: {desk_id(d)}}}")
    lines += [f"  - {{id: seat-{p}, kind: presence_sensor, window: {p}}}" for p in probes]
    lines.append("roster:")
    every_day = "days: [mon, tue, wed, thu, fri, sat, sun]"
    lines += [
        f"  - {{staff: s{desk_id(d)}, window: {desk_id(d)}, {every_day}}}" for d in range(desks)
    ]
    lines += [f"  - {{staff: s{p}, window: {p}, {every_day}}}" for p in probes]
    return "\n".join(lines) + "\n"


@dataclass
class Hall:
    """Broker, influxd, the registry and `hallwatch web`, all under one work directory."""

    workdir: Path
    desks: int
    broker: Mosquitto | None = None
    influxd: Influxd | None = None
    web: subprocess.Popen | None = None
    web_url: str = ""
    base_ms: int = 0
    broker_conf: str = ""  # extra mosquitto.conf lines (a later line overrides an earlier one)

    def start(self) -> None:
        ensure_binaries(Mosquitto.binary, Influxd.binary)
        self.broker = Mosquitto(self.workdir / "mosquitto", extra_conf=self.broker_conf)
        self.influxd = Influxd(self.workdir / "influxd")
        self.broker.start()
        self.influxd.start()
        now = datetime.now(UTC)
        tz = hall_timezone(now)
        registry = self.workdir / "hall.yaml"
        registry.write_text(
            registry_yaml(self.desks, tz.key, now.astimezone(tz).date().isoformat()), "utf-8"
        )
        self.cli("import", str(registry))
        self.cli(
            "user",
            "add",
            PROBE_USER,
            "--role",
            "dept_head",
            "--department",
            "probe",
            "--password",
            PROBE_PASSWORD,
        )
        self.base_ms = int((now - LOAD_TS_BACK).timestamp()) * 1000
        for db in (HALLWATCH_DB, NODE_RED_DB):
            self.influx(db).create_database()
        self.start_web()

    def cli(self, *argv: str) -> None:
        done = subprocess.run(
            [*hallwatch_command(), *argv],
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise BenchError(f"hallwatch {argv[0]} failed:\n{done.stdout}\n{done.stderr}")

    def env(self, **extra: str) -> dict[str, str]:
        assert self.broker and self.influxd
        return {
            **os.environ,
            "HALLWATCH_DATABASE_URL": f"sqlite:///{self.workdir / 'registry.sqlite3'}",
            "HALLWATCH_MQTT_URL": self.broker.url,
            "HALLWATCH_INFLUX_URL": self.influxd.url,
            "HALLWATCH_INFLUX_DB": HALLWATCH_DB,
            "HALLWATCH_SECRET_KEY": "bench",
            **extra,
        }

    def influx(self, db: str) -> InfluxClient:
        assert self.influxd
        return InfluxClient(self.influxd.url, db)

    def start_web(self) -> None:
        port = free_port()
        with open(self.workdir / "web.log", "ab") as log:
            self.web = subprocess.Popen(
                [*hallwatch_command(), "web", "--host", HOST, "--port", str(port)],
                env=self.env(),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self.web_url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{self.web_url}/login", timeout=2).status_code == 200:
                    return
            if self.web.poll() is not None:
                break
            time.sleep(0.1)
        raise BenchError(f"hallwatch web did not start; see {self.workdir / 'web.log'}")

    def service_pids(self) -> dict[str, int | None]:
        assert self.broker and self.influxd
        return {"mosquitto": self.broker.pid, "influxd": self.influxd.pid}

    def stop(self) -> None:
        if self.web is not None and self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
            try:
                self.web.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.web.kill()
                self.web.wait()
        for service in (self.broker, self.influxd):
            if service is not None:
                with contextlib.suppress(Exception):
                    service.stop()


# --- the targets ---------------------------------------------------------------------------


class Target:
    """Something the stream is delivered to, whose far-end count proves zero loss."""

    name = ""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def pids(self) -> dict[str, int | None]:
        return {}

    def begin_step(self) -> None: ...

    def stored(self, lo_ms: int, hi_ms: int) -> int:
        """Messages of the step (ts in [lo_ms, hi_ms)) counted at the far end so far."""
        raise NotImplementedError

    def progress(self) -> int:
        """What reached the far end since begin_step, cheaply (a rewritten point may count
        twice): what the step polls while it runs, leaving the exact `stored` to its end."""
        raise NotImplementedError


class InfluxTarget(Target):
    """A pipeline into InfluxDB database `influx.database`.

    While a step runs, its progress is InfluxDB's own counter of points written
    (`SHOW STATS`, constant cost). A `count()` over the step's points costs InfluxDB
    ~100 ms of CPU at 800,000 points (bench/influx_count_cost.py): polled twice a second
    it took a fifth of a core from the very pipeline being measured, which the bare
    broker's in-memory count never did.
    """

    influx: InfluxClient
    written_before = 0

    def begin_step(self) -> None:
        self.written_before = points_written(self.influx)

    def stored(self, lo_ms: int, hi_ms: int) -> int:
        return count_in(self.influx, lo_ms, hi_ms)

    def progress(self) -> int:
        return points_written(self.influx) - self.written_before


class BareBroker(Target):
    """A subscriber that only counts: `mosquitto_sub` (the broker's limit) or paho (Python's)."""

    def __init__(self, hall: Hall, paho: bool = False):
        assert hall.broker
        self.name = "paho" if paho else "broker"
        self.process = "paho subscriber" if paho else "mosquitto_sub"
        self.subscriber = (PahoSubscriber if paho else BareSubscriber)(hall.broker.port)
        self.baseline = 0

    def start(self) -> None:
        self.subscriber.start()
        time.sleep(0.5)  # its SUBSCRIBE reaches the broker before the first publish

    def stop(self) -> None:
        self.subscriber.stop()

    def pids(self) -> dict[str, int | None]:
        return {self.process: self.subscriber.pid}

    def begin_step(self) -> None:
        self.baseline = self.subscriber.count  # the previous step drained completely

    def stored(self, lo_ms: int, hi_ms: int) -> int:
        return self.subscriber.count - self.baseline

    def progress(self) -> int:
        return self.stored(0, 0)


def points_written(client: InfluxClient) -> int:
    """Points InfluxDB accepted into the client's database since it started (its shards'
    `writePointsOk`)."""
    try:
        series = client.query("SHOW STATS FOR 'shard'")
    except QueryError:
        return 0
    return sum(
        int(dict(zip(s["columns"], s["values"][0], strict=True)).get("writePointsOk") or 0)
        for s in series
        if s.get("tags", {}).get("database") == client.database and s.get("values")
    )


def count_in(client: InfluxClient, lo_ms: int, hi_ms: int) -> int:
    """Points of hw_event with a time in [lo_ms, hi_ms)."""
    try:
        series = client.query(
            'SELECT count("received_ms") FROM "hw_event" WHERE time >= $lo AND time < $hi',
            {"lo": lo_ms * 1_000_000, "hi": hi_ms * 1_000_000},
        )
    except QueryError:
        return 0
    return int(series[0]["values"][0][1]) if series else 0


class Collectors(InfluxTarget):
    """`hallwatch collector` × n (with --group when n > 1), writing to the web's database."""

    def __init__(self, hall: Hall, n: int):
        self.hall, self.n = hall, n
        self.name = f"hallwatch-{n}"
        self.procs: list[subprocess.Popen] = []
        self.ids = [f"bench-scale-{n}-{k}-{uuid.uuid4().hex[:6]}" for k in range(n)]
        self.logs = [hall.workdir / f"collector-{n}-{k}.log" for k in range(n)]
        self.influx = hall.influx(HALLWATCH_DB)

    def start(self) -> None:
        group = ["--group", "scale"] if self.n > 1 else []
        for client_id, log_path in zip(self.ids, self.logs, strict=True):
            with open(log_path, "ab") as log:
                self.procs.append(
                    subprocess.Popen(
                        [*hallwatch_command(), "collector", *group],
                        env=self.hall.env(HALLWATCH_COLLECTOR_ID=client_id),
                        cwd=self.hall.workdir,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        preexec_fn=_die_with_parent,
                    )
                )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all("subscribing" in p.read_text("utf-8", "replace") for p in self.logs):
            if any(proc.poll() is not None for proc in self.procs) or time.monotonic() > deadline:
                raise BenchError(f"a collector did not subscribe; see {self.logs}")
            time.sleep(0.1)
        time.sleep(0.5)  # the SUBSCRIBE itself, right after that log line

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert self.hall.broker
        for client_id in self.ids:  # a persistent session left behind would queue every later step
            client = mqtt_session(self.hall.broker.port, client_id, clean=True)
            time.sleep(0.2)
            client.disconnect()
            client.loop_stop()

    def pids(self) -> dict[str, int | None]:
        return {f"collector {k + 1}": p.pid for k, p in enumerate(self.procs)}

    def warnings(self) -> int:
        return sum(
            1
            for path in self.logs
            for line in path.read_text("utf-8", "replace").splitlines()
            if " WARNING " in line or " ERROR " in line
        )


def node_red_installed() -> bool:
    return (NODE_RED_DIR / "node_modules" / "node-red" / "red.js").exists() and (
        NODE_RED_DIR / "node_modules" / "node-red-contrib-influxdb"
    ).exists()


class NodeRed(InfluxTarget):
    """bench/node-red/flow.json in Node-RED 4, writing to its own database."""

    name = "node-red"

    def __init__(self, hall: Hall):
        self.hall = hall
        self.proc: subprocess.Popen | None = None
        self.log_path = hall.workdir / "node-red.log"
        self.influx = hall.influx(NODE_RED_DB)

    def start(self) -> None:
        assert self.hall.broker and self.hall.influxd
        env = {
            **os.environ,
            "MQTT_PORT": str(self.hall.broker.port),
            "INFLUX_PORT": str(self.hall.influxd.port),
            "INFLUX_DB": NODE_RED_DB,
            "NODE_RED_PORT": str(free_port()),
            "NODE_RED_USER_DIR": str(self.hall.workdir / "node-red"),
        }
        red = NODE_RED_DIR / "node_modules" / "node-red" / "red.js"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["node", str(red), "--settings", str(NODE_RED_DIR / "settings.js")],
                env=env,
                cwd=self.hall.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "Connected to broker" not in self.log_path.read_text("utf-8", "replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"Node-RED did not connect; see {self.log_path}")
            time.sleep(0.1)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def pids(self) -> dict[str, int | None]:
        return {"node-red": self.proc.pid if self.proc else None}

    def warnings(self) -> int:
        text = self.log_path.read_text("utf-8", "replace")
        running = text[text.find("Started flows") :]  # not the start-up notes on settings
        return len(re.findall(r"\[(?:warn|error)\]", running))


# --- one step --------------------------------------------------------------------------------


@dataclass
class StepRecord:
    """A step's verdict inputs plus what it cost the target."""

    result: logic.StepResult
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process, over the step
    rss_peak_mb: dict[str, float] = field(default_factory=dict)
    drained_after_s: float | None = None  # last PUBACK → all counted

    def target_cpu_s(self, target: Target) -> float:
        return sum(v for k, v in self.cpu_s.items() if k in target.pids())

    def as_json(self) -> dict:
        r = self.result
        return {
            **asdict(r),
            "achieved": r.achieved,
            "passed": r.passed,
            "reason": r.reason(),
            "cpu_s": self.cpu_s,
            "rss_peak_mb": self.rss_peak_mb,
            "drained_after_s": self.drained_after_s,
        }


def cpu_now(pids: dict[str, int | None]) -> dict[str, float | None]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    return {
        k: after[k] - before[k]
        for k in before
        if before[k] is not None and after.get(k) is not None
    }


def arrived(target: Target, lo: int, hi: int, count: int, until: float) -> int:
    """The step's messages stored by `until` (monotonic), polling the cheap counter first."""
    while target.progress() < count and time.monotonic() < until:
        time.sleep(0.1)
    stored = target.stored(lo, hi)
    while stored < count and time.monotonic() < until:  # the counter held rewrites
        time.sleep(0.1)
        stored = target.stored(lo, hi)
    return stored


def run_step(
    target: Target, pool: DeskPool, hall: Hall, rate: float, args: argparse.Namespace
) -> StepRecord:
    """Offer `rate` events/s for the window; count what arrives, how late, and at what cost."""
    watched = {**target.pids(), **hall.service_pids()}
    for k, pid in enumerate(pool.pids()):
        watched[f"publisher {k + 1}"] = pid
    target.begin_step()
    cpu0 = cpu_now(watched)
    acked0 = pool.acked_total()
    t0 = time.monotonic()
    first, count = pool.send(rate, args.window)
    lo, hi = hall.base_ms + first, hall.base_ms + first + count
    samples: list[tuple[float, float]] = []
    peak: dict[str, float] = {}

    def sample_rss() -> None:
        for name, pid in target.pids().items():
            peak[name] = max(peak.get(name, 0.0), rss_mb(pid) or 0.0)

    while (elapsed := time.monotonic() - t0) < args.window:
        published = pool.acked_total() - acked0
        samples.append((elapsed, published - target.progress()))
        sample_rss()
        time.sleep(SAMPLE_S)
    sent = pool.wait()
    in_grace = stored = arrived(target, lo, hi, count, sent.last_ack + args.grace)
    last, moved = target.progress(), time.monotonic()
    while stored < count and time.monotonic() - moved < NO_PROGRESS_S:
        time.sleep(0.25)
        sample_rss()
        if (now := target.progress()) != last:
            last, moved = now, time.monotonic()
        if now >= count:  # the counter says all is there: count exactly
            stored = target.stored(lo, hi)
    if stored < count:
        stored = max(stored, target.stored(lo, hi))
    drained = time.monotonic() - sent.last_ack if stored >= count else None
    result = logic.StepResult(
        offered=rate,
        window_s=args.window,
        published=count,
        publish_s=sent.seconds,
        stored_in_grace=in_grace,
        stored_final=stored,
        backlog_slope=logic.backlog_slope(samples, args.window),
    )
    return StepRecord(result, cpu_spent(cpu0, cpu_now(watched)), peak, drained)


def search(target: Target, pool: DeskPool, hall: Hall, args: argparse.Namespace) -> list:
    plan = logic.Search(args.start_rate, args.factor, args.refine, args.max_steps, args.max_rate)
    records: list[StepRecord] = []
    while (rate := logic.next_rate(plan, [r.result for r in records])) is not None:
        record = run_step(target, pool, hall, rate, args)
        records.append(record)
        r = record.result
        print(
            f"  {target.name}: {rate:,.0f}/s offered, {r.achieved:,.0f}/s published, "
            f"{r.stored_in_grace:,}/{r.published:,} in grace, {r.lost:,} lost, "
            f"backlog {r.backlog_slope:+,.0f}/s → {'pass' if r.passed else 'FAIL: ' + r.reason()}",
            flush=True,
        )
        if r.lost and not args.quick:
            time.sleep(1)
    return records


# --- end-to-end latency ----------------------------------------------------------------------


class LiveProbe:
    """Toggles the probe windows' seats and watches /api/live (as the probes' dept_head)."""

    def __init__(self, hall: Hall):
        assert hall.broker
        self.hall = hall
        self.client = mqtt_session(hall.broker.port, f"bench-probe-{uuid.uuid4().hex[:6]}")
        self.session = requests.Session()
        self.session.auth = (PROBE_USER, PROBE_PASSWORD)
        self.occupied = [False] * PROBES

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def states(self) -> dict[str, str]:
        answer = self.session.get(f"{self.hall.web_url}/api/live", timeout=HTTP_TIMEOUT_S)
        answer.raise_for_status()
        return {w["id"]: w["state"] for w in answer.json()["windows"]}

    def publish(self, p: int, occupied: bool) -> None:
        body = json.dumps({"type": "presence", "occupied": occupied, "ts": int(time.time() * 1000)})
        self.client.publish(f"hallwatch/devices/seat-P{p + 1:02d}/events", body, qos=1)
        self.occupied[p] = occupied

    @staticmethod
    def shows(state: str | None, occupied: bool) -> bool:
        return state == "staffed" if occupied else state in ("away", "empty")

    def reset(self) -> None:
        """Every probe seat empty and shown so, before the timed toggles."""
        for p in range(PROBES):
            self.publish(p, False)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(self.shows(self.states().get(f"P{p + 1:02d}"), False) for p in range(PROBES)):
            if time.monotonic() > deadline:
                raise BenchError(f"probe windows never showed empty: {self.states()}")
            time.sleep(0.2)

    def once(self, p: int) -> float | None:
        """Seconds from publishing a toggle of probe p until /api/live shows it (None: timeout)."""
        want = not self.occupied[p]
        t0 = time.perf_counter()
        self.publish(p, want)
        while time.perf_counter() - t0 < PROBE_TIMEOUT_S:
            if self.shows(self.states().get(f"P{p + 1:02d}"), want):
                return time.perf_counter() - t0
            time.sleep(LIVE_POLL_S)
        return None


def latency(target: Collectors, pool: DeskPool, hall: Hall, args: argparse.Namespace) -> dict:
    """Probe toggles under a steady load of --latency-rate events/s."""
    probe = LiveProbe(hall)
    try:
        probe.reset()
        watched = {**target.pids()}
        cpu0 = cpu_now(watched)
        t0 = time.monotonic()
        duration = args.latency_samples * 1.5 + 2
        first, count = pool.send(args.latency_rate, duration)
        seconds: list[float] = []
        timeouts = 0
        for k in range(args.latency_samples):
            found = probe.once(k % PROBES)
            if found is None:
                timeouts += 1
            else:
                seconds.append(found)
            time.sleep(PROBE_GAP_S)
        sent = pool.wait()
        lo, hi = hall.base_ms + first, hall.base_ms + first + count
        deadline = time.monotonic() + args.grace + NO_PROGRESS_S
        while target.stored(lo, hi) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        stored = target.stored(lo, hi)
        spent = cpu_spent(cpu0, cpu_now(watched))
    finally:
        probe.close()
    return {
        "samples": len(seconds),
        "timeouts": timeouts,
        "median_s": statistics.median(seconds) if seconds else math.nan,
        "p99_s": logic.percentile(seconds, 99),
        "max_s": max(seconds, default=math.nan),
        "load_rate": args.latency_rate,
        "load_published_rate": sent.acked / sent.seconds if sent.seconds else 0.0,
        "load_lost": count - stored,
        "load_events": count,
        "cpu_s": spent,
        "window_s": time.monotonic() - t0,
    }


# --- the run ---------------------------------------------------------------------------------


def make_target(name: str, hall: Hall) -> Target:
    if name in ("broker", "paho"):
        return BareBroker(hall, paho=name == "paho")
    if name == "node-red":
        return NodeRed(hall)
    return Collectors(hall, int(name.rsplit("-", 1)[1]))


def run_target(name: str, hall: Hall, pool: DeskPool, args: argparse.Namespace) -> dict:
    print(f"{LABELS[name]}:", flush=True)
    target = make_target(name, hall)
    target.start()
    try:
        records = search(target, pool, hall, args)
        found: dict = {"steps": records, "pids": list(target.pids())}
        if isinstance(target, Collectors) and args.latency_samples:
            found["latency"] = latency(target, pool, hall, args)
            lat = found["latency"]
            print(
                f"  latency: median {lat['median_s']:.3f} s, p99 {lat['p99_s']:.3f} s "
                f"({lat['samples']} probes, {lat['timeouts']} timeouts)",
                flush=True,
            )
    finally:
        target.stop()
    if isinstance(target, Collectors | NodeRed):
        found["warnings"] = target.warnings()
    return found


def reference_rate(found: dict[str, dict]) -> float | None:
    """The highest offered rate every pipeline held (their CPU is compared there)."""
    pipelines = [name for name in found if name not in ("broker", "paho")]
    passed = [
        {r.result.offered for r in found[name]["steps"] if r.result.passed} for name in pipelines
    ]
    common = set.intersection(*passed) if passed else set()
    return max(common) if common else None


def summarize(found: dict[str, dict], args: argparse.Namespace) -> dict:
    ref = reference_rate(found)
    out: dict[str, dict] = {}
    for name, data in found.items():
        steps: list[StepRecord] = data["steps"]
        results = [s.result for s in steps]
        at_ref = next((s for s in steps if s.result.offered == ref), None)
        rss = {}
        for s in steps:
            for proc, mb in s.rss_peak_mb.items():
                rss[proc] = max(rss.get(proc, 0.0), mb)
        summary = {
            "sustained": logic.sustained_rate(results),
            "publisher_bound": any(r.void for r in results),
            "never_failed": all(r.passed for r in results),
            "lost_total": sum(r.lost for r in results),
            "rss_peak_mb": rss,
            "steps": [s.as_json() for s in steps],
            "warnings": data.get("warnings"),
        }
        if at_ref is not None:
            cpu = sum(at_ref.cpu_s.get(p, 0.0) for p in data["pids"])
            events = at_ref.result.stored_final
            summary["cpu_s_at_reference"] = cpu
            summary["cpu_share_at_reference"] = 100 * cpu / at_ref.result.publish_s
            summary["cpu_per_1000_desks_hour"] = logic.cpu_per_1000_desks_hour(
                cpu, events, args.desk_rate
            )
        if "latency" in data:
            summary["latency"] = data["latency"]
        out[name] = summary
    return {"reference_rate": ref, "targets": out}


def lower_bound(summary: dict) -> bool:
    """The search never found this target's limit (the publishers' or the rate cap came first)."""
    return summary["publisher_bound"] or summary["never_failed"]


def verdicts(summary: dict) -> list[str]:
    """The issue's targets: ahead of Node-RED at zero loss, ≥ 60 % of the bare broker."""
    t = summary["targets"]
    lines = []
    red = t.get("node-red", {}).get("sustained")
    for name in ("hallwatch-1", "hallwatch-2"):
        if name not in t:
            continue
        ours = t[name]["sustained"]
        if red:
            ahead = "ahead of" if ours > red else "NOT ahead of"
            lines.append(
                f"{LABELS[name]} / Node-RED: {ours:,.0f} / {red:,.0f} = "
                f"**{logic.ratio(ours, red):.2f}×** ({ahead} the Node-RED flow at zero loss)."
            )
        for limit in ("broker", "paho"):
            if not t.get(limit, {}).get("sustained"):
                continue
            theirs = t[limit]["sustained"]
            share = logic.ratio(ours, theirs)
            verdict = logic.share_verdict(share, lower_bound(t[limit]))
            target = f" (target ≥ 60 %: {verdict})"
            bound = (
                f"; {LABELS[limit]} never fell behind, so ≤ this" if lower_bound(t[limit]) else ""
            )
            lines.append(
                f"{LABELS[name]} / {LABELS[limit]}: {ours:,.0f} / {theirs:,.0f} = "
                f"**{100 * share:.0f} %**{target if limit == 'broker' else ''}{bound}."
            )
    return lines


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def report(summary: dict, meta: dict, args: argparse.Namespace) -> str:
    t = summary["targets"]
    ref = summary["reference_rate"]
    lines = [
        f"Measured {meta['started']} with",
        "",
        "```sh",
        f"python -m bench.scale_out {meta['argv']}".rstrip(),
        "```",
        "",
        f"**Machine:** {', '.join(f'{k} {v}' for k, v in meta['machine'].items())}; "
        f"load average before the run {meta['loadavg']}.",
        "",
        f"**Load:** {args.desks:,} desks (a seat sensor and a card reader each; one message "
        f"in 10 a card read), native JSON at QoS 1 from {args.publishers} publisher "
        f"processes; each step offers a rate for {args.window:g} s; a step passes when every "
        f"message is counted at the far end within {args.grace:g} s of the last PUBACK and the "
        "backlog did not grow. Rates step ×"
        f"{args.factor:g} from {args.start_rate:,.0f}/s until one fails, then bisect "
        f"{args.refine}×.",
        "",
        "| target | sustained events/s, zero loss | per desk (events/s) | desks at "
        f"{args.desk_rate:.3g} events/s | peak RSS MiB | CPU % of a core at {fmt(ref)}/s "
        "| CPU s per 1,000 desks per hour | lost | warnings |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in t.items():
        bound = "≥ " if lower_bound(s) else ""
        rss = " + ".join(fmt(v) for v in s["rss_peak_mb"].values())
        lines.append(
            f"| {LABELS[name]} | {bound}**{fmt(s['sustained'])}** "
            f"| {fmt(s['sustained'] / args.desks, 2)} "
            f"| {bound}{fmt(logic.desks_per_process(s['sustained'], args.desk_rate))} "
            f"| {rss} | {fmt(s.get('cpu_share_at_reference'))} "
            f"| {fmt(s.get('cpu_per_1000_desks_hour'), 2)} | {s['lost_total']:,} "
            f"| {fmt(s['warnings']) if s['warnings'] is not None else '–'} |"
        )
    lines += ["", *verdicts(summary), ""]
    lat = [(n, s["latency"]) for n, s in t.items() if "latency" in s]
    if lat:
        lines += [
            "End-to-end latency, device publish → the change visible in `/api/live` "
            f"(polled every {LIVE_POLL_S * 1000:.0f} ms), under a steady load:",
            "",
            "| target | load events/s | probes | median s | p99 s | max s | timeouts | load lost |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, x in lat:
            lines.append(
                f"| {LABELS[name]} | {fmt(x['load_published_rate'])} | {x['samples']} "
                f"| **{fmt(x['median_s'], 2)}** | **{fmt(x['p99_s'], 2)}** "
                f"| {fmt(x['max_s'], 2)} | {x['timeouts']} | {x['load_lost']:,} |"
            )
        lines.append("")
    lines += [
        "Every step:",
        "",
        "| target | offered /s | published /s | counted in grace | lost | backlog growth /s "
        "| drained after s | target CPU % | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, s in t.items():
        for step in s["steps"]:
            cpu = sum(v for k, v in step["cpu_s"].items() if k in s["rss_peak_mb"])
            share = 100 * cpu / step["publish_s"] if step["publish_s"] else math.nan
            lines.append(
                f"| {LABELS[name]} | {fmt(step['offered'])} | {fmt(step['achieved'])} "
                f"| {step['stored_in_grace']:,} / {step['published']:,} "
                f"| {step['published'] - step['stored_final']:,} "
                f"| {step['backlog_slope']:+,.0f} | {fmt(step['drained_after_s'], 1)} "
                f"| {fmt(share)} | {'pass' if step['passed'] else step['reason']} |"
            )
    lines += ["", f"Total benchmark time {meta['seconds']:.0f} s."]
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    """Replace the text between this benchmark's markers (or append them) in `path`."""
    begin, end = MARK.format(end="begin"), MARK.format(end="end")
    doc = path.read_text(encoding="utf-8")
    block = f"{begin}\n{text}\n{end}"
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end) :]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc, encoding="utf-8")


def run(args: argparse.Namespace) -> dict:
    targets = [t for t in args.targets if t != "node-red" or node_red_installed()]
    if "node-red" in args.targets and "node-red" not in targets:
        print("Node-RED skipped: run `npm ci --no-audit --no-fund` in bench/node-red first")
    began = time.monotonic()
    meta = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "argv": args.argv,
        "machine": machine(),
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }
    workdir = Path(tempfile.mkdtemp(prefix="hw-scale-"))
    hall = Hall(workdir, args.desks, broker_conf="\n".join(args.broker_conf))
    pool: DeskPool | None = None
    found: dict[str, dict] = {}
    try:
        hall.start()
        assert hall.broker
        pool = DeskPool(hall.broker.port, args.desks, hall.base_ms, args.publishers)
        pool.start()
        for name in targets:
            found[name] = run_target(name, hall, pool, args)
    finally:
        if pool is not None:
            pool.close()
        hall.stop()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["seconds"] = time.monotonic() - began
    summary = summarize(found, args)
    text = report(summary, meta, args)
    print(text)
    results = {"meta": meta, "args": {k: v for k, v in vars(args).items()}, **summary}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), "utf-8")
    if args.out:
        write_section(Path(args.out), text)
    return results


QUICK = {
    "desks": 50,
    "window": 2.0,
    "grace": 2.0,
    "start_rate": 300.0,
    "max_steps": 2,
    "refine": 0,
    "latency_samples": 4,
    "latency_rate": 200.0,
    "publishers": 1,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--desks", type=int, default=2000)
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--window", type=float, default=15.0, help="seconds per step")
    parser.add_argument("--grace", type=float, default=2.0, help="s after the last PUBACK")
    parser.add_argument("--start-rate", type=float, default=5000.0, help="events/s")
    parser.add_argument("--factor", type=float, default=1.5, help="rate growth per step")
    parser.add_argument("--refine", type=int, default=2, help="bisections after a failure")
    parser.add_argument("--max-steps", type=int, default=10)
    parser.add_argument("--max-rate", type=float, default=150_000.0)
    parser.add_argument("--targets", default=",".join(ALL_TARGETS), help="comma-separated")
    parser.add_argument("--latency-samples", type=int, default=40, help="0 skips")
    parser.add_argument("--latency-rate", type=float, default=4000.0, help="events/s")
    parser.add_argument(
        "--desk-rate",
        type=float,
        default=DEFAULT_DESK_RATE,
        help="events/s one desk sends in a real hall, for the capacity and cost figures",
    )
    parser.add_argument(
        "--broker-conf",
        action="append",
        default=[],
        help="an extra mosquitto.conf line, e.g. 'max_inflight_messages 20000' (repeatable)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny scale, < 60 s")
    parser.add_argument("--json", default="var/scale_out.json", help="'' for none")
    parser.add_argument("--out", default=None, help="write the section into this markdown file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    args.argv = " ".join(argv) if argv is not None else " ".join(sys.argv[1:])
    if args.quick:
        for key, value in QUICK.items():
            if parser.get_default(key) == getattr(args, key):
                setattr(args, key, value)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(args.targets) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {ALL_TARGETS}")
    return args


def main() -> None:
    run(parse_args())


if __name__ == "__main__":
    main()
