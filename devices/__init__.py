"""Device payloads → typed events: one pure converter per payload family, and a dispatcher.

`convert(topic, payload, received, registry)` picks the family by topic and
returns a `hallwatch.events` event, a `Rejection` with an English reason, or
None for messages deliberately ignored because they are not device data
(Zigbee2MQTT bridge traffic and commands, retained messages being cleared).
It never raises. `SUBSCRIPTIONS` are the topic filters a collector needs.

Each family has `convert` (guarded, for use on its own) and `parse` (raises Reject).
Families: `native` (hallwatch/devices/…), `zigbee2mqtt` (zigbee2mqtt/…),
`tasmota` (tele/…); clock readings and the clock policy: `timestamps`.
"""

from __future__ import annotations

from datetime import datetime

from devices import native, tasmota, zigbee2mqtt
from devices.payload import Reject, guarded, shown
from hallwatch.events import ConversionResult
from hallwatch.registry.spec import Registry

FAMILIES = (native, zigbee2mqtt, tasmota)
SUBSCRIPTIONS: tuple[str, ...] = tuple(t for family in FAMILIES for t in family.SUBSCRIPTIONS)

__all__ = ["FAMILIES", "SUBSCRIPTIONS", "convert"]


def convert(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    """One MQTT message → a typed event, a Rejection, or None when deliberately ignored."""
    return guarded(_dispatch, topic, payload, received, registry)


def _dispatch(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | None:
    for family in FAMILIES:
        if family.matches(topic):
            return family.parse(topic, payload, received, registry)  # guarded once, above
    raise Reject(f"no device payload form uses the topic {shown(topic)}")
