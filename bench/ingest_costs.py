"""What the collector pays per message to convert it, and every process per registry look-up.

    python -m bench.ingest_costs

- per message, on the scale-out benchmark's own stream (2,000 desks, one message in 10 a
  badge read): `devices.convert`, `event_point` and `Point.to_line`;
- per registry look-up, on a SQLite registry of 2,000 and of 10,000 desks: a full
  `load_deployment`, and `registry_revision`, the one-number question a process now asks
  before it re-reads.
Each figure is the median of 5 repetitions.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import timeit
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import devices
from bench.scale_out import registry_yaml
from bench.scale_out_load import message
from hallwatch.influx.eventstore import event_point
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.parse import parse_registry
from hallwatch.registry.store import import_file, load_deployment, registry_revision

REPEAT = 5
MESSAGES = 20_000
DESKS = 2_000
TZ = "Asia/Shanghai"


def median_s(statement, number: int) -> float:
    return statistics.median(timeit.repeat(statement, number=number, repeat=REPEAT)) / number


def conversion_us() -> dict[str, float]:
    today = str(datetime.now(ZoneInfo(TZ)).date())
    registry = parse_registry(registry_yaml(DESKS, TZ, today))
    received = datetime.now(UTC)
    base_ms = int(received.timestamp() * 1000) - MESSAGES
    stream = [message(j, DESKS, base_ms) for j in range(MESSAGES)]
    events = [devices.convert(t, p, received, registry) for t, p in stream]
    points = [event_point(e) for e in events]

    def convert_all():
        for topic, payload in stream:
            devices.convert(topic, payload, received, registry)

    def points_all():
        for event in events:
            event_point(event)

    def lines_all():
        for point in points:
            point.to_line()

    per = 1e6 / MESSAGES
    return {
        "devices.convert": median_s(convert_all, 1) * per,
        "event_point": median_s(points_all, 1) * per,
        "Point.to_line": median_s(lines_all, 1) * per,
    }


def registry_ms(desks: int, workdir: Path) -> dict[str, float]:
    today = str(datetime.now(ZoneInfo(TZ)).date())
    hall_file = workdir / f"hall-{desks}.yaml"
    hall_file.write_text(registry_yaml(desks, TZ, today), encoding="utf-8")
    engine = make_engine(f"sqlite:///{workdir / f'registry-{desks}.sqlite3'}")
    create_schema(engine)
    sessions = make_session_factory(engine)
    import_file(sessions, hall_file)

    def load():
        with sessions() as session:
            load_deployment(session)

    def revision():
        with sessions() as session:
            registry_revision(session)

    figures = {
        "load_deployment": median_s(load, 1) * 1e3,
        "registry_revision": median_s(revision, 200) * 1e3,
    }
    engine.dispose()
    return figures


def main() -> None:
    print(f"python {platform.python_version()} on {platform.processor() or platform.machine()}")
    print(f"per message ({MESSAGES:,} of the scale-out stream, {DESKS:,} desks):")
    for name, us in conversion_us().items():
        print(f"  {name:<18} {us:6.2f} µs")
    with tempfile.TemporaryDirectory() as tmp:
        for desks in (2_000, 10_000):
            figures = registry_ms(desks, Path(tmp))
            load, revision = figures["load_deployment"], figures["registry_revision"]
            print(
                f"registry of {desks:,} desks: load_deployment {load:.0f} ms, "
                f"registry_revision {revision:.2f} ms"
            )


if __name__ == "__main__":
    main()
