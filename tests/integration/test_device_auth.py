"""Device accounts on a real Mosquitto: `hallwatch provision` files, anonymous off, ACLs, TLS.

Each test starts its own broker with the generated password and ACL files (plain
listener, and a TLS one where the test is about TLS). A denied publish is not an
error to the device (Mosquitto still acks it), so "never delivered" is shown by a
marker: a permitted message sent after the forbidden one on the same connection
arrives, and the forbidden one did not arrive before it.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

import devices
from console.provision import (
    ACL_FILE,
    PASSWD_FILE,
    account_password,
    provision_broker,
)
from console.services import Mosquitto
from hallwatch.config import MqttTarget, Settings
from hallwatch.mqtt import hang_up, make_client
from hallwatch.registry.parse import parse_registry
from tests.helpers import InfluxDB, deployment_env, hallwatch, start_collector, wait_until
from tests.tls_helpers import make_ca_and_server_cert

HALL_YAML = """
hall: {name: 测试大厅, timezone: Asia/Shanghai, hours: [["00:00", "23:59"]], holidays: none}
departments:
  - {id: civil, name: 民政局}
windows:
  - {id: W01, name: 1号窗口, department: civil}
  - {id: W02, name: 2号窗口, department: civil}
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}
  - {id: desk-w02-card, kind: badge_reader, window: W02, tasmota: w02_reader}
  - {id: desk-w02-seat, kind: presence_sensor, window: W02}
"""
COLLECTOR = "hallwatch-collector"
W01_EVENTS = "hallwatch/devices/desk-w01-card/events"
W02_EVENTS = "hallwatch/devices/desk-w02-card/events"
CONNECT_TIMEOUT_S = 10
UNUSED_INFLUX = "http://127.0.0.1:9"  # provisioning MQTT accounts never calls it
NOT_AUTHORIZED = 135  # paho 2 reports the 3.1.1 CONNACK code 5 as reason code 0x87


# ------------------------------------------------------------------ helpers


class Peer:
    """One paho connection as some account; records what it receives."""

    def __init__(
        self,
        port: int,
        user: str | None,
        password: str | None,
        ca_file: str | None = None,  # given: speak TLS and trust that CA
        client_id: str | None = None,
    ) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.connack: list[int] = []  # paho's reason code; -1: the TLS handshake failed
        self._answered = threading.Event()
        target = MqttTarget("127.0.0.1", port, bool(ca_file), user, password, ca_file)
        self.client = make_client(target, client_id or f"t-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, m.payload))
        self.client.reconnect_delay_set(60, 60)  # a refused client must not hammer the broker
        try:
            self.client.connect("127.0.0.1", port)
        except OSError:  # TLS handshake refused
            self.connack.append(-1)
            self._answered.set()
            return
        self.client.loop_start()
        self._answered.wait(CONNECT_TIMEOUT_S)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connack.append(reason_code.value)
        self._answered.set()

    @property
    def accepted(self) -> bool:
        return self.connack[:1] == [0]

    def subscribe(self, *topics: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe([(t, 1) for t in topics])
        assert done.wait(CONNECT_TIMEOUT_S), "no SUBACK"

    def publish(self, topic: str, payload: bytes | str = b"x") -> None:
        """QoS 1, waiting for the PUBACK (which a denied publish gets as well)."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(CONNECT_TIMEOUT_S)

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.received]

    def close(self) -> None:
        hang_up(self.client)


@pytest.fixture
def hall(tmp_path: Path):
    return parse_registry(HALL_YAML)


@pytest.fixture
def accounts(tmp_path: Path, hall) -> Path:
    out = tmp_path / "mqtt"
    provision_broker(hall, out)
    return out


@pytest.fixture
def broker(start_service, accounts: Path) -> Mosquitto:
    return start_service(
        Mosquitto, password_file=accounts / PASSWD_FILE, acl_file=accounts / ACL_FILE
    )


@pytest.fixture
def peers():
    """Open connections as accounts; all closed after the test."""
    opened: list[Peer] = []

    def connect(broker: Mosquitto, user: str | None, accounts: Path | None, **kwargs) -> Peer:
        password = kwargs.pop("password", None)
        if password is None and user and accounts:
            password = account_password(accounts, user)
        peer = Peer(kwargs.pop("port", broker.port), user, password, **kwargs)
        opened.append(peer)
        return peer

    yield connect
    for peer in opened:
        peer.close()


def collector(peers, broker, accounts) -> Peer:
    """The collector's account, subscribed to what `hallwatch collector` subscribes to."""
    peer = peers(broker, COLLECTOR, accounts)
    assert peer.accepted, peer.connack
    peer.subscribe(*devices.subscriptions(parse_registry(HALL_YAML)))
    return peer


