"""Events ↔ InfluxDB points, and the few queries the rest of HallWatch needs.

Schema (measurement `hw_event`): tags `device`, `type` (badge, presence,
heartbeat, status) and, for the badge of a card someone holds, `uid`; fields
`received_ms` on every point plus `card`/`action`/`staff`, `occupied`, `online`
or heartbeat numbers `x_<name>`; `source` and `device_time` where known. The
point's time is the event's time, so a redelivered message overwrites its own point.
Rejected messages go to `hw_rejected` at their receipt time; `replayed` is set on one
whose message `hallwatch rejected --replay` has since stored as events.

Bounded series. A series is a measurement and its tags: `device` is a registered
device or bridge (messages of any other are rejected, and `hw_rejected` has no
tags), `type` one of four, and `uid` only a registered card. An unknown card
is kept in the `card` field, so a reader flooding random numbers adds points,
never series; heartbeat fields are the known telemetry (devices.payload.TELEMETRY).
Points written before `card` existed keep the card in the `uid` tag; both are read.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from hallwatch.cards import canonical_or_none
from hallwatch.events import (
    BadgeRead,
    DeviceStatus,
    Event,
    Heartbeat,
    PresenceReport,
    Rejection,
    event_type,
)
from hallwatch.influx.client import InfluxClient, rows
from hallwatch.influx.lineprotocol import FieldValue, Point

EVENTS = "hw_event"
REJECTED = "hw_rejected"
CARRY_OVER_LOOKBACK = timedelta(days=14)  # how far back the last known device facts are sought
MAX_STORED_PAYLOAD_CHARS = 16_000  # InfluxDB 1.x string fields stay well under its 64 KB limit
RECEIPT_BUCKET = timedelta(minutes=15)  # `receipts()` groups by this much event time
_EXTRA_KEY = re.compile(r"[^A-Za-z0-9_]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Devices = Collection[str] | None  # one hall's devices, or None for all


def to_ns(at: datetime) -> int:
    """Aware datetime → integer nanoseconds since the epoch, without float rounding."""
    delta = (at if at.tzinfo else at.astimezone(UTC)) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    seconds, rest = divmod(int(ns), 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=rest // 1_000)


def _from_ms(ms: int | None) -> datetime | None:
    return from_ns(int(ms) * 1_000_000) if ms else None


def _received_ms(event: Event | Rejection) -> int:
    received = event.received or getattr(event, "at", None)
    return to_ns(received) // 1_000_000 if received else 0


def of_devices(devices: Devices) -> str:
    """An InfluxQL condition keeping `devices` only ("" for None: every device).

    One regular expression of the literal ids: InfluxDB matches it against its tag index, so
    a hall's query reads its own series, not the whole deployment's. No ids give `^(?:)$`,
    which no device matches (InfluxDB has no empty tag values).
    """
    if devices is None:
        return ""
    ids = "|".join(re.escape(d).replace("/", r"\/") for d in sorted(devices))
    return f' AND "device" =~ /^(?:{ids})$/'


def event_point(event: Event, staff: str | None = None) -> Point:
    """The point an event is stored as; `staff` is the card holder known at ingest, if any."""
    tags = {"device": event.device, "type": event_type(event)}
    fields: dict[str, FieldValue] = {"received_ms": _received_ms(event), "source": event.source}
    if isinstance(event, BadgeRead):
        if staff:
            tags["uid"] = event.uid
        fields.update(card=event.uid, action=event.action, staff=staff or "")
    elif isinstance(event, DeviceStatus):
        fields["online"] = event.online
    if isinstance(event, PresenceReport):
        fields["occupied"] = event.occupied
    if isinstance(event, Heartbeat | PresenceReport):
        fields.update(
            {f"x_{_EXTRA_KEY.sub('_', k)[:40]}": float(v) for k, v in event.extra.items()}
        )
    device_time = getattr(event, "device_time", None)
    if device_time:
        fields["device_time"] = device_time[:200]
    return Point(EVENTS, tags, fields, to_ns(event.at))


def rejection_point(rejection: Rejection) -> Point:
    """A rejected message as stored: topic, payload (text, or base64 if not UTF-8), reason."""
    try:
        text, encoding = rejection.payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(rejection.payload).decode(), "base64"
    fields: dict[str, FieldValue] = {
        "topic": rejection.topic[:1000],
        "payload": text[:MAX_STORED_PAYLOAD_CHARS],
        "encoding": encoding,
        "size": len(rejection.payload),
        "truncated": len(text) > MAX_STORED_PAYLOAD_CHARS,
        "reason": rejection.reason[:1000],
    }
    return Point(REJECTED, {}, fields, to_ns(rejection.received))


def event_from_row(row: dict) -> Event | None:
    """Rebuild an event from a `SELECT *` row of hw_event (None for an unknown type)."""
    at = from_ns(row["time"])
    received = from_ns(row["received_ms"] * 1_000_000) if row.get("received_ms") else None
    device, kind = row["device"], row.get("type")
    source = row.get("source") or "native"
    clock = row.get("device_time") or None  # the device's own time, kept when not trusted
    if kind == "badge":
        uid, action = _card_of(row), row.get("action") or "in"
        return BadgeRead(device, at, uid, action, received, source, clock)
    if kind == "presence":
        occupied = bool(row.get("occupied"))
        return PresenceReport(device, at, occupied, received, source, clock, _extras(row))
    if kind == "status":
        return DeviceStatus(device, at, bool(row.get("online")), received, source)
    if kind == "heartbeat":
        return Heartbeat(device, at, received, source, _extras(row), clock)
    return None


def _card_of(row: dict) -> str:
    """A badge point's card, canonical: the `card` field, or the `uid` tag of older points."""
    card = row.get("card") or row.get("uid") or ""
    return canonical_or_none(card) or card


