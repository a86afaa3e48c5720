"""The load of bench/scale_out.py: simulated desks in publisher processes, and a bare subscriber.

Every desk has a seat sensor and a card reader (native JSON, docs/DEVICES.md). Message j of the
run goes to desk j % desks; one in BADGE_EVERY is a card read, the others seat reports. Its
`ts` is base_ms + j, so every message is its own InfluxDB point (device, time) and a count
over a range of time is a count of messages.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import socket
import subprocess
import threading
import time
from dataclasses import dataclass

from console.services import HOST, find_binary

TOPIC_FILTER = "hallwatch/devices/+/events"
BADGE_EVERY = 10  # one message in ten is a card read
PUBLISH_INFLIGHT = 1_000  # QoS 1 messages a publisher keeps on the wire (its own window)
PACE_S = 0.002  # a publisher's sleep between bursts of due messages
BURST_MAX = 500  # messages written at once; under PUBLISH_INFLIGHT, or a burst could wait on itself
READY_TIMEOUT_S = 60.0
REPORT_TIMEOUT_S = 120.0
READ_CHUNK = 65_536


def desk_id(d: int) -> str:
    return f"D{d + 1:05d}"


def badge_uid(d: int) -> str:
    return f"C{d + 1:07X}"


def message(j: int, desks: int, base_ms: int) -> tuple[str, bytes]:
    """Topic and payload of message j."""
    d = j % desks
    ts = base_ms + j
    if j % BADGE_EVERY == BADGE_EVERY - 1:
        action = "in" if (j // desks) % 2 == 0 else "out"
        body = f'{{"type":"badge","uid":"{badge_uid(d)}","action":"{action}","ts":{ts}}}'
        return f"hallwatch/devices/card-{desk_id(d)}/events", body.encode()
    occupied = "true" if (j // desks) % 2 == 0 else "false"
    body = f'{{"type":"presence","occupied":{occupied},"ts":{ts}}}'
    return f"hallwatch/devices/seat-{desk_id(d)}/events", body.encode()


def split(first: int, count: int, parts: int) -> list[tuple[int, int]]:
    """[first, first + count) cut into `parts` consecutive (first, count) pieces."""
    edges = [first + count * k // parts for k in range(parts + 1)]
    return [(edges[k], edges[k + 1] - edges[k]) for k in range(parts)]


# A device's QoS 1 publish is cheap in C firmware; paho spends ~30 µs of Python on each, which
# on a 2-core machine left too little for the targets. The desks therefore speak MQTT 3.1.1
# themselves: CONNECT, PUBLISH (QoS 1) and PUBACK are all they need.
CONNACK, PUBACK = 0x20, 0x40


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str) -> bytes:
    """CONNECT, MQTT 3.1.1, clean session, keep-alive off."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x00" + len(cid).to_bytes(2, "big") + cid
    return b"\x10" + remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """PUBLISH at QoS 1."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + packet_id.to_bytes(2, "big") + payload
    return b"\x32" + remaining_length(len(body)) + body


def packet_types(buffer: bytearray) -> list[int]:
    """Take every whole packet off the front of `buffer`; return their types (high nibble)."""
    found = []
    while len(buffer) >= 2:
        length, shift, i = 0, 0, 1
        while True:
            if i >= len(buffer):
                return found
            length |= (buffer[i] & 0x7F) << shift
            shift += 7
            i += 1
            if not buffer[i - 1] & 0x80:
                break
        if len(buffer) < i + length:
            return found
        found.append(buffer[0] & 0xF0)
        del buffer[: i + length]
    return found


class DeskLink:
    """One publisher's MQTT connection: QoS 1 publishes, at most PUBLISH_INFLIGHT unacknowledged."""

    def __init__(self, port: int, client_id: str, acked_value):
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.window = threading.Semaphore(PUBLISH_INFLIGHT)
        self.acked = 0
        self.last_ack = 0.0
        self.acked_value = acked_value
        self.connected = threading.Event()
        self.sock.sendall(connect_packet(client_id))
        threading.Thread(target=self._read, daemon=True).start()
        if not self.connected.wait(READY_TIMEOUT_S):
            raise RuntimeError("the broker did not answer CONNECT")
        self.next_id = 0

    def _read(self) -> None:
        buffer = bytearray()
        while chunk := self.sock.recv(READ_CHUNK):
            buffer += chunk
            types = packet_types(buffer)
            acks = types.count(PUBACK)
            if CONNACK in types:
                self.connected.set()
            if acks:
                self.acked += acks
                self.acked_value.value = self.acked
                self.last_ack = time.monotonic()
                self.window.release(acks)

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        out = bytearray()
        for topic, payload in messages:
            self.window.acquire()
            self.next_id = self.next_id % 65535 + 1
            out += publish_packet(topic, payload, self.next_id)
        self.sock.sendall(out)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
            self.sock.close()


