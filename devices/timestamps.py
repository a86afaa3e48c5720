"""Device clock readings → aware UTC instants, under one clock policy.

Forms a reading may take (native `ts`, Zigbee2MQTT `last_seen`, Tasmota `Time`
or `Epoch`):

- an ISO-8601 string with a time of day; without an offset it is hall time
  (`registry.hall.tz`). A bare date is refused: it names a day, not an instant;
- a number of epoch seconds, or of epoch milliseconds when its magnitude is
  above EPOCH_MS_THRESHOLD (1e11 s is the year 5138, 1e11 ms is March 1973, so
  the two cannot be confused for any clock worth trusting);
- missing (None): the time of receipt.

Booleans are not numbers, and NaN or infinities are not times.

Clock policy. Device clocks drift, restart at 1970 until NTP answers (Tasmota
does exactly that), or are set by hand to the wrong year. A reading more than
MAX_FUTURE_SKEW after the time of receipt, or more than MAX_BACKLOG_AGE before
it, is not trusted: the event takes the receipt time as `at` and keeps the
device's reading, as written, in `device_time` so nothing is lost. Readings
inside that window are trusted, so a backlog (a persistent session delivering
what arrived while the collector was down, a device replaying its own spool)
keeps its true times. A reading too far out to be a date at all (beyond the
years 1–9999) is treated the same way: an untrusted clock, not a bad payload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

MAX_FUTURE_SKEW = timedelta(minutes=5)  # a device clock this far ahead of receipt is wrong
MAX_BACKLOG_AGE = timedelta(days=30)  # a reading older than this at receipt is a wrong clock
EPOCH_MS_THRESHOLD = 1e11  # epoch numbers larger than this (in magnitude) are milliseconds
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EXPECTED = "must be an ISO-8601 date and time or a number of epoch seconds or milliseconds"


class TimestampError(ValueError):
    """A reading that is not a time at all (wrong type, or not ISO-8601)."""


class _Unrepresentable(TimestampError):
    """A well-formed reading outside the range a datetime can hold."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """When an event happened: `at` (aware, UTC) and the distrusted device reading, if any."""

    at: datetime
    device_time: str | None = None


def stamp(reading: object, received: datetime, tz: tzinfo) -> Stamp:
    """Apply the forms and the clock policy above to one reading; raises TimestampError."""
    if received.tzinfo is not UTC:
        received = received.astimezone(UTC)
    if reading is None:
        return Stamp(received)
    try:
        at = parse_reading(reading, tz)
    except _Unrepresentable:
        return Stamp(received, _as_written(reading))
    if not trusted(at, received):
        return Stamp(received, _as_written(reading))
    return Stamp(at)


def parse_reading(reading: object, tz: tzinfo) -> datetime:
    """One clock reading → aware UTC datetime, with no policy applied; without an offset
    it is a time in `tz`."""
    at, absolute = read_clock(reading)
    return at if absolute else _utc(at.replace(tzinfo=tz))


def read_clock(reading: object) -> tuple[datetime, bool]:
    """One clock reading as (instant, absolute): ISO-8601 without an offset comes back as
    its wall time taken as UTC, with absolute False (its zone is not known here)."""
    if isinstance(reading, bool):
        raise TimestampError(f"{EXPECTED}, not {str(reading).lower()}")
    if isinstance(reading, int | float):
        return _from_epoch(reading), True
    if isinstance(reading, str):
        return _from_iso(reading)
    raise TimestampError(f"{EXPECTED}, not {type(reading).__name__}")


def trusted(at: datetime, received: datetime) -> bool:
    """Whether a device's time is close enough to the receipt time to be believed."""
    return -MAX_BACKLOG_AGE <= at - received <= MAX_FUTURE_SKEW


def _from_epoch(number: int | float) -> datetime:
    if isinstance(number, float) and not math.isfinite(number):
        raise TimestampError(f"{EXPECTED}, not {number}")
    try:
        if isinstance(number, int):  # exact; and a third faster than the keywords below
            per_unit = 1_000 if abs(number) > EPOCH_MS_THRESHOLD else 1_000_000
            return EPOCH + timedelta(0, 0, number * per_unit)
        if abs(number) > EPOCH_MS_THRESHOLD:
            return EPOCH + timedelta(milliseconds=number)
        return EPOCH + timedelta(seconds=number)
    except (OverflowError, ValueError) as exc:
        raise _Unrepresentable from exc


def _from_iso(text: str) -> tuple[datetime, bool]:
    cleaned = text.strip()
    # fromisoformat also takes a bare date (midnight); a reading must name a time of day.
    if "T" not in cleaned.upper() and " " not in cleaned:
        raise TimestampError(f"{EXPECTED}, not {_quoted(text)}")
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError as exc:
        raise TimestampError(f"{EXPECTED}, not {_quoted(text)}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC), False
    return _utc(parsed), True


def _utc(at: datetime) -> datetime:
    try:
        return at.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise _Unrepresentable from exc


def _as_written(reading: object) -> str:
    return reading if isinstance(reading, str) else str(reading)


def _quoted(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
