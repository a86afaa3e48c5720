"""Making paho-mqtt 2.x clients from a HALLWATCH_MQTT_URL target."""

from __future__ import annotations

import ssl
import struct
import time

import paho.mqtt.client as mqtt

from hallwatch.config import MqttTarget

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
KEEPALIVE_S = 30
READ_AHEAD_BYTES = 65_536
_PUBACK = struct.Struct("!BBH")


class BulkClient(mqtt.Client):
    """paho's client, reading the socket in large chunks and acknowledging in bulk.

    For the collector's stream of small messages. paho 2.2 reads every packet with three
    recv() calls (command byte, length, body) after a select() of its own, and sends each
    PUBACK as its own packet, waking its network thread for each. At 20,000 messages/s that
    was a third of the collector's CPU. This class overrides paho's `_sock_recv`,
    `_sock_close`, `loop_read` and `_handle_on_message`, and queues through
    `_packet_queue`: private methods of the version pinned in requirements.txt
    (tests/unit/test_mqtt_bulk.py checks that they are still there).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ahead = b""  # bytes received but not yet handed to paho's packet reader
        self._ahead_at = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self._ahead:
            chunk = super()._sock_recv(READ_AHEAD_BYTES)
            if len(chunk) <= bufsize:
                return chunk  # an empty chunk is the connection closing: paho handles it
            self._ahead, self._ahead_at = chunk, 0
        start = self._ahead_at
        data = self._ahead[start : start + bufsize]
        self._ahead_at = start + len(data)
        if self._ahead_at >= len(self._ahead):
            self._ahead = b""
        return data

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        # select() cannot see bytes already read ahead: hand them all to paho before it waits.
        rc = super().loop_read(max_packets)
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and self._ahead and self._sock:
            rc = super().loop_read(max_packets)
        return rc

    def _sock_close(self) -> None:
        self._ahead = b""  # never carry bytes of one connection into the next
        super()._sock_close()

    def message_callback_add(self, sub: str, callback) -> None:
        raise NotImplementedError("a BulkClient has on_message only: it skips topic matching")

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        # paho matches every topic against message_callback_add's filters, even when there
        # are none: 8 % of the collector's CPU. As paho does, a callback's error is logged.
        on_message = self.on_message
        if on_message is None:
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise

    def ack_many(self, mids: list[int]) -> None:
        """The PUBACKs of ack(mid, 1) for each mid, in order, queued as one write."""
        if mids and self._manual_ack:
            pack, command = _PUBACK.pack, mqtt.PUBACK
            packets = b"".join([pack(command, 2, mid) for mid in mids])
            self._packet_queue(command, packets, 0, 0)


def make_client(
    target: MqttTarget,
    client_id: str,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
    bulk: bool = False,
) -> mqtt.Client:
    """A MQTT 3.1.1 client; `persistent` keeps the broker session (clean_session=False).

    `bulk` makes a BulkClient, for a subscriber of a heavy stream of small messages.
    """
    client = (BulkClient if bulk else mqtt.Client)(
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


def delete_session(target: MqttTarget, client_id: str, timeout_s: float = 10.0) -> None:
    """End `client_id`'s persistent session on the broker: connect clean, then disconnect.

    MQTT 3.1.1 discards a session when a client connects with CleanSession=1.
    """
    client = make_client(target, client_id, persistent=False)
    client.connect(target.host, target.port, keepalive=KEEPALIVE_S)
    client.loop_start()
    try:
        deadline = time.monotonic() + timeout_s
        while not client.is_connected():
            if time.monotonic() >= deadline:
                raise ConnectionError(f"broker did not accept {client_id!r} within {timeout_s} s")
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
