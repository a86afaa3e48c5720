"""A converted batch to InfluxDB or, in an outage, to the disk spool (collector/spool.py).

Nothing is acknowledged before it is stored. A write that fails is retried with backoff;
an outage longer than `spool_after_s`, or one that fills the inbox, sends the batch to the
spool instead (fsynced, then acknowledged at once). While the spool holds anything, every
new batch goes behind it, so InfluxDB receives points in the order they came; the spool is
replayed oldest segment first, each deleted only after InfluxDB accepted it. A full spool
means no more acknowledgements: the broker keeps the rest, as without a spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from collector.inbox import Inbox
from collector.intake import Inbound
from collector.spool import Spool
from collector.status import CollectorStats, StatusFile
from collector.writer import MAX_BATCH, Lines, Writer
from hallwatch.influx.client import RetryableWriteError

log = logging.getLogger(__name__)

RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0
STOP_DRAIN_S = 10.0  # how long SIGTERM waits for the last batches


class Stopping(Exception):
    """Raised inside the retry loop when the collector was asked to stop."""


class Store:
    """Stores batches; `acked_early` names (by id) the messages of the batch being stored
    that were acknowledged already because they were spooled."""

    def __init__(
        self,
        writer: Writer,
        spool: Spool | None,
        spool_after_s: float,
        inbox: Inbox,
        ack: Callable[[list[Inbound], set[int]], None],  # Intake.ack
        stopping: threading.Event,
    ):
        self.writer = writer
        self.spool = spool
        self.spool_after_s = spool_after_s
        self.inbox = inbox
        self.ack = ack
        self.stopping = stopping
        self.stats: CollectorStats = writer.stats
        self.status: StatusFile = writer.status
        self.acked_early: set[int] = set()
        self._full_logged = False
        self._next_replay = 0.0
        self._replay_delay = RETRY_MIN_S

    def store(self, pairs: Lines, deadline: float | None) -> None:
        """Write the batch to InfluxDB, or to the spool; return once it is safe to acknowledge."""
        self.acked_early = set()
        if self.spool is not None and self.spool.points:
            # Behind what is already spooled, so InfluxDB gets points in arrival order.
            if self.replay_due():
                self.replay()
            if self.spool.points:
                pairs = self._spool_what_fits(pairs)
                if not pairs:
                    return
        self._write_until_stored(pairs, deadline)

    def replay_due(self) -> bool:
        return (
            self.spool is not None
            and self.spool.points > 0
            and time.monotonic() >= self._next_replay
        )

    def replay(self) -> bool:
        """Send the spool to InfluxDB oldest segment first; True when it is empty."""
        assert self.spool is not None
        began, points = time.monotonic(), self.spool.points
        try:
            while (segment := self.spool.oldest_segment()) is not None:
                lines = self.spool.lines_of(segment)
                for start in range(0, len(lines), MAX_BATCH):
                    chunk = lines[start : start + MAX_BATCH]
                    self.writer.write([(line, None) for line in chunk])
                self.spool.remove(segment)
                self.stats.replayed += segment.points
                self.status.write(force=True)
        except (RetryableWriteError, OSError) as exc:  # OSError: the spool's disk
            self.writer.outage(exc, self.spool.points)
            self._next_replay = time.monotonic() + self._replay_delay
            self._replay_delay = min(self._replay_delay * 2, RETRY_MAX_S)
            return False
        self._replay_delay = RETRY_MIN_S
        self._full_logged = False
        self.writer.back()
        log.info(
            "spool replayed: %d points in %.1f s (%d since start)",
            points,
            time.monotonic() - began,
            self.stats.replayed,
        )
        return True

    def _write_until_stored(self, pairs: Lines, deadline: float | None) -> None:
        delay = RETRY_MIN_S
        began = time.monotonic()
        while True:
            try:
                if self.spool is not None and self.spool.points and not self.replay():
                    raise RetryableWriteError("spool replay failed")
                self.writer.write(pairs)
                self.writer.back()
                return
            except RetryableWriteError as exc:
                self.writer.outage(exc, len(pairs))
            if self.spool is not None and (self._should_spool(began) or deadline is not None):
                pairs = self._spool_what_fits(pairs)
                if not pairs:
                    return
            self.status.write()
            now = time.monotonic()
            if deadline is not None and now + delay > deadline:
                raise Stopping()
            if deadline is None and self.stopping.wait(delay):
                deadline = now + STOP_DRAIN_S  # asked to stop mid-outage: a last few tries
            delay = min(delay * 2, RETRY_MAX_S)

    def _should_spool(self, outage_began: float) -> bool:
        return self.spool is not None and (
            self.inbox.full() or time.monotonic() - outage_began >= self.spool_after_s
        )

    def _spool_what_fits(self, pairs: Lines) -> Lines:
        """Spool as much of the batch as fits (acknowledging it at once); return the rest."""
        assert self.spool is not None
        lines = [line for line, _ in pairs]
        fits = self.spool.fitting(lines)
        try:
            if fits and self.spool.append(lines[:fits]):
                self.stats.spooled += fits
                if fits < len(pairs):
                    self._ack_early([message for _, message in pairs[:fits]])
                self.status.write(force=True)
        except OSError as exc:  # disk full or failing: nothing acked, the broker keeps it
            fits = 0
            log.error("could not spool %d points: %s", len(lines), exc)
        if fits < len(pairs) and not self._full_logged:
            log.error(
                "spool full (%d bytes): no longer acknowledging; the broker keeps the rest",
                self.spool.bytes,
            )
            self._full_logged = True
        return pairs[fits:]

    def _ack_early(self, messages: list[Inbound]) -> None:
        """Acknowledge part of a batch now (it is spooled); the batch's ack skips these."""
        self.ack(messages, self.acked_early)
        self.acked_early.update(id(message) for message in messages)
