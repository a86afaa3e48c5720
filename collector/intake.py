"""The collector's side of the broker: paho's callbacks, which only enqueue (no I/O, no
exception out of paho's network thread), the subscriptions the registry asks for, and the
acknowledgements the worker sends once a batch is stored."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

import devices
from collector import one_session
from collector.inbox import Inbox, ReceiptClock
from collector.status import CollectorStats
from hallwatch.mqtt import Publish
from hallwatch.registry.spec import Registry

log = logging.getLogger(__name__)

# A session the broker ends this soon after it began was most likely taken over by another
# process connecting with the same client id (MQTT-3.1.4-2): the two evict each other.
TAKEN_OVER_S = 5.0
UNREADABLE_TOPIC = b"(a topic that is not UTF-8)"  # in place of one paho's reader cannot show


@dataclass(slots=True)
class Inbound:
    topic: str
    payload: bytes
    qos: int
    mid: int
    generation: int
    received: datetime
    retained: bool = False  # a stored message re-sent because we subscribed: old news


class Intake:
    """Messages from the broker into the inbox, each tagged with its connection."""

    def __init__(
        self,
        client: mqtt.Client,
        collector_id: str,
        stats: CollectorStats,
        inbox_limit: int,
        group: str | None,
        leaving: bool,
        stopping: threading.Event,
    ):
        self.client = client
        self.collector_id = collector_id
        self.stats = stats
        self.group = group
        # Leaving: unsubscribe instead of subscribing; the broker deals this member no more.
        self.leaving = leaving
        self.stopping = stopping
        self.queue: Inbox[Inbound] = Inbox(inbox_limit)
        self.receipts = ReceiptClock()  # paho's thread only
        self.topics: tuple[str, ...] = ()  # what the broker was asked for on this connection
        self._topics_lock = threading.Lock()  # paho's thread and the reload thread both ask
        self.registry = Registry()  # the combined registry the topics follow
        self.unsubscribed = threading.Event()
        self.subscribed = threading.Event()  # the broker acknowledged this session's SUBSCRIBE
        self.taken_over = threading.Event()  # a session ended right after it began
        self.presence = one_session.Presence()
        self._who = one_session.who_topic(collector_id).encode()
        one_session.will(client, collector_id)
        self.accepting = True
        self.generation = 0
        self.connected_since: dict[int, datetime] = {}  # generation → when it connected
        self._connected_at = float("-inf")  # monotonic time of the last accepted connection
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        if hasattr(client, "on_publishes"):  # a hallwatch.mqtt.BulkClient
            client.on_publishes = self._on_publishes
        client.on_unsubscribe = self._on_unsubscribe
        client.on_subscribe = self._on_subscribe

    def follow(self, registry: Registry) -> None:
        """Subscribe to the topics a newly loaded registry adds, and leave those it dropped."""
        with self._topics_lock:
            self.registry = registry
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

    def ack(self, batch: list[Inbound], done_already: set[int]) -> None:
        """Acknowledge a stored batch, but for the messages (by id) in `done_already`."""
        generation = self.generation
        # A message from an earlier connection has been or will be redelivered; its old
        # packet id means nothing on this connection.
        due = [
            message
            for message in batch
            if message.qos > 0
            and message.generation == generation
            and id(message) not in done_already
        ]
        ack_many = getattr(self.client, "ack_many", None)  # hallwatch.mqtt.BulkClient
        if ack_many and all(message.qos == 1 for message in due):  # we subscribe at QoS 1
            ack_many([message.mid for message in due])
            return
        for message in due:
            self.client.ack(message.mid, message.qos)

    def _wanted_topics(self) -> tuple[str, ...]:
        """The filters the registry needs, shared by the group if there is one."""
        topics = devices.subscriptions(self.registry)
        return tuple(f"$share/{self.group}/{t}" if self.group else t for t in topics)

    # --- paho's network thread ---------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self.connected_since[self.generation + 1] = datetime.now(UTC)
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
        if self.stopping.is_set():
            return
        log.warning("disconnected from the broker (%s); reconnecting", reason_code)
        if time.monotonic() - self._connected_at < TAKEN_OVER_S:
            self.taken_over.set()  # the worker looks who else is here (Collector)
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


def _topic_text(topic: bytes) -> str:
    try:
        return topic.decode("utf-8")
    except UnicodeDecodeError:  # kept, with the bad bytes shown, like any bad message
        return topic.decode("utf-8", "backslashreplace")
