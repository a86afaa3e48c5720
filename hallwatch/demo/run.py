"""`hallwatch demo`: every part of HallWatch on this machine, with a simulated hall."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import yaml

from hallwatch.config import Settings
from hallwatch.demo.clock import fit_to_now
from hallwatch.registry.parse import parse_registry
from hallwatch.services import Influxd, Mosquitto, free_port, port_is_free

log = logging.getLogger(__name__)

DEMO_HALL = Path(__file__).with_name("hall.yaml")
PREFERRED_MQTT_PORT = 18830
PREFERRED_INFLUX_PORT = 18086
DEMO_USER = "manager"


def _port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else free_port()


def demo_registry_file(var: Path, now: datetime) -> tuple[Path, list[str]]:
    """The shipped demo hall, with today's calendar fitted so that the hall is open now."""
    text = DEMO_HALL.read_text(encoding="utf-8")
    fitted, notes = fit_to_now(parse_registry(text), now)
    data = yaml.safe_load(text)
    data["hall"]["working_days"] = sorted(str(d) for d in fitted.hall.working_days)
    data["hall"]["closed_days"] = sorted(str(d) for d in fitted.hall.closed_days)
    data["hall"]["hours"] = [[f"{s:%H:%M}", f"{e:%H:%M}"] for s, e in fitted.hall.hours]
    path = var / "demo-hall.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, notes


def _password(var: Path) -> str:
    path = var / "demo-password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def _hallwatch(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hallwatch.cli", *args], env=env)


def run_demo(web_port: int = 8080) -> None:
    """Start services and processes, print the URL and a login, run until Ctrl-C."""
    var = Path("var").resolve()
    var.mkdir(exist_ok=True)
    mosquitto = Mosquitto(var / "mosquitto", port=_port(PREFERRED_MQTT_PORT))
    influxd = Influxd(var / "influxdb", port=_port(PREFERRED_INFLUX_PORT))
    web_port = web_port if port_is_free(web_port) else free_port()
    mosquitto.start()
    influxd.start()
    children: list[subprocess.Popen] = []
    try:
        env = {
            **os.environ,
            "HALLWATCH_MQTT_URL": mosquitto.url,
            "HALLWATCH_INFLUX_URL": influxd.url,
            "HALLWATCH_DATABASE_URL": os.environ.get(
                "HALLWATCH_DATABASE_URL", f"sqlite:///{var / 'hallwatch.sqlite3'}"
            ),
            "HALLWATCH_COLLECTOR_ID": "hallwatch-demo-collector",
        }
        Settings.from_env(env)  # fail early on a bad inherited setting
        hall_file, notes = demo_registry_file(var, datetime.now(UTC))
        password = _password(var)
        subprocess.run(
            [sys.executable, "-m", "hallwatch.cli", "import", str(hall_file)], env=env, check=True
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "hallwatch.cli",
                "user",
                "add",
                DEMO_USER,
                "--role",
                "hall_manager",
                "--password",
                password,
            ],
            env=env,
            check=True,
        )
        children = [
            _hallwatch("collector", env=env),
            _hallwatch("web", "--port", str(web_port), env=env),
            _hallwatch("simulate", "--mode", "live", "--truth", str(var / "truth.csv"), env=env),
        ]
        _banner(web_port, password, notes, mosquitto.url, influxd.url)
        _wait(children)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        influxd.stop()
        mosquitto.stop()
        print("演示已停止。Demo stopped.", flush=True)


def _banner(web_port: int, password: str, notes: list[str], mqtt: str, influx: str) -> None:
    lines = [
        "",
        "=" * 64,
        "HallWatch 演示已启动 / demo is running",
        f"  网址 URL:      http://127.0.0.1:{web_port}/",
        f"  登录 login:    {DEMO_USER} / {password}",
        f"  实时接口 API:  curl -u {DEMO_USER}:{password} http://127.0.0.1:{web_port}/api/live",
        f"  MQTT: {mqtt}   InfluxDB: {influx}",
        *[f"  注意:{note}" for note in notes],
        "  按 Ctrl-C 停止 / Ctrl-C stops everything.",
        "=" * 64,
        "",
    ]
    print("\n".join(lines), flush=True)


def _wait(children: list[subprocess.Popen]) -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        for child in children:
            if child.poll() is not None and child.args[3] != "simulate":
                log.error("%s exited with %s; stopping the demo", child.args[3], child.returncode)
                return
