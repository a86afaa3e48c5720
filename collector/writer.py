"""Points to InfluxDB: an oversized or refused batch split in halves until the point InfluxDB
refuses is found and kept in `hw_rejected` (a dead letter); an outage logged once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from collector.intake import Inbound
from collector.status import CollectorStats, StatusFile
from hallwatch.events import Rejection, RejectionKind
from hallwatch.influx.client import BadPointsError, BodyTooLarge, DatabaseMissing, InfluxClient
from hallwatch.influx.eventstore import rejection_point

log = logging.getLogger(__name__)

MAX_BATCH = 5_000  # points per /write (InfluxDB 1.x is fastest around 5,000)
SPOOL_SOURCE = "spool"  # the topic a refused point replayed from the spool is kept under
# A refused message too large even for hw_rejected is kept with its payload cut to this.
CUT_PAYLOAD_BYTES = (1_000, 0)

Lines = list[tuple[str, Inbound | None]]  # each line with its message (None: from the spool)


class Writer:
    """Writes to InfluxDB; a write that may succeed later raises RetryableWriteError."""

    def __init__(self, influx: InfluxClient, stats: CollectorStats, status: StatusFile):
        self.influx = influx
        self.stats = stats
        self.status = status

    def write(self, pairs: Lines) -> None:
        """Write, splitting oversized batches and isolating points InfluxDB refuses."""
        if not pairs:
            return
        try:
            self._timed_write([line for line, _ in pairs])
        except DatabaseMissing:
            self.ensure_database()
            self._timed_write([line for line, _ in pairs])
        except (BodyTooLarge, BadPointsError) as exc:
            if len(pairs) > 1:
                # Re-sending points that were already accepted overwrites them: safe.
                middle = len(pairs) // 2
                self.write(pairs[:middle])
                self.write(pairs[middle:])
            else:
                self._dead_letter(pairs[0][1], pairs[0][0], str(exc))

    def ensure_database(self) -> None:
        try:
            self.influx.create_database()
        except Exception as exc:  # InfluxDB may be down at start; writes will retry
            log.warning("could not create InfluxDB database %r yet: %s", self.influx.database, exc)

    def outage(self, exc: Exception, held: int) -> None:
        """A write failed and will be retried; said once per outage."""
        self.stats.write_failures += 1
        self.stats.influx_error = str(exc)[:500]
        if self.stats.influx_ok:
            log.error("InfluxDB write failed, holding %d points: %s", held, exc)
            self.stats.influx_ok = False
            self.status.write(force=True)

    def back(self) -> None:
        """A write succeeded: the end of an outage, if there was one."""
        if not self.stats.influx_ok:
            log.info("InfluxDB is back; writing resumed")
            self.stats.influx_ok = True
            self.stats.influx_error = None
            self.status.write(force=True)

    def _timed_write(self, lines: list[str]) -> None:
        with self.stats.write_seconds.time():
            self.influx.write(lines)
        self.stats.written += len(lines)

    def _dead_letter(self, message: Inbound | None, line: str, reason: str) -> None:
        self.stats.dead_lettered += 1
        if message is None:  # replayed from the spool: the line is all that is left
            message = Inbound(SPOOL_SOURCE, line.encode(), 0, 0, 0, datetime.now(UTC))
        log.warning("InfluxDB refused a point from %s: %s", message.topic, reason)
        payload, why = message.payload, f"InfluxDB refused: {reason}"
        tries = [(payload, why)] + [
            (payload[:cut], f"{why}; payload of {len(payload)} bytes cut to {cut}")
            for cut in CUT_PAYLOAD_BYTES
        ]
        for kept, said in tries:
            rejection = Rejection(
                message.topic, kept, said, message.received, RejectionKind.UNSTORABLE
            )
            try:
                self.influx.write([rejection_point(rejection).to_line()])
            except (BadPointsError, BodyTooLarge) as exc:
                error = exc
                continue
            if kept is not payload:
                log.warning("kept it with its payload cut to %d bytes to fit InfluxDB", len(kept))
            return
        self.stats.dropped += 1
        log.error("could not keep a refused message from %s either: %s", message.topic, error)
