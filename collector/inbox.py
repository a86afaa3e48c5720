"""The collector's hand-off from paho's network thread to its worker: messages in bulk.

paho's thread puts every message of one socket read in one call; the worker takes up
to a batch at a time. A `queue.Queue` of single messages cost a lock, a notify and a
deque step per message each way (docs/BENCHMARKS.md, "The bulk hand-off").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

Message = TypeVar("Message")


class Inbox(Generic[Message]):
    """A bounded buffer of messages: `put_many` waits while `limit` or more are held.

    A put of several messages may take the count past the limit by less than one put:
    the bound is on memory, not exact.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._held: list[Message] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)

    def put_many(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        with self._lock:
            while len(self._held) >= self.limit:
                self._room.wait()
            self._held.extend(messages)
            self._arrived.notify()

    def take(self, most: int, wait_s: float = 0.0, fill_s: float = 0.0) -> list[Message]:
        """Up to `most` messages: waits up to `wait_s` for the first, then up to `fill_s`
        more for the batch to fill; an empty list when none came."""
        with self._lock:
            if not self._held and wait_s > 0:
                self._arrived.wait_for(lambda: self._held, timeout=wait_s)
            taken = self._take_held(most)
            if not taken:
                return taken
            deadline = time.monotonic() + fill_s
            while len(taken) < most:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._arrived.wait_for(
                    lambda: self._held, timeout=remaining
                ):
                    break
                taken += self._take_held(most - len(taken))
            return taken

    def _take_held(self, most: int) -> list[Message]:
        taken = self._held[:most]
        del self._held[:most]
        if taken:
            self._room.notify_all()
        return taken

    def qsize(self) -> int:
        return len(self._held)

    def empty(self) -> bool:
        return not self._held

    def full(self) -> bool:
        return len(self._held) >= self.limit


ONE_MICROSECOND = timedelta(microseconds=1)
_STEPS = tuple(timedelta(microseconds=k) for k in range(4_096))  # a 64 KiB read holds fewer


class ReceiptClock:
    """Receipt times, one per message, each at least a microsecond after the last.

    The messages of one socket read arrive at the same instant, but InfluxDB keeps one
    point per series and time: two rejected messages, or two events of a device that
    sends no time of its own, received alike would overwrite each other. Each gets the
    read's time plus its place in the read in microseconds, never before one given earlier.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def times(self, count: int) -> list[datetime]:
        start = max(datetime.now(UTC), self._last + ONE_MICROSECOND)
        steps = (
            _STEPS if count <= len(_STEPS) else [timedelta(microseconds=k) for k in range(count)]
        )
        times = [start + step for step in steps[:count]]
        if times:
            self._last = times[-1]
        return times
