"""InfluxQL injection (S3) through every request parameter that reaches a query, and
line-protocol injection (S4) through every device field that becomes a tag or a field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from hallwatch.events import BadgeRead, Heartbeat, PresenceReport
from hallwatch.influx.client import InfluxClient
from hallwatch.influx.eventstore import EventStore, event_point
from hallwatch.influx.lineprotocol import LineProtocolError
from tests.security.hostile_hall import EXPECTED_EVENTS, EXPECTED_REJECTED, HostileHall, stored

HOSTILE_VALUES = (
    "x' OR 1=1 --",
    'a"; DROP MEASUREMENT "hw_event"',
    "2026-11-23'; DROP DATABASE hallwatch; --",
    "2026-11-23T10:00:00' OR time > 0 --",
    "/.*/",
    "a\\",
    "\\'",
    "line\nDROP SERIES FROM hw_event",
    "$start",
    "0001-01-01",
    "9999-12-31T23:59:59-14:00",
    "1677-09-01T00:00:00Z",
    "9999-12",
    "nan",
    "1e309",
    "-1",
    "\x00",
    "W01' OR device =~ /.*/",
)
QUERY_PARAMS = [
    ("/api/live", "at"),
    ("/", "at"),
    ("/windows/W01", "day"),
    ("/departments/civil", "day"),
    ("/api/reports/windows?to=2026-11-02T00:00:00%2B08:00", "from"),
    ("/api/reports/windows?from=2026-11-01T00:00:00%2B08:00", "to"),
    ("/api/reports/staff?to=2026-11-02T00:00:00%2B08:00", "from"),
    ("/api/reports/departments", "month"),
    ("/reports", "month"),
    ("/reports", "department"),
    ("/public/ranking", "month"),
    ("/public/ranking.csv", "month"),
    ("/api/alerts", "since"),
    ("/api/alerts", "status"),
    ("/alerts", "from"),
    ("/alerts", "to"),
    ("/alerts", "kind"),
    ("/alerts", "department"),
    ("/alerts", "page"),
    ("/api/rejected", "hours"),
    ("/api/unknown-cards", "hours"),
    ("/ops/rejected", "hours"),
    ("/ops/unknown-cards", "hours"),
    ("/ops/devices", "state"),
]
PATH_PARAMS = [
    "/windows/{}",
    "/departments/{}",
    "/reports/{}.xlsx",
    "/reports/{}.csv",
    "/reports/{}.zip",
]
INFLUX_WORDS = (
    "error parsing",
    "strconv",
    "found ",
    "expected identifier",
    "unable to parse",
    "event store unavailable",
)


def urls() -> list[str]:
    out = []
    for value in HOSTILE_VALUES:
        quoted = quote(value, safe="")
        for path, name in QUERY_PARAMS:
            out.append(f"{path}{'&' if '?' in path else '?'}{name}={quoted}")
        out += [path.format(quoted) for path in PATH_PARAMS]
    return out


def schema(hall: HostileHall) -> tuple:
    influx = hall.influx
    return (
        sorted(r["name"] for r in influx.rows("SHOW MEASUREMENTS")),
        stored(influx, "hw_event", "received_ms"),
        stored(influx, "hw_rejected", "reason"),
        len(influx.rows("SHOW SERIES")),
    )


def test_no_parameter_reaches_influxdb_as_code(hall):
    before = schema(hall)
    assert before[1:3] == (EXPECTED_EVENTS, EXPECTED_REJECTED)
    client = hall.client("admin")
    bad = []
    for url in urls():
        answer = client.get(url)
        body = answer.get_data(as_text=True) if answer.mimetype != "application/zip" else ""
        clean = answer.status_code in (400, 404) or (
            answer.status_code == 200
            and (
                answer.mimetype == "text/html"
                or not isinstance(answer.get_json(), dict)
                or "error" not in answer.get_json()
            )
        )
        leaked = [word for word in INFLUX_WORDS if word in body]
        if not clean or leaked:
            bad.append((url, answer.status_code, leaked or body[:200]))
    assert bad == []
    assert schema(hall) == before  # nothing dropped, nothing added


def test_the_api_refuses_a_hostile_instant_with_a_400_naming_it(hall):
    client = hall.client("admin")
    for value in HOSTILE_VALUES:
        answer = client.get(f"/api/live?at={quote(value, safe='')}")
        assert answer.status_code == 400, (value, answer.get_data(as_text=True)[:200])
        assert "'at'" in answer.get_json()["error"]


# --- line protocol --------------------------------------------------------------------------

EVENT_FIELDS = {
    "received_ms",
    "source",
    "card",
    "action",
    "staff",
    "occupied",
    "online",
    "device_time",
}


def test_hostile_device_messages_made_exactly_the_points_intended(hall):
    """The collector got hostile topics, ids, UIDs and extra keys (hostile_hall.py)."""
    influx = hall.influx
    assert sorted(r["name"] for r in influx.rows("SHOW MEASUREMENTS")) == [
        "hw_event",
        "hw_rejected",
    ]
    assert {r["tagKey"] for r in influx.rows('SHOW TAG KEYS FROM "hw_event"')} <= {
        "device",
        "type",
        "uid",
    }
    assert influx.rows('SHOW TAG KEYS FROM "hw_rejected"') == []
    devices = {
        r["value"] for r in influx.rows('SHOW TAG VALUES FROM "hw_event" WITH KEY = "device"')
    }
    assert devices <= set(hall.registry.device_by_id)
    # Only registered cards are tags (bounded series); the unknown CAFE0001 is a field.
    uids = {r["value"] for r in influx.rows('SHOW TAG VALUES FROM "hw_event" WITH KEY = "uid"')}
    assert uids == {"04A1B2C3", "04A1B2C5"}
    cards = {r["card"] for r in influx.rows('SELECT "card" FROM "hw_event"')}
    assert "CAFE0001" in cards
    fields = {r["fieldKey"] for r in influx.rows('SHOW FIELD KEYS FROM "hw_event"')}
    extras = fields - EVENT_FIELDS
    assert all(re.fullmatch(r"x_[A-Za-z0-9_]{1,40}", k) for k in extras), extras
    assert extras == {"x_battery"}  # the known telemetry only: hostile keys make no field
    assert {r["fieldKey"] for r in influx.rows('SHOW FIELD KEYS FROM "hw_rejected"')} == {
        "topic",
        "payload",
        "encoding",
        "size",
        "truncated",
        "reason",
    }
    assert len(influx.rows('SHOW SERIES FROM "hw_event"')) == 5


HOSTILE_TEXTS = [
    "a,b=c d",
    'q"uote',
    "eq=uals",
    " lead and trail ",
    "x=1 y=2,z=3",
    "名字,= ",
    "back\\slash",
    "trailing\\",
    '\\" x=1',
]
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def store_of(influx_db) -> EventStore:
    return EventStore(InfluxClient(influx_db.url, influx_db.db))


def read_back(store: EventStore) -> list:
    return store.events_between(AT - timedelta(hours=1), AT + timedelta(hours=1))


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_the_writer_round_trips_hostile_text_or_refuses_it(influx_db, text):
    """Written straight through the event store (no converter to clean it first)."""
    store = store_of(influx_db)
    events = [
        BadgeRead(text, AT, text, "in", AT, "native", text),
        PresenceReport(text, AT + timedelta(seconds=1), True, AT, "native", text),
        Heartbeat(text, AT + timedelta(seconds=2), AT, "native", {"battery": 3.5}, text),
    ]
    if "\\" in text:  # cannot round-trip in a 1.x tag: refused before it is sent
        for event in events:
            with pytest.raises(LineProtocolError):
                event_point(event, staff=text).to_line()
        events = [BadgeRead("desk-w01-card", AT, "04A1", "in", AT, "native", text)]
    store.client.write([event_point(e, staff=text).to_line() for e in events])
    assert read_back(store) == events  # string fields keep any text, backslashes too
    assert [r["name"] for r in influx_db.rows("SHOW MEASUREMENTS")] == ["hw_event"]
    assert len(influx_db.rows('SHOW SERIES FROM "hw_event"')) == len(events)
    staff = influx_db.rows('SELECT "staff" FROM "hw_event" WHERE "type" = \'badge\'')
    assert [r["staff"] for r in staff] == [text]


def test_a_newline_in_a_string_field_stays_in_its_one_point(influx_db):
    """Known limit: InfluxDB 1.x keeps the escaped newline as the two characters `\\n`."""
    store = store_of(influx_db)
    text = "first\nmeasurement2 x=1 0\nthird"
    store.client.write([event_point(BadgeRead("d1", AT, "04A1", device_time=text)).to_line()])
    [event] = read_back(store)
    assert event.device_time.replace("\\n", "\n") == text
    assert [r["name"] for r in influx_db.rows("SHOW MEASUREMENTS")] == ["hw_event"]
