"""Run a private Mosquitto and InfluxDB 1.x on loopback, for the demo and the tests.

Each service lives in its own work directory (config, data, log) on its own
port, runs as the current user and never touches the system instances on
1883/8086. Start-up waits until the service really answers: an MQTT CONNACK
for Mosquitto, HTTP 204 on /ping for influxd.

On Linux a service started from the main thread is sent SIGTERM when this Python process
dies, even by SIGKILL; one started from another thread is not (it would die with that thread).
An atexit hook stops whatever is still running at a normal exit.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
POLL_INTERVAL_S = 0.05  # between readiness probes
PROBE_TIMEOUT_S = 1.0  # one readiness probe (TCP connect, CONNACK, HTTP)
LOG_TAIL_LINES = 30  # how much of a log an error message quotes
START_ATTEMPTS = 3  # an automatically chosen port may be taken between choosing and binding
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")  # mosquitto lives here; not always on PATH
# Broker bounds, the same in docs/deploy/mosquitto-*.conf. A message above the limit is dropped
# by Mosquitto unread; one between the collector's MAX_PAYLOAD_BYTES (64 KiB) and this still
# reaches the collector, which keeps it in hw_rejected with its size, for operators to see.
BROKER_MESSAGE_SIZE_LIMIT = 256 * 1024
# Payload bytes queued for one client (an offline collector) past its in-flight window: room
# for max_queued_messages (a million) of typical ~200-byte events, not of a million 256 KiB ones.
BROKER_MAX_QUEUED_BYTES = 512 * 1024 * 1024
INSTALL_HINT = (
    "install them with `sudo apt-get install -y mosquitto influxdb` (or run scripts/setup.sh)"
)

_PR_SET_PDEATHSIG = 1
_running: weakref.WeakSet[_Service] = weakref.WeakSet()


class ServiceError(RuntimeError):
    """A service could not be found, started or stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def find_binary(name: str) -> str | None:
    """The path of an executable, looking in PATH and then the sbin directories."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN_DIRS])
    return shutil.which(name, path=search)


def binary_available(name: str) -> bool:
    """Whether the executable `name` can be found."""
    return find_binary(name) is not None


def mosquitto_available() -> bool:
    """Whether the mosquitto broker is installed."""
    return binary_available(Mosquitto.binary)


def influxd_available() -> bool:
    """Whether the InfluxDB 1.x server is installed."""
    return binary_available(Influxd.binary)


def ensure_binaries(*names: str) -> None:
    """Raise ServiceError naming what is missing and how to install it (default: both)."""
    missing = [n for n in names or (Mosquitto.binary, Influxd.binary) if not binary_available(n)]
    if missing:
        raise ServiceError(
            f"not found: {', '.join(missing)} (looked in PATH and {', '.join(SBIN_DIRS)}); "
            + INSTALL_HINT
        )


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _death_signal_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when this thread ends, or None."""
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None  # PDEATHSIG follows the thread that forked; only the main thread is safe
    # Resolved here, in the parent: the child between fork and exec must not call dlopen.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


