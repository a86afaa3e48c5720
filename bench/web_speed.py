"""How fast are `/api/live` and the floor page `/` with 200 windows and a day of events?

    python -m bench.web_speed [--clients 10] [--requests 100] [--page-requests 40]

Everything on loopback in a temporary directory: our own Mosquitto and influxd
(`console.services`), a SQLite registry of 200 windows (10 departments, a seat
sensor and a card reader at every window, one person rostered at each) loaded
with `hallwatch import`, and `hallwatch web` as a real process (waitress, 8
threads). A working day of events is written straight to InfluxDB in batches
of 5,000: every seat sensor reports every 30 s for the DAY_HOURS up to now,
occupancy changing as people take breaks, plus the badge reads around them.
The hall's time zone is chosen so that now is early evening there.

Then --clients threads, each with its own `requests.Session`, send their
requests back to back; the latency is measured by the client (server time plus
loopback and queueing), and the server's own handler time is read from each
answer's `Server-Timing: app;dur=` header. Logged in through the login form, as a
browser is, unless the row says HTTP Basic (the password hash is checked once, then
a success is trusted for web/auth.py's BASIC_CACHE_TTL_S).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from console.services import Influxd, Mosquitto, ensure_binaries, free_port
from hallwatch.events import BadgeRead, DeviceStatus, Event, PresenceReport
from hallwatch.influx.client import InfluxClient
from hallwatch.influx.eventstore import event_point

WINDOWS = 200
DEPARTMENTS = 10
COLUMNS = 20  # windows per row on the floor view
REPORT_EVERY = timedelta(seconds=30)  # a seat sensor's presence report
DAY_HOURS = 9  # events from this long before now up to now
LOCAL_HOUR_NOW = 19  # where in the hall's day "now" falls
RECEIPT_LAG = timedelta(milliseconds=300)
INFLUX_BATCH = 5_000
USER, PASSWORD = "bench", "bench-password"
READY_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 120.0
TARGETS_MS = {"/api/live": 100, "/": 300}  # p95 server time, 10 concurrent clients
SERVER_TIMING = re.compile(r"\bapp;dur=([0-9.]+)")


# --- the hall and its day ---------------------------------------------------------------


def hall_timezone(now: datetime) -> ZoneInfo:
    """A fixed-offset zone in which `now` is about LOCAL_HOUR_NOW o'clock."""
    offset = (LOCAL_HOUR_NOW - now.astimezone(UTC).hour + 12) % 24 - 12  # -12 … +11
    return ZoneInfo(f"Etc/GMT{-offset:+d}")  # POSIX signs: Etc/GMT-8 is UTC+8


def window_id(w: int) -> str:
    return f"W{w:03d}"


def registry_yaml(tz: ZoneInfo, today: date) -> str:
    """200 windows in 10 departments, each with a seat sensor, a card reader and a person."""
    lines = [
        "hall:",
        "  name: 基准测试大厅",
        f"  timezone: {tz.key}",
        '  hours: [["00:00", "23:59"]]',
        "  holidays: none",
        f"  working_days: [{today.isoformat()}]",
        "departments:",
        *[f"  - {{id: d{d:02d}, name: 部门{d}}}" for d in range(DEPARTMENTS)],
        "windows:",
    ]
    per_department = WINDOWS // DEPARTMENTS
    for w in range(WINDOWS):
        lines.append(
            f"  - {{id: {window_id(w)}, name: {w + 1}号窗口,"
            f" department: d{w // per_department:02d},"
            f" position: [{w // COLUMNS + 1}, {w % COLUMNS + 1}]}}"
        )
    lines.append("staff:")
    for w in range(WINDOWS):
        lines.append(
            f"  - {{id: s{w:03d}, name: 员工{w}, department: d{w // per_department:02d},"
            f' badges: ["{badge(w)}"]}}'
        )
    lines.append("devices:")
    for w in range(WINDOWS):
        lines.append(f"  - {{id: card-{window_id(w)}, kind: badge_reader, window: {window_id(w)}}}")
        lines.append(
            f"  - {{id: seat-{window_id(w)}, kind: presence_sensor, window: {window_id(w)}}}"
        )
    for d in range(DEPARTMENTS):
        lines.append(f"  - {{id: office-d{d:02d}, kind: badge_reader, department: d{d:02d}}}")
    lines.append("roster:")
    for w in range(WINDOWS):
        lines.append(
            f"  - {{staff: s{w:03d}, window: {window_id(w)}, "
            "days: [mon, tue, wed, thu, fri, sat, sun]}"
        )
    return "\n".join(lines) + "\n"


def badge(w: int) -> str:
    return f"B{w:07X}"


