"""What the simulator tests share: the hall's time zone, the seeds they plan with, a plain
Saturday, and `decode`: a planned message read back as (device, kind, payload)."""

from __future__ import annotations

import json
from datetime import date
from zoneinfo import ZoneInfo

from hallwatch.registry.spec import Registry
from simulator.dayplan import PlannedMessage

TZ = ZoneInfo("Asia/Shanghai")
PLAIN_SATURDAY = date(2026, 11, 28)
SEEDS = (1, 2, 3)


def decode(registry: Registry, message: PlannedMessage) -> tuple[str, str, dict | str]:
    """(device id, kind of message, parsed payload), checking the topic names a known device."""
    parts = message.topic.split("/")
    if parts[:2] == ["hallwatch", "devices"]:
        device = registry.device_by_id[parts[2]]
        assert not device.zigbee2mqtt and not device.tasmota, message.topic
        if parts[3] == "status":
            return device.id, "status", message.payload.decode()
        body = json.loads(message.payload)
        return device.id, body["type"], body
    if parts[0] in registry.zigbee2mqtt_names:
        device = registry.zigbee2mqtt_names[parts[0]][parts[1]]
        if parts[2:] == ["availability"]:
            return device.id, "status", json.loads(message.payload)
        assert len(parts) == 2, message.topic
        return device.id, "presence", json.loads(message.payload)
    if parts[0] in registry.esphome_nodes:
        entities = registry.esphome_nodes[parts[0]]
        if parts[1:] == ["status"]:  # the node's, said for each entity: its seat's here
            seats = [d.id for d in entities.values() if d.kind == "presence_sensor"]
            return (
                min(seats or [d.id for d in entities.values()]),
                "status",
                message.payload.decode(),
            )
        component, object_id = parts[1:3]
        kind = "presence" if component == "binary_sensor" else "badge"
        return entities[object_id].id, kind, message.payload.decode()
    assert parts[0] == "tele" and len(parts) == 3, message.topic
    device = registry.tasmota_topics["%prefix%/%topic%/"][parts[1]]
    kinds = {"SENSOR": "badge", "STATE": "heartbeat", "LWT": "status"}
    payload = message.payload.decode() if parts[2] == "LWT" else json.loads(message.payload)
    return device.id, kinds[parts[2]], payload