class _Service:
    """One server process: config written under workdir, output to a log file there."""

    binary: str = ""
    scheme: str = ""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self._auto_port = port is None
        self.port = free_port() if port is None else port
        self._proc: subprocess.Popen | None = None
        self._paused = False
        self.startup_s: float | None = None  # how long the last start took

    # -- what each service defines ------------------------------------------------------
    def _write_config(self) -> list[str]:
        """Write the config files; return the command line."""
        raise NotImplementedError

    def _ready(self) -> bool:
        """One probe: does the service answer?"""
        raise NotImplementedError

    def _reassign_ports(self) -> None:
        self.port = free_port()

    @property
    def output_path(self) -> Path:
        """Where the process's stdout and stderr go."""
        return self.workdir / f"{self.binary}.out"

    def log_paths(self) -> list[Path]:
        """Every file the service writes its messages to."""
        return [self.output_path]

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the service's output."""
        return "\n".join(t for t in (_tail(p, lines) for p in self.log_paths()) if t)

    def _log_sizes(self) -> dict[Path, int]:
        return {p: p.stat().st_size if p.exists() else 0 for p in self.log_paths()}

    def _logged_since(self, sizes: dict[Path, int]) -> str:
        texts = []
        for path, size in sizes.items():
            with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
                f.seek(size)
                texts.append(f.read().decode("utf-8", errors="replace"))
        return "\n".join(texts)

    # -- common behaviour -----------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"{self.scheme}://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while the process exists (running or paused), else None."""
        return self._proc.pid if self.running else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30) -> None:
        """Spawn the process and wait until it answers; raise ServiceError with the log tail."""
        if self.running:
            return
        path = find_binary(self.binary)
        if path is None:
            ensure_binaries(self.binary)
        self.workdir.mkdir(parents=True, exist_ok=True)
        begun = time.monotonic()
        for attempt in range(1, START_ATTEMPTS + 1):
            sizes = self._log_sizes()
            try:
                self._spawn_and_wait(path, begun + timeout)
                break
            except ServiceError:
                lost_port = "address already in use" in self._logged_since(sizes).lower()
                if not (self._auto_port and lost_port and attempt < START_ATTEMPTS):
                    raise
                log.info("%s: port %d was taken, trying another", self.binary, self.port)
                self._reassign_ports()
        self.startup_s = time.monotonic() - begun
        log.info(
            "%s ready at %s in %.2f s (pid %d)",
            self.binary,
            self.url,
            self.startup_s,
            self._proc.pid,
        )

    def _spawn_and_wait(self, path: str, deadline: float) -> None:
        argv = [path, *self._write_config()]
        with open(self.output_path, "ab") as out:
            self._proc = subprocess.Popen(
                argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal goes to the demo, which stops us
                # A crashed test run or demo must not leave servers behind.
                preexec_fn=_death_signal_hook(),
            )
        self._paused = False
        _running.add(self)
        while True:
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                raise ServiceError(
                    f"{self.binary} exited with status {code} while starting on port "
                    f"{self.port}; log {self.output_path}:\n{self.log_tail()}"
                )
            if self._ready():
                return
            if time.monotonic() > deadline:
                self._terminate(timeout=5)
                raise ServiceError(
                    f"{self.binary} did not answer on port {self.port} in time; "
                    f"log {self.output_path}:\n{self.log_tail()}"
                )
            time.sleep(POLL_INTERVAL_S)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds; safe to call when not running."""
        if self._proc is not None:
            self._terminate(timeout)

    def _terminate(self, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a paused process must wake to see SIGTERM
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) ignored SIGTERM; killing it", self.binary, proc.pid)
                proc.kill()
                proc.wait()
        self._proc = None
        self._paused = False
        _running.discard(self)

    def kill(self) -> None:
        """SIGKILL, as in a crash or power loss: nothing is flushed."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        self._proc = None
        self._paused = False
        _running.discard(self)

    def pause(self) -> None:
        """SIGSTOP: the process hangs, its sockets stay open."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after pause()."""
        self._signal(signal.SIGCONT)
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    def restart(self, timeout: float = 30) -> None:
        """Clean stop, then start on the same port with the same data."""
        self.stop()
        self.start(timeout=timeout)

    def _signal(self, signum: int) -> None:
        if not self.running:
            raise ServiceError(f"{self.binary} is not running")
        self._proc.send_signal(signum)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state} in {self.workdir}>"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a Mosquitto TLS listener: the CA, the server certificate and its key."""

    cafile: Path
    certfile: Path
    keyfile: Path


class Mosquitto(_Service):
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


class Influxd(_Service):
    """InfluxDB 1.x (tested with Debian's 1.6.7) on 127.0.0.1:port with data under workdir."""

    binary = "influxd"
    scheme = "http"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        http_conf: str = "",
        *,
        auth_enabled: bool = False,
    ) -> None:
        super().__init__(workdir, port)
        self.rpc_port = free_port()  # backup/restore RPC; must not be the default 8088 either
        self.http_conf = http_conf  # extra [http] lines, e.g. "max-body-size = 20000"
        # Users and grants: `hallwatch provision --influx` (no auth until an admin exists).
        self.auth_enabled = auth_enabled

    def _reassign_ports(self) -> None:
        super()._reassign_ports()
        self.rpc_port = free_port()

    @property
    def conf_path(self) -> Path:
        return self.workdir / "influxdb.conf"

    def _write_config(self) -> list[str]:
        root = self.workdir
        text = f"""\
# Written by console.services; unknown keys are silently ignored by influxd.
reporting-disabled = true
# Debian's build spells it this way.
reporting-enabled = false
bind-address = "{HOST}:{self.rpc_port}"

[meta]
  dir = "{root / "meta"}"

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "{HOST}:{self.port}"
  auth-enabled = {"true" if self.auth_enabled else "false"}
  log-enabled = false
  pprof-enabled = false
  {self.http_conf}

[monitor]
  store-enabled = false

[continuous_queries]
  log-enabled = false

[logging]
  suppress-logo = true
"""
        self.conf_path.write_text(text, encoding="utf-8")
        return ["-config", str(self.conf_path)]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=PROBE_TIMEOUT_S) as answer:
                return answer.status == 204
        except (urllib.error.URLError, OSError):
            return False


@atexit.register
def _stop_all() -> None:
    for service in list(_running):
        with contextlib.suppress(Exception):
            service.stop(timeout=5)
