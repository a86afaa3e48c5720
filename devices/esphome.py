"""ESPHome's payload form: DIY radars and card readers on ESP boards running ESPHome.

A device is registered with `esphome: <node>/<object_id>`, where `<node>` is the
node's MQTT `topic_prefix` (ESPHome's default: the node's name) and
`<object_id>` the entity's object id (its name in snake case: "Presence" →
`presence`). Topics (esphome/components/mqtt: `<prefix>/<component>/<object_id>/state`):

- `<node>/binary_sensor/<object_id>/state`, `ON` / `OFF` → a presence report
  (an LD2410's `has_target`, a PIR's GPIO binary sensor);
- `<node>/text_sensor/<object_id>/state` with a card → a badge read. ESPHome's
  MQTT text sensors in fact publish under `sensor/` (MQTTTextSensor's component
  type is "sensor"), so `<node>/sensor/<object_id>/state` is read the same way.
  RC522 and PN532 tags read as `74-10-37-94`; the Wiegand component's tags are
  decimal numbers, so register such a reader with `uid_decimal: true`;
- `<node>/status`, `online` / `offline`: the node's birth and will messages →
  the status of every registered device of that node.

The event time is the time of receipt: ESPHome publishes live and sends no clock.
ESPHome retains its states by default, so a collector that subscribes again is
sent each one once more, flagged as retained; the collector takes only statuses
from such messages (a retained tag is not a new tap).
"""

from __future__ import annotations

from datetime import datetime

from devices.payload import (
    Reject,
    decode_text,
    guarded,
    read_card,
    require_kind,
    shown,
    status_word,
)
from hallwatch.events import (
    BadgeRead,
    ConversionResult,
    DeviceStatus,
    PresenceReport,
    RejectionKind,
)
from hallwatch.registry.spec import Device, Registry

STATUS = "status"
STATE = "state"
PRESENCE_COMPONENTS = ("binary_sensor",)
CARD_COMPONENTS = ("text_sensor", "sensor")
BINARY_WORDS = {"ON": True, "OFF": False}
SOURCE = "esphome"


def matches(topic: str, registry: Registry) -> bool:
    """Whether the topic is a status or state topic of a registered ESPHome node."""
    nodes = registry.esphome_nodes
    if not nodes:
        return False
    node, _, last = topic.rpartition("/")
    if last == STATUS:
        return node in nodes
    parts = topic.rsplit("/", 3)
    return len(parts) == 4 and parts[3] == STATE and parts[0] in nodes


def owner(topic: str, registry: Registry) -> str | None:
    """The registered device an ESPHome topic names (its object id), or for a topic of the
    node as a whole (its status) the node's first device; None for another node's."""
    for node, devices in registry.esphome_nodes.items():
        if topic.startswith(node + "/"):
            parts = topic[len(node) + 1 :].split("/")
            named = devices.get(parts[1]) if len(parts) >= 2 else None
            return (named or next(iter(devices.values()))).id
    return None


def subscriptions(registry: Registry) -> tuple[str, ...]:
    """Each node's status, and the state topics of the entities registered."""
    filters = []
    for node, entities in sorted(registry.esphome_nodes.items()):
        filters.append(f"{node}/{STATUS}")
        for object_id, device in sorted(entities.items()):
            components = (
                PRESENCE_COMPONENTS if device.kind == "presence_sensor" else CARD_COMPONENTS
            )
            filters += [f"{node}/{c}/{object_id}/{STATE}" for c in components]
    return tuple(filters)


def convert(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | tuple[DeviceStatus, ...] | None:
    """An ESPHome message → typed event(s), a Rejection or None; never raises."""
    return guarded(parse, topic, payload, received, registry)


def parse(
    topic: str, payload: bytes, received: datetime, registry: Registry
) -> ConversionResult | tuple[DeviceStatus, ...] | None:
    """`convert` without its guard: raises Reject (devices.convert guards it once)."""
    nodes = registry.esphome_nodes
    node, _, last = topic.rpartition("/")
    if last == STATUS and node in nodes:
        online = status_word(payload)
        if online is None:
            return None  # the retained birth being cleared
        return tuple(
            DeviceStatus(device.id, received, online, received, SOURCE)
            for _, device in sorted(nodes[node].items())
        )
    parts = topic.rsplit("/", 3)
    if len(parts) != 4 or parts[3] != STATE or parts[0] not in nodes:
        raise Reject(
            "not an ESPHome topic (expected <node>/<component>/<object_id>/state)",
            RejectionKind.UNKNOWN_TOPIC,
        )
    node, component, object_id, _ = parts
    device = nodes[node].get(object_id)
    if device is None:
        raise Reject(
            f"unknown esphome entity {shown(object_id)} of node {shown(node)}",
            RejectionKind.UNKNOWN_DEVICE,  # each entity of a node is a device of the registry
        )
    text = decode_text(payload).strip()
    if component in PRESENCE_COMPONENTS:
        return _presence(device, text, received)
    if component in CARD_COMPONENTS:
        return _card(device, text, received)
    raise Reject(f"an ESPHome {shown(component)} is neither a binary sensor nor a text sensor")


def _presence(device: Device, text: str, received: datetime) -> PresenceReport:
    require_kind(device, "presence_sensor", "a binary sensor's presence")
    occupied = BINARY_WORDS.get(text.upper())
    if occupied is None:
        raise Reject(f"a binary sensor's state must be ON or OFF, not {shown(text)}")
    return PresenceReport(device.id, received, occupied, received, SOURCE)


def _card(device: Device, text: str, received: datetime) -> BadgeRead | None:
    require_kind(device, "badge_reader", "a card")
    if not text:
        return None  # a text sensor cleared between tags
    uid = read_card(text, "state", device)
    return BadgeRead(device.id, received, uid, "in", received, SOURCE)
