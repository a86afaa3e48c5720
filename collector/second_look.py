"""A second look at kept rejections: re-convert them with the registry as it is now.

A message is rejected for what the registry said when it came (a device registered a
minute after it first spoke is "unknown" until then). `replay()` converts every kept
rejection of a window again, as the collector would, writes the events of those that
now convert, and marks them `replayed` so a second run skips them. Writing again is
harmless anyway: an event's point is its time and tags, and the time of an event
stamped at receipt is the rejection's own, so a replay overwrites its own points.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from collector.conversion import card_holder, converted
from hallwatch.events import Rejection
from hallwatch.influx.client import BadPointsError, BodyTooLarge
from hallwatch.influx.eventstore import EventStore, event_point, from_ns, to_ns
from hallwatch.influx.lineprotocol import LineProtocolError
from hallwatch.registry.deployment import Deployment

PAGE = 1_000  # rejections read, converted and written at a time


def replay(
    store: EventStore,
    writer: EventStore,
    deployment: Deployment,
    start: datetime,
    end: datetime,
    progress: Callable[[Counter], None] | None = None,
) -> Counter:
    """Read the rejections from `store`, write through `writer` (InfluxDB's write account).

    Counts by outcome: `stored` (and `events`), `already_replayed`, `still_rejected`,
    `ignored`, `payload_cut`, `refused` (InfluxDB refused the event's point)."""
    counts: Counter = Counter()
    after = to_ns(start) - 1
    while page := store.rejections_after(after, end, PAGE):
        after = page[-1]["time"]
        _replay_page(writer, deployment, page, counts)
        if progress is not None:
            progress(counts)
    return counts


def _replay_page(writer: EventStore, deployment: Deployment, page: list[dict], counts) -> None:
    lines_of: dict[int, list[str]] = {}
    for row in page:
        outcome, lines = _second_look(row, deployment)
        counts[outcome] += 1
        if lines:
            lines_of[row["time"]] = lines
    stored = _write(writer, lines_of, counts)
    writer.mark_replayed(stored)
    counts["stored"] += len(stored)
    counts["events"] += sum(len(lines_of[t]) for t in stored)


def _second_look(row: dict, deployment: Deployment) -> tuple[str, list[str]]:
    """What became of one kept rejection now, and its events' lines if it converts."""
    if row.get("replayed"):
        return "already_replayed", []
    payload = _payload(row)
    if payload is None:
        return "payload_cut", []  # the message is not all there: converting it would mislead
    registry = deployment.combined
    result = converted(row.get("topic") or "", payload, from_ns(row["time"]), deployment, registry)
    if result is None:
        return "ignored", []
    if isinstance(result, Rejection):
        return "still_rejected", []
    events = result if isinstance(result, tuple) else (result,)
    try:
        return "converted", [event_point(e, card_holder(e, registry)).to_line() for e in events]
    except LineProtocolError:
        return "still_rejected", []


def _payload(row: dict) -> bytes | None:
    if row.get("truncated"):
        return None
    text = row.get("payload") or ""
    if row.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    return text.encode("utf-8")


def _write(writer: EventStore, lines_of: dict[int, list[str]], counts: Counter) -> list[int]:
    """Write the events; the rejection times whose events InfluxDB all accepted."""
    everything = [line for lines in lines_of.values() for line in lines]
    if not everything:
        return []
    try:
        writer.client.write(everything)
        return list(lines_of)
    except (BadPointsError, BodyTooLarge):
        pass  # one at a time, to find the message InfluxDB will not take
    stored = []
    for at, lines in lines_of.items():
        try:
            writer.client.write(lines)
            stored.append(at)
        except (BadPointsError, BodyTooLarge):
            counts["refused"] += 1
    return stored
