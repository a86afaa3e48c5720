"""When did a Zigbee2MQTT or Tasmota event happen? The receipt time, placed right after outages.

Zigbee2MQTT and Tasmota publish live, so an event's time is when HallWatch
received it (docs/DEVICES.md), and their own clock readings are kept beside it
(`device_time`): Zigbee2MQTT's `last_seen` repeats the earlier message's value
on the `occupancy: false` it generates after a PIR's timeout, and Tasmota's
`Time` is in whatever time zone the device was given (stock firmware: a fixed UTC+1).

Receipt is late when a message waited in the broker: the collector was down
and its persistent session queued the messages, or a hall's bridge link was
down. Stamping such a backlog with the moment it was delivered would move a
morning's events to the minute the collector came back. So each device's clock
is learned while live, and a message that evidently waited is placed where its
own clock puts it:

- **Learning.** A live reading gives the delay `received - reading`. A device's
  offset is the least delay of its last OFFSET_SAMPLES live readings (network and
  broker only add delay, so the least is the truest); it absorbs a wrong time
  zone or a clock that is minutes off alike. A Zigbee2MQTT reading equal to the
  device's previous one is not a new contact with the device (it is
  Zigbee2MQTT's own timeout message): it teaches the *repeat delay* instead, how
  long after the contact Zigbee2MQTT publishes it (its occupancy_timeout).
- **Expected receipt.** reading + offset, + the repeat delay for a repeat
  (DEFAULT_REPEAT_DELAY, Zigbee2MQTT's default occupancy_timeout, until learned).
- **Queued while the collector was away**: the expected receipt is before the
  collector's current connection began. It takes its expected receipt. With no
  offset learned yet, a reading that carries its own offset (ISO with offset,
  epoch) counts as offset 0 for this; a naive one (Tasmota's `Time`) cannot be
  placed and takes the receipt time.
- **Waited in a bridge's queue**: expected more than LATE_AFTER before the
  receipt, on a live connection. It takes its expected receipt too, unless a
  device's messages have all looked late for RELEARN_AFTER: then it is its clock
  that moved back, and the offset is learned anew.
- Anything else takes its receipt time. Nothing is placed after its receipt, nor
  more than MAX_BACKLOG before it (a clock that restarted at 1970 is not a backlog).

Learned offsets are kept across restarts by the collector (`snapshot` and
`restore`), so the backlog after a restart is placed by what was learned before.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from devices.timestamps import TimestampError, read_clock

_EPOCH_TEXT = re.compile(r"-?[0-9]+(\.[0-9]*)?")

OFFSET_SAMPLES = 20  # live readings a device's offset is the least delay of
LATE_AFTER = timedelta(minutes=2)  # later than expected by this much: it waited somewhere
RELEARN_AFTER = timedelta(minutes=10)  # late this long without a break: the clock moved
CONNECT_TOLERANCE = timedelta(seconds=2)  # expected this much before connecting: queued
MAX_BACKLOG = timedelta(days=7)  # a backlog older than this is a wrong clock, not a queue
DEFAULT_REPEAT_DELAY = timedelta(seconds=90)  # Zigbee2MQTT's default occupancy_timeout
MAX_REPEAT_DELAY = timedelta(hours=1)  # a longer gap is not a timeout message
_ZERO = timedelta(0)
PLACED_SOURCES = ("zigbee2mqtt", "tasmota")  # forms whose events take the receipt time
CONTACT_SOURCES = ("zigbee2mqtt",)  # readings that are the last contact, not a clock


@dataclass(frozen=True, slots=True)
class Reading:
    """A device's clock reading: its instant (naive readings read as UTC) and whether it
    carried its own offset (ISO with offset, epoch) or is in an unknown zone."""

    at: datetime
    absolute: bool


def reading_of(device_time: str | None) -> Reading | None:
    """The reading a `device_time` kept as written stands for (None: not a time)."""
    if not device_time:
        return None
    text = device_time.strip()
    value: object = text
    if _EPOCH_TEXT.fullmatch(text):  # kept as text, written by the device as a number
        value = float(text) if "." in text else int(text)
    try:
        return Reading(*read_clock(value))
    except (TimestampError, OverflowError):
        return None


@dataclass
class _Clock:
    delays: deque[timedelta] = field(default_factory=lambda: deque(maxlen=OFFSET_SAMPLES))
    last_reading: datetime | None = None
    repeat_delay: timedelta | None = None
    late_since: datetime | None = None  # the receipt of the first of a run of late messages

    @property
    def offset(self) -> timedelta | None:
        return min(self.delays) if self.delays else None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an event goes: `at`, and whether it was late (placed by its own clock)."""

    at: datetime
    late: bool = False