def window_day(rng: random.Random, w: int, start: datetime, end: datetime) -> list[Event]:
    """One window's day: a sign-in, stretches at the desk, breaks, the odd office visit."""
    seat, card, person = f"seat-{window_id(w)}", f"card-{window_id(w)}", badge(w)
    events: list[Event] = [DeviceStatus(seat, start - timedelta(minutes=5), True)]
    occupied, change = False, start + timedelta(minutes=rng.uniform(0, 20))
    events.append(BadgeRead(card, change, person, "in"))
    at = start
    while at <= end:
        while at >= change:
            occupied = not occupied
            minutes = rng.uniform(25, 90) if occupied else rng.uniform(2, 15)
            if not occupied and rng.random() < 0.3:  # a break with the card: out, later in
                events.append(BadgeRead(card, change, person, "out"))
                back = change + timedelta(minutes=minutes)
                if back <= end:
                    events.append(BadgeRead(card, back, person, "in"))
            if not occupied and rng.random() < 0.05:  # called back to the office
                office = f"office-d{w // (WINDOWS // DEPARTMENTS):02d}"
                events.append(BadgeRead(office, change + timedelta(minutes=1), person, "in"))
            change += timedelta(minutes=minutes)
        events.append(PresenceReport(seat, at, occupied))
        at += REPORT_EVERY
    return [e for e in events if e.at <= end]


def write_day(influx: InfluxClient, start: datetime, end: datetime, seed: int) -> int:
    """Write the whole hall's day to InfluxDB in batches; return the number of points."""
    rng = random.Random(seed)
    events = [e for w in range(WINDOWS) for e in window_day(rng, w, start, end)]
    events.sort(key=lambda e: e.at)
    lines = []
    for event in events:
        received = event.at + RECEIPT_LAG
        staff = f"s{int(event.uid[1:], 16):03d}" if isinstance(event, BadgeRead) else None
        lines.append(event_point(replace(event, received=received), staff).to_line())
    for first in range(0, len(lines), INFLUX_BATCH):
        influx.write(lines[first : first + INFLUX_BATCH])
    return len(lines)


# --- the clients ------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


@dataclass
class Result:
    label: str
    path: str
    latencies_ms: list[float]
    server_ms: list[float]  # the handler's own time, from Server-Timing
    seconds: float
    errors: int

    def row(self) -> str:
        ms, server = self.latencies_ms, self.server_ms or [float("nan")]
        rate = len(ms) / self.seconds if self.seconds else 0
        return (
            f"| {self.label} | {len(ms)} | {statistics.median(ms):.0f} | {p95(ms):.0f} "
            f"| {max(ms):.0f} | {statistics.median(server):.0f} | {p95(server):.0f} "
            f"| {rate:.1f} | {self.errors} |"
        )


def logged_in(base: str) -> requests.Session:
    """A browser-like session: the login form (with its CSRF token), then the cookie."""
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=HTTP_TIMEOUT_S).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    if token is None:
        token = re.search(r'value="([^"]+)"[^>]*name="csrf_token"', form)
    assert token, "no csrf_token in the login form"
    answer = session.post(
        f"{base}/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": token.group(1)},
        timeout=HTTP_TIMEOUT_S,
    )
    answer.raise_for_status()
    return session


def basic(base: str) -> requests.Session:
    session = requests.Session()
    session.auth = (USER, PASSWORD)
    return session


