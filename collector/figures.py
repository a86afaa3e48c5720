"""The collector's Prometheus figures, read from its stats, queue and spool at scrape time.

The names of the rejection kinds and the write histogram are in hallwatch/telemetry.py, which
also serves the registry built here (`serve`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as FigureSource

from hallwatch.telemetry import rejection_kinds

if TYPE_CHECKING:
    from collector.collector import Collector


# CollectorStats field → (metric name, help). Counters, monotonic for the process's life.
INGEST_COUNTERS = (
    ("received", "hallwatch_collector_messages_received_total", "MQTT messages taken in"),
    ("written", "hallwatch_collector_points_written_total", "Points InfluxDB accepted"),
    ("ignored", "hallwatch_collector_messages_ignored_total", "Messages ignored by design"),
    (
        "dead_lettered",
        "hallwatch_collector_points_refused_total",
        "Points InfluxDB refused, kept in hw_rejected instead",
    ),
    (
        "dropped",
        "hallwatch_collector_points_dropped_total",
        "Refused points not kept either",
    ),
    ("spooled", "hallwatch_collector_points_spooled_total", "Points written to the disk spool"),
    ("replayed", "hallwatch_collector_points_replayed_total", "Spooled points sent to InfluxDB"),
    ("batches", "hallwatch_collector_batches_total", "Batches processed"),
    (
        "write_failures",
        "hallwatch_collector_write_failures_total",
        "InfluxDB writes that failed and will be retried (each try counts)",
    ),
    (
        "internal_errors",
        "hallwatch_collector_internal_errors_total",
        "Messages whose conversion hit a bug",
    ),
)


class IngestFigures(FigureSource):
    """The collector's figures, read from its stats, queue and spool at scrape time."""

    def __init__(self, ingest: Collector):
        self.ingest = ingest

    def collect(self) -> Iterator[Metric]:
        stats = self.ingest.stats
        for attribute, name, text in INGEST_COUNTERS:
            yield CounterMetricFamily(name, text, value=getattr(stats, attribute))
        rejected = CounterMetricFamily(
            "hallwatch_collector_messages_rejected_total",
            "Messages that could not be understood, kept in hw_rejected, by reason",
            labels=["reason"],
        )
        for kind in rejection_kinds():
            rejected.add_metric([kind], stats.rejected_by_kind.get(kind, 0))
        yield rejected
        yield from self._gauges()
        yield from stats.write_seconds.collect()

    def _gauges(self) -> Iterator[Metric]:
        stats, spool = self.ingest.stats, self.ingest.spool
        depth = spool.depth() if spool is not None else {"points": 0, "bytes": 0}
        last = stats.last_write.timestamp() if stats.last_write else 0
        for name, text, value in (
            ("queue_messages", "Messages waiting in memory", self.ingest.queue.qsize()),
            ("spool_points", "Points waiting in the disk spool", depth["points"]),
            ("spool_bytes", "Bytes of the disk spool", depth["bytes"]),
            ("mqtt_connected", "1 while connected to the broker", int(stats.connected)),
            ("influx_up", "1 unless InfluxDB writes are failing", int(stats.influx_ok)),
            ("last_batch_timestamp_seconds", "When the last batch was stored (0: none)", last),
        ):
            yield GaugeMetricFamily(f"hallwatch_collector_{name}", text, value=value)


def ingest_registry(ingest: Collector) -> CollectorRegistry:
    """A registry holding the collector's figures."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(IngestFigures(ingest))
    return registry
