"""BulkClient: reads ahead from the socket and acknowledges in bulk (no broker needed)."""

from __future__ import annotations

import inspect
import logging
import socket
import threading
import tracemalloc
from pathlib import Path

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest

from hallwatch.mqtt import (
    OVERSIZED_KEEP_BYTES,
    PROVEN_PAHO,
    READ_AHEAD_BYTES,
    BulkClient,
    CutPayload,
    MalformedPacket,
    bulk_client_class,
    split_packets,
)


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
        "_packet_read": ["self"],
        "_loop_rc_handle": ["self", "rc"],
    }.items():
        assert list(inspect.signature(getattr(mqtt.Client, name)).parameters) == parameters
    client = _client(mqtt.Client)
    for attribute in ("_msgtime_mutex", "_last_bytes_received", "_in_callback_mutex", "_protocol"):
        assert hasattr(client, attribute)


def test_the_bulk_reader_is_used_under_the_proven_paho_only(caplog):
    assert paho.mqtt.__version__ == PROVEN_PAHO  # the one requirements.txt pins
    with caplog.at_level(logging.WARNING, logger="hallwatch.mqtt"):
        assert bulk_client_class() is BulkClient
        assert bulk_client_class(PROVEN_PAHO) is BulkClient
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="hallwatch.mqtt"):
        assert bulk_client_class("2.3.0") is mqtt.Client
    (warning,) = caplog.records
    assert warning.getMessage() == (
        "paho-mqtt 2.3.0 is installed but the bulk reader is proven against 2.2.0 only: "
        "reading with paho's own reader (slower)"
    )


def test_the_pins_name_the_proven_paho():
    root = Path(__file__).parents[2]
    assert f"paho-mqtt=={PROVEN_PAHO}" in (root / "requirements.txt").read_text().splitlines()
    assert f'"paho-mqtt=={PROVEN_PAHO}",' in (root / "pyproject.toml").read_text()


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


def _publish(
    topic: bytes, payload: bytes, qos: int = 1, mid: int = 1, retain: bool = False
) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    return _packet(0x30 | qos << 1 | retain, body + payload)


def _packet(command: int, body: bytes) -> bytes:
    length, encoded = len(body), b""
    while True:
        byte, length = length & 0x7F, length >> 7
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            return bytes([command]) + encoded + body


SUBACK = _packet(0x90, b"\x00\x01\x01")


def test_split_packets_parses_publishes_and_keeps_other_packets_whole_in_order():
    data = (
        _publish(b"a/b", b"one", qos=1, mid=7)
        + SUBACK
        + _publish(b"c", b"x" * 300, qos=0)  # a two-byte remaining length
        + _publish(b"d", b"", qos=1, mid=65535, retain=True)  # sent for a new subscription
        + _packet(0x34, b"\x00\x01e\x00\x09two")  # QoS 2: paho's
    )
    publishes, others, used = split_packets(data)
    assert publishes == [
        (b"a/b", b"one", 1, 7, False),
        (b"c", b"x" * 300, 0, 0, False),
        (b"d", b"", 1, 65535, True),
    ]
    assert others == [(1, SUBACK), (3, _packet(0x34, b"\x00\x01e\x00\x09two"))]
    assert used == len(data)


@pytest.mark.parametrize("cut", [1, 2, 5, 9])
def test_split_packets_leaves_a_packet_still_arriving(cut):
    whole = _publish(b"a/b", b"payload " * 40, mid=3)
    first = _publish(b"z", b"done", mid=2)
    publishes, others, used = split_packets(first + whole[:cut])
    assert publishes == [(b"z", b"done", 1, 2, False)] and others == []
    assert used == len(first)


@pytest.mark.parametrize(
    "data",
    [
        b"\x32\xff\xff\xff\xff\x01",  # a remaining length of 5 bytes
        _packet(0x32, b"\x00\x00\x00\x01body"),  # no topic
        _packet(0x32, b"\x00\x09a/b"),  # the topic runs past the packet
        _packet(0x32, b"\x00\x03a/b\x00"),  # half a packet id
    ],
    ids=["long-length", "empty-topic", "topic-overrun", "short-mid"],
)
def test_split_packets_refuses_what_is_not_mqtt(data):
    with pytest.raises(MalformedPacket):
        split_packets(data)


