"""Accounts from the registry, the ACL text, password hashes and per-process credentials."""

from __future__ import annotations

import base64
import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from console.provision import (
    Account,
    ProvisionError,
    account_password,
    acl_text,
    broker_accounts,
    mosquitto_hash,
    provision_broker,
)
from hallwatch.config import ConfigError, InfluxAuth, Settings
from hallwatch.registry.parse import parse_registry
from tests.unit.provision_hall import HALL


def test_each_device_that_speaks_mqtt_gets_its_id_as_username():
    names = {a.username: a.role for a in broker_accounts(HALL)}
    assert names == {
        "hallwatch-collector": "collector",
        "zigbee2mqtt": "zigbee2mqtt",
        "desk-w01-card": "device",
        "office-civil": "device",
    }


def test_the_acl_grants_devices_their_own_topics_by_username_never_by_client_id():
    text = acl_text(broker_accounts(HALL))
    assert "pattern write hallwatch/devices/%u/events" in text
    assert "pattern write hallwatch/devices/%u/status" in text
    assert "%c" not in text
    assert "user desk-w01-card\ntopic write tele/card_w01/#" in text
    collector = text.split("user hallwatch-collector\n")[1].split("\n\n")[0].splitlines()
    # It reads the device topics and writes only where collectors say who holds a session.
    writes = [line for line in collector if not line.startswith(("topic read ", "topic deny "))]
    assert writes == ["topic readwrite hallwatch/collectors/#"]
    assert "topic deny hallwatch/devices/hallwatch-collector/events" in collector


FIELD = parse_registry("""
hall: {name: H, timezone: Asia/Shanghai, hours: [["09:00", "17:00"]], holidays: none}
departments: [{id: civil, name: C}]
windows: [{id: W01, name: W, department: civil}, {id: W02, name: W2, department: civil}]
devices:
  - {id: seat1, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}
  - {id: seat2, kind: presence_sensor, window: W02, zigbee2mqtt: seat_w02,
     zigbee2mqtt_base: z2m_east}
  - {id: door, kind: badge_reader, window: W01, tasmota: door,
     tasmota_full_topic: "hall1/%prefix%/%hostname%/%topic%/"}
  - {id: radar, kind: presence_sensor, window: W02, esphome: esp-w02/presence}
  - {id: tag, kind: badge_reader, window: W02, esphome: esp-w02/tag}
""")


def test_every_form_of_the_field_gets_the_account_that_publishes_it():
    accounts = {a.username: a for a in broker_accounts(FIELD)}
    assert set(accounts) == {"hallwatch-collector", "zigbee2mqtt", "esp-w02", "door"}
    assert accounts["zigbee2mqtt"].writes == ("z2m_east/#", "zigbee2mqtt/#")
    assert accounts["esp-w02"].writes == accounts["esp-w02"].reads == ("esp-w02/#",)
    assert "hall1/tele/+/door/#" in accounts["door"].writes
    reads = accounts["hallwatch-collector"].reads
    assert {"z2m_east/#", "hall1/tele/+/+/SENSOR", "esp-w02/status"} <= set(reads)
    assert "esp-w02/binary_sensor/presence/state" in reads
    assert "esp-w02/sensor/tag/state" in reads


def test_a_device_named_like_the_collector_is_refused():
    with pytest.raises(ProvisionError, match="used twice"):
        broker_accounts(HALL, collector_user="office-civil")
    with pytest.raises(ProvisionError, match="must match"):
        broker_accounts(HALL, collector_user="ingest/+")


def test_reprovisioning_keeps_passwords_and_reports_changes(tmp_path: Path):
    first = provision_broker(HALL, tmp_path, use_mosquitto_passwd=False)
    assert sorted(first.added) == [
        "desk-w01-card",
        "hallwatch-collector",
        "office-civil",
        "zigbee2mqtt",
    ]
    before = (tmp_path / "devices.secrets.yaml").read_text()
    again = provision_broker(HALL, tmp_path, use_mosquitto_passwd=False)
    assert again.added == [] and again.removed == [] and len(again.kept) == 4
    assert (tmp_path / "devices.secrets.yaml").read_text() == before
    assert "allow_anonymous false" in (tmp_path / "mosquitto-auth.conf").read_text()


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto_passwd")
def test_our_hash_is_the_one_mosquitto_passwd_makes(tmp_path: Path):
    plain = tmp_path / "pw"
    plain.write_text("dev:s3cret\n")
    subprocess.run(["mosquitto_passwd", "-U", str(plain)], check=True)
    theirs = plain.read_text().strip().split(":", 1)[1]
    salt = base64.b64decode(theirs.split("$")[3])
    assert mosquitto_hash("s3cret", salt) == theirs


