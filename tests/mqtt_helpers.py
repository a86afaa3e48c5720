"""Publishing to the test broker: a connected paho client and a publish that waits."""

from __future__ import annotations

import json
import uuid

import paho.mqtt.client as mqtt

from hallwatch.config import Settings
from hallwatch.mqtt import make_client


def publisher(broker_url: str) -> mqtt.Client:
    target = Settings(mqtt_url=broker_url).mqtt_target()
    client = make_client(target, f"test-pub-{uuid.uuid4().hex[:6]}")
    client.connect(target.host, target.port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, topic: str, payload, qos: int = 1) -> None:
    data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    client.publish(topic, data, qos=qos).wait_for_publish(5)
