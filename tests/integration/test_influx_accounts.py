"""InfluxDB 1.x with auth on: an admin, a write-only collector account, a read-only one.

Each test runs its own auth-enabled influxd; `hallwatch provision --influx` (or the
function behind it) creates the database and the accounts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from console.provision_files import ProvisionError, load_secrets
from console.provision_influx import INFLUX_SECRETS_FILE, provision_influx
from console.services import Influxd
from hallwatch.config import Settings
from hallwatch.influx.client import InfluxClient, QueryError, RetryableWriteError
from tests.helpers import SHANGHAI, InfluxDB, deployment_env, hallwatch, start_collector, wait_until
from tests.mqtt_helpers import publish, publisher
from tests.web_helpers import basic
from web import create_app

HALL_TZ = SHANGHAI  # the zone this module's hall file names

DB = "hallwatch_secure"
POINT = "hw_event,device=desk-w01-card,type=heartbeat received_ms=1i 1764300000000000000"
HALL_YAML = """
hall: {{name: 测试大厅, timezone: Asia/Shanghai, hours: [["00:00", "23:59"]], holidays: none,
        working_days: [{today}]}}
departments:
  - {{id: civil, name: 民政局}}
windows:
  - {{id: W01, name: 1号窗口, department: civil}}
staff:
  - {{id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}}
devices:
  - {{id: desk-w01-card, kind: badge_reader, window: W01}}
