"""Making paho-mqtt 2.x clients from a HALLWATCH_MQTT_URL target."""

from __future__ import annotations

import logging
import ssl
import struct
import time
from collections.abc import Callable

import paho.mqtt
import paho.mqtt.client as mqtt

from hallwatch.config import MqttTarget

log = logging.getLogger(__name__)

# The paho-mqtt release BulkClient is proven against (its private parts are those of this
# release; requirements.txt and pyproject.toml pin it). Under any other a bulk client is
# paho's own Client: slower, but it reads only paho's public API.
PROVEN_PAHO = "2.2.0"
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
KEEPALIVE_S = 30
READ_AHEAD_BYTES = 65_536
# A PUBLISH longer than this is never held whole: its first OVERSIZED_KEEP_BYTES are kept
# (the topic, at most 65,535 bytes, and more payload than any device may send, 64 KiB)
# and the rest only counted as it passes (CutPayload).
OVERSIZED_BYTES = 256 * 1024
OVERSIZED_KEEP_BYTES = 160 * 1024
# Where collectors say which of them holds a session (collector/one_session.py); the
# collector account reads and writes under it.
COLLECTORS_ROOT = "hallwatch/collectors"
_PUBACK = struct.Struct("!BBH")
PUBLISH = mqtt.PUBLISH

# One message as the broker sent it: topic (UTF-8 bytes), payload, QoS, packet id, and the
# RETAIN flag (set only on a stored message sent because of a new subscription).
Publish = tuple[bytes, bytes, int, int, bool]


