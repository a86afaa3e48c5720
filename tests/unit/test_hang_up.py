"""Stopping a client whose network thread ends by itself, at paho's worst moment.

After `disconnect()` paho's network thread leaves its loop and clears the client's thread
(`_thread = None`). If that falls between `loop_stop`'s `if self._thread is None` and its
`self._thread.join()`, paho 2.2 raises AttributeError; a collector stopping on SIGTERM
exited 1 this way once in a full run. The interleaving is forced here against paho's own
`loop_stop`, with the thread seen once and then gone.
"""

import threading

import paho.mqtt.client as mqtt
import pytest

from hallwatch.mqtt import hang_up


class ThreadEndsDuringLoopStop(mqtt.Client):
    """A client whose network thread is there at loop_stop's check and gone at its join."""

    def __init__(self) -> None:
        super().__init__(mqtt.CallbackAPIVersion.VERSION2)
        self._reads: list[threading.Thread | None] = [threading.Thread(), None]

    @property
    def _thread(self):  # paho's own name: its loop_stop reads it twice
        return self._reads.pop(0) if self._reads else None

    @_thread.setter
    def _thread(self, value) -> None:
        pass


def test_paho_raises_when_the_thread_ends_between_check_and_join():
    with pytest.raises(AttributeError):
        ThreadEndsDuringLoopStop().loop_stop()


def test_hang_up_stops_the_client_all_the_same():
    hang_up(ThreadEndsDuringLoopStop())  # no exception: the thread is stopped as asked