"""


@pytest.fixture
def secured(start_service) -> Influxd:
    return start_service(Influxd, auth_enabled=True)


@pytest.fixture
def accounts(secured: Influxd, tmp_path: Path):
    made, _ = provision_influx(secured.url, DB, "admin", None, tmp_path / "secrets")
    return made


def client(server: Influxd, user: str, password: str, db: str = DB) -> InfluxClient:
    return InfluxClient(server.url, db, user, password)


def test_without_credentials_nothing_is_answered(secured, accounts):
    answer = requests.get(f"{secured.url}/query", params={"q": "SHOW DATABASES"}, timeout=10)
    assert answer.status_code == 401
    answer = requests.post(f"{secured.url}/write", params={"db": DB}, data=POINT, timeout=10)
    assert answer.status_code == 401


def test_the_writer_writes_but_cannot_read(secured, accounts):
    writer = client(secured, accounts.writer, accounts.writer_password)
    writer.write([POINT])
    with pytest.raises(QueryError, match="not authorized"):
        writer.query('SELECT * FROM "hw_event"')
    reader = client(secured, accounts.reader, accounts.reader_password)
    assert reader.query('SELECT count("received_ms") FROM "hw_event"')[0]["values"][0][1] == 1


def test_the_reader_reads_but_cannot_write_nor_change_anything(secured, accounts):
    reader = client(secured, accounts.reader, accounts.reader_password)
    with pytest.raises(RetryableWriteError, match="403.*check HALLWATCH_INFLUX_WRITE_USER"):
        reader.write([POINT])
    stranger = client(secured, accounts.writer, "not the password")
    with pytest.raises(RetryableWriteError, match="401.*check HALLWATCH_INFLUX_WRITE_USER"):
        stranger.write([POINT])
    with pytest.raises(QueryError, match="not authorized|requires admin"):
        reader.execute(f'DROP DATABASE "{DB}"')
    assert reader.query('SELECT * FROM "hw_event"') == []


def test_the_writer_cannot_create_a_database_and_is_told_who_can(secured, accounts):
    client(secured, accounts.writer, accounts.writer_password).create_database()  # exists: fine
    elsewhere = client(secured, accounts.writer, accounts.writer_password, db="not_made")
    with pytest.raises(QueryError, match="hallwatch provision --influx"):
        elsewhere.create_database()


def test_provisioning_again_keeps_the_passwords_and_needs_the_admin(secured, accounts, tmp_path):
    again, done = provision_influx(secured.url, DB, "admin", None, tmp_path / "secrets")
    assert again == accounts
    assert not any("admin admin created" in line for line in done)
    assert (tmp_path / "secrets" / INFLUX_SECRETS_FILE).stat().st_mode & 0o777 == 0o600
    with pytest.raises(ProvisionError, match="refused"):
        provision_influx(secured.url, DB, "admin", "wrong", tmp_path / "other")


def test_the_collector_writes_and_the_web_reads_with_their_own_accounts(
    secured, mosquitto, tmp_path
):
    """Real processes: `provision --influx`, `collector` (writer), web and `check` (reader)."""
    base = deployment_env(f"sqlite:///{tmp_path / 'hw.sqlite3'}", mosquitto.url, InfluxDB("", ""))
    env = {k: v for k, v in base.items() if not k.startswith("HALLWATCH_INFLUX")}
    env |= {"HALLWATCH_INFLUX_URL": secured.url, "HALLWATCH_INFLUX_DB": DB}
    out = tmp_path / "secrets"
    shown = hallwatch("provision", "--no-mqtt", "--influx", "--out", str(out), env=env).stdout
    assert "hallwatch_writer: WRITE only" in shown and "hallwatch_reader: READ only" in shown
    passwords = {u: e["password"] for u, e in load_secrets(out / INFLUX_SECRETS_FILE).items()}
    env |= {
        "HALLWATCH_INFLUX_WRITE_USER": "hallwatch_writer",
        "HALLWATCH_INFLUX_WRITE_PASSWORD": passwords["hallwatch_writer"],
        "HALLWATCH_INFLUX_READ_USER": "hallwatch_reader",
        "HALLWATCH_INFLUX_READ_PASSWORD": passwords["hallwatch_reader"],
    }
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(HALL_YAML.format(today=datetime.now(HALL_TZ).date()), encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    hallwatch("user", "add", "boss", "--role", "hall_manager", "--password", "pw-boss", env=env)
    log = tmp_path / "collector.log"
    process = start_collector(env, log)
    try:
        event = {"type": "badge", "uid": "04A1B2C3", "ts": datetime.now(UTC).isoformat()}
        publish(publisher(mosquitto.url), "hallwatch/devices/desk-w01-card/events", event)
        settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("HALLWATCH_")})
        web = create_app(settings, {"TESTING": True}).test_client()

        def signed_in() -> list:
            body = web.get("/api/live", headers=basic("boss", "pw-boss")).get_json()
            return next(w for w in body["windows"] if w["id"] == "W01")["signed_in"]

        wait_until(signed_in, timeout=20, message=log.read_text)
        assert signed_in()[0]["name"] == "张三"
        checked = hallwatch("check", "--dry-run", env=env)
        assert isinstance(json.loads(checked.stdout), list)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "may not create" not in log.read_text()  # the database was there already
    # A collector with a wrong write password holds (then spools) what it gets, and says
    # why on /healthz, which itself reads with the good reader account.
    wrong = env | {
        "HALLWATCH_INFLUX_WRITE_PASSWORD": "not the password",
        "HALLWATCH_COLLECTOR_ID": "collector-wrong-password",
    }
    process = start_collector(wrong, tmp_path / "wrong.log")
    try:
        publish(publisher(mosquitto.url), "hallwatch/devices/desk-w01-card/events", event)

        def told() -> list:
            health = web.get("/healthz", headers=basic("boss", "pw-boss")).get_json()
            return health.get("collector_write_errors", [])

        errors = wait_until(told, timeout=20, message=lambda: (tmp_path / "wrong.log").read_text())
        assert "401" in errors[0] and "HALLWATCH_INFLUX_WRITE_USER" in errors[0]
        # Anyone else learns only that there is such a problem, not its text.
        public = web.get("/healthz").get_json()
        assert "collector_write_errors" not in public
        assert "collector_write_errors" in public["problems"]
    finally:
        process.terminate()
        process.wait(timeout=20)
