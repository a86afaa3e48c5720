"""A bounded on-disk spool of line-protocol batches, for InfluxDB outages longer than memory.

Segments `seg-<n>.hws` are append-only files of records; a record is one batch:
a header (magic, payload length, CRC-32 of the payload, point count, the time it
was spooled in ms) followed by the lines joined by newlines. Every append is
fsynced before it returns, so the collector may acknowledge those MQTT messages
afterwards. On opening, a last record cut short (a crash in the middle of an
append) is truncated away: its messages were never acknowledged, so the broker
delivers them again. Any other bad record (a flipped byte, in the middle or at
the end) holds acknowledged points: the segment is kept aside as
`seg-<n>.hws.corrupt-<k>`, the reader resynchronises on the next intact record,
and the segment is rewritten with every intact record; the status file counts
what was kept aside, so `/healthz` and the devices page tell the operator.

Replay reads the oldest segment first; the caller deletes a segment only after
InfluxDB accepted every point in it. Writes are idempotent (event time and
tags), so a segment replayed twice after a crash overwrites its own points.

The collector also writes `status.json` next to its segments (collector/status.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_SPOOL_DIR = Path("var") / "spool"
DEFAULT_SPOOL_MAX_MB = 512.0  # ~3.5 million points of ~150 bytes: hours of a large hall
DEFAULT_MAX_QUEUE = 20_000  # messages held in memory before paho's thread waits
DEFAULT_SPOOL_AFTER_S = 30.0  # an outage this long (or a full queue) sends batches to disk
SEGMENT_BYTES = 4 * 1024 * 1024  # a new segment starts past this size
_MAGIC = b"HWS1"
_HEADER = struct.Struct(">4sIIIQ")  # magic, payload bytes, crc32, points, spooled at (ms)
_SEGMENT_GLOB = "seg-*.hws"
CORRUPT_GLOB = "seg-*.hws.corrupt-*"


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
        self.corrupt: list[Corruption] = []  # bad records found (in this run)
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
        depth = {
            "points": self.points,
            "bytes": self.bytes,
            "oldest": oldest.isoformat() if oldest else None,
        }
        corrupt = self.kept_aside()
        if corrupt:  # until the operator has looked at them and removed them
            depth["corrupt"] = corrupt
        return depth

    def kept_aside(self) -> list[str]:
        """The damaged segments kept aside in this directory (as `<collector>/<file>`)."""
        return [
            f"{self.directory.name}/{p.name}" for p in sorted(self.directory.glob(CORRUPT_GLOB))
        ]

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
        scan = _scan(segment.path.read_bytes())
        if scan.bad:  # damaged since it was opened: keep a copy before replay deletes it
            self._set_aside(segment.path, scan)
            self.segments = [
                _segment_of(segment.path, scan) if s.path == segment.path else s
                for s in self.segments
            ]
        lines: list[str] = []
        for payload, _points, _at in scan.records:
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
        scan = _scan(data)
        if scan.bad:
            self._set_aside(path, scan)
        elif scan.end < len(data):  # a torn append: never acknowledged, so redelivered
            self.discarded_bytes += len(data) - scan.end
            with open(path, "r+b") as f:
                f.truncate(scan.end)
                os.fsync(f.fileno())
        return _segment_of(path, scan)

    def _set_aside(self, path: Path, scan: _Scan) -> None:
        """Keep the damaged segment as it is, then rewrite it with its intact records only."""
        aside = _free_name(path)
        os.link(path, aside)
        temp = path.with_suffix(".tmp")
        temp.write_bytes(b"".join(_record_bytes(*record) for record in scan.records))
        with open(temp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temp, path)
        _fsync_dir(self.directory)
        corruption = Corruption(aside.name, scan.bad, scan.bad_bytes)
        self.corrupt.append(corruption)
        log.error(
            "spool: %d damaged records (%d bytes) in %s, which held acknowledged points: "
            "kept aside as %s; the %d intact records around them are kept",
            corruption.records,
            corruption.bytes,
            path.name,
            aside.name,
            len(scan.records),
        )


@dataclass(frozen=True)
class Corruption:
    """Bad records found in one segment, whose damaged copy was kept aside as `kept_as`."""

    kept_as: str
    records: int
    bytes: int


@dataclass
class _Scan:
    records: list[tuple[bytes, int, int]]  # (payload, points, spooled at ms), intact ones
    end: int  # where the last intact record ends, or the torn tail begins
    bad: int = 0  # damaged stretches skipped (each one record or more)
    bad_bytes: int = 0


def _scan(data: bytes) -> _Scan:
    """Every intact record of a segment, resynchronising past damaged ones.

    A bad stretch with no intact record after it is a torn tail only when it is the
    start of a record cut short (too short for a header, or a header whose payload
    runs past the end): what an interrupted append leaves. Anything else is damage.
    """
    scan = _Scan([], 0)
    offset = 0
    while offset < len(data):
        record = _record_at(data, offset)
        if record is not None:
            scan.records.append(record)
            offset += _HEADER.size + len(record[0])
            scan.end = offset
            continue
        following = _next_record(data, offset + 1)
        if following is None and _cut_short(data, offset):
            break  # the torn tail: scan.end stays where it begins
        stop = len(data) if following is None else following
        scan.bad += 1
        scan.bad_bytes += stop - offset
        offset = scan.end = stop
    return scan


def _segment_of(path: Path, scan: _Scan) -> Segment:
    """The segment as its intact records make it."""
    points = sum(count for _payload, count, _at in scan.records)
    size = sum(_HEADER.size + len(payload) for payload, _count, _at in scan.records)
    oldest = scan.records[0][2] if scan.records else None
    return Segment(path, points, size, oldest)


def _record_at(data: bytes, offset: int) -> tuple[bytes, int, int] | None:
    """(payload, points, spooled at ms) of an intact record starting at `offset`, else None."""
    if offset + _HEADER.size > len(data):
        return None
    magic, length, crc, points, at_ms = _HEADER.unpack_from(data, offset)
    start = offset + _HEADER.size
    payload = data[start : start + length]
    if magic != _MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
        return None
    if points != payload.count(b"\n") + 1:  # the checksum covers the payload only
        return None
    return payload, points, at_ms


def _next_record(data: bytes, offset: int) -> int | None:
    """Where the next intact record after a damaged one begins (its magic and checksum)."""
    while (found := data.find(_MAGIC, offset)) >= 0:
        if _record_at(data, found) is not None:
            return found
        offset = found + 1
    return None


def _cut_short(data: bytes, offset: int) -> bool:
    rest = data[offset:]
    if len(rest) < _HEADER.size:
        return _MAGIC.startswith(rest[: len(_MAGIC)])
    magic, length = _HEADER.unpack_from(data, offset)[:2]
    return magic == _MAGIC and offset + _HEADER.size + length > len(data)


def _record_bytes(payload: bytes, points: int, at_ms: int) -> bytes:
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload), points, at_ms) + payload


def _free_name(path: Path) -> Path:
    n = 1
    while (aside := path.with_name(f"{path.name}.corrupt-{n}")).exists():
        n += 1
    return aside


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
