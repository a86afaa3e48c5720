"""The brokers HallWatch ships and starts bound one message and one client's queue."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from console.services import BROKER_MAX_QUEUED_BYTES, BROKER_MESSAGE_SIZE_LIMIT, Mosquitto
from devices.payload import MAX_PAYLOAD_BYTES
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "docs/deploy").glob("mosquitto-*.conf"))


def _options(text: str) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in text.splitlines())
    return dict(re.split(r"\s+", line, maxsplit=1) for line in lines if " " in line)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_broker_config_bounds_messages_and_queues(path):
    options = _options(path.read_text())
    assert int(options["message_size_limit"]) == BROKER_MESSAGE_SIZE_LIMIT
    assert int(options["max_queued_bytes"]) == BROKER_MAX_QUEUED_BYTES
    assert int(options["max_queued_messages"]) >= 1_000_000  # never back to the default 1000


def test_the_started_broker_config_has_the_same_bounds(tmp_path):
    broker = Mosquitto(tmp_path)
    broker._write_config()
    options = _options(broker.conf_path.read_text())
    assert int(options["message_size_limit"]) == BROKER_MESSAGE_SIZE_LIMIT > MAX_PAYLOAD_BYTES
    assert int(options["max_queued_bytes"]) == BROKER_MAX_QUEUED_BYTES
    assert int(options["max_queued_messages"]) >= 1_000_000


@pytest.mark.integration
def test_the_broker_drops_a_message_over_the_limit_and_passes_one_at_it(mosquitto):
    topic = f"bounds/{uuid.uuid4().hex[:6]}"
    received: list[int] = []
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda c, u, m: received.append(len(m.payload))
    subscriber.connect("127.0.0.1", mosquitto.port)
    subscriber.subscribe(topic, qos=1)
    subscriber.loop_start()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        time.sleep(0.3)  # the SUBACK
        for size in (BROKER_MESSAGE_SIZE_LIMIT + 1, BROKER_MESSAGE_SIZE_LIMIT, 10):
            publisher.publish(topic, b"x" * size, qos=1).wait_for_publish(10)
        wait_until(lambda: 10 in received, message=f"received {received}")
        assert received == [BROKER_MESSAGE_SIZE_LIMIT, 10]
    finally:
        for client in (publisher, subscriber):
            client.loop_stop()
            client.disconnect()
