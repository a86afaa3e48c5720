"""What the collector pays per message to convert it, and every process per registry look-up.

    python -m bench.ingest_costs

- per message, on the scale-out benchmark's own stream (2,000 desks, one message in 10 a
  badge read): `devices.convert`, `event_point` and `Point.to_line`;
- per message, on the same desks as the field has them (a Zigbee2MQTT seat sensor with
  `last_seen` and a Tasmota reader with `Time` and `Epoch` at each desk, one message in 10
  a card): `devices.convert`, and the collector's placement by the device's clock
  (`DeviceClocks.place`, devices/clocks.py), live;
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
from bench.scale_out_load import BADGE_EVERY, badge_uid, desk_id, message
from devices.clocks import CONTACT_SOURCES, DeviceClocks, reading_of
from hallwatch.influx.eventstore import event_point
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.importing import import_file
from hallwatch.registry.load import load_deployment, registry_revision
from hallwatch.registry.parse import parse_registry

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


def field_yaml(desks: int, today: str) -> str:
    """The scale-out hall with its seats on Zigbee2MQTT and its readers on Tasmota."""
    text = registry_yaml(desks, TZ, today)
    for d in range(desks):
        desk = desk_id(d)
        seat = f"{{id: seat-{desk}, kind: presence_sensor, window: {desk}}}"
        card = f"{{id: card-{desk}, kind: badge_reader, window: {desk}}}"
        text = text.replace(seat, f"{seat[:-1]}, zigbee2mqtt: seat_{desk}}}")
        text = text.replace(card, f"{card[:-1]}, tasmota: card_{desk}}}")
    return text


def field_message(j: int, desks: int, at: datetime) -> tuple[str, bytes]:
    """Message j as the field's firmware would publish it at `at`."""
    desk = desk_id(j % desks)
    if j % BADGE_EVERY == BADGE_EVERY - 1:
        local = at.astimezone(ZoneInfo(TZ)).replace(tzinfo=None).isoformat(timespec="seconds")
        body = f'{{"Time":"{local}","Epoch":{int(at.timestamp())},'
        body += f'"RC522":{{"UID":"{badge_uid(j % desks)}","Data":"","Type":"MIFARE 1KB"}}}}'
        return f"tele/card_{desk}/SENSOR", body.encode()
    occupied = "true" if (j // desks) % 2 == 0 else "false"
    seen = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = f'{{"battery":97,"linkquality":120,"occupancy":{occupied},"last_seen":"{seen}"}}'
    return f"zigbee2mqtt/seat_{desk}", body.encode()


def field_us() -> dict[str, float]:
    today = str(datetime.now(ZoneInfo(TZ)).date())
    registry = parse_registry(field_yaml(DESKS, today))
    received = datetime.now(UTC)
    stream = [field_message(j, DESKS, received) for j in range(MESSAGES)]
    events = [devices.convert(t, p, received, registry) for t, p in stream]
    connected = received.replace(year=received.year - 1)

    def convert_all():
        for topic, payload in stream:
            devices.convert(topic, payload, received, registry)

    def place_all():
        clocks = DeviceClocks()
        for event in events:
            reading = reading_of(event.device_time)
            clocks.place(
                event.device, reading, received, connected, event.source in CONTACT_SOURCES
            )

    per = 1e6 / MESSAGES
    return {
        "devices.convert": median_s(convert_all, 1) * per,
        "DeviceClocks.place": median_s(place_all, 1) * per,
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
    print(f"per message, the same desks on Zigbee2MQTT and Tasmota ({MESSAGES:,} messages):")
    for name, us in field_us().items():
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
