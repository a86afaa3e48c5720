"""Making paho-mqtt 2.x clients from a HALLWATCH_MQTT_URL target."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt

from hallwatch.config import MqttTarget

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
KEEPALIVE_S = 30


def make_client(
    target: MqttTarget,
    client_id: str,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
) -> mqtt.Client:
    """A MQTT 3.1.1 client; `persistent` keeps the broker session (clean_session=False)."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=not persistent,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    if target.username:
        client.username_pw_set(target.username, target.password)
    if target.tls:
        # The server's certificate must chain to target.ca_file (or the system CAs) and name
        # the host we connect to.
        client.tls_set(ca_certs=target.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    return client