class DeviceClocks:
    """What the collector has learned of each device's clock; places events by it."""

    def __init__(self) -> None:
        self._clocks: dict[str, _Clock] = {}

    def place(
        self,
        device: str,
        reading: Reading | None,
        received: datetime,
        connected: datetime | None = None,
        contact: bool = False,
    ) -> Placement:
        """Where to put an event received at `received` on a connection begun at `connected`.

        `contact`: the reading is the device's last contact (Zigbee2MQTT's last_seen), so a
        repeat of the previous reading is a message Zigbee2MQTT generated itself.
        """
        if reading is None:
            return Placement(received)
        clock = self._clocks.get(device)
        if clock is None:
            clock = self._clocks[device] = _Clock()
        repeat = contact and clock.last_reading == reading.at
        clock.last_reading = reading.at
        offset = clock.offset
        if offset is None and not (reading.absolute and connected is not None):
            self._learn(clock, reading, received, repeat, offset)
            return Placement(received)
        expected = reading.at + (offset or _ZERO)
        if repeat:
            expected += clock.repeat_delay or DEFAULT_REPEAT_DELAY
        if not _ZERO < received - expected <= MAX_BACKLOG:
            self._learn(clock, reading, received, repeat, offset)
            return Placement(received)
        if connected is not None and expected < connected - CONNECT_TOLERANCE:
            return Placement(expected, late=True)  # queued for us while we were away
        if offset is not None and self._waited(clock, received - expected, received, repeat):
            return Placement(expected, late=True)
        self._learn(clock, reading, received, repeat, offset)
        return Placement(received)

    def _waited(self, clock: _Clock, lateness: timedelta, received: datetime, repeat: bool) -> bool:
        """Late on a live connection: queued on the way (True), or its clock moved back."""
        if lateness <= LATE_AFTER or (repeat and clock.repeat_delay is None):
            clock.late_since = None
            return False
        if clock.late_since is None:
            clock.late_since = received
        if received - clock.late_since < RELEARN_AFTER:
            return True
        clock.delays.clear()  # late for too long to be a queue: learn the clock anew
        clock.late_since = None
        return False

    def _learn(
        self,
        clock: _Clock,
        reading: Reading,
        received: datetime,
        repeat: bool,
        offset: timedelta | None,
    ) -> None:
        if not repeat:
            clock.delays.append(received - reading.at)
            return
        if offset is not None:
            delay = received - (reading.at + offset)
            if _ZERO <= delay <= MAX_REPEAT_DELAY:
                clock.repeat_delay = delay

    def offset(self, device: str) -> timedelta | None:
        """The device's learned offset (receipt minus reading), None when not learned."""
        clock = self._clocks.get(device)
        return clock.offset if clock else None

    def snapshot(self) -> dict[str, dict]:
        """What was learned, as JSON-ready values (milliseconds and ISO times)."""
        return {
            device: {
                "offset_ms": _ms(clock.offset),
                "repeat_delay_ms": _ms(clock.repeat_delay),
                "last_reading": clock.last_reading.isoformat() if clock.last_reading else None,
            }
            for device, clock in self._clocks.items()
            if clock.offset is not None
        }

    def restore(self, saved: dict[str, dict]) -> int:
        """Take back a snapshot (entries that do not read are skipped); returns how many."""
        taken = 0
        for device, entry in saved.items():
            try:
                clock = _Clock()
                clock.delays.append(timedelta(milliseconds=entry["offset_ms"]))
                if entry.get("repeat_delay_ms") is not None:
                    clock.repeat_delay = timedelta(milliseconds=entry["repeat_delay_ms"])
                if entry.get("last_reading"):
                    clock.last_reading = datetime.fromisoformat(entry["last_reading"])
            except (KeyError, TypeError, ValueError, OverflowError):
                continue
            self._clocks[device] = clock
            taken += 1
        return taken


def _ms(delta: timedelta | None) -> int | None:
    return None if delta is None else round(delta / timedelta(milliseconds=1))