class BulkClient(mqtt.Client):
    """paho's client, reading the socket in large chunks and handing over messages in bulk.

    For the collector's stream of small messages. paho 2.2 reads every packet with three
    recv() calls (command byte, length, body) after a select() of its own, builds an
    MQTTMessage, logs it and calls on_message under a lock, one message at a time, and
    sends each PUBACK as its own packet. Reading in bulk halved the collector's CPU per
    message (docs/BENCHMARKS.md, "The bulk hand-off").

    With `on_publishes` set, `loop_read` reads up to READ_AHEAD_BYTES at once and parses
    every QoS 0 and 1 PUBLISH in them itself (MQTT 3.1.1: topic, packet id, payload),
    handing them over in one call per read as `Publish` tuples. paho's own reader gets
    every other packet (CONNACK, SUBACK, PINGRESP, QoS 2), whole and in order, through
    `_sock_recv`. Without `on_publishes` it is paho's reader with on_message, reading ahead.

    This overrides paho's `_sock_recv`, `_sock_close`, `loop_read` and
    `_handle_on_message`, and uses `_packet_read`, `_loop_rc_handle`, `_packet_queue` and
    `_last_bytes_received`: private parts of PROVEN_PAHO (tests/unit/test_mqtt_bulk.py
    checks that they are still there). make_client uses it only under that release.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ahead = b""  # bytes received but not yet handed to paho's packet reader
        self._ahead_at = 0
        self._partial = b""  # the start of a packet whose end has not arrived yet
        self._pieces: list[bytes] = []  # what came after `_partial`, joined once it is whole
        self._held = 0  # bytes in `_partial` and `_pieces`
        self._needed = 0  # the length of the packet `_partial` begins (0: not known yet)
        self._oversized: _Oversized | None = None  # a PUBLISH too large to hold, passing
        # on_publishes(client, publishes): every QoS 0/1 message of one read, in order.
        self.on_publishes: Callable[[mqtt.Client, list[Publish]], None] | None = None

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
        if self.on_publishes is not None and self._protocol != mqtt.MQTTv5:
            return self._read_in_bulk()
        # select() cannot see bytes already read ahead: hand them all to paho before it waits.
        rc = super().loop_read(max_packets)
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and self._ahead and self._sock:
            rc = super().loop_read(max_packets)
        return rc

    def _read_in_bulk(self) -> mqtt.MQTTErrorCode:
        if self._sock is None:
            return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
        try:
            chunk = super()._sock_recv(READ_AHEAD_BYTES)
        except BlockingIOError:
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        except OSError as err:
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST)
        if not chunk:
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST)
        with self._msgtime_mutex:
            self._last_bytes_received = time.monotonic()  # paho's keepalive clock
        try:
            data = self._assembled(chunk)
            if not data:
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS  # a packet still arriving
            publishes, others, used = split_packets(data)
        except MalformedPacket as err:
            self._easy_log(mqtt.MQTT_LOG_ERR, "Received malformed packet: %s", err)
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL)
        self._hold(data[used:])
        delivered = 0
        for before, packet in others:  # in order: a CONNACK comes before what follows it
            self._deliver(publishes[delivered:before])
            delivered = before
            rc = self._paho_reads(packet)
            if rc:
                return self._loop_rc_handle(rc)
        self._deliver(publishes[delivered:] if delivered else publishes)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _assembled(self, chunk: bytes) -> bytes:
        """The bytes to parse now; empty while the packet in front is still arriving.

        Each chunk is copied once: the start of a packet and what follows it are joined
        only once the whole packet is there, and an oversized PUBLISH is never joined.
        """
        if self._oversized is not None:
            rest = self._oversized.passing(chunk)
            if rest is None:
                return b""
            cut, self._oversized = self._oversized.publish(), None
            self._deliver([cut])
            chunk = rest
        if not self._partial:
            return chunk
        self._pieces.append(chunk)
        self._held += len(chunk)
        if self._held < self._needed:
            return b""
        data = b"".join([self._partial, *self._pieces])
        self._partial, self._pieces = b"", []
        return data

    def _hold(self, rest: bytes) -> None:
        """Keep the start of a packet still arriving (of an oversized PUBLISH: its head)."""
        size = packet_size(rest)
        if size is not None and size > OVERSIZED_BYTES and _is_publish(rest[0]):
            self._oversized, rest = _Oversized(rest, size), b""
        self._partial, self._pieces, self._held, self._needed = rest, [], len(rest), size or 0

    def _paho_reads(self, packet: bytes) -> mqtt.MQTTErrorCode:
        """paho's reader handles one whole packet, served from `_ahead` by _sock_recv."""
        self._ahead, self._ahead_at = packet, 0
        return self._packet_read()

    def _deliver(self, publishes: list[Publish]) -> None:
        on_publishes = self.on_publishes
        if not publishes or on_publishes is None:
            return
        with self._in_callback_mutex:
            try:
                on_publishes(self, publishes)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_publishes: %s", err)
                if not self.suppress_exceptions:
                    raise

    def _sock_close(self) -> None:
        # never carry bytes of one connection into the next
        self._ahead = self._partial = b""
        self._pieces, self._held, self._needed, self._oversized = [], 0, 0, None
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


class MalformedPacket(ValueError):
    """Bytes from the broker that are not an MQTT 3.1.1 packet."""


class CutPayload(bytes):
    """The first bytes of a payload too large to hold (over OVERSIZED_BYTES); `size` is
    how many bytes it had."""

    size: int

    def __new__(cls, head: bytes, size: int) -> CutPayload:
        cut = super().__new__(cls, head)
        cut.size = size
        return cut


class _Oversized:
    """A PUBLISH too large to hold, arriving: its head kept, the rest counted."""

    def __init__(self, start: bytes, size: int):
        self.size = size
        self.head = bytearray(start[:OVERSIZED_KEEP_BYTES])
        self.seen = len(start)

    def passing(self, chunk: bytes) -> bytes | None:
        """Take what arrived; the bytes after the packet once it has all passed, else None."""
        due = self.size - self.seen
        room = OVERSIZED_KEEP_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[: min(room, due)]
        if len(chunk) < due:
            self.seen += len(chunk)
            return None
        self.seen = self.size
        return chunk[due:]

    def publish(self) -> Publish:
        head = bytes(self.head)
        body = self.size - _remaining_length(head)
        topic, payload, qos, mid, retain = _publish(head[0], head, body, len(head))
        payload_at = len(head) - len(payload)
        return topic, CutPayload(payload, self.size - payload_at), qos, mid, retain


