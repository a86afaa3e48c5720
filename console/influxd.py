"""A private InfluxDB 1.x on loopback (see console/services.py)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from console.supervised import (
    HOST,
    PROBE_TIMEOUT_S,
    Service,
    free_port,
)


class Influxd(Service):
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
# Written by console.influxd; unknown keys are silently ignored by influxd.
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
