"""What it costs influxd to tell how many points have arrived: `count()` against `SHOW STATS`.

    python -m bench.influx_count_cost

bench/scale_out.py judges each step by what reached InfluxDB. This measures, on our own
influxd, the server's CPU for one `count()` over a step's points (bench.scale_out.count_in)
and for one read of its write counter (bench.scale_out.points_written), at 100,000,
400,000 and 800,000 points of the step's shape. Each figure is the mean of 5 queries.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.collector_throughput import cpu_seconds
from bench.scale_out import count_in, points_written
from console.services import Influxd
from hallwatch.influx.client import InfluxClient

SIZES = (100_000, 400_000, 800_000)
QUERIES = 5
BATCH = 5_000
T0_MS = 1_760_000_000_000


def server_ms(pid: int, ask) -> float:
    """influxd's CPU per call of `ask`, in ms."""
    before = cpu_seconds(pid)
    for _ in range(QUERIES):
        ask()
    return ((cpu_seconds(pid) or 0.0) - (before or 0.0)) / QUERIES * 1e3


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        influxd = Influxd(Path(tmp) / "influxd")
        influxd.start()
        try:
            client = InfluxClient(influxd.url, "counting")
            client.create_database()
            written = 0
            for size in SIZES:
                lines = [
                    f"hw_event,device=D{i % 2000:05d}-seat,type=presence occupied=true,"
                    f'received_ms={T0_MS + i}i,source="native" {(T0_MS + i) * 1_000_000}'
                    for i in range(written, size)
                ]
                for start in range(0, len(lines), BATCH):
                    client.write(lines[start : start + BATCH])
                written = size
                time.sleep(1.0)
                pid = influxd.pid
                counted = server_ms(pid, lambda n=size: count_in(client, T0_MS, T0_MS + n))
                stats = server_ms(pid, lambda: points_written(client))
                print(
                    f"{size:>9,} points: count() {counted:6.0f} ms of influxd CPU, "
                    f"SHOW STATS {stats:5.1f} ms"
                )
        finally:
            influxd.stop()


if __name__ == "__main__":
    main()
