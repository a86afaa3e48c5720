"""Two `hallwatch web` processes behind one address share nothing but the databases.

Real processes on two ports, one registry database and one InfluxDB database: a
browser may be sent to either for any request. On SQLite both run in one directory
without HALLWATCH_SECRET_KEY, started at the same moment (gunicorn's workers on one
host): they must agree on the key kept under var/. On PostgreSQL each runs in a
directory of its own with HALLWATCH_SECRET_KEY set (web processes on several hosts).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from console.services import free_port
from hallwatch.config import ConfigError, Settings
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.importing import import_file
from hallwatch.registry.throttle import ADDRESS, LoginFailureRow
from hallwatch.registry.users import add_user
from tests.conftest import database_url_for
from tests.halls import HALL_TZ, HALL_YAML
from tests.helpers import InfluxDB, deployment_env, influx_admin, wait_until
from tests.web_helpers import CSRF_TOKEN, LOCKED_WORDS, add_alert
from web import create_app

START_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 10.0
USERS = {  # name → (role, department, password)
    "admin": ("admin", None, "pw-admin-1"),
    "boss": ("hall_manager", None, "pw-boss-1"),
    "audit": ("inspector", None, "pw-audit-1"),
    "guessed": ("inspector", None, "pw-guessed-1"),
    "clerk": ("inspector", None, "pw-clerk-1"),
}


@dataclass
class Pair:
    """The two web processes (A and B), an open alert and the users' ids."""

    a: str  # base URL of process A
    b: str
    alert_id: int
    user_ids: dict[str, int]
    env: dict[str, str]


