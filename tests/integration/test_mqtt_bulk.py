"""BulkClient on the real Mosquitto: every message whole and in order, bulk PUBACKs honoured,
with its own reader (on_publishes) and with paho's (on_message)."""

from __future__ import annotations

import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from hallwatch.config import Settings
from hallwatch.mqtt import hang_up, make_client
from tests.helpers import wait_until

# Small ones packed many to a recv(), and bodies larger than one read-ahead chunk.
SIZES = (1, 60, 150, 1_000, 70_000, 10, 200_000, 3)
COUNT = 2_400


def _subscriber(url: str, client_id: str, topic: str, received: list, bulk: bool) -> mqtt.Client:
    target = Settings(mqtt_url=url).mqtt_target()
    client = make_client(target, client_id, persistent=True, manual_ack=True, bulk=True)
    if bulk:
        client.on_publishes = lambda c, publishes: received.extend(
            (payload, mid) for _, payload, _, mid, _ in publishes
        )
    else:
        client.on_message = lambda c, u, message: received.append((message.payload, message.mid))
    client.on_connect = lambda c, u, flags, rc, props: c.subscribe(topic, qos=1)
    client.connect(target.host, target.port)
    client.loop_start()
    return client


def _body(n: int) -> bytes:
    return f"{n:06d}".encode().ljust(SIZES[n % len(SIZES)], b"x")


@pytest.mark.parametrize("bulk", [True, False], ids=["on_publishes", "on_message"])
def test_every_message_arrives_whole_and_bulk_acks_settle_the_session(mosquitto, bulk):
    topic = f"bulk/{uuid.uuid4().hex[:6]}"
    client_id = f"bulk-{uuid.uuid4().hex[:6]}"
    received: list[tuple[bytes, int]] = []
    subscriber = _subscriber(mosquitto.url, client_id, topic, received, bulk)
    wait_until(subscriber.is_connected, message="subscriber not connected")
    time.sleep(0.3)  # the SUBACK
    target = Settings(mqtt_url=mosquitto.url).mqtt_target()
    publisher = make_client(target, f"bulk-pub-{uuid.uuid4().hex[:6]}")
    publisher.connect(target.host, target.port)
    publisher.loop_start()
    for n in range(COUNT):
        publisher.publish(topic, _body(n), qos=1)
    publisher.publish(topic, b"end", qos=1).wait_for_publish(10)

    def settle():  # acknowledge what came, in bulk, as the collector does
        done = len(received)
        subscriber.ack_many([mid for _, mid in received[settle.acked : done]])
        settle.acked = done
        return done == COUNT + 1

    settle.acked = 0
    wait_until(settle, timeout=30, message=lambda: f"{len(received)} of {COUNT + 1} arrived")
    assert [payload for payload, _ in received] == [_body(n) for n in range(COUNT)] + [b"end"]
    time.sleep(0.5)  # the PUBACKs on their way
    hang_up(subscriber)
    hang_up(publisher)

    redelivered: list = []
    again = _subscriber(mosquitto.url, client_id, topic, redelivered, bulk)
    wait_until(again.is_connected, message="second session not connected")
    time.sleep(1.0)
    hang_up(again)
    assert redelivered == []  # every bulk PUBACK was taken for its message
