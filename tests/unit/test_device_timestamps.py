"""Device clocks: the times native payloads carry, and the timestamps module that trusts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from devices import timestamps
from tests.unit.device_payloads import (
    NATIVE_SEAT,
    RECEIVED,
    RECEIVED_EPOCH_S,
    TZ,
    hall_time,
    native_event,
    rejected,
)

# ---------------------------------------------------------------- timestamps through native


def presence_at(registry, ts, received=RECEIVED):
    payload = {"type": "presence", "occupied": True, "ts": ts}
    return native_event(registry, NATIVE_SEAT, payload, received=received)


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-11-23T09:01:12+08:00", hall_time("09:01", 12)),
        ("2026-11-23T01:01:12Z", hall_time("09:01", 12)),
        ("2026-11-23T09:01:12", hall_time("09:01", 12)),  # no offset: hall time
        ("2026-11-23 09:01:12", hall_time("09:01", 12)),
        ("2026-11-23T09:01:12.250", hall_time("09:01", 12) + timedelta(milliseconds=250)),
        (1795395672, hall_time("09:01", 12)),  # epoch seconds
        (1795395672.5, hall_time("09:01", 12) + timedelta(milliseconds=500)),
        (1795395672123, hall_time("09:01", 12) + timedelta(milliseconds=123)),  # epoch ms
    ],
)
def test_ts_forms(registry, ts, expected):
    event = presence_at(registry, ts)
    assert (event.at, event.device_time) == (expected, None)
    assert event.at.tzinfo == UTC


def test_a_missing_or_null_ts_is_the_time_of_receipt(registry):
    assert presence_at(registry, None).at == RECEIVED
    event = native_event(registry, NATIVE_SEAT, {"type": "presence", "occupied": False})
    assert event.at == RECEIVED


@pytest.mark.parametrize(
    ("ts", "fragment"),
    [
        (True, "not true"),
        (False, "not false"),
        ("yesterday", "not 'yesterday'"),
        ("2026-11-23", "not '2026-11-23'"),  # a day, not an instant
        ("", "not ''"),
        ("1795395672", "not '1795395672'"),
        ({"s": 1}, "'ts' must be an ISO-8601 date and time or a number"),
        ([1795395672], "'ts' must be"),
    ],
)
def test_a_ts_that_is_not_a_time_is_rejected(registry, ts, fragment):
    rejected(presence_at(registry, ts), "'ts'", fragment)


def test_a_clock_ahead_of_receipt_is_not_trusted(registry):
    ahead = "2026-11-23T09:10:01+08:00"  # 5 min 1 s after receipt
    event = presence_at(registry, ahead)
    assert (event.at, event.device_time) == (RECEIVED, ahead)


def test_a_clock_at_most_five_minutes_ahead_is_trusted(registry):
    event = presence_at(registry, "2026-11-23T09:10:00+08:00")
    assert (event.at, event.device_time) == (hall_time("09:10"), None)


def test_a_1970_clock_is_not_trusted_and_its_reading_is_kept(registry):
    event = presence_at(registry, 5)
    assert (event.at, event.device_time) == (RECEIVED, "5")
    event = presence_at(registry, "1970-01-01T00:00:05")
    assert (event.at, event.device_time) == (RECEIVED, "1970-01-01T00:00:05")


def test_a_backlog_within_thirty_days_keeps_its_times(registry):
    late = RECEIVED + timedelta(days=29, hours=23)
    assert presence_at(registry, RECEIVED_EPOCH_S, received=late).at == RECEIVED
    too_late = RECEIVED + timedelta(days=30, seconds=1)
    event = presence_at(registry, RECEIVED_EPOCH_S, received=too_late)
    assert (event.at, event.device_time) == (too_late, str(RECEIVED_EPOCH_S))


@pytest.mark.parametrize(
    "ts", [1e300, -1e300, 10**30, "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00"]
)
def test_a_reading_beyond_any_calendar_is_an_untrusted_clock(registry, ts):
    event = presence_at(registry, ts)
    assert (event.at, event.device_time) == (RECEIVED, str(ts))


# ---------------------------------------------------------------- timestamps module


def test_epoch_numbers_above_1e11_are_milliseconds():
    threshold = timestamps.EPOCH_MS_THRESHOLD
    assert timestamps.parse_reading(threshold, TZ) == datetime(5138, 11, 16, 9, 46, 40, tzinfo=UTC)
    assert timestamps.parse_reading(threshold + 1, TZ).year == 1973


def test_the_trust_window_is_inclusive():
    assert timestamps.trusted(RECEIVED + timestamps.MAX_FUTURE_SKEW, RECEIVED)
    assert timestamps.trusted(RECEIVED - timestamps.MAX_BACKLOG_AGE, RECEIVED)
    assert not timestamps.trusted(RECEIVED - timestamps.MAX_BACKLOG_AGE - timedelta(1e-6), RECEIVED)


def test_a_reading_with_another_offset_is_converted_to_utc():
    at = timestamps.parse_reading("2026-11-22T20:01:12-05:00", TZ)
    assert at == hall_time("09:01", 12) and at.tzinfo == UTC


def test_stamp_normalises_an_aware_receipt_to_utc():
    result = timestamps.stamp(None, RECEIVED.astimezone(timezone(timedelta(hours=3))), TZ)
    assert result.at.tzinfo == UTC and result.at == RECEIVED
