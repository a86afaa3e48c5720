"""The shipped demo hall (simulator/hall.yaml) as a registry, its planned Monday, and a fake
paho client that acknowledges every publish: for the simulator and provisioning tests."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from hallwatch.registry.spec import (
    Department,
    Device,
    HallSettings,
    Leave,
    Registry,
    RosterEntry,
    StaffMember,
    Window,
)
from simulator.dayplan import DayPlan, plan_day


@cache
def demo_registry() -> Registry:
    """The shipped demo hall, read by the real parser when it exists."""
    text = DEMO_HALL.read_text(encoding="utf-8")
    try:
        from hallwatch.registry.parse import parse_registry
    except ImportError:
        return _registry_from_yaml(text)
    return parse_registry(text)


@cache
def monday(seed: int = 1) -> DayPlan:
    return plan_day(demo_registry(), MONDAY, seed)


class FakeClient:
    """Stands in for paho: connects at once, acknowledges every QoS 1 publish."""

    def __init__(self, on_published=None):
        self.sent: list[tuple[str, bytes, int, bool]] = []
        self.on_published = on_published
        self.on_connect = self.on_disconnect = self.on_publish = None
        self.running = False

    def max_inflight_messages_set(self, n: int) -> None:
        pass

    def connect_async(self, host: str, port: int, keepalive: int) -> None:
        pass

    def loop_start(self) -> None:
        self.running = True
        self.on_connect(self, None, {}, ReasonCode(PacketTypes.CONNACK, "Success"), None)

    def loop_stop(self) -> None:
        self.running = False

    def disconnect(self) -> None:
        pass

    def publish(self, topic, payload, qos, retain):
        self.sent.append((topic, payload, qos, retain))
        info = mqtt.MQTTMessageInfo(len(self.sent))
        info.rc = mqtt.MQTT_ERR_SUCCESS
        if qos:
            self.on_publish(self, None, info.mid, ReasonCode(PacketTypes.PUBACK, "Success"), None)
        if self.on_published:
            self.on_published(len(self.sent))
        return info


DEMO_HALL = Path(__file__).parents[2] / "simulator" / "hall.yaml"


MONDAY = date(2026, 11, 23)


def _registry_from_yaml(text: str) -> Registry:
    """A minimal registry-file reader for these tests, until hallwatch.registry.parse exists."""
    data = yaml.safe_load(text)
    h = data["hall"]
    tz = ZoneInfo(h["timezone"])

    def clock(hhmm: str) -> time:
        return time.fromisoformat(hhmm)

    def instant(text: str) -> datetime:
        at = datetime.fromisoformat(text)
        return at if at.tzinfo else at.replace(tzinfo=tz)

    hall = HallSettings(
        name=h["name"],
        timezone=h["timezone"],
        hours=tuple((clock(a), clock(b)) for a, b in h["hours"]),
        holidays=h["holidays"],
        closed_days=frozenset(date.fromisoformat(d) for d in h.get("closed_days", [])),
        working_days=frozenset(date.fromisoformat(d) for d in h.get("working_days", [])),
    )
    return Registry(
        hall=hall,
        departments=tuple(Department(d["id"], d["name"]) for d in data["departments"]),
        windows=tuple(
            Window(w["id"], w["name"], w["department"], tuple(w.get("position") or ()) or None)
            for w in data["windows"]
        ),
        staff=tuple(
            StaffMember(s["id"], s["name"], s["department"], tuple(b.upper() for b in s["badges"]))
            for s in data["staff"]
        ),
        devices=tuple(
            Device(
                d["id"],
                d["kind"],
                window=d.get("window"),
                department=d.get("department"),
                zigbee2mqtt=d.get("zigbee2mqtt"),
                tasmota=d.get("tasmota"),
            )
            for d in data["devices"]
        ),
        roster=tuple(
            RosterEntry(r["staff"], r["window"], frozenset(r["days"])) for r in data["roster"]
        ),
        leave=tuple(
            Leave(v["staff"], instant(v["from"]), instant(v["until"]), v.get("reason", ""))
            for v in data.get("leave") or []
        ),
    )
