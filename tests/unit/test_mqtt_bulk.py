"""BulkClient: reads ahead from the socket and acknowledges in bulk (no broker needed)."""

from __future__ import annotations

import inspect
import socket
import threading

import paho.mqtt.client as mqtt
import pytest

from hallwatch.mqtt import READ_AHEAD_BYTES, BulkClient


def _client(cls=BulkClient) -> mqtt.Client:
    client = cls(mqtt.CallbackAPIVersion.VERSION2, client_id="t", manual_ack=True)
    client._sockpairW = None  # not started: nothing to wake
    client._thread = threading.current_thread()  # keep paho from writing to a socket
    return client


@pytest.fixture
def connected():
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client = _client()
    client._sock = ours
    yield client, theirs
    theirs.close()
    client._sock_close()


def test_paho_still_has_what_bulk_client_overrides():
    """The private methods BulkClient relies on, as in the pinned paho-mqtt."""
    for name, parameters in {
        "_sock_recv": ["self", "bufsize"],
        "_sock_close": ["self"],
        "loop_read": ["self", "max_packets"],
        "_packet_queue": ["self", "command", "packet", "mid", "qos", "info"],
        "_handle_on_message": ["self", "message"],
    }.items():
        assert list(inspect.signature(getattr(mqtt.Client, name)).parameters) == parameters


def test_small_reads_are_served_from_one_recv(connected):
    client, theirs = connected
    theirs.sendall(b"0123456789")
    assert client._sock_recv(1) == b"0"
    assert client._sock_recv(3) == b"123"
    assert client._sock_recv(100) == b"456789"
    with pytest.raises(BlockingIOError):
        client._sock_recv(1)  # nothing held, nothing on the socket


def test_a_read_as_large_as_what_arrived_is_passed_through(connected):
    client, theirs = connected
    theirs.sendall(b"abc")
    assert client._sock_recv(READ_AHEAD_BYTES) == b"abc"
    assert not client._ahead


def test_a_closed_connection_reads_empty(connected):
    client, theirs = connected
    theirs.close()
    assert client._sock_recv(1) == b""


def test_closing_forgets_what_was_read_ahead(connected):
    client, theirs = connected
    theirs.sendall(b"left over")
    client._sock_recv(1)
    client._sock_close()
    assert not client._ahead


def test_loop_read_handles_every_packet_read_ahead(connected):
    client, theirs = connected
    received: list[bytes] = []
    client.on_message = lambda c, u, message: received.append(message.payload)
    client._state = mqtt._ConnectionState.MQTT_CS_CONNECTED
    packets = b"".join(
        bytes([0x32, 2 + 3 + 2 + len(body), 0, 3]) + b"a/b" + mid.to_bytes(2, "big") + body
        for mid, body in ((1, b"x"), (2, b"yy"), (3, b"zzz"))
    )
    theirs.sendall(packets)
    assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert received == [b"x", b"yy", b"zzz"]  # one call, though select() would see no more
    assert not client._ahead


def test_ack_many_sends_the_bytes_ack_sends_one_by_one():
    mids = [1, 2, 300, 65535]
    one_by_one = _client(mqtt.Client)
    for mid in mids:
        one_by_one.ack(mid, 1)
    expected = b"".join(bytes(packet["packet"]) for packet in one_by_one._out_packet)
    bulk = _client()
    bulk.ack_many(mids)
    assert len(bulk._out_packet) == 1
    assert bytes(bulk._out_packet[0]["packet"]) == expected


def test_ack_many_sends_nothing_without_manual_acks_or_messages():
    client = _client()
    client.ack_many([])
    client.manual_ack_set(False)
    client.ack_many([7])
    assert not client._out_packet


def test_on_message_gets_every_message_and_filters_are_refused():
    client = _client()
    seen = []
    client.on_message = lambda c, u, message: seen.append(message.topic)
    client._handle_on_message(mqtt.MQTTMessage(1, b"a/b"))
    assert seen == ["a/b"]
    with pytest.raises(NotImplementedError):
        client.message_callback_add("a/#", lambda *args: None)
