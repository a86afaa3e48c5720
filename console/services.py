"""Run a private Mosquitto and InfluxDB 1.x on loopback, for the demo and the tests.

One import for both: the broker is console/mosquitto.py, the database console/influxd.py,
what they share (ports, start-up, stopping) console/supervised.py. Start-up waits until
the service really answers: an MQTT CONNACK for Mosquitto, HTTP 204 on /ping for influxd.
"""

from __future__ import annotations

from console.influxd import Influxd
from console.mosquitto import (
    BROKER_MAX_QUEUED_BYTES,
    BROKER_MESSAGE_SIZE_LIMIT,
    Mosquitto,
    TlsFiles,
)
from console.supervised import (
    HOST,
    ServiceError,
    binary_available,
    find_binary,
    free_port,
    port_is_free,
    require_binaries,
)

__all__ = [
    "BROKER_MAX_QUEUED_BYTES",
    "BROKER_MESSAGE_SIZE_LIMIT",
    "HOST",
    "Influxd",
    "Mosquitto",
    "ServiceError",
    "TlsFiles",
    "ensure_binaries",
    "find_binary",
    "free_port",
    "influxd_available",
    "mosquitto_available",
    "port_is_free",
]


def mosquitto_available() -> bool:
    """Whether the mosquitto broker is installed."""
    return binary_available(Mosquitto.binary)


def influxd_available() -> bool:
    """Whether the InfluxDB 1.x server is installed."""
    return binary_available(Influxd.binary)


def ensure_binaries(*names: str) -> None:
    """Raise ServiceError naming what is missing and how to install it (default: both)."""
    require_binaries(*(names or (Mosquitto.binary, Influxd.binary)))
