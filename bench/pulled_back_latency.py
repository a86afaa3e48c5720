"""How fast does a `pulled_back` alert reach its recipient?

    python -m bench.pulled_back_latency [--people 20] [--gap 3]

Everything on loopback, as real processes: our own Mosquitto and influxd,
`hallwatch collector`, `hallwatch alerts`, and a hall manager whose channel is
a webhook served by this script. Each of N rostered people first signs in at
their window; then, one every --gap seconds, each is read at their home
department's office reader. The latency of one person is from the moment the
office read reached the broker (its PUBACK) to the moment the webhook received
the pulled_back notification naming them. Prints the median and the worst.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt

from console.services import Influxd, Mosquitto, free_port

READY_TIMEOUT_S = 60.0
ARRIVAL_TIMEOUT_S = 60.0


def registry_yaml(people: int, today: str) -> str:
    lines = [
        "hall:",
        "  name: 基准测试大厅",
        "  timezone: Asia/Shanghai",
        '  hours: [["00:00", "23:59"]]',
        "  holidays: none",
        f"  working_days: [{today}]",
        "departments:",
        "  - {id: civil, name: 民政局}",
        "windows:",
        *[f"  - {{id: W{i:02d}, name: {i}号窗口, department: civil}}" for i in range(people)],
        "staff:",
        *[
            f'  - {{id: s{i:02d}, name: 员工{i}, department: civil, badges: ["AA{i:06X}"]}}'
            for i in range(people)
        ],
        "devices:",
        *[
            f"  - {{id: card-W{i:02d}, kind: badge_reader, window: W{i:02d}}}"
            for i in range(people)
        ],
        "  - {id: office-civil, kind: badge_reader, department: civil}",
        "roster:",
        *[
            f"  - {{staff: s{i:02d}, window: W{i:02d}, days: [mon, tue, wed, thu, fri, sat, sun]}}"
            for i in range(people)
        ],
    ]
    return "\n".join(lines) + "\n"


class Arrivals(ThreadingHTTPServer):
    """The hall manager's webhook: when each person's pulled_back notification arrived."""

    def __init__(self):
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.times: dict[str, float] = {}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        arrived = time.time()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body.get("kind") == "pulled_back" and body.get("reason") == "opened":
            self.server.times.setdefault(body["staff"], arrived)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def publish_acked(client: mqtt.Client, topic: str, payload: dict) -> float:
    """Publish at QoS 1 and return when the broker acknowledged it (wall clock)."""
    info = client.publish(topic, json.dumps(payload), qos=1)
    info.wait_for_publish(10)
    return time.time()


def run(people: int, gap_s: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="hw-latency-"))
    broker, influx = Mosquitto(work / "mq"), Influxd(work / "influx")
    broker.start()
    influx.start()
    webhook = Arrivals()
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "HALLWATCH_DATABASE_URL": f"sqlite:///{work / 'registry.sqlite3'}",
        "HALLWATCH_MQTT_URL": broker.url,
        "HALLWATCH_INFLUX_URL": influx.url,
        "HALLWATCH_SECRET_KEY": "bench",
        "HALLWATCH_COLLECTOR_ID": "bench-latency",
    }
    cli = [sys.executable, "-m", "console.cli"]
    processes: list[subprocess.Popen] = []
    try:
        hall = work / "hall.yaml"
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        hall.write_text(registry_yaml(people, today.isoformat()), encoding="utf-8")
        subprocess.run([*cli, "import", str(hall)], env=env, check=True, capture_output=True)
        for args in (
            ["user", "add", "boss", "--role", "hall_manager", "--password", "pw"],
            [
                "user",
                "channel",
                "add",
                "boss",
                "--kind",
                "webhook",
                "--target",
                f"http://127.0.0.1:{webhook.server_port}/hook",
            ],
        ):
            subprocess.run([*cli, *args], env=env, check=True, capture_output=True)
        logs = {name: (work / f"{name}.log").open("w") for name in ("collector", "alerts")}
        for name, log in logs.items():
            processes.append(
                subprocess.Popen([*cli, name], env=env, stdout=log, stderr=subprocess.STDOUT)
            )
        _wait_for(lambda: "subscribing" in (work / "collector.log").read_text(), "collector")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-devices")
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        start = datetime.now(UTC)
        for i in range(people):
            publish_acked(
                client,
                f"hallwatch/devices/card-W{i:02d}/events",
                {
                    "type": "badge",
                    "uid": f"AA{i:06X}",
                    "ts": (start - timedelta(minutes=5)).isoformat(),
                },
            )
        time.sleep(2 * gap_s)  # let the sign-ins be evaluated before the first office read
        sent: dict[str, float] = {}
        for i in range(people):
            sent[f"s{i:02d}"] = publish_acked(
                client,
                "hallwatch/devices/office-civil/events",
                {"type": "badge", "uid": f"AA{i:06X}"},
            )
            time.sleep(gap_s)
        _wait_for(lambda: len(webhook.times) >= people, "notifications", ARRIVAL_TIMEOUT_S)
        client.loop_stop()
        latencies = sorted(webhook.times[s] - sent[s] for s in sent)
        return {
            "people": people,
            "median_s": statistics.median(latencies),
            "worst_s": latencies[-1],
            "best_s": latencies[0],
            "all_s": latencies,
        }
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        webhook.shutdown()
        influx.stop()
        broker.stop()


def _wait_for(predicate, what: str, timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between office reads")
    args = parser.parse_args()
    result = run(args.people, args.gap)
    print(
        f"pulled_back latency over {result['people']} people: median {result['median_s']:.2f} s, "
        f"worst {result['worst_s']:.2f} s, best {result['best_s']:.2f} s"
    )
    print("all:", " ".join(f"{x:.2f}" for x in result["all_s"]))


if __name__ == "__main__":
    main()
