"""The collector's intake with paho's own reader (a plain paho Client, as under an unproven
paho-mqtt): only paho's public API, a message's topic read through `message.topic`."""

import threading

import paho.mqtt.client as mqtt

from collector.intake import UNREADABLE_TOPIC, Intake
from collector.status import CollectorStats


def _intake() -> Intake:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="c1", manual_ack=True)
    return Intake(client, "c1", CollectorStats(), 100, None, False, threading.Event())


def _message(topic: bytes, payload: bytes, mid: int) -> mqtt.MQTTMessage:
    message = mqtt.MQTTMessage(mid, topic)
    message.payload, message.qos = payload, 1
    return message


def test_paho_s_own_reader_hands_over_each_message_with_its_topic():
    intake = _intake()
    intake.client.on_message(
        intake.client, None, _message(b"hallwatch/devices/d1/events", b"{}", 7)
    )
    (inbound,) = intake.queue.take(10)
    assert (inbound.topic, inbound.payload, inbound.qos, inbound.mid) == (
        "hallwatch/devices/d1/events",
        b"{}",
        1,
        7,
    )


def test_a_topic_paho_cannot_decode_is_still_handed_over_to_be_kept():
    intake = _intake()
    intake.client.on_message(intake.client, None, _message(b"bad/\xff", b"x", 8))
    (inbound,) = intake.queue.take(10)
    assert (inbound.topic, inbound.payload, inbound.mid) == (UNREADABLE_TOPIC.decode(), b"x", 8)