# ------------------------------------------------------------------ logins


def test_anonymous_clients_are_refused(broker, peers):
    assert peers(broker, None, None).connack == [NOT_AUTHORIZED]


def test_a_wrong_password_is_refused(broker, accounts, peers):
    assert peers(broker, "desk-w01-card", accounts, password="guess").connack == [NOT_AUTHORIZED]
    assert peers(broker, "nobody", accounts, password="guess").connack == [NOT_AUTHORIZED]


def test_a_zigbee_sensor_has_no_login_of_its_own_the_bridge_has(accounts):
    users = [line.split(":")[0] for line in (accounts / PASSWD_FILE).read_text().splitlines()]
    assert sorted(users) == sorted(
        [COLLECTOR, "zigbee2mqtt", "desk-w01-card", "desk-w02-card", "desk-w02-seat"]
    )
    assert ((accounts / "devices.secrets.yaml").stat().st_mode & 0o777) == 0o600


def test_hashes_written_without_mosquitto_passwd_are_accepted(tmp_path, hall, start_service, peers):
    out = tmp_path / "own-hash"
    provision_broker(hall, out, use_mosquitto_passwd=False)
    broker = start_service(Mosquitto, password_file=out / PASSWD_FILE, acl_file=out / ACL_FILE)
    assert peers(broker, "desk-w01-card", out).accepted
    assert peers(broker, "desk-w01-card", out, password="guess").connack == [NOT_AUTHORIZED]


# ------------------------------------------------------------------ what each account may do


def test_a_device_publishes_its_own_topics_and_the_collector_receives_them(broker, accounts, peers):
    ingest = collector(peers, broker, accounts)
    native = peers(broker, "desk-w01-card", accounts)
    tasmota = peers(broker, "desk-w02-card", accounts)
    bridge = peers(broker, "zigbee2mqtt", accounts)
    native.publish(W01_EVENTS, json.dumps({"type": "heartbeat"}))
    native.publish("hallwatch/devices/desk-w01-card/status", "online")
    tasmota.publish("tele/w02_reader/SENSOR", json.dumps({"RC522": {"UID": "04A1B2C3"}}))
    bridge.publish("zigbee2mqtt/seat_w01", json.dumps({"occupancy": True}))
    expected = {
        W01_EVENTS,
        "hallwatch/devices/desk-w01-card/status",
        "tele/w02_reader/SENSOR",
        "zigbee2mqtt/seat_w01",
    }
    wait_until(lambda: set(ingest.topics()) == expected, message=lambda: str(ingest.topics()))


def test_a_device_cannot_publish_as_another_device_even_with_its_client_id(broker, accounts, peers):
    ingest = collector(peers, broker, accounts)
    # The client id is self-asserted; the ACL goes by the username (%u), never by %c.
    spoofer = peers(broker, "desk-w01-card", accounts, client_id="desk-w02-card")
    assert spoofer.accepted
    for topic in (
        W02_EVENTS,
        "hallwatch/devices/desk-w02-card/status",
        "tele/w02_reader/SENSOR",
        "zigbee2mqtt/seat_w01",
        "hallwatch/devices/desk-w01-card",
    ):
        spoofer.publish(topic, b'{"type": "badge", "uid": "04A1B2C3"}')
    spoofer.publish(W01_EVENTS, b"marker")
    wait_until(lambda: W01_EVENTS in ingest.topics(), message=lambda: str(ingest.topics()))
    assert ingest.topics() == [W01_EVENTS]


def test_a_device_cannot_read_other_devices_topics(broker, accounts, peers):
    ingest = collector(peers, broker, accounts)
    snoop = peers(broker, "desk-w02-card", accounts)
    snoop.subscribe("#", W01_EVENTS, "$share/snoop/hallwatch/devices/+/events")
    peers(broker, "desk-w01-card", accounts).publish(W01_EVENTS, b"secret")
    wait_until(lambda: W01_EVENTS in ingest.topics())
    # The broker writes to a client in order: once our own PUBACK is back, anything it
    # delivered to us before has been handed to on_message.
    snoop.publish(W02_EVENTS, b"after")
    assert snoop.received == []


def test_the_collector_account_cannot_publish(broker, accounts, peers):
    ingest = collector(peers, broker, accounts)
    watcher = collector(peers, broker, accounts)
    ingest.publish(W01_EVENTS, b'{"type": "badge", "uid": "04A1B2C3"}')
    ingest.publish(f"hallwatch/devices/{COLLECTOR}/events", b"{}")  # patterns apply to all
    peers(broker, "desk-w01-card", accounts).publish(W01_EVENTS, b"marker")
    wait_until(lambda: watcher.received, message=lambda: str(watcher.received))
    assert watcher.received == [(W01_EVENTS, b"marker")]


