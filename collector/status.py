"""What the collector counts (its log line, /healthz and /metrics read it) and status.json,
rewritten beside its spool (spool depth and counters) for /healthz and the devices page,
which read `spool_summary`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import Histogram

from hallwatch.telemetry import write_seconds

if TYPE_CHECKING:
    from collector.inbox import Inbox
    from collector.spool import Spool

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"
STATUS_INTERVAL_S = 1.0  # how often it is rewritten


@dataclass
class CollectorStats:
    received: int = 0
    written: int = 0
    rejected: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    internal_errors: int = 0
    spooled: int = 0
    replayed: int = 0
    batches: int = 0
    influx_ok: bool = True
    influx_error: str | None = None  # the last failed write's error, while writes fail
    registry_error: str | None = None  # why the registry cannot be read, while it cannot
    connected: bool = False
    last_write: datetime | None = None
    write_failures: int = 0  # failed InfluxDB writes, each retry counted
    placed_late: int = 0  # events that waited in the broker, placed by their device's clock
    rejected_by_kind: dict[str, int] = field(default_factory=dict)  # events.RejectionKind
    write_seconds: Histogram = field(default_factory=write_seconds)  # /write round trips
    extra: dict = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.received} received, {self.written} written, {self.rejected} rejected, "
            f"{self.dead_lettered} refused by InfluxDB, {self.ignored} ignored, "
            f"{self.dropped} dropped, {self.placed_late} placed by their device's clock"
        )


class StatusFile:
    """status.json in the spool's directory (none without a spool), never failing the worker."""

    def __init__(self, stats: CollectorStats, queue: Inbox, spool: Spool | None):
        self.stats = stats
        self.queue = queue
        self.spool = spool
        self._written_at = 0.0

    def write(self, force: bool = False) -> None:
        """Rewrite it if STATUS_INTERVAL_S has passed since the last time, or `force`."""
        if self.spool is None or (
            not force and time.monotonic() - self._written_at < STATUS_INTERVAL_S
        ):
            return
        self._written_at = time.monotonic()
        try:
            write_status(self.spool.directory, self._status())
        except OSError as exc:
            log.warning("could not write the collector status: %s", exc)

    def _status(self) -> dict:
        assert self.spool is not None
        s = self.stats
        return {
            "pid": os.getpid(),
            "updated": datetime.now(UTC).isoformat(),
            "connected": s.connected,
            "influx_ok": s.influx_ok,
            "influx_error": s.influx_error,
            "registry_error": s.registry_error,
            "queued": self.queue.qsize(),
            "spool": self.spool.depth(),
            "counts": {
                "received": s.received,
                "written": s.written,
                "rejected": s.rejected,
                "dead_lettered": s.dead_lettered,
                "dropped": s.dropped,
                "spooled": s.spooled,
                "replayed": s.replayed,
                "internal_errors": s.internal_errors,
                "placed_late": s.placed_late,
            },
        }


def write_status(directory: Path, status: dict) -> None:
    """Replace `status.json` atomically (readers never see half a file)."""
    path = Path(directory) / STATUS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_statuses(root: Path) -> list[dict]:
    """The last status of every collector spooling under `root` (unreadable ones skipped)."""
    statuses = []
    for path in sorted(Path(root).glob(f"*/{STATUS_FILE}")):
        with contextlib.suppress(OSError, ValueError):
            statuses.append(json.loads(path.read_text(encoding="utf-8")))
    return statuses


def spool_summary(root: Path) -> dict | None:
    """Spool depth summed over the collectors under `root`, and why any cannot write to
    InfluxDB now (`write_errors`, when some cannot); None when none reports."""
    reports = read_statuses(root)
    statuses = [s for s in reports if isinstance(s.get("spool"), dict)]
    if not statuses:
        return None
    oldest = [s["spool"]["oldest"] for s in statuses if s["spool"].get("oldest")]
    summary = {
        "points": sum(int(s["spool"].get("points", 0)) for s in statuses),
        "bytes": sum(int(s["spool"].get("bytes", 0)) for s in statuses),
        "oldest": min(oldest) if oldest else None,
    }
    corrupt = [name for s in statuses for name in s["spool"].get("corrupt") or ()]
    if corrupt:  # damaged segments kept aside: acknowledged points an operator must see to
        summary["corrupt"] = corrupt
    errors = [s["influx_error"] for s in reports if s.get("influx_error")]
    if errors:  # e.g. the collector's write account refused while the web's reads work
        summary["write_errors"] = errors
    registry = [s["registry_error"] for s in reports if s.get("registry_error")]
    if registry:  # a collector that cannot read the registry takes no messages
        summary["registry_errors"] = registry
    return summary
