"""Simulated seat sensor models, and each device's MQTT messages in its own payload form (pure)."""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from hallwatch.registry.spec import Device, tasmota_telemetry

EVENT_QOS = 1  # badge reads, seat changes, statuses
TELEMETRY_QOS = 0  # periodic re-reports and heartbeats

NATIVE_PREFIX = "hallwatch/devices"


class PlannedMessage(NamedTuple):
    at: datetime  # aware, the simulated instant the device publishes
    topic: str
    payload: bytes
    qos: int
    retain: bool


# ---------------------------------------------------------------- device profiles


def stable(device_id: str, salt: str) -> int:
    """A number fixed per device, so a device keeps its model and quirks from day to day."""
    return zlib.crc32(f"{salt}:{device_id}".encode())


def payload_form(device: Device) -> str:
    """native, zigbee2mqtt, tasmota or esphome: how this device publishes."""
    if device.zigbee2mqtt:
        return "zigbee2mqtt"
    if device.tasmota:
        return "tasmota"
    if device.esphome:
        return "esphome"
    return "native"


def zigbee2mqtt_topic(device: Device, suffix: str = "") -> str:
    """The device's topic under its bridge's base topic."""
    return f"{device.zigbee2mqtt_base}/{device.zigbee2mqtt}" + (f"/{suffix}" if suffix else "")


def tasmota_topic(device: Device, suffix: str) -> str:
    """The device's telemetry topic in its FullTopic layout (%hostname% and %id%: its id)."""
    head = tasmota_telemetry(device.tasmota_full_topic, device.tasmota or "", host=device.id)
    return head + suffix


def esphome_topic(device: Device, component: str) -> str:
    node, _, object_id = (device.esphome or "").rpartition("/")
    return f"{node}/{component}/{object_id}/state"


@dataclass(frozen=True)
class SeatModel:
    """How one kind of seat sensor behaves and what Zigbee2MQTT publishes for it."""

    model: str
    key: str  # "occupancy" (PIR) or "presence" (mmWave)
    detect_s: tuple[float, float]  # delay before a sitter is reported
    hold_s: tuple[float, float]  # delay before an empty seat is reported
    pir: bool  # misses a person who sits still
    battery: bool
    extras: Callable[[bool, int, random.Random], dict]


def _fp1(occupied: bool, k: int, rng: random.Random) -> dict:
    return {
        "presence_event": "enter" if occupied else "leave",
        "device_temperature": 29 + k % 6,
        "power_outage_count": k % 9,
        "motion_sensitivity": "high",
        "monitoring_mode": "undirected",
        "approach_distance": "near",
    }


def _tuya_radar(occupied: bool, k: int, rng: random.Random) -> dict:
    return {
        "target_distance": round(rng.uniform(0.4, 1.1), 2) if occupied else 0,
        "illuminance": 280 + k % 150 + rng.randint(-8, 8),
        "radar_sensitivity": 7,
        "minimum_range": 0,
        "maximum_range": 3,
        "detection_delay": 0.1,
        "fading_time": 30,
    }


def _hue_motion(occupied: bool, k: int, rng: random.Random) -> dict:
    return {
        "battery": 60 + k % 41,
        "illuminance": 300 + k % 120 + rng.randint(-10, 10),
        "temperature": round(20.5 + (k % 30) / 10, 1),
        "led_indication": False,
        "motion_sensitivity": "high",
        "occupancy_timeout": 0,
    }


def _ikea_motion(occupied: bool, k: int, rng: random.Random) -> dict:
    return {
        "battery": 45 + k % 56,
        "illuminance_above_threshold": False,
        "requested_brightness_level": 76,
        "requested_brightness_percent": 30,
    }


def _aqara_motion(occupied: bool, k: int, rng: random.Random) -> dict:
    return {
        "battery": 70 + k % 31,
        "voltage": 2950 + k % 80,
        "illuminance": 260 + k % 140 + rng.randint(-10, 10),
        "device_temperature": 24 + k % 5,
        "power_outage_count": k % 23,
    }


# mmWave radars dominate: they see a person sitting still; a few PIRs remain from an older batch.
Z2M_MODELS = (
    SeatModel("RTCZCGQ11LM", "presence", (1, 3), (20, 45), False, False, _fp1),
    SeatModel("ZY-M100-S_2", "presence", (1, 3), (25, 35), False, False, _tuya_radar),
    SeatModel("ZY-M100-S_2", "presence", (1, 3), (25, 35), False, False, _tuya_radar),
    SeatModel("9290012607", "occupancy", (1, 3), (30, 60), True, True, _hue_motion),
    SeatModel("E1745", "occupancy", (1, 4), (180, 185), True, True, _ikea_motion),
    SeatModel("RTCGQ11LM", "occupancy", (1, 3), (90, 95), True, True, _aqara_motion),
)


def _no_extras(occupied: bool, k: int, rng: random.Random) -> dict:
    return {}


NATIVE_SEAT = SeatModel("hallwatch-seat", "occupied", (1, 3), (15, 30), False, True, _no_extras)


def seat_model(device: Device) -> SeatModel:
    """The sensor model behind a seat device (fixed per device id)."""
    if device.zigbee2mqtt:
        return Z2M_MODELS[stable(device.id, "model") % len(Z2M_MODELS)]
    return NATIVE_SEAT


# ---------------------------------------------------------------- payloads


def _pairs(hex_text: str) -> list[str]:
    padded = hex_text if len(hex_text) % 2 == 0 else "0" + hex_text
    return [padded[i : i + 2] for i in range(0, len(padded), 2)]