def test_shared_subscriptions_of_the_collector_receive_device_topics(broker, accounts, peers):
    ingest = peers(broker, COLLECTOR, accounts)
    topics = devices.subscriptions(parse_registry(HALL_YAML))
    ingest.subscribe(*(f"$share/ingest/{t}" for t in topics))
    peers(broker, "desk-w02-card", accounts).publish("tele/w02_reader/LWT", "Online")
    wait_until(lambda: ingest.topics() == ["tele/w02_reader/LWT"])


# ------------------------------------------------------------------ re-provisioning


def test_reprovisioning_keeps_passwords_and_a_reload_locks_removed_devices_out(
    broker, accounts, peers, tmp_path
):
    kept = account_password(accounts, "desk-w01-card")
    removed_password = account_password(accounts, "desk-w02-seat")
    staying = peers(broker, "desk-w01-card", accounts)
    leaving = peers(broker, "desk-w02-seat", accounts)
    assert staying.accepted and leaving.accepted
    fewer = tmp_path / "fewer.yaml"
    fewer.write_text(HALL_YAML.replace("  - {id: desk-w02-seat", "  # - {id: x"), "utf-8")
    unused = InfluxDB(UNUSED_INFLUX, "hw")
    env = deployment_env(f"sqlite:///{tmp_path / 'unused.sqlite3'}", broker.url, unused)
    run = hallwatch(
        "provision", "--registry", str(fewer), "--out", str(accounts), "--reload", str(broker.pid),
        env=env, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "removed desk-w02-seat" in run.stdout and "added   " not in run.stdout
    assert account_password(accounts, "desk-w01-card") == kept
    # Mosquitto 2.0.11 re-reads the files on SIGHUP and re-checks the clients it has:
    # the removed device's open connection is closed, a kept device's is not.
    wait_until(lambda: not leaving.client.is_connected(), message="removed device still on")
    assert peers(broker, "desk-w02-seat", None, password=removed_password).connack == [
        NOT_AUTHORIZED
    ]
    assert staying.client.is_connected()
    ingest = collector(peers, broker, accounts)
    staying.publish(W01_EVENTS, b"still here")
    wait_until(lambda: ingest.topics() == [W01_EVENTS])


# ------------------------------------------------------------------ TLS


@pytest.fixture
def tls_broker(start_service, accounts: Path, tmp_path: Path) -> Mosquitto:
    tls = make_ca_and_server_cert(tmp_path / "pki")
    return start_service(
        Mosquitto, password_file=accounts / PASSWD_FILE, acl_file=accounts / ACL_FILE, tls=tls
    )


def test_a_client_with_another_ca_is_refused(tls_broker, accounts, peers, tmp_path):
    other = make_ca_and_server_cert(tmp_path / "other", name="other-ca")
    refused = peers(
        tls_broker, COLLECTOR, accounts, port=tls_broker.tls_port, ca_file=str(other.cafile)
    )
    assert not refused.accepted
    ca = str(tls_broker.tls.cafile)
    good = peers(tls_broker, COLLECTOR, accounts, port=tls_broker.tls_port, ca_file=ca)
    assert good.accepted


def test_the_collector_ingests_over_mqtts_with_its_account(
    tls_broker, accounts, peers, influx_db, tmp_path
):
    """mqtts://user:password@… and HALLWATCH_MQTT_CA: a real `hallwatch collector` process."""
    password = quote(account_password(accounts, COLLECTOR), safe="")
    url = f"mqtts://{COLLECTOR}:{password}@127.0.0.1:{tls_broker.tls_port}"
    env = deployment_env(f"sqlite:///{tmp_path / 'hw.sqlite3'}", url, influx_db)
    env["HALLWATCH_MQTT_CA"] = str(tls_broker.tls.cafile)
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(HALL_YAML, encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    log = tmp_path / "collector.log"
    process = start_collector(env, log)
    try:
        device = peers(
            tls_broker,
            "desk-w01-card",
            accounts,
            port=tls_broker.tls_port,
            ca_file=str(tls_broker.tls.cafile),
        )
        assert device.accepted
        at = datetime.now(UTC).replace(microsecond=0).isoformat()
        device.publish(W01_EVENTS, json.dumps({"type": "badge", "uid": "04A1B2C3", "ts": at}))
        wait_until(
            lambda: influx_db.rows('SELECT * FROM "hw_event" WHERE "device" = \'desk-w01-card\''),
            timeout=20,
            message=log.read_text,
        )
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert Settings.from_env(env).mqtt_target().ca_file == str(tls_broker.tls.cafile)
