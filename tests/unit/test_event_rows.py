"""Rows read back from InfluxDB become the events that were written."""

import re
from datetime import UTC, datetime

from hallwatch.events import BadgeRead, Heartbeat
from hallwatch.influx.eventstore import event_from_row, of_devices, to_ns

AT = datetime(2026, 11, 23, 1, 2, 3, tzinfo=UTC)


def test_the_device_clock_kept_for_an_untrusted_time_comes_back():
    row = {
        "time": to_ns(AT),
        "device": "r1",
        "type": "badge",
        "uid": "04AB",
        "action": "in",
        "device_time": "1970-01-01T00:00:05Z",
    }
    assert event_from_row(row) == BadgeRead(
        "r1", AT, "04AB", "in", None, "native", "1970-01-01T00:00:05Z"
    )


def test_a_heartbeat_keeps_its_telemetry_and_no_clock_when_none_was_stored():
    row = {"time": to_ns(AT), "device": "s1", "type": "heartbeat", "x_battery": 87, "x_rssi": None}
    assert event_from_row(row) == Heartbeat("s1", AT, None, "native", {"battery": 87.0})


def test_a_halls_device_filter_is_one_anchored_expression_of_literal_ids():
    assert of_devices(None) == ""
    condition = of_devices(["W-01", "W1", "a/b"])
    assert condition == ' AND "device" =~ /^(?:W\\-01|W1|a\\/b)$/'
    pattern = re.compile(condition.split("/", 1)[1].rsplit("/", 1)[0].replace("\\/", "/"))
    assert pattern.fullmatch("W-01") and pattern.fullmatch("W1") and pattern.fullmatch("a/b")
    assert not pattern.fullmatch("W10") and not pattern.fullmatch("xW1")
