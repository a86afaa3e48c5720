"""Messages → InfluxDB line protocol: each event as a point (placed by its device's clock if
it waited in the broker), anything else as a rejection of its kind, kept in `hw_rejected`."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

import devices
from collector.intake import Inbound
from collector.status import CollectorStats
from devices.clocks import CONTACT_SOURCES, PLACED_SOURCES, DeviceClocks, reading_of
from devices.payload import MAX_PAYLOAD_BYTES
from hallwatch.events import BadgeRead, DeviceStatus, Event, Rejection, RejectionKind
from hallwatch.influx.eventstore import event_point, rejection_point
from hallwatch.influx.lineprotocol import LineProtocolError
from hallwatch.mqtt import CutPayload
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.spec import Registry

log = logging.getLogger(__name__)

REASON_CHARS = 1_000  # the longest reason the collector writes for a rejection of its own


class Conversion:
    """A batch of messages as lines, each with the message it came from."""

    def __init__(
        self, stats: CollectorStats, clocks: DeviceClocks, connected_since: dict[int, datetime]
    ):
        self.stats = stats
        self.clocks = clocks  # the worker's only
        self.connected_since = connected_since  # generation → when it connected (Intake)

    def lines(
        self, batch: list[Inbound], deployment: Deployment, registry: Registry
    ) -> list[tuple[str, Inbound]]:
        pairs = []
        for message in batch:
            try:
                lines = self._message_lines(message, registry, deployment)
            except Exception as exc:  # a bug for one message must not stop the worker
                self.stats.internal_errors += 1
                log.exception("internal error converting a message from %s", message.topic)
                reason = f"internal error: {type(exc).__name__}: {exc}"
                lines = [self._rejection_line(message, reason, RejectionKind.INTERNAL_ERROR)]
            pairs += [(line, message) for line in lines]
        return pairs

    def _message_lines(
        self, message: Inbound, registry: Registry, deployment: Deployment
    ) -> list[str]:
        if isinstance(message.payload, CutPayload):  # over any device's limit: never converted
            size = message.payload.size
            reason = f"payload is {size} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit"
            reason += f"; its first {len(message.payload)} kept"
            return [self._rejection_line(message, reason, RejectionKind.TOO_LARGE)]
        result = converted(message.topic, message.payload, message.received, deployment, registry)
        if message.retained and not isinstance(result, Rejection):
            result = _still_news(result)
        if result is None:
            self.stats.ignored += 1
            return []
        try:
            if isinstance(result, Rejection):
                self._count(result.kind)
                return [rejection_point(result).to_line()]
            events = result if isinstance(result, tuple) else (result,)
            return [
                event_point(self._placed(e, message), card_holder(e, registry)).to_line()
                for e in events
            ]
        except LineProtocolError as exc:
            reason = f"cannot store: {exc}"
            return [self._rejection_line(message, reason, RejectionKind.UNSTORABLE)]

    def _placed(self, event: Event, message: Inbound) -> Event:
        """A live form's event at its receipt, or where its clock puts it if it waited."""
        if event.source not in PLACED_SOURCES:
            return event
        placement = self.clocks.place(
            event.device,
            reading_of(getattr(event, "device_time", None)),
            message.received,
            self.connected_since.get(message.generation),
            contact=event.source in CONTACT_SOURCES,
        )
        if not placement.late:
            return event
        self.stats.placed_late += 1
        return replace(event, at=placement.at)

    def _rejection_line(self, message: Inbound, reason: str, kind: RejectionKind) -> str:
        self._count(kind)
        return rejection_point(
            Rejection(message.topic, message.payload, reason[:REASON_CHARS], message.received, kind)
        ).to_line()

    def _count(self, kind: RejectionKind) -> None:
        self.stats.rejected += 1
        self.stats.rejected_by_kind[kind] = self.stats.rejected_by_kind.get(kind, 0) + 1


def converted(
    topic: str, payload: bytes, received: datetime, deployment: Deployment, registry: Registry
) -> devices.Converted:
    """A message as the collector converts it: its device found among every hall's
    (`registry`, the combined one), its clock read in its own hall's time zone."""
    result = devices.convert(topic, payload, received, registry)
    hall = deployment.for_device(_device_of(result))
    if hall is not registry and hall.hall.tz != registry.hall.tz:
        result = devices.convert(topic, payload, received, hall)
    return result


def card_holder(event, registry: Registry) -> str | None:
    if isinstance(event, BadgeRead):
        holder = registry.holder_of(event.uid)
        return holder.id if holder else None
    return None


def _still_news(result: devices.Converted) -> devices.Converted:
    """What a retained message still says: a status describes the present; a card, a seat
    or a heartbeat sent again because we subscribed is old news (ESPHome retains its
    states, so a re-subscribed collector would read the last tag as a new tap)."""
    events = result if isinstance(result, tuple) else (result,)
    statuses = tuple(e for e in events if isinstance(e, DeviceStatus))
    if not statuses:
        return None
    return statuses if isinstance(result, tuple) else statuses[0]


def _device_of(result: object) -> str:
    if isinstance(result, tuple):
        return result[0].device if result else ""
    return getattr(result, "device", "")
