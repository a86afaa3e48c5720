"""Supervise a private server process on loopback: console/mosquitto.py and console/influxd.py.

Each service lives in its own work directory (config, data, log) on its own
port, runs as the current user and never touches the system instances on
1883/8086. Start-up waits until the service really answers (each kind says how).

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
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
POLL_INTERVAL_S = 0.05  # between readiness probes
PROBE_TIMEOUT_S = 1.0  # one readiness probe (TCP connect, CONNACK, HTTP)
LOG_TAIL_LINES = 30  # how much of a log an error message quotes
START_ATTEMPTS = 3  # an automatically chosen port may be taken between choosing and binding
INSTALL_HINT = (
    "install them with `sudo apt-get install -y mosquitto influxdb` (or run scripts/setup.sh)"
)
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")  # mosquitto lives here; not always on PATH

_PR_SET_PDEATHSIG = 1
_running: weakref.WeakSet[Service] = weakref.WeakSet()


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


def require_binaries(*names: str) -> None:
    """Raise ServiceError naming what is missing and how to install it."""
    missing = [n for n in names if not binary_available(n)]
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


class Service:
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
            require_binaries(self.binary)
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


@atexit.register
def _stop_all() -> None:
    for service in list(_running):
        with contextlib.suppress(Exception):
            service.stop(timeout=5)