def _is_publish(command: int) -> bool:
    """A QoS 0 or 1 PUBLISH, which the bulk reader parses itself (QoS 2 goes to paho)."""
    return command & 0xF0 == PUBLISH and command & 0x06 < 0x04


def _remaining_length(data: bytes) -> int:
    """The remaining length a packet's fixed header declares."""
    length, shift = 0, 0
    for byte in data[1:5]:
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    return length


def packet_size(data: bytes) -> int | None:
    """The whole length of the packet `data` begins, once its fixed header is all there."""
    for at in range(1, min(len(data), 5)):
        if data[at] < 0x80:
            return at + 1 + _remaining_length(data)
    return None


def split_packets(data: bytes) -> tuple[list[Publish], list[tuple[int, bytes]], int]:
    """The whole packets at the start of `data`, as the broker sent them.

    Returns every QoS 0 and 1 PUBLISH parsed (MQTT 3.1.1, no properties); every other
    packet whole, with how many publishes came before it; and the length of `data` those
    packets fill (the rest is the start of a packet still arriving).
    """
    publishes: list[Publish] = []
    others: list[tuple[int, bytes]] = []
    at, size = 0, len(data)
    while at + 1 < size:
        command, body, length, shift = data[at], at + 1, 0, 0
        while True:  # the remaining length: 1 to 4 bytes, 7 bits each, least significant first
            if body >= size:
                return publishes, others, at
            byte = data[body]
            body += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 21:
                raise MalformedPacket("a remaining length longer than 4 bytes")
        end = body + length
        if end > size:
            break
        if _is_publish(command):
            publishes.append(_publish(command, data, body, end))
        else:
            others.append((len(publishes), data[at:end]))
        at = end
    return publishes, others, at


def _publish(command: int, data: bytes, body: int, end: int) -> Publish:
    topic_at = body + 2
    topic_end = topic_at + ((data[body] << 8) | data[body + 1]) if topic_at <= end else end + 1
    qos = (command >> 1) & 0x03
    payload_at = topic_end + 2 if qos else topic_end
    if topic_end == topic_at or payload_at > end:
        raise MalformedPacket("a PUBLISH with no topic, or a topic longer than the packet")
    mid = (data[topic_end] << 8) | data[topic_end + 1] if qos else 0
    return data[topic_at:topic_end], data[payload_at:end], qos, mid, bool(command & 0x01)


def make_client(
    target: MqttTarget,
    client_id: str,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
    bulk: bool = False,
) -> mqtt.Client:
    """A MQTT 3.1.1 client; `persistent` keeps the broker session (clean_session=False).

    `bulk` makes a BulkClient, for a subscriber of a heavy stream of small messages (under
    PROVEN_PAHO only: see bulk_client_class).
    """
    client = (bulk_client_class() if bulk else mqtt.Client)(
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


def bulk_client_class(installed: str = paho.mqtt.__version__) -> type[mqtt.Client]:
    """BulkClient under the paho-mqtt release it is proven against, else paho's own Client."""
    if installed == PROVEN_PAHO:
        return BulkClient
    log.warning(
        "paho-mqtt %s is installed but the bulk reader is proven against %s only: "
        "reading with paho's own reader (slower)",
        installed,
        PROVEN_PAHO,
    )
    return mqtt.Client


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
        hang_up(client)


def hang_up(client: mqtt.Client) -> None:
    """Disconnect and stop the network thread started by `loop_start`.

    After `disconnect()` the thread ends by itself and clears the client's thread, which can
    fall between `loop_stop`'s check and its join: paho 2.2 then raises AttributeError from
    inside `loop_stop`, though the thread is stopped as asked.
    """
    client.disconnect()
    try:
        client.loop_stop()
    except AttributeError:
        pass