def test_each_process_gets_its_own_influx_account_or_the_shared_one():
    shared = {"HALLWATCH_INFLUX_USER": "all", "HALLWATCH_INFLUX_PASSWORD": "pw"}
    settings = Settings.from_env(
        shared | {"HALLWATCH_INFLUX_WRITE_USER": "w", "HALLWATCH_INFLUX_WRITE_PASSWORD": "wp"}
    )
    assert settings.influx_auth("write") == InfluxAuth("w", "wp")
    assert settings.influx_auth("read") == InfluxAuth("all", "pw")
    token = Settings.from_env({"HALLWATCH_INFLUX_READ_TOKEN": "t"})
    assert token.influx_auth("read") == InfluxAuth(token="t")
    assert token.influx_auth("write") == InfluxAuth()
    with pytest.raises(ConfigError, match="HALLWATCH_INFLUX_READ_USER is not"):
        Settings.from_env({"HALLWATCH_INFLUX_READ_PASSWORD": "x"})


def test_a_missing_mqtt_ca_file_is_refused_at_start(tmp_path: Path):
    with pytest.raises(ConfigError, match="HALLWATCH_MQTT_CA"):
        Settings.from_env({"HALLWATCH_MQTT_CA": str(tmp_path / "nope.pem")})
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = Settings.from_env({"HALLWATCH_MQTT_URL": "mqtts://h", "HALLWATCH_MQTT_CA": str(ca)})
    assert settings.mqtt_target().ca_file == str(ca)
    assert settings.mqtt_target().port == 8883


def test_the_simulator_publishes_each_message_as_the_account_that_owns_it():
    from hallwatch.config import MqttTarget
    from simulator.simulator import Simulator
    from tests.unit.simulator_demo import FakeClient, demo_registry, monday

    registry = demo_registry()
    names = {a.username for a in broker_accounts(registry)} - {"hallwatch-collector"}
    clients: dict[str, FakeClient] = {}

    def factory(target: MqttTarget, client_id: str) -> FakeClient:
        assert client_id.endswith(target.username) and target.password == f"pw-{target.username}"
        return clients.setdefault(target.username, FakeClient())

    plan = monday(1)
    simulator = Simulator(
        registry,
        MqttTarget("127.0.0.1", 1883, False, "hallwatch-collector", "c"),
        speed=1e9,
        client_factory=factory,
        accounts={name: f"pw-{name}" for name in names},
    )
    assert simulator.play(plan) == len(plan.messages)
    assert set(clients) == names  # one connection per account, every one used
    tasmota = {d.tasmota: d.id for d in registry.devices if d.tasmota}
    owners = dict.fromkeys(registry.zigbee2mqtt_names, "zigbee2mqtt")  # every base topic
    owners |= {node: node for node in registry.esphome_nodes}  # an ESPHome node logs in itself
    for user, fake in clients.items():
        for topic, *_ in fake.sent:
            family, name = topic.split("/")[:2]
            owner = owners.get(family) or {"tele": tasmota.get(name)}.get(family)
            assert (owner or topic.split("/")[2]) == user, topic


# --- every value written into a broker file is one token on one line (issue 17, item 4)


def _with_tasmota(registry, topic: str):
    """`registry` with its first Tasmota device's Topic replaced, past the parser's checks."""
    devices = tuple(
        dataclasses.replace(d, tasmota=topic) if d.tasmota else d for d in registry.devices
    )
    return dataclasses.replace(registry, devices=devices)


@pytest.mark.parametrize(
    "topic",
    ["x\ntopic hallwatch", "x\rtopic readwrite #", "x\x00y", "x\u2028user a", "x topic #", "x\ty"],
)
def test_provision_refuses_a_firmware_name_that_could_start_a_new_acl_line(tmp_path, topic):
    with pytest.raises(ProvisionError, match="broker file takes one value per line"):
        provision_broker(_with_tasmota(HALL, topic), tmp_path, use_mosquitto_passwd=False)
    assert list(tmp_path.iterdir()) == []  # refused before any file was written


@pytest.mark.parametrize(
    "account",
    [
        Account("dev\nuser evil", "device", writes=("tele/a/#",)),
        Account("dev", "device", writes=("tele/a/#\ntopic readwrite #",)),
        Account("dev", "collector", reads=("hallwatch/#\u0085pattern readwrite #",)),
    ],
)
def test_the_acl_writer_refuses_line_breaks_in_any_username_or_topic(account):
    with pytest.raises(ProvisionError, match="U\\+00"):
        acl_text([account])


def test_a_kept_password_with_a_line_break_is_refused_not_written(tmp_path):
    provision_broker(HALL, tmp_path, use_mosquitto_passwd=False)
    secrets = tmp_path / "devices.secrets.yaml"
    text = secrets.read_text()
    password = account_password(tmp_path, "office-civil")
    # A double-quoted YAML scalar: \\n is a real line break once loaded.
    secrets.write_text(text.replace(password, f'"{password}\\nintruder:x"'))
    passwd = (tmp_path / "passwd").read_text()
    with pytest.raises(ProvisionError, match="kept password of office-civil"):
        provision_broker(HALL, tmp_path, use_mosquitto_passwd=False)
    assert (tmp_path / "passwd").read_text() == passwd


def test_the_output_directory_cannot_add_a_directive_to_the_broker_config(tmp_path):
    with pytest.raises(ProvisionError, match="output directory"):
        provision_broker(HALL, tmp_path / "x\nallow_anonymous true", use_mosquitto_passwd=False)
