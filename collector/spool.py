"""A bounded on-disk spool of line-protocol batches, for InfluxDB outages longer than memory.

Segments `seg-<n>.hws` are append-only files of records; a record is one batch:
a header (magic, payload length, CRC-32 of the payload, point count, the time it
was spooled in ms) followed by the lines joined by newlines. Every append is
fsynced before it returns, so the collector may acknowledge those MQTT messages
afterwards. On opening, a record cut short or failing its checksum (a crash in
the middle of an append) ends its segment: the tail is truncated away. Its
messages were never acknowledged, so the broker delivers them again.

Replay reads the oldest segment first; the caller deletes a segment only after
InfluxDB accepted every point in it. Writes are idempotent (event time and
tags), so a segment replayed twice after a crash overwrites its own points.

The collector also writes `status.json` next to its segments (spool depth and
counters) for `/healthz` and the devices page, which read `read_statuses()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_SPOOL_DIR = Path("var") / "spool"
DEFAULT_SPOOL_MAX_MB = 512.0  # ~3.5 million points of ~150 bytes: hours of a large hall
DEFAULT_MAX_QUEUE = 20_000  # messages held in memory before paho's thread waits
DEFAULT_SPOOL_AFTER_S = 30.0  # an outage this long (or a full queue) sends batches to disk
SEGMENT_BYTES = 4 * 1024 * 1024  # a new segment starts past this size
STATUS_FILE = "status.json"
_MAGIC = b"HWS1"
_HEADER = struct.Struct(">4sIIIQ")  # magic, payload bytes, crc32, points, spooled at (ms)
_SEGMENT_GLOB = "seg-*.hws"


class SpoolConfigError(ValueError):
    """A spool setting is malformed; the message names the variable."""


@dataclass(frozen=True)
class SpoolSettings:
    """Where and how much to spool, and when the collector starts to (validated once)."""

    root: Path = DEFAULT_SPOOL_DIR
    max_bytes: int = int(DEFAULT_SPOOL_MAX_MB * 1024 * 1024)
    max_queue: int = DEFAULT_MAX_QUEUE
    spool_after_s: float = DEFAULT_SPOOL_AFTER_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SpoolSettings:
        """HALLWATCH_SPOOL_DIR, HALLWATCH_SPOOL_MAX_MB, HALLWATCH_COLLECTOR_MAX_QUEUE,
        HALLWATCH_SPOOL_AFTER_S (HALLWATCH_SPOOL_MAX_MB=0 turns the spool off)."""
        env = os.environ if env is None else env
        max_mb = _number(env, "HALLWATCH_SPOOL_MAX_MB", DEFAULT_SPOOL_MAX_MB)
        max_queue = _number(env, "HALLWATCH_COLLECTOR_MAX_QUEUE", DEFAULT_MAX_QUEUE)
        after = _number(env, "HALLWATCH_SPOOL_AFTER_S", DEFAULT_SPOOL_AFTER_S)
        if max_mb < 0 or max_queue < 1 or after < 0:
            raise SpoolConfigError(
                "HALLWATCH_SPOOL_MAX_MB and HALLWATCH_SPOOL_AFTER_S must be 0 or more, "
                "HALLWATCH_COLLECTOR_MAX_QUEUE 1 or more"
            )
        return cls(
            root=Path(env.get("HALLWATCH_SPOOL_DIR") or DEFAULT_SPOOL_DIR),
            max_bytes=int(max_mb * 1024 * 1024),
            max_queue=int(max_queue),
            spool_after_s=after,
        )

    def directory(self, collector_id: str) -> Path:
        """Each collector spools in a directory of its own under the root."""
        return self.root / (collector_id or "collector")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SpoolConfigError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Segment:
    path: Path
    points: int
    size: int
    oldest_ms: int | None


class Spool:
    """The segments of one collector: append batches, read the oldest, delete when stored."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = SEGMENT_BYTES):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self.discarded_bytes = 0  # torn tails cut off when opening
        self.segments: list[Segment] = [self._recover(p) for p in self._paths()]
        self._next = 1 + max((_number_of(s.path) for s in self.segments), default=0)

    # --- depth -------------------------------------------------------------------------

    @property
    def points(self) -> int:
        return sum(s.points for s in self.segments)

    @property
    def bytes(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def oldest(self) -> datetime | None:
        """When the oldest batch still on disk was spooled."""
        for segment in self.segments:
            if segment.oldest_ms is not None:
                return datetime.fromtimestamp(segment.oldest_ms / 1000, UTC)
        return None

    def depth(self) -> dict:
        oldest = self.oldest
        return {
            "points": self.points,
            "bytes": self.bytes,
            "oldest": oldest.isoformat() if oldest else None,
        }

    # --- writing -----------------------------------------------------------------------

    def append(self, lines: list[str]) -> bool:
        """Add one batch durably (fsynced); False, adding nothing, when it would not fit."""
        if not lines:
            return True
        payload = "\n".join(lines).encode()
        now_ms = int(time.time() * 1000)
        record = _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload), len(lines), now_ms)
        if self.bytes + len(record) + len(payload) > self.max_bytes:
            return False
        last = self.segments[-1] if self.segments else None
        if last is None or last.size >= self.segment_bytes:
            last = self._new_segment()
        _append_durably(last.path, record + payload, last.size)
        self.segments[-1] = Segment(
            last.path,
            last.points + len(lines),
            last.size + len(record) + len(payload),
            last.oldest_ms if last.oldest_ms is not None else now_ms,
        )
        return True

    def fitting(self, lines: list[str]) -> int:
        """How many of `lines`, from the first, one append could still take."""
        room = self.max_bytes - self.bytes - _HEADER.size
        count = 0
        for line in lines:
            room -= len(line.encode()) + (1 if count else 0)
            if room < 0:
                break
            count += 1
        return count

    def _new_segment(self) -> Segment:
        path = self.directory / f"seg-{self._next:012d}.hws"
        self._next += 1
        path.touch()
        _fsync_dir(self.directory)  # the new name survives a power cut
        segment = Segment(path, 0, 0, None)
        self.segments.append(segment)
        return segment

    # --- replay ------------------------------------------------------------------------

    def oldest_segment(self) -> Segment | None:
        return self.segments[0] if self.segments else None

    def lines_of(self, segment: Segment) -> list[str]:
        """Every line of a segment, in the order spooled."""
        lines: list[str] = []
        for payload, _points, _at in _records(segment.path.read_bytes()):
            lines.extend(payload.decode().split("\n"))
        return lines

    def remove(self, segment: Segment) -> None:
        """Delete a segment whose points InfluxDB has accepted."""
        segment.path.unlink(missing_ok=True)
        _fsync_dir(self.directory)
        self.segments = [s for s in self.segments if s.path != segment.path]

    # --- opening -----------------------------------------------------------------------

    def _paths(self) -> list[Path]:
        return sorted(self.directory.glob(_SEGMENT_GLOB), key=_number_of)

    def _recover(self, path: Path) -> Segment:
        data = path.read_bytes()
        points, good, oldest = 0, 0, None
        for payload, count, at_ms in _records(data):
            points += count
            good += _HEADER.size + len(payload)
            oldest = at_ms if oldest is None else oldest
        if good < len(data):  # a torn append: never acknowledged, so redelivered
            self.discarded_bytes += len(data) - good
            with open(path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        return Segment(path, points, good, oldest)


def _records(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(payload, points, spooled at ms) of each whole, intact record; stops at the first bad."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        magic, length, crc, points, at_ms = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        payload = data[start : start + length]
        if magic != _MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            return
        yield payload, points, at_ms
        offset = start + length


def _append_durably(path: Path, data: bytes, size_before: int) -> None:
    """Append and fsync; on failure cut the file back, since a record behind a torn one
    would be unreadable."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size_before)
        raise
    finally:
        os.close(fd)


def _number_of(path: Path) -> int:
    try:
        return int(path.stem.split("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- status for /healthz ---------------------------------------------------------------


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
    errors = [s["influx_error"] for s in reports if s.get("influx_error")]
    if errors:  # e.g. the collector's write account refused while the web's reads work
        summary["write_errors"] = errors
    return summary
