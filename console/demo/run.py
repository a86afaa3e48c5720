"""`hallwatch demo`: every part of HallWatch on this machine, with a simulated hall.

Run as it should be deployed: the broker refuses anonymous clients, every simulated
device logs in with its own account and may publish only its own topics, the collector
may only read them (`hallwatch provision` writes the accounts under var/mqtt/), and
InfluxDB has auth on with a write-only account for the collector and a read-only one
for the web and the alerts.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import yaml

from console.demo.clock import fit_to_now
from console.provision import (
    ACL_FILE,
    DEFAULT_COLLECTOR_USER,
    PASSWD_FILE,
    SECRETS_FILE,
    account_password,
    provision_broker,
)
from console.provision_influx import provision_influx
from console.services import Influxd, Mosquitto, free_port, port_is_free
from hallwatch.access import HALL_MANAGER
from hallwatch.config import Settings
from hallwatch.influx.client import InfluxClient
from hallwatch.registry.parse import parse_registry
from simulator import DEMO_HALL

log = logging.getLogger(__name__)

PREFERRED_MQTT_PORT = 18830
PREFERRED_INFLUX_PORT = 18086
PREFERRED_SMTP_PORT = 18025
DEMO_USER = "manager"
READY_TIMEOUT_S = 60.0
BACKLOG_STEADY_S = 3.0  # the stored count unchanged this long: the simulator's backlog is in
DEMO_EMAIL = "manager@hallwatch.demo"  # caught by the local mail catcher, never sent out
MAIL_LOG = "mail.log"  # under var/: every message the demo's alerts send


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
    return subprocess.Popen([sys.executable, "-m", "console.cli", *args], env=env)


def _run_hallwatch(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "console.cli", *args], env=env, check=True)


def _mail_catcher(var: Path, port: int) -> subprocess.Popen:
    """A local SMTP server that accepts every message and appends it to var/mail.log."""
    with (var / MAIL_LOG).open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def run_demo(web_port: int = 8080) -> None:
    """Start services and processes, print the URL and a login, run until Ctrl-C."""
    var = Path("var").resolve()
    var.mkdir(exist_ok=True)
    hall_file, notes = demo_registry_file(var, datetime.now(UTC))
    accounts = var / "mqtt"
    changes = provision_broker(parse_registry(hall_file.read_text(encoding="utf-8")), accounts)
    log.info("MQTT accounts in %s: %s", accounts, changes.summary())
    mosquitto = Mosquitto(
        var / "mosquitto",
        port=_port(PREFERRED_MQTT_PORT),
        password_file=accounts / PASSWD_FILE,
        acl_file=accounts / ACL_FILE,
    )
    influxd = Influxd(var / "influxdb", port=_port(PREFERRED_INFLUX_PORT), auth_enabled=True)
    web_port = web_port if port_is_free(web_port) else free_port()
    smtp_port = _port(PREFERRED_SMTP_PORT)
    mosquitto.start()
    influxd.start()
    children: dict[str, subprocess.Popen] = {}
    try:
        children["mail"] = _mail_catcher(var, smtp_port)
        collector_password = quote(account_password(accounts, DEFAULT_COLLECTOR_USER), safe="")
        influx_db = os.environ.get("HALLWATCH_INFLUX_DB", "hallwatch")
        influx, _ = provision_influx(influxd.url, influx_db, "admin", None, accounts)
        env = {
            **os.environ,
            "HALLWATCH_MQTT_URL": f"mqtt://{DEFAULT_COLLECTOR_USER}:{collector_password}"
            f"@127.0.0.1:{mosquitto.port}",
            "HALLWATCH_INFLUX_URL": influxd.url,
            "HALLWATCH_INFLUX_WRITE_USER": influx.writer,
            "HALLWATCH_INFLUX_WRITE_PASSWORD": influx.writer_password,
            "HALLWATCH_INFLUX_READ_USER": influx.reader,
            "HALLWATCH_INFLUX_READ_PASSWORD": influx.reader_password,
            "HALLWATCH_DATABASE_URL": os.environ.get(
                "HALLWATCH_DATABASE_URL", f"sqlite:///{var / 'hallwatch.sqlite3'}"
            ),
            "HALLWATCH_COLLECTOR_ID": "hallwatch-demo-collector",
            "HALLWATCH_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "HALLWATCH_BASE_URL": f"http://127.0.0.1:{web_port}",
        }
        settings = Settings.from_env(env)  # fail early on a bad inherited setting
        password = _password(var)
        _run_hallwatch("import", str(hall_file), env=env)
        _run_hallwatch(
            "user", "add", DEMO_USER, "--role", HALL_MANAGER, "--password", password, env=env
        )
        _run_hallwatch(
            "user", "channel", "add", DEMO_USER, "--kind", "email", "--target", DEMO_EMAIL, env=env
        )
        children["collector"], subscribed = _echoing("collector", env, "subscribing")
        children["web"] = _hallwatch("web", "--port", str(web_port), env=env)
        # Publishing before the collector's session exists would lose the messages.
        if not subscribed.wait(READY_TIMEOUT_S):
            raise RuntimeError("the collector did not subscribe; see its log above")
        children["simulate"] = _hallwatch(
            "simulate",
            "--mode",
            "live",
            "--truth",
            str(var / "truth.csv"),
            "--accounts",
            str(accounts / SECRETS_FILE),
            env=env,
        )
        # Alerts judged on half a backlog would be wrong (and mailed): let it land first.
        auth = settings.influx_auth("read")
        _wait_until_stored(InfluxClient(influxd.url, influx_db, auth.username, auth.password))
        children["alerts"] = _hallwatch("alerts", env=env)
        _banner(web_port, password, notes, mosquitto.url, influxd.url, var / MAIL_LOG, accounts)
        _wait(children)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        influxd.stop()
        mosquitto.stop()
        print("演示已停止。Demo stopped.", flush=True)


def _echoing(command: str, env: dict, marker: str) -> tuple[subprocess.Popen, threading.Event]:
    """Start `hallwatch COMMAND`, copy its output to ours, and flag when `marker` appears."""
    child = subprocess.Popen(
        [sys.executable, "-m", "console.cli", command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = threading.Event()

    def copy() -> None:
        for line in child.stdout:
            sys.stdout.write(line)
            if marker in line:
                seen.set()

    threading.Thread(target=copy, daemon=True).start()
    return child, seen


def _wait_until_stored(influx: InfluxClient) -> None:
    """Wait until the number of stored events stops growing (the backlog is in)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last, steady_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        series = influx.query('SELECT count("received_ms") FROM "hw_event"')
        count = series[0]["values"][0][1] if series else 0
        if count != last:
            last, steady_since = count, time.monotonic()
        elif count > 0 and time.monotonic() - steady_since >= BACKLOG_STEADY_S:
            return
        time.sleep(0.5)


