"""MQTT → InfluxDB ingest with at-least-once delivery and idempotent writes.

paho's network thread only enqueues. One worker converts messages in
batches, writes them to InfluxDB, and only then acknowledges them to the
broker (manual acks on a persistent QoS 1 session). If InfluxDB is down the
batch is retried with backoff and nothing is acknowledged, so the broker keeps
the rest; the queue is bounded, so memory is too. Messages InfluxDB will never
accept (a bad point) are kept in `hw_rejected` with the reason, then acked.

An outage longer than `spool_after_s`, or one that fills the queue, sends the
converted batches to a bounded disk spool (collector/spool.py): fsynced, then
acknowledged. While the spool holds anything, every new batch goes behind it,
so InfluxDB receives points in the order they came; the spool is replayed oldest
segment first, each deleted only after InfluxDB accepted it. A full spool means
no more acknowledgements: the broker keeps the rest, as without a spool.

Topics follow the registry (devices.subscriptions): a new Zigbee2MQTT base
topic, Tasmota layout or ESPHome node is subscribed when the registry that
names it is loaded. Zigbee2MQTT and Tasmota events take the receipt time,
except a message that waited in the broker: devices.clocks places it by the
device's clock as learned while live, and what it learned is kept in
`clocks.json` beside the spool, so the backlog after a restart is placed too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from prometheus_client import Histogram

import devices
from collector import one_session
from collector.inbox import Inbox, ReceiptClock
from collector.spool import Spool, SpoolSettings, write_status
from devices.clocks import CONTACT_SOURCES, PLACED_SOURCES, DeviceClocks, reading_of
from devices.payload import MAX_PAYLOAD_BYTES
from hallwatch.events import BadgeRead, DeviceStatus, Event, Rejection, RejectionKind
from hallwatch.influx.client import (
    BadPointsError,
    BodyTooLarge,
    DatabaseMissing,
    InfluxClient,
    RetryableWriteError,
)
from hallwatch.influx.eventstore import event_point, rejection_point
from hallwatch.influx.lineprotocol import LineProtocolError
from hallwatch.mqtt import CutPayload, Publish, hang_up
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.spec import Registry
from hallwatch.telemetry import write_seconds

log = logging.getLogger(__name__)

MAX_QUEUE = 20_000  # default: messages held in memory before paho's thread waits
MAX_BATCH = 5_000  # points per /write (InfluxDB 1.x is fastest around 5,000)
FLUSH_INTERVAL_S = 0.2  # longest a message waits for its batch to fill
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0
REGISTRY_RELOAD_S = 10.0
STOP_DRAIN_S = 10.0  # how long SIGTERM waits for the last batches
STATUS_INTERVAL_S = 1.0  # how often status.json (read by /healthz) is rewritten
SPOOL_SOURCE = "spool"  # the topic a refused point replayed from the spool is kept under
# A refused message too large even for hw_rejected is kept with its payload cut to this.
CUT_PAYLOAD_BYTES = (1_000, 0)
LEAVE_IDLE_S = 2.0  # leaving a group: done once nothing came for this long after UNSUBACK
LEAVE_REPORT_S = 10.0  # how often a leaving collector says what it still waits for
# A session the broker ends this soon after it began was most likely taken over by another
# process connecting with the same client id (MQTT-3.1.4-2): the two evict each other.
TAKEN_OVER_S = 5.0
UNREADABLE_TOPIC = b"(a topic that is not UTF-8)"  # in place of one paho's reader cannot show
CLOCKS_FILE = "clocks.json"  # what the collector learned of device clocks, beside its spool
CLOCKS_SAVE_S = 60.0  # how often it is saved (and at stop)


@dataclass(slots=True)
class Inbound:
    topic: str
    payload: bytes
    qos: int
    mid: int
    generation: int
    received: datetime
    retained: bool = False  # a stored message re-sent because we subscribed: old news


@dataclass
class CollectorStats:
    received: int = 0
    written: int = 0
    rejected: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    internal_errors: int = 0
    spooled: int = 0
    replayed: int = 0
    batches: int = 0
    influx_ok: bool = True
    influx_error: str | None = None  # the last failed write's error, while writes fail
    registry_error: str | None = None  # why the registry cannot be read, while it cannot
    connected: bool = False
    last_write: datetime | None = None
    write_failures: int = 0  # failed InfluxDB writes, each retry counted
    placed_late: int = 0  # events that waited in the broker, placed by their device's clock
    rejected_by_kind: dict[str, int] = field(default_factory=dict)  # events.RejectionKind
    write_seconds: Histogram = field(default_factory=write_seconds)  # /write round trips
    extra: dict = field(default_factory=dict)


class Stopping(Exception):
    """Raised inside a retry loop when the collector was asked to stop."""


class Collector:
    """One ingest process: subscribe, convert, write, then acknowledge."""

    def __init__(
        self,
        client: mqtt.Client,
        influx: InfluxClient,
        load_registry: Callable[[], Registry | Deployment],
        group: str | None = None,
        spool: SpoolSettings | None = None,
        leave: bool = False,
        *,
        collector_id: str,  # the MQTT client id `client` was made with
    ):
        self.client = client
        self.influx = influx
        self.load_registry = load_registry
        self.group = group
        self.topics: tuple[str, ...] = ()  # what the broker was asked for on this connection
        self._topics_lock = threading.Lock()  # paho's thread and the reload thread both ask
        # Leaving: unsubscribe instead of subscribing, store what the session still holds,
        # then stop (see run()); the broker deals this member no further share.
        self.leaving = leave
        self.unsubscribed = threading.Event()
        self.subscribed = threading.Event()  # the broker acknowledged this session's SUBSCRIBE
        self.taken_over = threading.Event()  # a session ended right after it began
        self.look_again: Callable[[], None] | None = None  # raises one_session.AlreadyRunning
        self.refused: str | None = None  # why this collector gave way to another
        self._busy_at = time.monotonic()  # the worker's last batch: leaving waits for quiet
        self._leave_reported = time.monotonic()
        settings = spool or SpoolSettings.from_env()
        self.queue: Inbox[Inbound] = Inbox(settings.max_queue)
        self.receipts = ReceiptClock()  # paho's thread only
        self.spool_after_s = settings.spool_after_s
        self.spool: Spool | None = None
        self.collector_id = collector_id
        self.presence = one_session.Presence()
        self._who = one_session.who_topic(collector_id).encode()
        one_session.will(client, collector_id)
        self.clocks = DeviceClocks()  # the worker's only
        self._clocks_path = settings.directory(collector_id) / CLOCKS_FILE
        self._clocks_saved = time.monotonic()
        self._connected_since: dict[int, datetime] = {}  # generation → when it connected
        if settings.max_bytes > 0:
            self.spool = Spool(settings.directory(collector_id), settings.max_bytes)
            if self.spool.discarded_bytes:
                log.warning(
                    "spool: cut %d bytes of a batch torn by a crash (never acknowledged, "
                    "so the broker delivers it again)",
                    self.spool.discarded_bytes,
                )
            if self.spool.points:
                log.info("spool: %d points wait from before a restart", self.spool.points)
        self._spool_full_logged = False
        self._acked_early: set[int] = set()
        self._next_replay = 0.0
        self._replay_delay = RETRY_MIN_S
        self._status_at = 0.0
        self.stats = CollectorStats()
        self.stop_event = threading.Event()
        self.accepting = True
        self.generation = 0
        # The deployment and every hall's devices and cards in one (messages route by device),
        # swapped whole by the reload thread.
        empty = Registry()
        self._loaded = (Deployment((empty,)), empty)
        self._connected_at = float("-inf")  # monotonic time of the last accepted connection
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        if hasattr(client, "on_publishes"):  # a hallwatch.mqtt.BulkClient
            client.on_publishes = self._on_publishes
        client.on_unsubscribe = self._on_unsubscribe
        client.on_subscribe = self._on_subscribe

    # --- paho's network thread: no I/O, no exceptions out -------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self._connected_since[self.generation + 1] = datetime.now(UTC)
        self.generation += 1
        self.stats.connected = True
        self._connected_at = time.monotonic()
        with self._topics_lock:
            self.topics = self._wanted_topics()
            log.info(
                "connected to the broker (session present: %s), %s %d topics",
                flags.session_present,
                "unsubscribing from" if self.leaving else "subscribing to",
                len(self.topics),
            )
            if self.leaving:
                client.unsubscribe(list(self.topics))
            else:
                client.subscribe([(topic, 1) for topic in self.topics])
        client.subscribe(self._who.decode(), 0)
        one_session.announce(client, self.collector_id, self.presence)

    def _wanted_topics(self) -> tuple[str, ...]:
        """The filters the loaded registry needs, shared by the group if there is one."""
        topics = devices.subscriptions(self._loaded[1])
        return tuple(f"$share/{self.group}/{t}" if self.group else t for t in topics)

    def _follow_registry(self) -> None:
        """Subscribe to the topics a newly loaded registry adds, and leave those it dropped."""
        with self._topics_lock:
            wanted = self._wanted_topics()
            if wanted == self.topics or not self.stats.connected or self.leaving:
                return
            added = [t for t in wanted if t not in self.topics]
            dropped = [t for t in self.topics if t not in wanted]
            if added:
                self.client.subscribe([(topic, 1) for topic in added])
            if dropped:
                self.client.unsubscribe(dropped)
            self.topics = wanted
        log.info("registry changed the topics: %d added, %d dropped", len(added), len(dropped))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            log.error(
                "the broker refused %d of %d subscriptions: %s",
                len(refused),
                len(self.topics),
                refused[0],
            )
        self.subscribed.set()

    def _on_unsubscribe(self, client, userdata, mid, reason_codes, properties):
        log.info("leaving the group: unsubscribed; storing what the session still holds")
        self.unsubscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.stats.connected = False
        self.subscribed.clear()
        if self.stop_event.is_set():
            return
        log.warning("disconnected from the broker (%s); reconnecting", reason_code)
        if time.monotonic() - self._connected_at < TAKEN_OVER_S:
            self.taken_over.set()  # the worker looks who else is here (settle_takeover)
            log.warning(
                "the broker ended the session within %.0f s of its start: is another collector "
                "connecting as %r? Each collector needs its own HALLWATCH_COLLECTOR_ID",
                TAKEN_OVER_S,
                self.collector_id,
            )

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage):
        """One message from paho's own reader (a plain paho client): as a read of one."""
        try:
            topic = message.topic.encode()
        except UnicodeDecodeError:  # MQTT forbids it (Mosquitto refuses it); paho keeps no
            topic = UNREADABLE_TOPIC  # public copy of the bytes: kept as a rejection all the same
        publish = (topic, message.payload, message.qos, message.mid, message.retain)
        self._on_publishes(client, [publish])

    def _on_publishes(self, client, publishes: list[Publish]):
        """Every message of one socket read (BulkClient), in one hand-off to the worker."""
        try:
            if any(topic == self._who for topic, *_ in publishes):
                one_session.announce(client, self.collector_id, self.presence)
                publishes = [p for p in publishes if p[0] != self._who]
            if not self.accepting:
                return  # not acked: the broker redelivers them to the next session
            generation = self.generation
            self.queue.put_many(
                [
                    Inbound(_topic_text(topic), payload, qos, mid, generation, received, retain)
                    for (topic, payload, qos, mid, retain), received in zip(
                        publishes, self.receipts.times(len(publishes)), strict=True
                    )
                ]
            )
        except Exception:  # a dying network thread would stop all ingest
            log.exception("could not enqueue %d messages", len(publishes))

    # --- the worker --------------------------------------------------------------------

    def start(
        self, target_host: str, target_port: int, check_alone: Callable[[], None] | None = None
    ) -> None:
        """Read the registry (waiting until it can be read), then connect in the background
        (retrying even the first connection). Stopped while waiting, it never connects.
        `check_alone` raises if another process holds this session (one_session)."""
        self._load_clocks()
        self._ensure_database()
        if not self._wait_for_registry():
            return
        if check_alone is not None:
            check_alone()
        self.client.connect_async(target_host, target_port, keepalive=30)
        self.client.loop_start()
        threading.Thread(target=self._keep_registry_fresh, name="registry", daemon=True).start()

    def run(self) -> None:
        """Process batches until stop() is called, then drain and disconnect."""
        while not self.stop_event.is_set():
            batch = self._take_batch()
            if batch:
                self._process(batch)
                self._busy_at = time.monotonic()
            elif self._replay_due():
                self._try_replay()
            self._write_status()
            self._save_clocks()
            if self.leaving and self._has_left():
                break
            if self.taken_over.is_set():
                self._settle_takeover()
        self._drain()

    def stop(self) -> None:
        self.stop_event.set()

    def _settle_takeover(self) -> None:
        """Another process took our session: if it started first, give way to it."""
        self.taken_over.clear()
        if self.look_again is None:
            return
        try:
            self.look_again()
        except one_session.AlreadyRunning as exc:
            self.refused = str(exc)
            log.error("giving way: %s", exc)
            self.stop()
        except Exception:  # looking must never stop ingest
            log.exception("could not look who else holds this session")

    def _has_left(self) -> bool:
        """Unsubscribed, no batch for LEAVE_IDLE_S, nothing queued or spooled."""
        spooled = self.spool.points if self.spool is not None else 0
        if not self.unsubscribed.is_set():
            waiting = "the broker's UNSUBACK"
        elif spooled:
            waiting = f"{spooled} spooled points to reach InfluxDB"
        elif time.monotonic() - self._busy_at < LEAVE_IDLE_S or not self.queue.empty():
            waiting = "the session's last messages"
        else:
            return True
        if time.monotonic() - self._leave_reported >= LEAVE_REPORT_S:
            self._leave_reported = time.monotonic()
            log.info("leaving the group: waiting for %s", waiting)
        return False

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
        if self.refused is None:  # the `here` that stands now is the other collector's
            one_session.withdraw(self.client, self.collector_id)
        hang_up(self.client)
        self._save_clocks(force=True)
        log.info("collector stopped: %s", self.summary())

    def summary(self) -> str:
        s = self.stats
        return (
            f"{s.received} received, {s.written} written, {s.rejected} rejected, "
            f"{s.dead_lettered} refused by InfluxDB, {s.ignored} ignored, {s.dropped} dropped, "
            f"{s.placed_late} placed by their device's clock"
        )

    def _take_batch(self, wait: bool = True) -> list[Inbound]:
        if not wait:
            return self.queue.take(MAX_BATCH)
        return self.queue.take(MAX_BATCH, wait_s=FLUSH_INTERVAL_S, fill_s=FLUSH_INTERVAL_S)

    def _process(self, batch: list[Inbound], deadline: float | None = None) -> None:
        self.stats.received += len(batch)
        pairs = self._to_lines(batch)
        self._acked_early = set()
        self._store(pairs, deadline)
        self.stats.batches += 1
        self.stats.last_write = datetime.now(UTC)
        self._ack(batch)

    def _to_lines(self, batch: list[Inbound]) -> list[tuple[str, Inbound]]:
        deployment, registry = self._loaded
        pairs = []
        for message in batch:
            try:
                lines = self._message_lines(message, registry, deployment)
            except Exception as exc:  # a bug for one message must not stop the worker
                self.stats.internal_errors += 1
                log.exception("internal error converting a message from %s", message.topic)
                reason = f"internal error: {type(exc).__name__}: {exc}"
                lines = [self._rejection_line(message, reason, RejectionKind.INTERNAL_ERROR)]
            pairs += [(line, message) for line in lines]
        return pairs

    def _message_lines(
        self, message: Inbound, registry: Registry, deployment: Deployment
    ) -> list[str]:
        if isinstance(message.payload, CutPayload):  # over any device's limit: never converted
            size = message.payload.size
            reason = f"payload is {size} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit"
            reason += f"; its first {len(message.payload)} kept"
            return [self._rejection_line(message, reason, RejectionKind.TOO_LARGE)]
        result = converted(message.topic, message.payload, message.received, deployment, registry)
        if message.retained and not isinstance(result, Rejection):
            result = _still_news(result)
        if result is None:
            self.stats.ignored += 1
            return []
        try:
            if isinstance(result, Rejection):
                self._count_rejection(result.kind)
                return [rejection_point(result).to_line()]
            events = result if isinstance(result, tuple) else (result,)
            return [
                event_point(self._placed(e, message), card_holder(e, registry)).to_line()
                for e in events
            ]
        except LineProtocolError as exc:
            reason = f"cannot store: {exc}"
            return [self._rejection_line(message, reason, RejectionKind.UNSTORABLE)]

    def _placed(self, event: Event, message: Inbound) -> Event:
        """A live form's event at its receipt, or where its clock puts it if it waited."""
        if event.source not in PLACED_SOURCES:
            return event
        placement = self.clocks.place(
            event.device,
            reading_of(getattr(event, "device_time", None)),
            message.received,
            self._connected_since.get(message.generation),
            contact=event.source in CONTACT_SOURCES,
        )
        if not placement.late:
            return event
        self.stats.placed_late += 1
        return replace(event, at=placement.at)

    def _rejection_line(self, message: Inbound, reason: str, kind: RejectionKind) -> str:
        self._count_rejection(kind)
        return rejection_point(
            Rejection(message.topic, message.payload, reason[:1000], message.received, kind)
        ).to_line()

    def _count_rejection(self, kind: RejectionKind) -> None:
        self.stats.rejected += 1
        self.stats.rejected_by_kind[kind] = self.stats.rejected_by_kind.get(kind, 0) + 1

    def _store(self, pairs, deadline: float | None) -> None:
        """Write the batch to InfluxDB, or to the spool; return once it is safe to acknowledge."""
        if self.spool is not None and self.spool.points:
            # Behind what is already spooled, so InfluxDB gets points in arrival order.
            if self._replay_due():
                self._try_replay()
            if self.spool.points:
                pairs = self._spool_what_fits(pairs)
                if not pairs:
                    return
        self._write_until_stored(pairs, deadline)

    def _replay_due(self) -> bool:
        return (
            self.spool is not None
            and self.spool.points > 0
            and time.monotonic() >= self._next_replay
        )

    def _try_replay(self) -> bool:
        """Send the spool to InfluxDB oldest segment first; True when it is empty."""
        assert self.spool is not None
        began, points = time.monotonic(), self.spool.points
        try:
            while (segment := self.spool.oldest_segment()) is not None:
                lines = self.spool.lines_of(segment)
                for start in range(0, len(lines), MAX_BATCH):
                    chunk = lines[start : start + MAX_BATCH]
                    self._write([(line, None) for line in chunk])
                self.spool.remove(segment)
                self.stats.replayed += segment.points
                self._write_status(force=True)
        except (RetryableWriteError, OSError) as exc:  # OSError: the spool's disk
            self._outage(exc, self.spool.points)
            self._next_replay = time.monotonic() + self._replay_delay
            self._replay_delay = min(self._replay_delay * 2, RETRY_MAX_S)
            return False
        self._replay_delay = RETRY_MIN_S
        self._spool_full_logged = False
        self._back()
        log.info(
            "spool replayed: %d points in %.1f s (%d since start)",
            points,
            time.monotonic() - began,
            self.stats.replayed,
        )
        return True

    def _spool_what_fits(self, pairs):
        """Spool as much of the batch as fits (acknowledging it at once); return the rest."""
        assert self.spool is not None
        lines = [line for line, _ in pairs]
        fits = self.spool.fitting(lines)
        try:
            if fits and self.spool.append(lines[:fits]):
                self.stats.spooled += fits
                if fits < len(pairs):
                    self._ack_early([message for _, message in pairs[:fits]])
                self._write_status(force=True)
        except OSError as exc:  # disk full or failing: nothing acked, the broker keeps it
            fits = 0
            log.error("could not spool %d points: %s", len(lines), exc)
        if fits < len(pairs) and not self._spool_full_logged:
            log.error(
                "spool full (%d bytes): no longer acknowledging; the broker keeps the rest",
                self.spool.bytes,
            )
            self._spool_full_logged = True
        return pairs[fits:]

    def _ack_early(self, messages: list[Inbound]) -> None:
        """Acknowledge part of a batch now (it is spooled); `_ack` later skips these."""
        self._ack(messages)
        self._acked_early.update(id(message) for message in messages)

    def _should_spool(self, outage_began: float) -> bool:
        return self.spool is not None and (
            self.queue.full() or time.monotonic() - outage_began >= self.spool_after_s
        )

    def _outage(self, exc: Exception, held: int) -> None:
        self.stats.write_failures += 1
        self.stats.influx_error = str(exc)[:500]
        if self.stats.influx_ok:
            log.error("InfluxDB write failed, holding %d points: %s", held, exc)
            self.stats.influx_ok = False
            self._write_status(force=True)

    def _back(self) -> None:
        if not self.stats.influx_ok:
            log.info("InfluxDB is back; writing resumed")
            self.stats.influx_ok = True
            self.stats.influx_error = None
            self._write_status(force=True)

    def _write_until_stored(self, pairs, deadline: float | None) -> None:
        delay = RETRY_MIN_S
        began = time.monotonic()
        while True:
            try:
                if self.spool is not None and self.spool.points and not self._try_replay():
                    raise RetryableWriteError("spool replay failed")
                self._write(pairs)
                self._back()
                return
            except RetryableWriteError as exc:
                self._outage(exc, len(pairs))
            if self.spool is not None and (self._should_spool(began) or deadline is not None):
                pairs = self._spool_what_fits(pairs)
                if not pairs:
                    return
            self._write_status()
            now = time.monotonic()
            if deadline is not None and now + delay > deadline:
                raise Stopping()
            if deadline is None and self.stop_event.wait(delay):
                deadline = now + STOP_DRAIN_S  # asked to stop mid-outage: a last few tries
            delay = min(delay * 2, RETRY_MAX_S)

    def _write(self, pairs: list[tuple[str, Inbound | None]]) -> None:
        """Write, splitting oversized batches and isolating points InfluxDB refuses."""
        if not pairs:
            return
        try:
            self._timed_write([line for line, _ in pairs])
        except DatabaseMissing:
            self._ensure_database()
            self._timed_write([line for line, _ in pairs])
        except (BodyTooLarge, BadPointsError) as exc:
            if len(pairs) > 1:
                # Re-sending points that were already accepted overwrites them: safe.
                middle = len(pairs) // 2
                self._write(pairs[:middle])
                self._write(pairs[middle:])
            else:
                self._dead_letter(pairs[0][1], pairs[0][0], str(exc))

    def _timed_write(self, lines: list[str]) -> None:
        with self.stats.write_seconds.time():
            self.influx.write(lines)
        self.stats.written += len(lines)

    def _dead_letter(self, message: Inbound | None, line: str, reason: str) -> None:
        self.stats.dead_lettered += 1
        if message is None:  # replayed from the spool: the line is all that is left
            message = Inbound(SPOOL_SOURCE, line.encode(), 0, 0, 0, datetime.now(UTC))
        log.warning("InfluxDB refused a point from %s: %s", message.topic, reason)
        payload, why = message.payload, f"InfluxDB refused: {reason}"
        tries = [(payload, why)] + [
            (payload[:cut], f"{why}; payload of {len(payload)} bytes cut to {cut}")
            for cut in CUT_PAYLOAD_BYTES
        ]
        for kept, said in tries:
            try:
                self.influx.write(
                    [
                        rejection_point(
                            Rejection(
                                message.topic,
                                kept,
                                said,
                                message.received,
                                RejectionKind.UNSTORABLE,
                            )
                        ).to_line()
                    ]
                )
            except (BadPointsError, BodyTooLarge) as exc:
                error = exc
                continue
            if kept is not payload:
                log.warning("kept it with its payload cut to %d bytes to fit InfluxDB", len(kept))
            return
        self.stats.dropped += 1
        log.error("could not keep a refused message from %s either: %s", message.topic, error)

    def _ack(self, batch: list[Inbound]) -> None:
        generation, early = self.generation, self._acked_early
        # A message from an earlier connection has been or will be redelivered; its old
        # packet id means nothing on this connection.
        due = [
            message
            for message in batch
            if message.qos > 0 and message.generation == generation and id(message) not in early
        ]
        ack_many = getattr(self.client, "ack_many", None)  # hallwatch.mqtt.BulkClient
        if ack_many and all(message.qos == 1 for message in due):  # we subscribe at QoS 1
            ack_many([message.mid for message in due])
            return
        for message in due:
            self.client.ack(message.mid, message.qos)

    def _write_status(self, force: bool = False) -> None:
        """Rewrite status.json for /healthz now and then (never fails the worker)."""
        if self.spool is None or (
            not force and time.monotonic() - self._status_at < STATUS_INTERVAL_S
        ):
            return
        self._status_at = time.monotonic()
        s = self.stats
        status = {
            "pid": os.getpid(),
            "updated": datetime.now(UTC).isoformat(),
            "connected": s.connected,
            "influx_ok": s.influx_ok,
            "influx_error": s.influx_error,
            "registry_error": s.registry_error,
            "queued": self.queue.qsize(),
            "spool": self.spool.depth(),
            "counts": {
                "received": s.received,
                "written": s.written,
                "rejected": s.rejected,
                "dead_lettered": s.dead_lettered,
                "dropped": s.dropped,
                "spooled": s.spooled,
                "replayed": s.replayed,
                "internal_errors": s.internal_errors,
                "placed_late": s.placed_late,
            },
        }
        try:
            write_status(self.spool.directory, status)
        except OSError as exc:
            log.warning("could not write the collector status: %s", exc)

    def _ensure_database(self) -> None:
        try:
            self.influx.create_database()
        except Exception as exc:  # InfluxDB may be down at start; writes will retry
            log.warning("could not create InfluxDB database %r yet: %s", self.influx.database, exc)

    def _keep_registry_fresh(self) -> None:
        # Its own thread: with 10,000 desks a re-read takes 0.7 s, a pause ingest need not take.
        while not self.stop_event.wait(REGISTRY_RELOAD_S):
            self._reload_registry()

    def _wait_for_registry(self) -> bool:
        """Read the registry before taking any message: without it every event would be an
        "unknown device", rejected and acknowledged. False if asked to stop meanwhile."""
        delay = RETRY_MIN_S
        while not self.stop_event.is_set():
            try:
                self._use_registry(self.load_registry())
                return True
            except Exception as exc:
                self._registry_unreadable(exc, delay)
            self._write_status(force=True)
            self.stop_event.wait(delay)
            delay = min(delay * 2, REGISTRY_RELOAD_S)
        return False

    def _registry_unreadable(self, exc: Exception, delay: float) -> None:
        first = self.stats.registry_error is None
        self.stats.registry_error = f"cannot read the registry: {exc}"[:500]
        if first or delay >= REGISTRY_RELOAD_S:
            log.error(
                "cannot read the registry, so not taking messages from the broker yet "
                "(they wait in the session); retrying: %s",
                exc,
            )

    def _reload_registry(self) -> None:
        try:
            loaded = self.load_registry()
        except Exception as exc:  # keep converting with the registry we have
            log.warning("could not reload the registry, keeping the previous one: %s", exc)
            self.stats.registry_error = f"cannot reload the registry: {exc}"[:500]
            return
        self._use_registry(loaded)

    def _use_registry(self, loaded: Registry | Deployment) -> None:
        if self.stats.registry_error is not None:
            log.info("the registry can be read again")
            self.stats.registry_error = None
        if isinstance(loaded, Registry):
            loaded = Deployment((loaded,))
        registry = loaded.combined
        if registry != self._loaded[1]:
            log.info(
                "registry loaded: %d devices, %d staff", len(registry.devices), len(registry.staff)
            )
        self._loaded = (loaded, registry)
        self._follow_registry()

    def _load_clocks(self) -> None:
        try:
            saved = json.loads(self._clocks_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning(
                "could not read the device clocks learned before (%s): %s", exc, self._clocks_path
            )
            return
        if isinstance(saved, dict):
            log.info("device clocks: %d learned before", self.clocks.restore(saved))

    def _save_clocks(self, force: bool = False) -> None:
        """Keep what was learned of device clocks (for the backlog after a restart)."""
        if not force and time.monotonic() - self._clocks_saved < CLOCKS_SAVE_S:
            return
        self._clocks_saved = time.monotonic()
        path = self._clocks_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_suffix(".tmp")
            temp.write_text(json.dumps(self.clocks.snapshot()), encoding="utf-8")
            os.replace(temp, path)
        except OSError as exc:
            log.warning("could not save the device clocks: %s", exc)


def converted(
    topic: str, payload: bytes, received: datetime, deployment: Deployment, registry: Registry
) -> devices.Converted:
    """A message as the collector converts it: its device found among every hall's
    (`registry`, the combined one), its clock read in its own hall's time zone."""
    result = devices.convert(topic, payload, received, registry)
    hall = deployment.for_device(_device_of(result))
    if hall is not registry and hall.hall.tz != registry.hall.tz:
        result = devices.convert(topic, payload, received, hall)
    return result


def card_holder(event, registry: Registry) -> str | None:
    if isinstance(event, BadgeRead):
        holder = registry.holder_of(event.uid)
        return holder.id if holder else None
    return None


def _still_news(result: devices.Converted) -> devices.Converted:
    """What a retained message still says: a status describes the present; a card, a seat
    or a heartbeat sent again because we subscribed is old news (ESPHome retains its
    states, so a re-subscribed collector would read the last tag as a new tap)."""
    events = result if isinstance(result, tuple) else (result,)
    statuses = tuple(e for e in events if isinstance(e, DeviceStatus))
    if not statuses:
        return None
    return statuses if isinstance(result, tuple) else statuses[0]


def _device_of(result: object) -> str:
    if isinstance(result, tuple):
        return result[0].device if result else ""
    return getattr(result, "device", "")


def _topic_text(topic: bytes) -> str:
    try:
        return topic.decode("utf-8")
    except UnicodeDecodeError:  # kept, with the bad bytes shown, like any bad message
        return topic.decode("utf-8", "backslashreplace")
