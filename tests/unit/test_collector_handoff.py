"""The collector's hand-off from paho's thread to the worker (collector.inbox)."""

import threading
import time
from datetime import UTC, timedelta
from itertools import pairwise

from collector.inbox import Inbox, ReceiptClock


def test_take_stops_at_the_batch_limit_and_keeps_the_order():
    inbox = Inbox(limit=100)
    inbox.put_many(range(10))
    assert inbox.take(4) == [0, 1, 2, 3]
    assert inbox.qsize() == 6
    assert inbox.take(100) == [4, 5, 6, 7, 8, 9]
    assert inbox.empty()


def test_take_from_an_empty_inbox_waits_no_longer_than_asked():
    inbox = Inbox(limit=5)
    began = time.monotonic()
    assert inbox.take(5, wait_s=0.05) == []
    assert time.monotonic() - began < 2


def test_take_waits_for_the_batch_to_fill():
    inbox = Inbox(limit=100)
    inbox.put_many([1])
    later = threading.Timer(0.05, inbox.put_many, args=([2, 3],))
    later.start()
    assert inbox.take(3, wait_s=1, fill_s=5) == [1, 2, 3]  # full: returns before fill_s
    later.join()


def test_a_full_inbox_holds_the_producer_until_the_worker_takes():
    inbox = Inbox(limit=2)
    inbox.put_many([1, 2])
    assert inbox.full()
    producer = threading.Thread(target=inbox.put_many, args=([3],))
    producer.start()
    producer.join(timeout=0.1)
    assert producer.is_alive()  # waiting for room
    assert inbox.take(10) == [1, 2]
    producer.join(timeout=5)
    assert not producer.is_alive()
    assert inbox.take(10) == [3]


def test_receipt_times_never_repeat_within_a_read_or_across_reads():
    clock = ReceiptClock()
    first = clock.times(5_000)  # more than a 64 KiB read can hold
    second = clock.times(3)
    times = first + second
    assert all(later - earlier >= timedelta(microseconds=1) for earlier, later in pairwise(times))
    assert clock.times(0) == []
    assert first[0].tzinfo is UTC
