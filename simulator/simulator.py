"""Play a planned day over MQTT, as the hall's badge readers and seat sensors would.

The plan (`simulator.dayplan`) is pure; this module is its I/O side: one paho-mqtt
client publishing every planned message at its due time (or, given the accounts
`hallwatch provision` wrote, one connection per device account, each logging in
as that device, as a hall with authentication on requires). Two ways to map the
plan's simulated time onto the wall clock:

- replay (`Simulator.play`): the plan's first message (or `start_at`) is "now"
  and time runs `speed` times faster. Payload timestamps stay the simulated
  instants, so the stored history reads like a real working day of that date.
- live (`Simulator.live`): the plan is today and runs in real time. Messages
  already due are sent at once in order (a backlog, so the floor view is
  populated when the demo starts mid-day), the rest when their time comes.

Messages without a timestamp of their own (native status, Zigbee2MQTT
availability, Tasmota LWT, everything ESPHome sends) take the collector's receipt
time; in live mode that is nearly their planned time, in a compressed replay it
is the real time. Zigbee2MQTT and Tasmota events take the receipt time as well
(their clocks only place a backlog: devices.clocks), so a replay of another day
keeps its dates only for native devices.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import paho.mqtt.client as mqtt

from hallwatch.config import MqttTarget
from hallwatch.mqtt import KEEPALIVE_S, hang_up, make_client
from hallwatch.registry.spec import Registry
from simulator import sim_payloads
from simulator.dayplan import REPORT_INTERVAL_S, DayPlan, PlannedMessage, plan_day
from simulator.dayplan import write_ground_truth_csv as write_ground_truth_csv

log = logging.getLogger(__name__)

MAX_WAIT_S = 1.0  # re-check the stop event and the clock at least this often
FLUSH_TIMEOUT_S = 10.0  # how long to wait for the broker to acknowledge QoS 1 messages at the end
FLUSH_POLL_S = 0.05
MAX_INFLIGHT = 100  # QoS 1 messages on the wire at once (paho's default is 20)
MODES = ("live", "replay")

SHARED = ""  # the account key of the single connection made without per-device accounts

Clock = Callable[[], datetime]
ClientFactory = Callable[[MqttTarget, str], mqtt.Client]


def utc_now() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


def _topic_owners(registry: Registry, zigbee2mqtt_user: str) -> list[tuple[str, str]]:
    """(topic prefix, the account publishing under it), longest prefix first."""
    owners = [(f"{base}/", zigbee2mqtt_user) for base in registry.zigbee2mqtt_names]
    owners += [(f"{node}/", node) for node in registry.esphome_nodes]
    owners += [(sim_payloads.tasmota_topic(d, ""), d.id) for d in registry.devices if d.tasmota]
    return sorted(owners, key=lambda owner: len(owner[0]), reverse=True)


def _default_client_id() -> str:
    return f"hallwatch-simulator-{socket.gethostname()}-{os.getpid()}"


class Simulator:
    """Publishes a DayPlan's messages at their due times over MQTT.

    Without `accounts`, over one connection with the target's credentials; with them
    (username → password, as `hallwatch provision` wrote), each message goes over the
    connection of the account that owns its topic: the device's id, the Zigbee2MQTT
    bridge's for its base topics, or the ESPHome node's.
    """

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
        accounts: Mapping[str, str] | None = None,
        zigbee2mqtt_user: str = "zigbee2mqtt",
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
        self._accounts = dict(accounts or {})
        self._zigbee2mqtt_user = zigbee2mqtt_user
        self._owner = _topic_owners(registry, zigbee2mqtt_user)
        self._clients: dict[str, mqtt.Client] = {}
        self._expected = 1  # connections to wait for
        self._up: set[str] = set()  # accounts whose connection is up
        self._connected = threading.Event()  # all of them are
        self._unacked: set[tuple[str, int]] = set()  # QoS 1 (account, mid) not yet acknowledged
        self._acks: deque[tuple[str, int]] = deque()  # filled by paho's threads, drained by ours
        self._unrouted: set[str] = set()  # accounts missing from `accounts`, warned once
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
        self._connect()
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
            self._publish_all(plan, sim_origin, real_origin, speed, backlog)
            self._flush()
        finally:
            for client in self._clients.values():
                hang_up(client)
        log.info("simulation finished: %d messages published", self.published)
        return self.published

    def _publish_all(
        self,
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
            self._publish(message)
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

    def _connect(self) -> None:
        """One connection per account (or a single shared one), each with its own thread."""
        self._clients, self._up = {}, set()
        self._connected.clear()
        self._expected = len(self._accounts) or 1  # before any connection can come up
        if not self._accounts:
            self._clients[SHARED] = self._open(SHARED, self.target, self._client_id)
            return
        for user, password in sorted(self._accounts.items()):
            target = replace(self.target, username=user, password=password)
            self._clients[user] = self._open(user, target, f"{self._client_id}-{user}")

    def _open(self, account: str, target: MqttTarget, client_id: str) -> mqtt.Client:
        client = self._client_factory(target, client_id)
        client.on_connect = lambda c, u, f, rc, p: self._on_connect(account, rc)
        client.on_disconnect = lambda c, u, f, rc, p: self._on_disconnect(account, rc)
        # Only record it: taking a lock here could deadlock with paho's own in publish().
        client.on_publish = lambda c, u, mid, rc, p: self._acks.append((account, mid))
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.connect_async(target.host, target.port, keepalive=KEEPALIVE_S)
        client.loop_start()
        return client

    def _account_of(self, topic: str) -> str:
        """Whose connection publishes `topic`: the device's own, the bridge's, or the shared."""
        if not self._accounts:
            return SHARED
        family, _, rest = topic.partition("/")
        if family == "hallwatch":
            return rest.split("/", 2)[1]
        for prefix, owner in self._owner:
            if topic.startswith(prefix):
                return owner
        return rest.split("/", 1)[0]

    def _wait_for_connection(self) -> bool:
        """Block until the broker accepts us (paho keeps retrying); False when stopped."""
        warned = False
        while not self._connected.wait(MAX_WAIT_S):
            if self.stop_event.is_set():
                return False
            if not warned:
                waiting = sorted(set(self._clients) - self._up)
                log.warning(
                    "waiting for the MQTT broker at %s:%d (%d of %d connections: %s)",
                    self.target.host,
                    self.target.port,
                    len(waiting),
                    len(self._clients),
                    ", ".join(waiting[:5]) or "shared",
                )
                warned = True
        return True

    def _publish(self, message: PlannedMessage) -> None:
        account = self._account_of(message.topic)
        client = self._clients.get(account)
        if client is None:
            if account not in self._unrouted:
                self._unrouted.add(account)
                log.warning("no MQTT account %r: not publishing %s", account, message.topic)
            return
        info = client.publish(message.topic, message.payload, message.qos, message.retain)
        if message.qos > 0:
            self._unacked.add((account, info.mid))
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

    def _on_connect(self, account: str, reason_code) -> None:
        if reason_code == 0:
            self._up.add(account)
            if len(self._up) == self._expected:
                log.info(
                    "connected to MQTT at %s:%d (%d connection%s)",
                    self.target.host,
                    self.target.port,
                    self._expected,
                    "" if self._expected == 1 else "s",
                )
                self._connected.set()
        else:
            log.error("MQTT broker refused %s: %s", account or "the connection", reason_code)

    def _on_disconnect(self, account: str, reason_code) -> None:
        self._up.discard(account)
        self._connected.clear()
        if reason_code != 0:
            log.warning("%s disconnected from MQTT (%s); paho will reconnect", account, reason_code)


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
    accounts: Mapping[str, str] | None = None,
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
    accounts     -- username → password of the device accounts (`hallwatch provision`);
                    given, every device logs in as itself over a connection of its own.
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
    simulator = Simulator(
        registry, mqtt_target, speed, clock, stop_event=stop_event, accounts=accounts
    )
    if mode == "live":
        return simulator.live(plan)
    return simulator.play(plan)


__all__ = ["Simulator", "run_simulation", "utc_now", "write_ground_truth_csv"]
