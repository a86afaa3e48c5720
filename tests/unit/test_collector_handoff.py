"""The collector's batch hand-off from paho's thread to the worker."""

import queue
import threading

from collector.collector import _take_waiting


def test_take_waiting_stops_at_the_batch_limit():
    waiting = queue.Queue()
    for n in range(10):
        waiting.put(n)
    batch = [-1]
    assert _take_waiting(waiting, batch, limit=4)
    assert batch == [-1, 0, 1, 2]
    assert waiting.qsize() == 7
    assert not _take_waiting(waiting, batch, limit=4)


def test_take_waiting_on_an_empty_queue_takes_nothing():
    batch: list[int] = []
    assert not _take_waiting(queue.Queue(), batch, limit=5)
    assert batch == []


def test_take_waiting_frees_room_for_a_blocked_producer():
    waiting = queue.Queue(maxsize=2)
    waiting.put(1)
    waiting.put(2)
    producer = threading.Thread(target=waiting.put, args=(3,))
    producer.start()
    batch: list[int] = []
    _take_waiting(waiting, batch, limit=10)
    producer.join(timeout=5)
    assert not producer.is_alive()
    assert batch == [1, 2]
    assert waiting.get_nowait() == 3