def start_web(env: dict, home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`hallwatch web` on a free port, in directory `home`; (process, base URL)."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "web", "--host", "127.0.0.1"]
            + ["--port", str(port)],
            env=env,
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/login", timeout=HTTP_TIMEOUT_S).status_code == 200
    except requests.ConnectionError:
        return False


def seed(database_url: str, home: Path) -> tuple[int, dict[str, int]]:
    """The test hall, its users and one open alert, written before any web process starts."""
    engine = make_engine(database_url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    hall_file = home / "hall.yaml"
    hall_file.write_text(HALL_YAML.format(today=datetime.now(HALL_TZ).date()), encoding="utf-8")
    import_file(sessions, hall_file)
    with sessions() as db:
        user_ids = {
            name: add_user(db, name, role, password, department).id
            for name, (role, department, password) in USERS.items()
        }
        alert_id = add_alert(db, "civil", "W01")
        db.commit()
    engine.dispose()
    return alert_id, user_ids


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def pair(request, tmp_path_factory, mosquitto, influxd) -> Iterator[Pair]:
    home = tmp_path_factory.mktemp(f"stateless-{request.param}")
    urls = database_url_for(request.param, home)
    database_url = next(urls)
    influx = InfluxDB(influxd.url, f"hw_stateless_{uuid.uuid4().hex[:8]}")
    influx_admin(influx.url, f'CREATE DATABASE "{influx.db}"')
    env = deployment_env(database_url, mosquitto.url, influx)
    if request.param == "sqlite":  # one host: the key file under var/ of one directory
        del env["HALLWATCH_SECRET_KEY"]
        homes = (home / "host", home / "host")
    else:  # two hosts: the configured key
        env["HALLWATCH_SECRET_KEY"] = uuid.uuid4().hex
        homes = (home / "host-a", home / "host-b")
    started: list[tuple[subprocess.Popen, str]] = []
    try:
        alert_id, user_ids = seed(database_url, home)
        started = [start_web(env, where, home / f"web-{i}.log") for i, where in enumerate(homes)]
        for i, (process, url) in enumerate(started):
            log = home / f"web-{i}.log"
            wait_until(lambda url=url: answers(url), START_TIMEOUT_S, 0.2, log.read_text)
            assert process.poll() is None, log.read_text()
        yield Pair(started[0][1], started[1][1], alert_id, user_ids, env)
    finally:
        for process, _ in started:
            process.kill()
            process.wait()
        influx_admin(influx.url, f'DROP DATABASE "{influx.db}"')
        urls.close()


def token_at(browser: requests.Session, url: str) -> str:
    """The CSRF token of the form on page `url`, as that process rendered it."""
    page = browser.get(url, timeout=HTTP_TIMEOUT_S)
    assert page.status_code == 200, (url, page.status_code)
    return CSRF_TOKEN.search(page.text)[1]


def log_in(browser: requests.Session, base: str, name: str, password: str) -> requests.Response:
    form = {
        "username": name,
        "password": password,
        "csrf_token": token_at(browser, base + "/login"),
    }
    return browser.post(base + "/login", data=form, allow_redirects=False, timeout=HTTP_TIMEOUT_S)


def signed_in(browser: requests.Session, base: str) -> bool:
    """Whether `browser`'s session cookie is a logged-in user at process `base`."""
    answer = browser.get(base + "/api/alerts", allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    assert answer.status_code in (200, 401), answer.status_code
    return answer.status_code == 200


def browser_of(pair: Pair, name: str) -> requests.Session:
    """A browser logged in as `name` at process A."""
    browser = requests.Session()
    assert log_in(browser, pair.a, name, USERS[name][2]).status_code == 302
    return browser


def test_a_login_at_one_process_holds_at_the_other(pair):
    browser = browser_of(pair, "boss")

    floor = browser.get(pair.b + "/", allow_redirects=False, timeout=HTTP_TIMEOUT_S)

    assert floor.status_code == 200
    assert signed_in(browser, pair.b)


def test_a_form_rendered_at_one_process_posts_at_the_other(pair):
    browser = browser_of(pair, "boss")
    token = token_at(browser, pair.a + "/alerts")

    answer = browser.post(
        f"{pair.b}/alerts/{pair.alert_id}/ack",
        data={"csrf_token": token, "note": "已安排人员"},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )

    assert answer.status_code == 303, answer.text
    # Seen at A at once: nothing about the alert was kept in B's memory.
    listed = browser.get(pair.a + "/api/alerts?status=all", timeout=HTTP_TIMEOUT_S).json()
    [alert] = [a for a in listed if a["id"] == pair.alert_id]
    assert alert["status"] == "acknowledged"


def test_a_form_without_its_token_is_refused_at_both(pair):
    browser = browser_of(pair, "boss")
    for base in (pair.a, pair.b):
        answer = browser.post(
            f"{base}/alerts/{pair.alert_id}/ack", allow_redirects=False, timeout=HTTP_TIMEOUT_S
        )
        assert answer.status_code == 400


def test_logging_out_at_one_process_ends_the_session_at_the_other(pair):
    browser = browser_of(pair, "audit")
    assert signed_in(browser, pair.b)
    kept = browser.cookies.copy()  # a copy of the cookie, as someone might have taken it

    token = token_at(browser, pair.a + "/")
    browser.post(pair.a + "/logout", data={"csrf_token": token}, timeout=HTTP_TIMEOUT_S)

    assert not signed_in(browser, pair.b)
    thief = requests.Session()
    thief.cookies.update(kept)
    assert not signed_in(thief, pair.b)


def test_failed_logins_at_both_processes_count_together(pair):
    browser = requests.Session()
    for attempt in range(5):  # USER_POLICY: the fifth failure in a row locks the name
        base = pair.a if attempt % 2 == 0 else pair.b
        answer = log_in(browser, base, "guessed", "wrong")
        assert answer.status_code == (429 if attempt == 4 else 401), (attempt, base)

    right = log_in(browser, pair.b, "guessed", USERS["guessed"][2])

    assert right.status_code == 429  # locked at B too: one count of the failures at A and B
    assert LOCKED_WORDS in right.text


def test_a_password_reset_at_one_process_logs_the_user_out_at_the_other(pair):
    admin = browser_of(pair, "admin")
    clerk = requests.Session()
    assert log_in(clerk, pair.b, "clerk", USERS["clerk"][2]).status_code == 302
    assert signed_in(clerk, pair.b)
    new_password = "a-new-password-2"

    edited = admin.post(
        f"{pair.a}/ops/users/{pair.user_ids['clerk']}",
        data={
            "role": "inspector",  # unchanged but for the password
            "department": "",
            "password": new_password,
            "confirm": new_password,
            "csrf_token": token_at(admin, pair.a + "/ops/users"),
        },
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )

    assert edited.status_code == 302, edited.text
    assert not signed_in(clerk, pair.b)
    assert log_in(clerk, pair.b, "clerk", new_password).status_code == 302


def test_a_proxy_count_that_is_not_a_small_number_is_refused_by_name():
    for raw in ("one", "-1", "6"):
        with pytest.raises(ConfigError, match="HALLWATCH_TRUSTED_PROXIES"):
            Settings.from_env({"HALLWATCH_TRUSTED_PROXIES": raw})


def failed_login_from(pair: Pair, forwarded_for: str, **variables: str) -> None:
    """A wrong password sent through a proxy that says the client is `forwarded_for`."""
    own = {k: v for k, v in pair.env.items() if k.startswith("HALLWATCH_")}
    settings = Settings.from_env({**own, "HALLWATCH_SECRET_KEY": "in-process", **variables})
    client = create_app(settings, {"TESTING": True}).test_client()
    token = CSRF_TOKEN.search(client.get("/login").get_data(as_text=True))[1]
    form = {"username": "nobody", "password": "wrong", "csrf_token": token}
    answer = client.post("/login", data=form, headers={"X-Forwarded-For": forwarded_for})
    assert answer.status_code == 401


def throttled_addresses(pair: Pair) -> set[str]:
    engine = make_engine(pair.env["HALLWATCH_DATABASE_URL"])
    try:
        with make_session_factory(engine)() as db:
            query = select(LoginFailureRow.key).where(LoginFailureRow.scope == ADDRESS)
            return set(db.scalars(query))
    finally:
        engine.dispose()


def test_behind_a_trusted_proxy_failures_count_against_the_forwarded_address(pair):
    failed_login_from(pair, "203.0.113.7", HALLWATCH_TRUSTED_PROXIES="1")
    failed_login_from(pair, "203.0.113.8")  # no proxy trusted: the header is anyone's to write

    addresses = throttled_addresses(pair)

    assert "203.0.113.7" in addresses
    assert "203.0.113.8" not in addresses
