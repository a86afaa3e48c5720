"""A private Mosquitto 2.0 broker on loopback (see console/services.py)."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from console.supervised import (
    HOST,
    POLL_INTERVAL_S,
    PROBE_TIMEOUT_S,
    Service,
    free_port,
)

# Broker bounds, the same in docs/deploy/mosquitto-*.conf. A message above the limit is dropped
# by Mosquitto unread; one between the collector's MAX_PAYLOAD_BYTES (64 KiB) and this still
# reaches the collector, which keeps it in hw_rejected with its size, for operators to see.
BROKER_MESSAGE_SIZE_LIMIT = 256 * 1024
# Payload bytes queued for one client (an offline collector) past its in-flight window: room
# for max_queued_messages (a million) of typical ~200-byte events, not of a million 256 KiB ones.
BROKER_MAX_QUEUED_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a Mosquitto TLS listener: the CA, the server certificate and its key."""

    cafile: Path
    certfile: Path
    keyfile: Path


class Mosquitto(Service):
    """A Mosquitto 2.0 broker on 127.0.0.1:port with persistence under workdir."""

    binary = "mosquitto"
    scheme = "mqtt"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        extra_conf: str = "",
        *,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls: TlsFiles | None = None,
        tls_port: int | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.extra_conf = extra_conf
        # With a password file anonymous clients are refused (`hallwatch provision` writes it).
        self.password_file = Path(password_file).resolve() if password_file else None
        self.acl_file = Path(acl_file).resolve() if acl_file else None
        self.tls = tls  # a second listener speaking TLS, next to the loopback plain one
        self.tls_port = (free_port() if tls_port is None else tls_port) if tls else None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def tls_url(self) -> str | None:
        """mqtts://127.0.0.1:tls_port when a TLS listener is configured."""
        return f"mqtts://{HOST}:{self.tls_port}" if self.tls else None

    def _reassign_ports(self) -> None:
        super()._reassign_ports()
        if self.tls:
            self.tls_port = free_port()

    def reload(self) -> None:
        """SIGHUP: re-read the password and ACL files (2.0 drops clients whose account went)."""
        self._signal(signal.SIGHUP)

    @property
    def log_path(self) -> Path:
        """The broker's own log (connections, denials, errors)."""
        return self.workdir / "mosquitto.log"

    @property
    def persistence_path(self) -> Path:
        """The broker's saved state (sessions, queued messages)."""
        return self.workdir / "data" / "mosquitto.db"

    def log_paths(self) -> list[Path]:
        # Config errors appear on stderr before the log file is opened; both are useful.
        return [self.output_path, self.log_path]

    def _write_config(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} {HOST}",
            *self._tls_listener(),
            f"allow_anonymous {'false' if self.password_file else 'true'}",
            *([f"password_file {self.password_file}"] if self.password_file else []),
            *([f"acl_file {self.acl_file}"] if self.acl_file else []),
            # Without this, a broker started by root drops to the `mosquitto` user and can no
            # longer write our work directory. Ignored when not root.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            "persistence true",
            f"persistence_location {data}/",
            "persistence_file mosquitto.db",
            "autosave_interval 1",
            # The default of 1000 silently drops a burst queued for an offline collector;
            # a million is about 100 minutes of a 200-window hall (~200 MB at most).
            "max_queued_messages 1000000",
            # Bounds on one message and on one client's queue (RAM): a hostile or broken
            # client cannot make the broker hold gigabytes.
            f"message_size_limit {BROKER_MESSAGE_SIZE_LIMIT}",
            f"max_queued_bytes {BROKER_MAX_QUEUED_BYTES}",
            # Zigbee2MQTT and ESPHome publish at QoS 0 by default: without this, what they
            # say while the collector is down is dropped instead of queued for it.
            "queue_qos0_messages true",
            # The collector acks only after InfluxDB stored the batch, so the broker must let
            # a whole batch (collector.MAX_BATCH) be in flight, or each batch waits its timer.
            "max_inflight_messages 5000",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "",
            self.extra_conf,
        ]
        self.conf_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return ["-c", str(self.conf_path)]

    def _tls_listener(self) -> list[str]:
        if not self.tls:
            return []
        return [
            f"listener {self.tls_port} {HOST}",
            f"cafile {self.tls.cafile.resolve()}",
            f"certfile {self.tls.certfile.resolve()}",
            f"keyfile {self.tls.keyfile.resolve()}",
        ]

    def _ready(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=PROBE_TIMEOUT_S):
                pass
        except OSError:
            return False
        return self._mqtt_connects()

    def _mqtt_connects(self) -> bool:
        answered = threading.Event()
        accepted: list[bool] = []

        def on_connect(client, userdata, flags, reason_code, properties):
            accepted.append(not reason_code.is_failure)
            answered.set()

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"hallwatch-probe-{uuid.uuid4().hex[:12]}",
            clean_session=True,
        )
        client.on_connect = on_connect
        client.connect_timeout = PROBE_TIMEOUT_S
        try:
            client.connect(HOST, self.port, keepalive=10)
            deadline = time.monotonic() + PROBE_TIMEOUT_S
            while not answered.is_set() and time.monotonic() < deadline:
                if client.loop(timeout=POLL_INTERVAL_S) != mqtt.MQTT_ERR_SUCCESS:
                    break
        except OSError:
            return False
        finally:
            if accepted == [True]:
                client.disconnect()
            sock = client.socket()
            if sock is not None:
                sock.close()
        # A refusal (say, anonymous login turned off in extra_conf) still means the broker is up.
        return answered.is_set()