def _publisher_main(port: int, desks: int, base_ms: int, commands, reports, acked_value) -> None:
    """Publish what each command asks — (first, count, rate) — paced, at QoS 1."""
    link = DeskLink(port, f"bench-desks-{os.getpid()}", acked_value)
    reports.put({"ready": os.getpid()})
    while (command := commands.get()) is not None:
        first, count, rate = command
        before = link.acked
        started = time.monotonic()
        sent = 0
        while sent < count:
            due = min(count, int((time.monotonic() - started) * rate) + 1)
            burst = range(first + sent, first + min(due, sent + BURST_MAX))
            link.publish([message(j, desks, base_ms) for j in burst])
            sent += len(burst)
            time.sleep(PACE_S)
        deadline = time.monotonic() + REPORT_TIMEOUT_S
        while link.acked - before < count and time.monotonic() < deadline:
            time.sleep(0.01)
        reports.put({"started": started, "last_ack": link.last_ack, "acked": link.acked - before})
    link.close()


@dataclass
class Sent:
    """What a step's publishers achieved."""

    acked: int
    started: float
    last_ack: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.last_ack - self.started)


class DeskPool:
    """Publisher processes, each simulating every desk in turn, kept connected between steps."""

    def __init__(self, port: int, desks: int, base_ms: int, processes: int):
        ctx = mp.get_context("spawn")
        self.reports = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(processes)]
        self.acked = [ctx.Value("q", 0, lock=False) for _ in range(processes)]  # one writer each
        self.procs = [
            ctx.Process(
                target=_publisher_main,
                args=(port, desks, base_ms, self.commands[k], self.reports, self.acked[k]),
                daemon=True,
            )
            for k in range(processes)
        ]
        self.next_index = 0

    def start(self) -> None:
        for proc in self.procs:
            proc.start()
        for _ in self.procs:
            try:
                self.reports.get(timeout=READY_TIMEOUT_S)
            except queue.Empty:
                raise RuntimeError("a publisher process did not connect") from None

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def acked_total(self) -> int:
        return sum(v.value for v in self.acked)

    def send(self, rate: float, seconds: float) -> tuple[int, int]:
        """Start publishing rate × seconds messages; return their index range (first, count)."""
        first, count = self.next_index, max(1, round(rate * seconds))
        self.next_index += count
        share = rate / len(self.procs)
        for commands, (start, n) in zip(
            self.commands, split(first, count, len(self.procs)), strict=True
        ):
            commands.put((start, n, share))
        return first, count

    def wait(self) -> Sent:
        """Wait for every publisher to report the step; how many were acked, from when to when."""
        got = [self.reports.get(timeout=REPORT_TIMEOUT_S * 2) for _ in self.procs]
        return Sent(
            acked=sum(r["acked"] for r in got),
            started=min(r["started"] for r in got),
            last_ack=max(r["last_ack"] for r in got),
        )

    def close(self) -> None:
        for commands in self.commands:
            commands.put(None)
        for proc in self.procs:
            if proc.pid is None:
                continue
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)


def _paho_subscriber_main(port: int, ready, count_value) -> None:
    """A bare paho subscriber (QoS 1, auto-ack) that only counts: Python's own ceiling."""
    import paho.mqtt.client as mqtt  # only this child needs paho

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-paho-{os.getpid()}", clean_session=True
    )
    counted = [0]

    def on_message(client, userdata, message):
        counted[0] += 1
        count_value.value = counted[0]

    client.on_message = on_message
    client.on_subscribe = lambda *args: ready.set()
    client.connect(HOST, port, keepalive=60)
    client.subscribe(TOPIC_FILTER, qos=1)
    client.loop_forever()


class PahoSubscriber:
    """`_paho_subscriber_main` in its own process."""

    def __init__(self, port: int):
        ctx = mp.get_context("spawn")
        self.ready = ctx.Event()
        self.value = ctx.Value("q", 0, lock=False)
        self.proc = ctx.Process(
            target=_paho_subscriber_main, args=(port, self.ready, self.value), daemon=True
        )

    def start(self) -> None:
        self.proc.start()
        if not self.ready.wait(READY_TIMEOUT_S):
            raise RuntimeError("the paho subscriber did not subscribe")

    @property
    def count(self) -> int:
        return self.value.value

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(timeout=10)


class BareSubscriber:
    """`mosquitto_sub` (C, QoS 1) printing one byte per message into a pipe we count."""

    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.count = 0
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        binary = find_binary("mosquitto_sub")
        if binary is None:
            raise RuntimeError("mosquitto_sub not found (apt-get install mosquitto-clients)")
        self.proc = subprocess.Popen(
            [binary, "-h", HOST, "-p", str(self.port), "-q", "1", "-t", TOPIC_FILTER]
            + ["-i", f"bench-bare-{os.getpid()}", "-N", "-F", "."],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        while chunk := self.proc.stdout.read1(READ_CHUNK):
            self.count += len(chunk)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self._reader:
            self._reader.join(timeout=5)