def _banner(
    web_port: int,
    password: str,
    notes: list[str],
    mqtt: str,
    influx: str,
    mail_log: Path,
    accounts: Path,
) -> None:
    lines = [
        "",
        "=" * 64,
        "HallWatch 演示已启动 / demo is running",
        f"  网址 URL:      http://127.0.0.1:{web_port}/",
        f"  登录 login:    {DEMO_USER} / {password}",
        f"  实时接口 API:  curl -u {DEMO_USER}:{password} http://127.0.0.1:{web_port}/api/live",
        f"  告警接口 alerts: curl -u {DEMO_USER}:{password} http://127.0.0.1:{web_port}/api/alerts",
        f"  告警邮件 mail:  {mail_log}",
        f"  MQTT: {mqtt}   InfluxDB: {influx}",
        f"  账号 accounts (MQTT, InfluxDB; anonymous off): {accounts}/*.secrets.yaml",
        *[f"  注意:{note}" for note in notes],
        "  按 Ctrl-C 停止 / Ctrl-C stops everything.",
        "=" * 64,
        "",
    ]
    print("\n".join(lines), flush=True)


def _wait(children: dict[str, subprocess.Popen]) -> None:
    """Until Ctrl-C/SIGTERM, or until a process other than the simulator ends."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        for name, child in children.items():
            if child.poll() is not None and name != "simulate":
                log.error("%s exited with %s; stopping the demo", name, child.returncode)
                return
