"""What the Prometheus figures cost on the paths they sit on, per call, in one process.

    python -m bench.telemetry_overhead

- collector, per rejected message: counting it under its kind;
- collector, per InfluxDB /write: the write-latency histogram's timer around the call;
- web, per request: the after_request hook's counter and histogram updates;
- a scrape of the collector's /metrics exposition (`generate_latest`).
Each figure is the median of 5 repetitions of `timeit` loops.
"""

from __future__ import annotations

import platform
import queue
import statistics
import timeit
from types import SimpleNamespace

from prometheus_client import generate_latest

from collector.figures import ingest_registry
from collector.status import CollectorStats
from hallwatch.events import RejectionKind
from web.metrics_route import WebFigures

REPEAT = 5
LOOPS = 20_000


def per_call_us(statement, loops: int = LOOPS) -> float:
    runs = timeit.repeat(statement, number=loops, repeat=REPEAT)
    return statistics.median(runs) / loops * 1e6


def main() -> None:
    stats = CollectorStats()
    web = WebFigures()
    ingest = SimpleNamespace(stats=stats, queue=queue.Queue(), spool=None)
    registry = ingest_registry(ingest)

    def count(kind: RejectionKind) -> None:  # as collector/ counts one
        stats.rejected_by_kind[kind] = stats.rejected_by_kind.get(kind, 0) + 1

    def timed() -> None:
        with stats.write_seconds.time():
            pass

    figures = {
        "rejection count (per rejected message)": per_call_us(
            lambda: count(RejectionKind.BAD_FIELD)
        ),
        "write timer (per InfluxDB /write)": per_call_us(timed),
        "web hook (per request)": per_call_us(lambda: web.answered("api.live", "GET", 200, 0.01)),
        "collector exposition (per scrape)": per_call_us(lambda: generate_latest(registry), 500),
    }
    print(f"python {platform.python_version()}, {platform.machine()}")
    for name, micros in figures.items():
        print(f"{name}: {micros:.1f} µs")


if __name__ == "__main__":
    main()
