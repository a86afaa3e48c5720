"""MQTT → InfluxDB ingest with at-least-once delivery and idempotent writes.

paho's network thread only enqueues. One worker converts messages in
batches, writes them to InfluxDB, and only then acknowledges them to the
broker (manual acks on a persistent QoS 1 session). If InfluxDB is down the
batch is retried with backoff and nothing is acknowledged, so the broker keeps
the rest; the queue is bounded, so memory is too. Messages InfluxDB will never
accept (a bad point) are kept in `hw_rejected` with the reason, then acked.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

import devices
from hallwatch.events import BadgeRead, Rejection
from hallwatch.influx.client import (
    BadPointsError,
    BodyTooLarge,
    DatabaseMissing,
    InfluxClient,
    RetryableWriteError,
)
from hallwatch.influx.eventstore import event_point, rejection_point
from hallwatch.influx.lineprotocol import LineProtocolError
from hallwatch.registry.spec import Registry

log = logging.getLogger(__name__)

MAX_QUEUE = 20_000  # messages held in memory before paho's thread waits (backpressure)
MAX_BATCH = 5_000  # points per /write (InfluxDB 1.x is fastest around 5,000)
FLUSH_INTERVAL_S = 0.2  # longest a message waits for its batch to fill
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0
REGISTRY_RELOAD_S = 10.0
STOP_DRAIN_S = 10.0  # how long SIGTERM waits for the last batches


@dataclass(slots=True)
class Inbound:
    topic: str
    payload: bytes
    qos: int
    mid: int
    generation: int
    received: datetime


@dataclass
class CollectorStats:
    received: int = 0
    written: int = 0
    rejected: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    batches: int = 0
    influx_ok: bool = True
    connected: bool = False
    last_write: datetime | None = None
    extra: dict = field(default_factory=dict)


class Stopping(Exception):
    """Raised inside a retry loop when the collector was asked to stop."""


class Collector:
    """One ingest process: subscribe, convert, write, then acknowledge."""

    def __init__(
        self,
        client: mqtt.Client,
        influx: InfluxClient,
        load_registry: Callable[[], Registry],
        topics: tuple[str, ...] = devices.SUBSCRIPTIONS,
        group: str | None = None,
    ):
        self.client = client
        self.influx = influx
        self.load_registry = load_registry
        self.topics = tuple(f"$share/{group}/{t}" if group else t for t in topics)
        self.queue: queue.Queue[Inbound] = queue.Queue(maxsize=MAX_QUEUE)
        self.stats = CollectorStats()
        self.stop_event = threading.Event()
        self.accepting = True
        self.generation = 0
        self.registry = Registry()
        self._registry_loaded_at = 0.0
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message

    # --- paho's network thread: no I/O, no exceptions out -------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self.generation += 1
        self.stats.connected = True
        log.info(
            "connected to the broker (session present: %s), subscribing to %d topics",
            flags.session_present,
            len(self.topics),
        )
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.stats.connected = False
        if not self.stop_event.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage):
        try:
            if not self.accepting:
                return  # not acked: the broker redelivers it to the next session
            try:
                topic = message.topic
            except UnicodeDecodeError:
                topic = message._topic.decode("utf-8", "backslashreplace")
            self.queue.put(
                Inbound(
                    topic,
                    message.payload,
                    message.qos,
                    message.mid,
                    self.generation,
                    datetime.now(UTC),
                )
            )
        except Exception:  # a dying network thread would stop all ingest
            log.exception("could not enqueue a message")

    # --- the worker --------------------------------------------------------------------

    def start(self, target_host: str, target_port: int) -> None:
        """Connect in the background (retrying even the first connection) and load the registry."""
        self._reload_registry(force=True)
        self._ensure_database()
        self.client.connect_async(target_host, target_port, keepalive=30)
        self.client.loop_start()

    def run(self) -> None:
        """Process batches until stop() is called, then drain and disconnect."""
        while not self.stop_event.is_set():
            batch = self._take_batch()
            if batch:
                self._process(batch)
            self._reload_registry()
        self._drain()

    def stop(self) -> None:
        self.stop_event.set()

    def _drain(self) -> None:
        self.accepting = False
        deadline = time.monotonic() + STOP_DRAIN_S
        try:
            while not self.queue.empty() and time.monotonic() < deadline:
                self._process(self._take_batch(wait=False), deadline=deadline)
        except Stopping:
            log.warning(
                "InfluxDB unavailable at shutdown: %d messages left unacknowledged "
                "for the broker to redeliver",
                self.queue.qsize(),
            )
        self.client.disconnect()
        self.client.loop_stop()
        log.info("collector stopped: %s", self.summary())

    def summary(self) -> str:
        s = self.stats
        return (
            f"{s.received} received, {s.written} written, {s.rejected} rejected, "
            f"{s.dead_lettered} refused by InfluxDB, {s.ignored} ignored, {s.dropped} dropped"
        )

    def _take_batch(self, wait: bool = True) -> list[Inbound]:
        batch: list[Inbound] = []
        try:
            batch.append(
                self.queue.get(timeout=FLUSH_INTERVAL_S) if wait else self.queue.get_nowait()
            )
        except queue.Empty:
            return batch
        deadline = time.monotonic() + FLUSH_INTERVAL_S
        while len(batch) < MAX_BATCH:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self.queue.get(timeout=remaining)
                    if wait and remaining > 0
                    else self.queue.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[Inbound], deadline: float | None = None) -> None:
        self.stats.received += len(batch)
        pairs = self._to_lines(batch)
        self._write_until_stored(pairs, deadline)
        self.stats.batches += 1
        self.stats.last_write = datetime.now(UTC)
        self._ack(batch)

    def _to_lines(self, batch: list[Inbound]) -> list[tuple[str, Inbound]]:
        registry = self.registry
        pairs = []
        for message in batch:
            result = devices.convert(message.topic, message.payload, message.received, registry)
            if result is None:
                self.stats.ignored += 1
                continue
            try:
                if isinstance(result, Rejection):
                    self.stats.rejected += 1
                    line = rejection_point(result).to_line()
                else:
                    line = event_point(result, _card_holder(result, registry)).to_line()
            except LineProtocolError as exc:
                self.stats.rejected += 1
                line = rejection_point(
                    Rejection(
                        message.topic, message.payload, f"cannot store: {exc}", message.received
                    )
                ).to_line()
            pairs.append((line, message))
        return pairs

    def _write_until_stored(self, pairs, deadline: float | None) -> None:
        delay = RETRY_MIN_S
        while True:
            try:
                self._write(pairs)
                if not self.stats.influx_ok:
                    log.info("InfluxDB is back; writing resumed")
                    self.stats.influx_ok = True
                return
            except RetryableWriteError as exc:
                if self.stats.influx_ok:
                    log.error(
                        "InfluxDB write failed, holding %d messages unacknowledged: %s",
                        len(pairs),
                        exc,
                    )
                    self.stats.influx_ok = False
            now = time.monotonic()
            if deadline is not None and now + delay > deadline:
                raise Stopping()
            if deadline is None and self.stop_event.wait(delay):
                deadline = now + STOP_DRAIN_S  # asked to stop mid-outage: a last few tries
            delay = min(delay * 2, RETRY_MAX_S)

    def _write(self, pairs: list[tuple[str, Inbound]]) -> None:
        """Write, splitting oversized batches and isolating points InfluxDB refuses."""
        if not pairs:
            return
        try:
            self.influx.write([line for line, _ in pairs])
            self.stats.written += len(pairs)
        except DatabaseMissing:
            self._ensure_database()
            self.influx.write([line for line, _ in pairs])
            self.stats.written += len(pairs)
        except (BodyTooLarge, BadPointsError) as exc:
            if len(pairs) > 1:
                # Re-sending points that were already accepted overwrites them: safe.
                middle = len(pairs) // 2
                self._write(pairs[:middle])
                self._write(pairs[middle:])
            else:
                self._dead_letter(pairs[0][1], str(exc))

    def _dead_letter(self, message: Inbound, reason: str) -> None:
        self.stats.dead_lettered += 1
        log.warning("InfluxDB refused a point from %s: %s", message.topic, reason)
        rejection = Rejection(
            message.topic, message.payload, f"InfluxDB refused: {reason}", message.received
        )
        try:
            self.influx.write([rejection_point(rejection).to_line()])
        except (BadPointsError, BodyTooLarge) as exc:
            self.stats.dropped += 1
            log.error("could not keep a refused message from %s either: %s", message.topic, exc)

    def _ack(self, batch: list[Inbound]) -> None:
        for message in batch:
            # A message from an earlier connection has been or will be redelivered; its old
            # packet id means nothing on this connection.
            if message.qos > 0 and message.generation == self.generation:
                self.client.ack(message.mid, message.qos)

    def _ensure_database(self) -> None:
        try:
            self.influx.create_database()
        except Exception as exc:  # InfluxDB may be down at start; writes will retry
            log.warning("could not create InfluxDB database %r yet: %s", self.influx.database, exc)

    def _reload_registry(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._registry_loaded_at < REGISTRY_RELOAD_S:
            return
        self._registry_loaded_at = time.monotonic()
        try:
            registry = self.load_registry()
        except Exception as exc:  # keep converting with the registry we have
            log.warning("could not reload the registry, keeping the previous one: %s", exc)
            return
        if registry != self.registry:
            log.info(
                "registry loaded: %d devices, %d staff", len(registry.devices), len(registry.staff)
            )
        self.registry = registry


def _card_holder(event, registry: Registry) -> str | None:
    if isinstance(event, BadgeRead):
        holder = registry.staff_by_badge.get(event.uid)
        return holder.id if holder else None
    return None
