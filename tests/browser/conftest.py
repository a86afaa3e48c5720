"""Browser tests: Debian's chromium, driven by Playwright, against the real processes.

One small hall is set up once for the session: the registry and users imported with the
CLI, `hallwatch collector` and `hallwatch web` as real processes on the shared Mosquitto
and InfluxDB. Each test gets a fresh browser context (no cookies) and leaves a screenshot
of where its page ended, passed or failed, in test-output/screenshots/<test>.png.

Without chromium (or the playwright package) the tests are skipped, saying why; under CI
(`CI` set) they fail instead, so that a broken machine never passes silently.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from console.services import Influxd, Mosquitto, free_port
from hallwatch.registry.db import make_engine, make_session_factory
from tests.helpers import (
    InfluxDB,
    deployment_env,
    hallwatch,
    influx_admin,
    midday_zone,
    wait_until,
)
from tests.mqtt_helpers import publish, publisher

# A zone where it is about noon whenever the tests run, so nothing "a while ago" is yesterday.
HALL_TZ = midday_zone()
CHROMIUM = "/usr/bin/chromium"  # Debian's; never Playwright's own download
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
USERS = {
    "boss": ("pw-boss", "hall_manager", None),
    "taxhead": ("pw-taxhead", "dept_head", "tax"),
}
# Open all day on every day (today is listed, so weekends too), so the tests run at any hour.
HALL_YAML = """
hall:
  name: 浏览器测试大厅
  timezone: ZONE
  hours: [["00:00", "23:59"]]
  holidays: none
  working_days: [{today}]
  empty_grace_minutes: 10
departments:
  - {{id: civil, name: 民政局}}
  - {{id: tax, name: 税务局}}
windows:
  - {{id: W01, name: 1号窗口, department: civil, position: [1, 1]}}
  - {{id: W02, name: 2号窗口, department: civil, position: [1, 2]}}
  - {{id: W03, name: 3号窗口, department: tax, position: [2, 1]}}
  - {{id: W04, name: 4号窗口, department: tax, position: [2, 2]}}
staff:
  - {{id: s001, name: 张三, department: civil, badges: ["04A1B2C1"]}}
  - {{id: s002, name: 李四, department: civil, badges: ["04A1B2C2"]}}
  - {{id: s003, name: 王五, department: tax, badges: ["04A1B2C3"]}}
  - {{id: s004, name: 赵六, department: tax, badges: ["04A1B2C4"]}}
devices:
  - {{id: desk-w01-card, kind: badge_reader, window: W01}}
  - {{id: desk-w01-seat, kind: presence_sensor, window: W01}}
  - {{id: desk-w02-card, kind: badge_reader, window: W02}}
  - {{id: desk-w02-seat, kind: presence_sensor, window: W02}}
  - {{id: desk-w03-card, kind: badge_reader, window: W03}}
  - {{id: desk-w03-seat, kind: presence_sensor, window: W03}}
  - {{id: desk-w04-card, kind: badge_reader, window: W04}}
  - {{id: desk-w04-seat, kind: presence_sensor, window: W04}}
roster:
  - {{staff: s001, window: W01, days: [mon, tue, wed, thu, fri, sat, sun]}}
  - {{staff: s002, window: W02, days: [mon, tue, wed, thu, fri, sat, sun]}}
  - {{staff: s003, window: W03, days: [mon, tue, wed, thu, fri, sat, sun]}}
  - {{staff: s004, window: W04, days: [mon, tue, wed, thu, fri, sat, sun]}}
""".replace("ZONE", HALL_TZ.key)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's chromium (tests/browser)")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str, module_level: bool = False) -> None:
    """Fail under CI, skip elsewhere: a missing browser must never pass CI silently."""
    if _in_ci():
        pytest.fail(f"{reason}; CI is set, so the browser tests must run", pytrace=False)
    pytest.skip(
        f"{reason} (install it with: bash scripts/setup.sh)", allow_module_level=module_level
    )


def import_playwright():
    """playwright.sync_api, for a test module's `expect` (skipped or failed when missing)."""
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError:
        _unavailable("the Python package playwright is not installed", module_level=True)


def chromium_path() -> str | None:
    """Debian's chromium, if installed."""
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")


# --- the hall: registry, users, collector and web as real processes -----------------------