def measure(label, base, path, clients, per_client, new_session) -> Result:
    """`clients` threads, each sending `per_client` requests back to back."""
    sessions = [new_session(base) for _ in range(clients)]
    latencies: list[float] = []
    server: list[float] = []
    errors = [0]
    lock = threading.Lock()
    go = threading.Barrier(clients + 1)

    def client(session: requests.Session) -> None:
        go.wait()
        for _ in range(per_client):
            t0 = time.perf_counter()
            answer = session.get(f"{base}{path}", timeout=HTTP_TIMEOUT_S)
            elapsed = (time.perf_counter() - t0) * 1000
            timing = SERVER_TIMING.search(answer.headers.get("Server-Timing", ""))
            with lock:
                latencies.append(elapsed)
                if timing:
                    server.append(float(timing.group(1)))
                errors[0] += answer.status_code != 200

    threads = [threading.Thread(target=client, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    go.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    return Result(label, path, latencies, server, time.perf_counter() - t0, errors[0])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the run ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    ensure_binaries(Mosquitto.binary, Influxd.binary)
    work = Path(tempfile.mkdtemp(prefix="hw-web-"))
    broker, influxd = Mosquitto(work / "mq"), Influxd(work / "influx")
    web: subprocess.Popen | None = None
    began = time.monotonic()
    try:
        broker.start()
        influxd.start()
        now = datetime.now(UTC)
        tz = hall_timezone(now)
        today = now.astimezone(tz).date()
        port = free_port()
        env = {
            **os.environ,
            "HALLWATCH_DATABASE_URL": f"sqlite:///{work / 'registry.sqlite3'}",
            "HALLWATCH_MQTT_URL": broker.url,
            "HALLWATCH_INFLUX_URL": influxd.url,
            "HALLWATCH_INFLUX_DB": "hallwatch",
            "HALLWATCH_SECRET_KEY": "bench",
        }
        cli = [sys.executable, "-m", "console.cli"]
        (work / "hall.yaml").write_text(registry_yaml(tz, today), encoding="utf-8")
        for command in (
            ["import", str(work / "hall.yaml")],
            ["user", "add", USER, "--role", "hall_manager", "--password", PASSWORD],
        ):
            subprocess.run([*cli, *command], env=env, check=True, capture_output=True)
        influx = InfluxClient(influxd.url, "hallwatch")
        influx.create_database()
        start = max(
            now - timedelta(hours=DAY_HOURS), datetime.combine(today, datetime.min.time(), tz)
        )
        t0 = time.monotonic()
        points = write_day(influx, start, now - timedelta(seconds=5), args.seed)
        written_s = time.monotonic() - t0
        log = (work / "web.log").open("w")
        web = subprocess.Popen(
            [*cli, "web", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base)
        t0 = time.perf_counter()
        warm = logged_in(base)
        warm.get(f"{base}/api/live", timeout=HTTP_TIMEOUT_S).raise_for_status()
        cold_ms = (time.perf_counter() - t0) * 1000
        warm.get(f"{base}/", timeout=HTTP_TIMEOUT_S).raise_for_status()
        past = (now - timedelta(hours=DAY_HOURS / 2)).astimezone(tz).isoformat(timespec="seconds")
        n, c = args.requests, args.clients
        results = [
            measure("`/api/live`", base, "/api/live", c, n, logged_in),
            measure("`/` (floor page)", base, "/", c, args.page_requests, logged_in),
            measure("`/api/live`, HTTP Basic", base, "/api/live", c, args.basic_requests, basic),
            measure(
                f"`/api/live?at=` {DAY_HOURS / 2:g} h ago (replay)",
                base,
                f"/api/live?at={requests.utils.quote(past)}",
                c,
                args.replay_requests,
                logged_in,
            ),
        ]
        memory = rss_mb(web.pid)
        print(report(results, points, written_s, cold_ms, memory, now, tz, args, began))
    finally:
        if web is not None:
            web.send_signal(signal.SIGTERM)
            try:
                web.wait(timeout=20)
            except subprocess.TimeoutExpired:
                web.kill()
        influxd.stop()
        broker.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _wait_ready(base: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/login", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"hallwatch web did not answer on {base} within {READY_TIMEOUT_S:g} s")


def report(results, points, written_s, cold_ms, memory, now, tz, args, began) -> str:
    local = now.astimezone(tz)
    head = [
        f"Measured {now:%Y-%m-%d %H:%M} UTC on {platform.machine()} with {os.cpu_count()} cores,"
        f" Python {platform.python_version()}: {WINDOWS} windows, {points:,} events"
        f" ({DAY_HOURS} h up to {local:%H:%M} hall time, written in {written_s:.1f} s),"
        f" {args.clients} concurrent clients.",
        "",
        "| request | n | median ms | p95 ms | max ms | server median ms | server p95 ms"
        " | requests/s | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[r.row() for r in results],
        "",
        f"First `/api/live` after start (loads the day from InfluxDB): {cold_ms:.0f} ms."
        f" `hallwatch web` RSS afterwards: {memory:.0f} MiB."
        f" Benchmark time {time.monotonic() - began:.0f} s.",
        "Client ms: as the client saw it (queueing included); server ms: the handler's own"
        " time (Server-Timing).",
        *[_verdict(results[i], path) for i, path in enumerate(TARGETS_MS)],
    ]
    return "\n".join(head)


def _verdict(result: Result, path: str) -> str:
    """The issue's target: server-time p95 under TARGETS_MS with the concurrent clients."""
    target = TARGETS_MS[path]
    if not result.server_ms:
        return f"Target `{path}` server p95 < {target} ms: no Server-Timing header, not judged."
    found = p95(result.server_ms)
    met = "met" if found < target else "NOT met"
    return (
        f"Target `{path}` server p95 < {target} ms: {met} ({found:.0f} ms;"
        f" client p95 {p95(result.latencies_ms):.0f} ms)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100, help="/api/live, per client")
    parser.add_argument("--page-requests", type=int, default=40, help="/, per client")
    parser.add_argument("--basic-requests", type=int, default=10, help="HTTP Basic, per client")
    parser.add_argument("--replay-requests", type=int, default=2, help="?at=, per client")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