def _extras(row: dict) -> dict[str, float]:
    return {k[2:]: float(v) for k, v in row.items() if k.startswith("x_") and v is not None}


class EventStore:
    """Reads and writes HallWatch's measurements through one InfluxClient."""

    def __init__(self, client: InfluxClient):
        self.client = client

    def events_between(
        self, start: datetime, end: datetime, devices: Devices = None
    ) -> list[Event]:
        """All events with start <= time <= end (of `devices` only, if given), in time order."""
        series = self.client.query(
            f'SELECT * FROM "{EVENTS}" WHERE time >= $start AND time <= $end' + of_devices(devices),
            {"start": to_ns(start), "end": to_ns(end)},
        )
        events = [event_from_row(r) for s in series for r in rows(s)]
        return sorted((e for e in events if e is not None), key=lambda e: e.at)

    def received_since(
        self, start: datetime, received_after: datetime, devices: Devices = None
    ) -> list[Event]:
        """Events at or after `start` that the collector received after `received_after`."""
        series = self.client.query(
            f'SELECT * FROM "{EVENTS}" WHERE time >= $start AND "received_ms" > $after'
            + of_devices(devices),
            {"start": to_ns(start), "after": to_ns(received_after) // 1_000_000},
        )
        events = [event_from_row(r) for s in series for r in rows(s)]
        return sorted((e for e in events if e is not None), key=lambda e: e.at)

    def receipts(
        self,
        start: datetime,
        end: datetime,
        bucket: timedelta = RECEIPT_BUCKET,
        devices: Devices = None,
    ) -> list[tuple[datetime, int, datetime | None]]:
        """Per `bucket` of event time in [start, end): the points stored and their newest receipt.

        One aggregate over the range (no points leave the server); empty buckets are left out.
        A hall day is a whole number of 15-minute buckets in every real time zone.
        `devices`: one hall's (None: every device).
        """
        series = self.client.query(
            f'SELECT count("received_ms") AS "points", max("received_ms") AS "newest" '
            f'FROM "{EVENTS}" WHERE time >= $start AND time < $end{of_devices(devices)} '
            f"GROUP BY time({int(bucket.total_seconds())}s) fill(none)",
            {"start": to_ns(start), "end": to_ns(end)},
        )
        return [
            (from_ns(r["time"]), int(r["points"]), _from_ms(r["newest"]))
            for s in series
            for r in rows(s)
            if r.get("points")
        ]

    def carry_over(self, before: datetime, devices: Devices = None) -> list[Event]:
        """Each device's last occupancy, status and sighting before `before`, as events."""
        window = {"start": to_ns(before - CARRY_OVER_LOOKBACK), "end": to_ns(before) - 1}
        where = "time >= $start AND time <= $end" + of_devices(devices)
        events: list[Event] = []
        for s in self.client.query(
            f'SELECT last("received_ms") FROM "{EVENTS}" WHERE {where} GROUP BY "device"', window
        ):
            events += [Heartbeat(r["device"], from_ns(r["time"])) for r in rows(s)]
        for s in self.client.query(
            f'SELECT last("occupied") AS "occupied" FROM "{EVENTS}" '
            f'WHERE "type" = \'presence\' AND {where} GROUP BY "device"',
            window,
        ):
            events += [
                PresenceReport(r["device"], from_ns(r["time"]), r["occupied"]) for r in rows(s)
            ]
        for s in self.client.query(
            f'SELECT last("online") AS "online" FROM "{EVENTS}" '
            f'WHERE "type" = \'status\' AND {where} GROUP BY "device"',
            window,
        ):
            events += [DeviceStatus(r["device"], from_ns(r["time"]), r["online"]) for r in rows(s)]
        return sorted(events, key=lambda e: e.at)

    def day_history(
        self, day_start: datetime, at: datetime, devices: Devices = None
    ) -> list[Event]:
        """What the state function needs for an instant: carried-over facts plus the day so far.

        `devices`: one hall's, when the store holds other halls' too (None: every device).
        """
        return self.carry_over(day_start, devices) + self.events_between(day_start, at, devices)

    def rejected(self, start: datetime, end: datetime, limit: int = 100) -> list[dict]:
        """Rejected messages, newest first, for operators."""
        series = self.client.query(
            f'SELECT * FROM "{REJECTED}" WHERE time >= $start AND time <= $end '
            f"ORDER BY time DESC LIMIT {int(limit)}",
            {"start": to_ns(start), "end": to_ns(end)},
        )
        return [{**r, "time": from_ns(r["time"])} for s in series for r in rows(s)]

    def rejections_after(self, after_ns: int, end: datetime, limit: int) -> list[dict]:
        """Up to `limit` rejected messages kept after `after_ns` up to `end`, oldest first
        (`time` left in nanoseconds: a page's last one is where the next page starts)."""
        series = self.client.query(
            f'SELECT * FROM "{REJECTED}" WHERE time > $after AND time <= $end '
            f"ORDER BY time ASC LIMIT {int(limit)}",
            {"after": int(after_ns), "end": to_ns(end)},
        )
        return [r for s in series for r in rows(s)]

    def mark_replayed(self, times_ns: list[int]) -> None:
        """Note on kept rejections that their message is now stored as events (InfluxDB
        merges the field into the point of the same time)."""
        if times_ns:
            self.client.write(
                [Point(REJECTED, {}, {"replayed": True}, ns).to_line() for ns in times_ns]
            )

    def unknown_cards(self, start: datetime, end: datetime) -> list[dict]:
        """Badge reads whose card nobody holds, newest first."""
        series = self.client.query(
            f'SELECT "card", "uid", "device", "staff" FROM "{EVENTS}" '
            "WHERE \"type\" = 'badge' AND time >= $start AND time <= $end ORDER BY time DESC",
            {"start": to_ns(start), "end": to_ns(end)},
        )
        return [
            {"uid": _card_of(r), "device": r["device"], "time": from_ns(r["time"])}
            for s in series
            for r in rows(s)
            if not r.get("staff")
        ]
