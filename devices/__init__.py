"""Device payloads → typed events: one pure converter per payload family, and a dispatcher.

`convert(topic, payload, received, registry)` picks the family by topic and
returns a `hallwatch.events` event (a tuple of them for a message about several
devices: an ESPHome node's status), a `Rejection` with an English reason, or
None for messages deliberately ignored because they are not device data
(Zigbee2MQTT bridge traffic and commands, retained messages being cleared).
It never raises. `subscriptions(registry)` are the topic filters a collector
needs for that registry (base topics, Tasmota layouts and ESPHome nodes come
from it).

Each family has `matches`, `subscriptions`, `convert` (guarded, for use on its
own), `parse` (raises Reject) and `owner` (the device a topic names). Families:
`native` (hallwatch/devices/…), `zigbee2mqtt` (zigbee2mqtt/… and other base
topics), `tasmota` (tele/… and other FullTopics), `esphome` (registered nodes);
clock readings of native `ts` and their policy: `timestamps`. The guide for
installers is docs/DEVICES.md.
"""

from __future__ import annotations

from datetime import datetime

from devices import esphome, native, tasmota, zigbee2mqtt
from devices.payload import Reject, guarded, shown
from hallwatch.events import ConversionResult, Event, RejectionKind
from hallwatch.registry.spec import Registry

FAMILIES = (native, zigbee2mqtt, tasmota, esphome)

Converted = ConversionResult | tuple[Event, ...] | None

__all__ = ["FAMILIES", "Converted", "convert", "owner", "subscriptions"]


def subscriptions(registry: Registry) -> tuple[str, ...]:
    """The topic filters a collector subscribes to for `registry`, each once, in order."""
    filters = (f for family in FAMILIES for f in family.subscriptions(registry))
    return tuple(dict.fromkeys(filters))


def owner(topic: str, registry: Registry) -> str | None:
    """The device (or Zigbee2MQTT bridge) of `registry` a topic names, whatever its payload:
    which hall a kept rejection belongs to. None for a topic no device of it uses."""
    for family in FAMILIES:
        if (found := family.owner(topic, registry)) is not None:
            return found
    return None


def convert(topic: str, payload: bytes, received: datetime, registry: Registry) -> Converted:
    """One MQTT message → typed event(s), a Rejection, or None when deliberately ignored."""
    return guarded(_dispatch, topic, payload, received, registry)


def _dispatch(topic: str, payload: bytes, received: datetime, registry: Registry) -> Converted:
    for family in FAMILIES:
        if family.matches(topic, registry):
            return family.parse(topic, payload, received, registry)  # guarded once, above
    raise Reject(
        f"no device payload form uses the topic {shown(topic)}", RejectionKind.UNKNOWN_TOPIC
    )
