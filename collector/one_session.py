"""One collector per session: a second process with the same client id stops at start.

MQTT lets a client id have one connection: a second connect takes the session over and
the broker drops the first, which reconnects and takes it back, and so on, each process
receiving part of the other's messages. So a collector says it is here: a retained
message on `hallwatch/collectors/<id>/here` while it is connected (its will, and its
clean stop, clear it), and it answers `…/who` on the same connection.

Before connecting with its id, a collector looks with a client of its own: no retained
`here` (the broker sends retained messages before it echoes the look's own message
back) means nobody holds the session; a retained one is checked by asking `who`, since
a collector that died with the broker down leaves its message behind. A live answer
means another collector runs on this id: `AlreadyRunning`.

Two started in the same instant can both find nobody and then take the session from
each other. A collector whose session ends right after it began looks again, as itself:
the one that started later gives way (`AlreadyRunning`); the earlier one stays.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from hallwatch.config import MqttTarget
from hallwatch.mqtt import COLLECTORS_ROOT as ROOT
from hallwatch.mqtt import KEEPALIVE_S, hang_up, make_client

LOOK_WAIT_S = 5.0  # for the broker's echo, then for a live answer to `who`


class AlreadyRunning(RuntimeError):
    """Another collector is connected with this client id; the message says which."""


@dataclass(frozen=True)
class Presence:
    """What a running collector says of itself."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def started_before(self, other: dict) -> bool:
        """Whether this collector came first (the token breaks a tie)."""
        return (self.since, self.token) < (str(other.get("since")), str(other.get("token")))

    def payload(self) -> bytes:
        return json.dumps(asdict(self)).encode()


def here_topic(client_id: str) -> str:
    return f"{ROOT}/{client_id}/here"


def who_topic(client_id: str) -> str:
    return f"{ROOT}/{client_id}/who"


def will(client: mqtt.Client, client_id: str) -> None:
    """Before connecting: the broker clears our `here` if the connection is lost."""
    client.will_set(here_topic(client_id), b"", qos=1, retain=True)


def announce(client: mqtt.Client, client_id: str, presence: Presence) -> None:
    """On connecting (and when asked `who`): say we hold this session."""
    client.publish(here_topic(client_id), presence.payload(), qos=1, retain=True)


def withdraw(client: mqtt.Client, client_id: str, wait_s: float = 2.0) -> None:
    """On a clean stop: clear our `here` (a will is not sent for a clean disconnect)."""
    if client.is_connected():
        info = client.publish(here_topic(client_id), b"", qos=1, retain=True)
        info.wait_for_publish(timeout=wait_s)


def refuse_if_running(
    target: MqttTarget,
    client_id: str,
    me: Presence | None = None,
    wait_s: float = LOOK_WAIT_S,
) -> None:
    """Raise AlreadyRunning when another collector holds `client_id`'s session now; `me`:
    only one that started before this running collector."""
    other = _Look(target, client_id, wait_s, me).run()
    if other is not None and (me is None or not me.started_before(other)):
        raise AlreadyRunning(
            f"another collector is already connected as {client_id!r} (pid {other.get('pid')} "
            f"on {other.get('host')}, since {other.get('since')}): two processes on one "
            "session take it from each other and each gets part of the other's messages. "
            "Stop one, or give each its own HALLWATCH_COLLECTOR_ID (use --group to share work)"
        )


class _Look:
    """A clean client of its own asking whether `client_id`'s collector is here."""

    def __init__(self, target: MqttTarget, client_id: str, wait_s: float, me: Presence | None):
        self.target, self.client_id, self.wait_s = target, client_id, wait_s
        self.me = me.token if me is not None else None
        self.echo = f"{ROOT}/{client_id}/look/{uuid.uuid4().hex[:12]}"
        self.echoed, self.answered = threading.Event(), threading.Event()
        self.retained: dict | None = None
        self.live: dict | None = None

    def run(self) -> dict | None:
        client = make_client(self.target, f"{self.client_id}-look-{self.echo[-12:]}")
        client.on_connect = self._on_connect
        client.on_subscribe = lambda c, *_: c.publish(self.echo, b"", qos=1)
        client.on_message = self._on_message
        try:
            client.connect(self.target.host, self.target.port, keepalive=KEEPALIVE_S)
        except OSError:
            return None  # no broker yet: the collector retries connecting, as it always did
        client.loop_start()
        try:
            if not self.echoed.wait(self.wait_s) or (self.retained is None and self.me is None):
                return None
            client.publish(who_topic(self.client_id), b"", qos=1)
            self.answered.wait(self.wait_s)
            return self.live  # None: a `here` left behind by a collector long gone
        finally:
            hang_up(client)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe([(here_topic(self.client_id), 1), (self.echo, 1)])

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage):
        if message.topic == self.echo:
            self.echoed.set()
            return
        if not message.payload:
            return
        try:
            said = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(said, dict):
            return
        if message.retain:
            self.retained = said
        elif said.get("token") != self.me:  # said just now, by another collector connected now
            self.live = said
            self.answered.set()