def test_bulk_reads_hand_over_each_reads_messages_in_one_call(connected):
    client, theirs = connected
    calls: list[list] = []
    client.on_publishes = lambda c, publishes: calls.append(list(publishes))
    messages = [_publish(b"t", str(n).encode(), mid=n + 1) for n in range(50)]
    theirs.sendall(b"".join(messages))
    assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert calls == [[(b"t", str(n).encode(), 1, n + 1, False) for n in range(50)]]


def test_bulk_reads_join_a_packet_split_between_reads(connected):
    client, theirs = connected
    calls: list[list] = []
    client.on_publishes = lambda c, publishes: calls.append(list(publishes))
    packet = _publish(b"a/b", b"x" * 500, mid=9)
    theirs.sendall(packet[:200])
    client.loop_read()
    assert calls == []
    theirs.sendall(packet[200:])
    client.loop_read()
    assert calls == [[(b"a/b", b"x" * 500, 1, 9, False)]]
    assert client._partial == b""


def test_bulk_reads_give_paho_the_other_packets_between_messages_in_order(connected):
    client, theirs = connected
    events: list = []
    client.on_publishes = lambda c, publishes: events.extend(p[1] for p in publishes)
    client.on_subscribe = lambda *args: events.append("SUBACK")
    client._state = mqtt._ConnectionState.MQTT_CS_CONNECTED
    theirs.sendall(_publish(b"t", b"before") + SUBACK + _publish(b"t", b"after", mid=2))
    assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert events == [b"before", "SUBACK", b"after"]
    assert not client._ahead


def test_bulk_reads_close_the_connection_on_a_malformed_packet(connected):
    client, theirs = connected
    client.on_publishes = lambda c, publishes: None
    client._state = mqtt._ConnectionState.MQTT_CS_CONNECTED
    theirs.sendall(_packet(0x32, b"\x00\x00\x00\x01"))
    assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert client._sock is None


def test_bulk_reads_see_a_closed_connection(connected):
    client, theirs = connected
    client.on_publishes = lambda c, publishes: None
    client._state = mqtt._ConnectionState.MQTT_CS_CONNECTED
    theirs.close()
    assert client.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST


def _read_while_sending(client, theirs, data: bytes, calls: list) -> int:
    """loop_read until a message came, `data` sent from a thread; the peak memory meanwhile."""
    sender = threading.Thread(target=theirs.sendall, args=(data,))
    tracemalloc.start()
    try:
        sender.start()
        while not calls:
            client.loop_read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        sender.join()


@pytest.mark.parametrize("qos", [0, 1])
def test_an_oversized_message_is_never_held_whole_and_keeps_its_size(connected, qos):
    client, theirs = connected
    calls: list[list] = []
    client.on_publishes = lambda c, publishes: calls.append(list(publishes))
    payload = b"x" * (8 * 1024 * 1024)
    after = _publish(b"t", b"next", qos=1, mid=8)
    peak = _read_while_sending(client, theirs, _publish(b"a/b", payload, qos, 7) + after, calls)
    while len(calls) < 2:
        client.loop_read()
    ((topic, cut, got_qos, mid, retain),) = calls[0]
    assert (topic, got_qos, mid if qos else 0, retain) == (b"a/b", qos, 7 if qos else 0, False)
    assert isinstance(cut, CutPayload) and cut.size == len(payload)
    assert len(cut) <= OVERSIZED_KEEP_BYTES and payload.startswith(cut)
    assert calls[1] == [(b"t", b"next", 1, 8, False)]  # what follows is read as ever
    assert peak < 2 * 1024 * 1024  # before: the 8 MB packet, joined again at every read


def test_a_large_message_under_the_bound_is_joined_once_and_whole(connected):
    client, theirs = connected
    calls: list[list] = []
    client.on_publishes = lambda c, publishes: calls.append(list(publishes))
    payload = bytes(range(256)) * 800  # 200 KiB: held, but joined once
    _read_while_sending(client, theirs, _publish(b"a/b", payload, 1, 3), calls)
    assert calls == [[(b"a/b", payload, 1, 3, False)]]
    assert not isinstance(calls[0][0][1], CutPayload) and client._partial == b""