@dataclass(frozen=True)
class BrowserHall:
    """The running deployment the browser talks to."""

    env: dict[str, str]
    url: str  # the web process, e.g. http://127.0.0.1:41234
    mqtt_url: str


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "console.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="session")
def hall_env(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: Mosquitto, influxd: Influxd
) -> Iterator[dict[str, str]]:
    """A deployment of its own: SQLite file, InfluxDB database, the registry imported."""
    workdir = tmp_path_factory.mktemp("browser-hall")
    influx = InfluxDB(influxd.url, f"hw_browser_{uuid.uuid4().hex[:8]}")
    influx_admin(influx.url, f'CREATE DATABASE "{influx.db}"')
    env = deployment_env(f"sqlite:///{workdir / 'hallwatch.sqlite3'}", mosquitto.url, influx)
    hall_file = workdir / "hall.yaml"
    hall_file.write_text(HALL_YAML.format(today=datetime.now(HALL_TZ).date()), encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    yield env
    if influxd.running and not influxd.paused:
        influx_admin(influx.url, f'DROP DATABASE "{influx.db}"')


def _add_users(env: dict[str, str]) -> None:
    """`hallwatch user add` for every test user, all at once (they take a second each)."""
    adding = []
    for name, (password, role, department) in USERS.items():
        extra = ["--department", department] if department else []
        args = ["user", "add", name, "--role", role, *extra, "--password", password]
        command = [sys.executable, "-m", "console.cli", *args]
        adding.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, text=True, stderr=subprocess.STDOUT
            )
        )
    for process in adding:
        output, _ = process.communicate(timeout=START_TIMEOUT_S)
        assert process.returncode == 0, f"{process.args}: {output}"


@pytest.fixture(scope="session")
def hall(
    hall_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserHall]:
    """`hallwatch collector` (subscribed) and `hallwatch web` (answering), users added."""
    logs = tmp_path_factory.mktemp("browser-logs")
    collector_log, web_log = logs / "collector.log", logs / "web.log"
    collector = _start(["collector"], hall_env, collector_log)
    port = free_port()
    web = _start(["web", "--port", str(port)], hall_env, web_log)
    url = f"http://127.0.0.1:{port}"
    try:
        _add_users(hall_env)  # while those two start
        # The collector's persistent session must exist before anything is published.
        wait_until(
            lambda: "subscribing" in collector_log.read_text(),
            timeout=START_TIMEOUT_S,
            message=collector_log.read_text,
        )
        wait_until(
            lambda: _answers(f"{url}/login"), timeout=START_TIMEOUT_S, message=web_log.read_text
        )
        yield BrowserHall(hall_env, url, hall_env["HALLWATCH_MQTT_URL"])
    finally:
        _stop(web)
        _stop(collector)


@pytest.fixture(scope="session")
def db(hall_env: dict[str, str]) -> Iterator[sessionmaker[Session]]:
    """SQLAlchemy sessions on the deployment's database (to put alert records in place)."""
    engine = make_engine(hall_env["HALLWATCH_DATABASE_URL"])
    yield make_session_factory(engine)
    engine.dispose()


class Devices:
    """The hall's devices as the collector hears them: native JSON over MQTT (docs/DEVICES.md)."""

    def __init__(self, mqtt_url: str):
        self.client = publisher(mqtt_url)

    def presence(self, device: str, occupied: bool, at: datetime) -> None:
        payload = {"type": "presence", "occupied": occupied, "ts": at.isoformat()}
        publish(self.client, f"hallwatch/devices/{device}/events", payload)

    def badge(self, device: str, uid: str, at: datetime) -> None:
        payload = {"type": "badge", "uid": uid, "ts": at.isoformat()}
        publish(self.client, f"hallwatch/devices/{device}/events", payload)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="session")
def devices(hall: BrowserHall) -> Iterator[Devices]:
    publishing = Devices(hall.mqtt_url)
    yield publishing
    publishing.close()


# --- the browser --------------------------------------------------------------------------


def _browser_env() -> dict[str, str]:
    """This environment, but under `./dev test-at` Chromium has libfaketime fake its monotonic
    clock as well as the wall clock: with only the wall clock moved its timers crawl."""
    return {k: v for k, v in os.environ.items() if k != "FAKETIME_DONT_FAKE_MONOTONIC"}


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, for the whole session."""
    path = chromium_path()
    if path is None:
        _unavailable(f"chromium not found at {CHROMIUM} nor on PATH")
    playwright = import_playwright().sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=path, headless=True, env=_browser_env()
        )
    except Exception as exc:  # Playwright's own Error: the browser would not start
        playwright.stop()
        _unavailable(f"chromium at {path} did not start: {exc}")
    yield chromium
    chromium.close()
    playwright.stop()


def _screenshot_name(nodeid: str) -> str:
    """tests/browser/test_x.py::test_y[a] → test_x-test_y-a.png"""
    name = nodeid.split("/")[-1].replace(".py::", "-")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") + ".png"


@pytest.fixture
def page(browser, hall: BrowserHall, request: pytest.FixtureRequest):
    """A new page in a fresh context on the hall's web; its screenshot is kept afterwards."""
    context = browser.new_context(
        base_url=hall.url, viewport=VIEWPORT, locale="zh-CN", timezone_id=HALL_TZ.key
    )
    tab = context.new_page()
    yield tab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        tab.screenshot(path=str(SCREENSHOTS / _screenshot_name(request.node.nodeid)))
    finally:
        context.close()


@pytest.fixture
def log_in(page) -> Callable[[str], None]:
    """`log_in("boss")`: through the /login form, as a person would; lands on the floor."""

    def log_in_as(user: str, password: str | None = None) -> None:
        page.goto("/login")
        page.fill("#username", user)
        page.fill("#password", password or USERS[user][0])
        page.click("form.login button[type=submit]")
        page.wait_for_load_state()

    return log_in_as
