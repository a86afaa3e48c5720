"""The service runner against the real Mosquitto and InfluxDB it starts."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import pytest
import requests

from console.services import Influxd, Mosquitto, ServiceError, port_is_free
from hallwatch.mqtt import hang_up
from tests.helpers import wait_until


@dataclass
class Inbox:
    """What a test MQTT client saw: CONNACKs (session_present) and messages."""

    sessions: list[bool] = field(default_factory=list)
    subscribed: threading.Event = field(default_factory=threading.Event)
    messages: list[tuple[str, bytes, int]] = field(default_factory=list)


def client(broker: Mosquitto, client_id: str, clean_session: bool = True) -> tuple:
    """A connected paho client with its network loop running, and its Inbox."""
    inbox = Inbox()
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session
    )
    c.on_connect = lambda cl, ud, flags, rc, props: inbox.sessions.append(flags.session_present)
    c.on_subscribe = lambda cl, ud, mid, rcs, props: inbox.subscribed.set()
    c.on_message = lambda cl, ud, msg: inbox.messages.append((msg.topic, msg.payload, msg.qos))
    c.connect("127.0.0.1", broker.port, keepalive=10)
    c.loop_start()
    wait_until(lambda: inbox.sessions, message=f"CONNACK for {client_id}")
    return c, inbox


def close(c: mqtt.Client) -> None:
    hang_up(c)


def publish_qos1(broker: Mosquitto, topic: str, payload: bytes) -> None:
    """Publish at QoS 1 and return once the broker has acknowledged (PUBACK)."""
    pub, _ = client(broker, f"pub-{uuid.uuid4().hex[:8]}")
    try:
        pub.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        close(pub)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_broker_relays_a_qos1_message(mosquitto):
    topic = f"test/{uuid.uuid4().hex[:8]}/events"
    sub, inbox = client(mosquitto, f"sub-{uuid.uuid4().hex[:8]}")
    try:
        sub.subscribe(topic, qos=1)
        wait_until(inbox.subscribed.is_set, message="SUBACK")
        publish_qos1(mosquitto, topic, b'{"seq": 1}')
        wait_until(lambda: inbox.messages, message="the published message")
        assert inbox.messages == [(topic, b'{"seq": 1}', 1)]
    finally:
        close(sub)


def queue_for_offline_subscriber(broker: Mosquitto, client_id: str, topic: str) -> None:
    sub, inbox = client(broker, client_id, clean_session=False)
    sub.subscribe(topic, qos=1)
    wait_until(inbox.subscribed.is_set, message="SUBACK")
    close(sub)
    publish_qos1(broker, topic, b"while you were away")


def redelivered(broker: Mosquitto, client_id: str, topic: str) -> Inbox:
    sub, inbox = client(broker, client_id, clean_session=False)
    try:
        wait_until(lambda: inbox.messages, message="the message queued before the restart")
    finally:
        close(sub)
    return inbox


def test_a_persistent_session_survives_a_broker_restart(start_service):
    broker = start_service(Mosquitto)
    topic = "test/persistent/events"
    queue_for_offline_subscriber(broker, "collector-under-test", topic)

    broker.restart()

    inbox = redelivered(broker, "collector-under-test", topic)
    assert inbox.sessions == [True]
    assert inbox.messages == [(topic, b"while you were away", 1)]


def test_a_broker_crash_keeps_what_was_autosaved(start_service):
    broker = start_service(Mosquitto)
    topic = "test/crash/events"
    queue_for_offline_subscriber(broker, "collector-under-test", topic)
    # The file system's clock, not this process's: the two differ under faketime.
    marker = broker.persistence_path.with_name("acked")
    marker.touch()
    acked_ns = marker.stat().st_mtime_ns
    wait_until(
        lambda: broker.persistence_path.exists()
        and broker.persistence_path.stat().st_mtime_ns > acked_ns,
        timeout=5,
        message="an autosave after the PUBACK (autosave_interval 1)",
    )

    broker.kill()
    broker.start()

    inbox = redelivered(broker, "collector-under-test", topic)
    assert inbox.messages == [(topic, b"while you were away", 1)]


def test_influxd_answers_ping(influxd):
    answer = requests.get(f"{influxd.url}/ping", timeout=5)
    assert answer.status_code == 204
    assert answer.headers["X-Influxdb-Version"].startswith("1.")


def test_a_written_point_reads_back(influx_db):
    influx_db.write('taps,device=reader-01 seq=7i,card="c-0042" 1767225600123')
    rows = influx_db.rows('SELECT * FROM "taps" WHERE "device" = $device', device="reader-01")
    assert rows == [{"time": 1767225600123, "card": "c-0042", "device": "reader-01", "seq": 7}]


def test_a_paused_influxd_hangs_until_resumed(start_service):
    server = start_service(Influxd)

    server.pause()
    with pytest.raises(requests.Timeout):
        requests.get(f"{server.url}/ping", timeout=0.5)

    server.resume()
    assert requests.get(f"{server.url}/ping", timeout=5).status_code == 204


@pytest.mark.parametrize("kind", [Mosquitto, Influxd])
@pytest.mark.parametrize("how", ["stop", "kill", "stop while paused"])
def test_stopping_leaves_no_process(start_service, kind, how):
    service = start_service(kind)
    pid = service.pid

    if how == "stop while paused":
        service.pause()
        service.stop(timeout=5)
    else:
        getattr(service, how)()

    assert service.pid is None
    assert not alive(pid)
    assert port_is_free(service.port)


def test_a_bad_config_fails_fast_with_the_log(tmp_path):
    broker = Mosquitto(tmp_path / "bad", extra_conf="no_such_option true")
    started = time.monotonic()
    with pytest.raises(ServiceError, match="no_such_option"):
        broker.start(timeout=10)
    assert time.monotonic() - started < 5
    assert broker.pid is None
