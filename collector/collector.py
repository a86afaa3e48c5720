"""MQTT → InfluxDB ingest with at-least-once delivery and idempotent writes.

paho's network thread only enqueues (collector/intake.py). One worker takes messages in
batches, converts them (conversion.py), stores them in InfluxDB or, in an outage, the disk
spool (store.py, writer.py, spool.py), and only then acknowledges them to the broker
(manual acks on a persistent QoS 1 session). If InfluxDB is down nothing is acknowledged
until the batch is stored, so the broker keeps the rest; the inbox is bounded, so memory
is too. Messages InfluxDB will never accept (a bad point) are kept in `hw_rejected` with
the reason, then acked.

Topics follow the registry (devices.subscriptions): a new Zigbee2MQTT base topic, Tasmota
layout or ESPHome node is subscribed when the registry that names it is loaded. Zigbee2MQTT
and Tasmota events take the receipt time, except a message that waited in the broker:
devices.clocks places it by the device's clock as learned while live, and what it learned
is kept in `clocks.json` beside the spool, so the backlog after a restart is placed too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from collector import one_session
from collector.conversion import Conversion
from collector.intake import Inbound, Intake
from collector.spool import Spool, SpoolSettings
from collector.status import CollectorStats, StatusFile
from collector.store import RETRY_MIN_S, STOP_DRAIN_S, Stopping, Store
from collector.writer import MAX_BATCH, Writer
from devices.clocks import DeviceClocks
from hallwatch.influx.client import InfluxClient
from hallwatch.mqtt import hang_up
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.spec import Registry

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.2  # longest a message waits for its batch to fill
REGISTRY_RELOAD_S = 10.0
LEAVE_IDLE_S = 2.0  # leaving a group: done once nothing came for this long after UNSUBACK
LEAVE_REPORT_S = 10.0  # how often a leaving collector says what it still waits for
CLOCKS_FILE = "clocks.json"  # what the collector learned of device clocks, beside its spool
CLOCKS_SAVE_S = 60.0  # how often it is saved (and at stop)


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
        self.collector_id = collector_id
        settings = spool or SpoolSettings.from_env()
        self.stats = CollectorStats()
        self.stop_event = threading.Event()
        # Leaving: unsubscribe instead of subscribing, store what the session still holds,
        # then stop (see run()).
        self.intake = Intake(
            client, collector_id, self.stats, settings.max_queue, group, leave, self.stop_event
        )
        self.queue = self.intake.queue
        self.subscribed = self.intake.subscribed
        self.presence = self.intake.presence
        self.look_again: Callable[[], None] | None = None  # raises one_session.AlreadyRunning
        self.refused: str | None = None  # why this collector gave way to another
        self._busy_at = time.monotonic()  # the worker's last batch: leaving waits for quiet
        self._leave_reported = time.monotonic()
        self.spool = _open_spool(settings, collector_id)
        self.status = StatusFile(self.stats, self.queue, self.spool)
        self.writer = Writer(influx, self.stats, self.status)
        self.store = Store(
            self.writer,
            self.spool,
            settings.spool_after_s,
            self.queue,
            self.intake.ack,
            self.stop_event,
        )
        self.clocks = DeviceClocks()  # the worker's only
        self._clocks_path = settings.directory(collector_id) / CLOCKS_FILE
        self._clocks_saved = time.monotonic()
        self.conversion = Conversion(self.stats, self.clocks, self.intake.connected_since)
        # The deployment and every hall's devices and cards in one (messages route by device),
        # swapped whole by the reload thread.
        empty = Registry()
        self._loaded = (Deployment((empty,)), empty)

    @property
    def topics(self) -> tuple[str, ...]:
        """What the broker was asked for on this connection."""
        return self.intake.topics

    def start(
        self, target_host: str, target_port: int, check_alone: Callable[[], None] | None = None
    ) -> None:
        """Read the registry (waiting until it can be read), then connect in the background
        (retrying even the first connection). Stopped while waiting, it never connects.
        `check_alone` raises if another process holds this session (one_session)."""
        self._load_clocks()
        self.writer.ensure_database()
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
            elif self.store.replay_due():
                self.store.replay()
            self.status.write()
            self._save_clocks()
            if self.intake.leaving and self._has_left():
                break
            if self.intake.taken_over.is_set():
                self._settle_takeover()
        self._drain()

    def stop(self) -> None:
        self.stop_event.set()

    def _settle_takeover(self) -> None:
        """Another process took our session: if it started first, give way to it."""
        self.intake.taken_over.clear()
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
        if not self.intake.unsubscribed.is_set():
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
        self.intake.accepting = False
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
        log.info("collector stopped: %s", self.stats.summary())

    def _take_batch(self, wait: bool = True) -> list[Inbound]:
        if not wait:
            return self.queue.take(MAX_BATCH)
        return self.queue.take(MAX_BATCH, wait_s=FLUSH_INTERVAL_S, fill_s=FLUSH_INTERVAL_S)

    def _process(self, batch: list[Inbound], deadline: float | None = None) -> None:
        self.stats.received += len(batch)
        pairs = self.conversion.lines(batch, *self._loaded)
        self.store.store(pairs, deadline)
        self.stats.batches += 1
        self.stats.last_write = datetime.now(UTC)
        self.intake.ack(batch, self.store.acked_early)

    # --- the registry ------------------------------------------------------------------

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
            self.status.write(force=True)
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
        self.intake.follow(registry)

    # --- clocks.json -------------------------------------------------------------------

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


def _open_spool(settings: SpoolSettings, collector_id: str) -> Spool | None:
    """The collector's disk spool as a crash left it, or None when spooling is off."""
    if settings.max_bytes <= 0:
        return None
    spool = Spool(settings.directory(collector_id), settings.max_bytes)
    if spool.discarded_bytes:
        log.warning(
            "spool: cut %d bytes of a batch torn by a crash (never acknowledged, "
            "so the broker delivers it again)",
            spool.discarded_bytes,
        )
    if spool.points:
        log.info("spool: %d points wait from before a restart", spool.points)
    return spool