def _json(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _native_ts(device: Device, at: datetime, tz) -> str | int:
    """Native firmware varies: most send ISO-8601 with offset, some epoch ms or s."""
    style = stable(device.id, "ts") % 10
    if style < 7:
        return at.astimezone(tz).isoformat(timespec="seconds")
    if style < 9:
        return int(at.timestamp() * 1000)
    return int(at.timestamp())


def _tasmota_clock(at: datetime, tz) -> dict:
    """Tasmota under `Time 2`, as docs/DEVICES.md advises: local time and UTC epoch."""
    local = at.astimezone(tz).replace(tzinfo=None).isoformat(timespec="seconds")
    return {"Time": local, "Epoch": int(at.timestamp())}


def _last_seen(device: Device, at: datetime, tz) -> str | int:
    """Zigbee2MQTT `advanced.last_seen`: ISO_8601_local on most bridges, epoch on one."""
    if stable(device.id, "last_seen") % 3 == 2:
        return int(at.timestamp() * 1000)
    return at.astimezone(tz).isoformat(timespec="milliseconds")


def status(device: Device, at: datetime, online: bool) -> PlannedMessage:
    """The device's retained online/offline announcement in its own form."""
    form = payload_form(device)
    if form == "zigbee2mqtt":
        topic = zigbee2mqtt_topic(device, "availability")
        payload = _json({"state": "online" if online else "offline"})
    elif form == "tasmota":
        topic, payload = tasmota_topic(device, "LWT"), b"Online" if online else b"Offline"
    elif form == "esphome":
        topic = f"{(device.esphome or '').rpartition('/')[0]}/status"
        payload = b"online" if online else b"offline"
    else:
        topic = f"{NATIVE_PREFIX}/{device.id}/status"
        payload = b"online" if online else b"offline"
    return PlannedMessage(at, topic, payload, EVENT_QOS, True)


def badge(device: Device, at: datetime, uid: str, action: str | None, tz) -> PlannedMessage:
    """A card read; Tasmota readers cannot say in or out."""
    if device.tasmota:
        if stable(device.id, "driver") % 4 == 3:
            reading = {"PN532": {"UID": uid, "DATA": ""}}
        else:
            reading = {"RC522": {"UID": uid, "DATA": "", "Type": "MIFARE 1KB"}}
        body = {**_tasmota_clock(at, tz), **reading}
        return PlannedMessage(at, tasmota_topic(device, "SENSOR"), _json(body), EVENT_QOS, False)
    if device.esphome:
        # ESPHome's rc522/pn532 print a tag as dash-separated hex; its text sensors publish
        # under sensor/ (esphome/components/mqtt/mqtt_text_sensor.cpp).
        text = str(int(uid, 16)) if device.uid_decimal else "-".join(_pairs(uid))
        topic = esphome_topic(device, "sensor")
        return PlannedMessage(at, topic, text.encode(), EVENT_QOS, False)
    body = {"type": "badge", "uid": uid, "ts": _native_ts(device, at, tz)}
    if action:
        body["action"] = action
    return PlannedMessage(at, f"{NATIVE_PREFIX}/{device.id}/events", _json(body), EVENT_QOS, False)


def presence(
    device: Device, at: datetime, occupied: bool, change: bool, tz, rng: random.Random
) -> PlannedMessage:
    """A seat sensor's report; Zigbee2MQTT always publishes the device's whole state."""
    qos = EVENT_QOS if change else TELEMETRY_QOS
    if device.zigbee2mqtt:
        model = seat_model(device)
        k = stable(device.id, "k")
        body = {model.key: occupied, **model.extras(occupied, k, rng)}
        body["linkquality"] = max(0, min(255, 60 + k % 150 + rng.randint(-12, 12)))
        body["last_seen"] = _last_seen(device, at, tz)
        return PlannedMessage(at, zigbee2mqtt_topic(device), _json(body), qos, False)
    if device.esphome:
        topic = esphome_topic(device, "binary_sensor")
        return PlannedMessage(at, topic, b"ON" if occupied else b"OFF", qos, False)
    body = {"type": "presence", "occupied": occupied, "ts": _native_ts(device, at, tz)}
    return PlannedMessage(at, f"{NATIVE_PREFIX}/{device.id}/events", _json(body), qos, False)


def heartbeat(
    device: Device, at: datetime, boot: datetime, tz, rng: random.Random
) -> PlannedMessage | None:
    """Native heartbeat (battery, rssi) or Tasmota's tele STATE; nothing for Zigbee2MQTT."""
    k = stable(device.id, "k")
    signal = -48 - k % 30 + rng.randint(-3, 3)
    if device.tasmota:
        up = int((at - boot).total_seconds())
        body = {
            **_tasmota_clock(at, tz),
            "Uptime": f"{up // 86400}T{up % 86400 // 3600:02d}:{up % 3600 // 60:02d}:{up % 60:02d}",
            "UptimeSec": up,
            "Heap": 120 + k % 40,
            "SleepMode": "Dynamic",
            "Sleep": 50,
            "LoadAvg": 19,
            "MqttCount": 1,
            "Wifi": {
                "AP": 1,
                "SSId": "HallIoT",
                "Channel": 6,
                "Mode": "11n",
                "RSSI": min(100, 2 * (signal + 100)),
                "Signal": signal,
                "LinkCount": 1,
                "Downtime": "0T00:00:04",
            },
        }
        return PlannedMessage(at, tasmota_topic(device, "STATE"), _json(body), TELEMETRY_QOS, False)
    if device.zigbee2mqtt or device.esphome:
        return None
    body = {"type": "heartbeat", "ts": _native_ts(device, at, tz), "rssi": signal}
    if device.kind == "presence_sensor":
        body["battery"] = 55 + k % 46
    else:
        body["uptime_s"] = int((at - boot).total_seconds())
    topic = f"{NATIVE_PREFIX}/{device.id}/events"
    return PlannedMessage(at, topic, _json(body), TELEMETRY_QOS, False)
