#!/usr/bin/env python3
"""The sample workbook in docs/: a month of the demo hall as the simulator plays it.

    .venv/bin/python scripts/sample_report.py [--month 2026-11] [--seed 1] [--out PATH]

For every day of the month, `plan_day` (what `hallwatch simulate` publishes) plans the
demo hall's device traffic (simulator/hall.yaml); each message goes through the
collector's own converters (`devices.convert`) into events, and `day_summary` sums up the
day as the reports do, as of the morning after the month. No broker, no InfluxDB, no
database: the same month and seed give the same file, byte for byte (the workbook's
timestamps are set to that morning), so re-running it changes nothing in git.
Default output: docs/sample-report-<month>.xlsx.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

from devices import convert
from hallwatch.events import Event, Rejection
from hallwatch.metrics import DaySummary, day_summary
from hallwatch.metrics.export_rows import month_report
from hallwatch.metrics.export_workbook import workbook_bytes
from hallwatch.metrics.month import Month
from hallwatch.registry.parse import parse_registry
from hallwatch.registry.spec import Registry
from simulator.dayplan import plan_day

ROOT = Path(__file__).resolve().parents[1]
DEMO_HALL = ROOT / "simulator" / "hall.yaml"
AS_OF = time(9, 0)  # hall time on the morning after the month: every day is over
CORE_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def simulated_events(registry: Registry, day: date, seed: int) -> list[Event]:
    """The day's device traffic as the collector would store it, in time order."""
    events = []
    for message in plan_day(registry, day, seed).messages:
        result = convert(message.topic, message.payload, message.at, registry)
        if result is None:
            continue
        if isinstance(result, Rejection):
            raise SystemExit(f"the simulator sent what the collector rejects: {result}")
        events.extend(result if isinstance(result, tuple) else (result,))  # a node's status
    return sorted(events, key=lambda e: e.at)


def month_days(registry: Registry, first: date, now: datetime, seed: int) -> list[DaySummary]:
    days, day = [], first
    while day <= Month.of(first).last:
        days.append(day_summary(registry, simulated_events(registry, day, seed), day, now))
        print(f"{day}: done", file=sys.stderr)
        day += timedelta(days=1)
    return days


def stable(xlsx: bytes, when: datetime) -> bytes:
    """The workbook with its save time and zip entry times set to `when` (reproducible bytes)."""
    stamp = when.timetuple()[:6]
    saved = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "docProps/core.xml":
                data = CORE_MODIFIED.sub(rb"\g<1>" + saved + rb"\g<2>", data)
            target.writestr(zipfile.ZipInfo(entry.filename, stamp), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2026-11", help="YYYY-MM (default 2026-11)")
    parser.add_argument("--seed", type=int, default=1, help="the simulator's seed")
    parser.add_argument("--out", type=Path, default=None, help="default docs/sample-report-…")
    args = parser.parse_args()
    try:
        first = Month.of_report(args.month).first
    except ValueError as exc:
        parser.error(f"--month {exc}")
    registry = parse_registry(DEMO_HALL.read_text(encoding="utf-8"))
    now = datetime.combine(Month.of(first).next().first, AS_OF, registry.hall.tz)
    report = month_report(registry, first, month_days(registry, first, now, args.seed), now)
    out = args.out or ROOT / "docs" / f"sample-report-{first:%Y-%m}.xlsx"
    out.write_bytes(stable(workbook_bytes(report), now.replace(tzinfo=None)))
    print(out)


if __name__ == "__main__":
    main()
