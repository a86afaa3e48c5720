"""Play a planned day over MQTT, as the hall's badge readers and seat sensors would.

The plan (`devices.dayplan`) is pure; this module is its I/O side: one paho-mqtt
client publishing every planned message at its due time. Two ways to map the
plan's simulated time onto the wall clock:

- replay (`Simulator.play`): the plan's first message (or `start_at`) is "now"
  and time runs `speed` times faster. Payload timestamps stay the simulated
  instants, so the stored history reads like a real working day of that date.
- live (`Simulator.live`): the plan is today and runs in real time. Messages
  already due are sent at once in order (a backlog, so the floor view is
  populated when the demo starts mid-day), the rest when their time comes.

Messages without a timestamp of their own (native status, Zigbee2MQTT
availability, Tasmota LWT) take the collector's receipt time; in live mode that
is nearly their planned time, in a compressed replay it is the real time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import paho.mqtt.client as mqtt

from devices.dayplan import REPORT_INTERVAL_S, DayPlan, PlannedMessage, plan_day
from devices.dayplan import write_ground_truth_csv as write_ground_truth_csv
from hallwatch.config import MqttTarget
from hallwatch.mqtt import KEEPALIVE_S, make_client
from hallwatch.registry.spec import Registry

log = logging.getLogger(__name__)

MAX_WAIT_S = 1.0  # re-check the stop event and the clock at least this often
FLUSH_TIMEOUT_S = 10.0  # how long to wait for the broker to acknowledge QoS 1 messages at the end
FLUSH_POLL_S = 0.05
MAX_INFLIGHT = 100  # QoS 1 messages on the wire at once (paho's default is 20)
MODES = ("live", "replay")

Clock = Callable[[], datetime]
ClientFactory = Callable[[MqttTarget, str], mqtt.Client]


def utc_now() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


def _default_client_id() -> str:
    return f"hallwatch-simulator-{socket.gethostname()}-{os.getpid()}"


class Simulator:
    """Publishes a DayPlan's messages at their due times over one MQTT connection."""

    def __init__(
        self,
        registry: Registry,
        mqtt_target: MqttTarget,
        speed: float = 1.0,
        clock: Clock = utc_now,
        *,
        stop_event: threading.Event | None = None,
        client_factory: ClientFactory = make_client,
        client_id: str | None = None,
    ):
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.registry = registry
        self.target = mqtt_target
        self.speed = speed
        self.clock = clock
        self.stop_event = stop_event or threading.Event()
        self._client_factory = client_factory
        self._client_id = client_id or _default_client_id()
        self._connected = threading.Event()
        self._unacked: set[int] = set()  # mids of QoS 1 messages the broker has not acknowledged
        self._acks: deque[int] = deque()  # filled by paho's thread, drained by ours
        self.published = 0  # by the last play or live run

    def stop(self) -> None:
        """Ask a running play or live loop to finish after the current message."""
        self.stop_event.set()

    def play(self, plan: DayPlan, start_at: datetime | None = None) -> int:
        """Replay `plan` from simulated `start_at` (default its first message), `speed`× faster.

        Messages planned before `start_at` are sent at once. Returns how many were published.
        """
        if not plan.messages:
            log.info("nothing to simulate on %s: the hall is closed", plan.day)
            return 0
        sim_origin = start_at or plan.messages[0].at
        return self._run(plan, sim_origin, self.clock(), self.speed)

    def live(self, plan: DayPlan) -> int:
        """Play `plan` (today) in real time; what is already due goes out at once."""
        if not plan.messages:
            log.info("nothing to simulate on %s: the hall is closed", plan.day)
            return 0
        now = self.clock()
        return self._run(plan, now, now, 1.0)

    # -------------------------------------------------------------- the loop

    def _run(self, plan: DayPlan, sim_origin: datetime, real_origin: datetime, speed: float) -> int:
        """Publish every message when `real_origin + (at - sim_origin) / speed` comes."""
        for role, who in sorted(plan.story.items()):
            log.info("today's story on %s: %s → %s", plan.day, role, who)
        self.published = 0
        backlog = sum(1 for m in plan.messages if m.at < sim_origin)
        client = self._connect()
        try:
            if not self._wait_for_connection():
                return self.published
            if backlog:
                local = sim_origin.astimezone(self.registry.hall.tz)
                log.info(
                    "sending the %d messages planned before %s at once",
                    backlog,
                    f"{local:%H:%M:%S}",
                )
            log.info(
                "playing %d messages of %s, %s → %s, at %g× speed",
                len(plan.messages),
                plan.day,
                plan.messages[0].at.astimezone(self.registry.hall.tz).strftime("%H:%M"),
                plan.messages[-1].at.astimezone(self.registry.hall.tz).strftime("%H:%M"),
                speed,
            )
            self._publish_all(client, plan, sim_origin, real_origin, speed, backlog)
            self._flush()
        finally:
            client.disconnect()
            client.loop_stop()
        log.info("simulation finished: %d messages published", self.published)
        return self.published

    def _publish_all(
        self,
        client: mqtt.Client,
        plan: DayPlan,
        sim_origin: datetime,
        real_origin: datetime,
        speed: float,
        backlog: int,
    ) -> None:
        milestones = list(plan.milestones)
        for index, message in enumerate(plan.messages):
            due = real_origin + (message.at - sim_origin) / speed
            if not self._wait_until(due):
                log.info("stopped at simulated %s", message.at.isoformat(timespec="seconds"))
                return
            while milestones and milestones[0][0] <= message.at:
                at, text = milestones.pop(0)
                local = at.astimezone(self.registry.hall.tz)
                log.info("%s %s", local.strftime("%H:%M"), text)
            self._publish(client, message)
            if backlog and index + 1 == backlog:
                log.info("backlog sent; following the plan from now on")

    def _wait_until(self, due: datetime) -> bool:
        """Sleep until `due` on our clock; False when asked to stop first."""
        while not self.stop_event.is_set():
            remaining = (due - self.clock()).total_seconds()
            if remaining <= 0:
                return True
            self.stop_event.wait(min(remaining, MAX_WAIT_S))
        return False

    # -------------------------------------------------------------- MQTT

    def _connect(self) -> mqtt.Client:
        client = self._client_factory(self.target, self._client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.connect_async(self.target.host, self.target.port, keepalive=KEEPALIVE_S)
        client.loop_start()
        return client

    def _wait_for_connection(self) -> bool:
        """Block until the broker accepts us (paho keeps retrying); False when stopped."""
        warned = False
        while not self._connected.wait(MAX_WAIT_S):
            if self.stop_event.is_set():
                return False
            if not warned:
                log.warning(
                    "waiting for the MQTT broker at %s:%d", self.target.host, self.target.port
                )
                warned = True
        return True

    def _publish(self, client: mqtt.Client, message: PlannedMessage) -> None:
        info = client.publish(message.topic, message.payload, message.qos, message.retain)
        if message.qos > 0:
            self._unacked.add(info.mid)
        self._drain_acks()
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish to %s failed: %s", message.topic, mqtt.error_string(info.rc))
        elif info.rc == mqtt.MQTT_ERR_NO_CONN and message.qos == 0:
            log.debug("dropped while disconnected: %s", message.topic)  # QoS 1 is queued
        self.published += 1

    def _drain_acks(self) -> None:
        """Forget acknowledged messages; paho reports QoS 0 sends too, which we ignore."""
        while self._acks:
            self._unacked.discard(self._acks.popleft())

    def _flush(self) -> None:
        """Wait a while for the broker to acknowledge what we sent with QoS 1."""
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        self._drain_acks()
        while self._unacked and time.monotonic() < deadline:
            time.sleep(FLUSH_POLL_S)
            self._drain_acks()
        if self._unacked:
            log.warning("%d messages not acknowledged by the broker at exit", len(self._unacked))

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code == 0:
            log.info("connected to MQTT at %s:%d", self.target.host, self.target.port)
            self._connected.set()
        else:
            log.error("MQTT broker refused the connection: %s", reason_code)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if reason_code != 0:
            log.warning("disconnected from MQTT (%s); paho will reconnect", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # Only record it: taking a lock here could deadlock with paho's own in publish().
        self._acks.append(mid)


def run_simulation(
    registry: Registry,
    mqtt_target: MqttTarget,
    day: date,
    speed: float,
    mode: str,
    seed: int,
    truth_csv: Path | None,
    stop_event: threading.Event,
    *,
    report_interval_s: float = REPORT_INTERVAL_S,
    clock: Clock = utc_now,
) -> int:
    """Plan `day` and publish it; returns the number of messages published.

    registry     -- the hall (devices, staff, roster, leave, calendar) to simulate.
    mqtt_target  -- broker address and credentials (`Settings.mqtt_target()`).
    day          -- the hall-local date to plan; in "live" mode it must be today.
    speed        -- "replay" only: simulated seconds per real second (60 = an hour a minute).
    mode         -- "live": today in real time, past messages sent at once as a backlog;
                    "replay": the whole day from its first message, `speed`× faster.
    seed         -- the same seed and day give the same day (who is late, absent, pulled back…).
    truth_csv    -- if given, who really sat where minute by minute is written there first.
    stop_event   -- set it (e.g. from a signal handler) to stop after the current message.
    Returns when the plan is played out or `stop_event` is set. A closed day publishes nothing.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    today = clock().astimezone(registry.hall.tz).date()
    if mode == "live" and day != today:
        raise ValueError(f"live mode plays today ({today}) only, not {day}; use replay")
    plan = plan_day(registry, day, seed, report_interval_s=report_interval_s)
    if truth_csv is not None:
        write_ground_truth_csv(plan, truth_csv)
        log.info("ground truth (%d rows) written to %s", len(plan.ground_truth), truth_csv)
    simulator = Simulator(registry, mqtt_target, speed, clock, stop_event=stop_event)
    if mode == "live":
        return simulator.live(plan)
    return simulator.play(plan)


__all__ = ["Simulator", "run_simulation", "utc_now", "write_ground_truth_csv"]
