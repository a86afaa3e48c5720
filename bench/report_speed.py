"""How long do the monthly reports take for a month and a year of a 200-window hall?

    python -m bench.report_speed [--template-days 3] [--repeat 3] [--keep]

The hall of bench/web_speed.py (200 windows in 10 departments, a seat sensor and a
card reader at each, one person rostered at each) with real opening hours, the
statutory calendar and a Monday-to-Friday roster, imported into a SQLite file in
a temporary directory. A few working days are computed with `day_summary()` from
generated events (every seat reporting every 30 s, 08:45–17:45, breaks, badge
reads, office visits); each working day of YEAR is one of them with its dates
shifted, each other day a real summary of a closed day. All are stored in the
table of day summaries, then the real Flask app answers through its test client
with HTTP Basic, as a browser or script would ask: cold (a new app: nothing in
memory, rows read and parsed) and warm (the same app again), median of --repeat.
InfluxDB is pointed at a closed port: any day not answered from the table fails.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import shutil
import statistics
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

from bench.web_speed import WINDOWS, registry_yaml, window_day
from hallwatch.config import Settings
from hallwatch.metrics import DaySummary, day_summary
from hallwatch.metrics.store import Receipts, day_fingerprint, save_summary
from hallwatch.registry.importing import import_file
from hallwatch.registry.spec import Registry
from hallwatch.registry.users import add_user
from hallwatch.schedule import is_working_day, local_midnight
from web import create_app
from web.reports_api import bp as reports_bp

TZ = ZoneInfo("Asia/Shanghai")
YEAR = 2025
MONTH = f"{YEAR}-11"
EVENTS_FROM, EVENTS_UNTIL = (8, 45), (17, 45)  # hall time of the generated events
TARGETS_S = {"month": 2.0, "year": 10.0}
USER, PASSWORD = "boss", "bench-pw"


def hall_yaml() -> str:
    """bench/web_speed.py's hall with the default hours, the calendar and a weekday roster."""
    return (
        registry_yaml(TZ, date(YEAR, 1, 2))
        .replace(
            '  hours: [["00:00", "23:59"]]', '  hours: [["09:00", "12:00"], ["13:30", "17:30"]]'
        )
        .replace("  holidays: none", "  holidays: cn")
        .replace("days: [mon, tue, wed, thu, fri, sat, sun]", "days: [mon, tue, wed, thu, fri]")
    )


def generated_day(day: date, seed: int) -> list:
    """One working day's events for the whole hall, in time order."""
    rng = random.Random(seed)
    start = datetime.combine(day, time(*EVENTS_FROM), TZ)
    end = datetime.combine(day, time(*EVENTS_UNTIL), TZ)
    events = [e for w in range(WINDOWS) for e in window_day(rng, w, start, end)]
    return sorted(events, key=lambda e: e.at)


def shifted(template: DaySummary, registry: Registry, day: date) -> DaySummary:
    hall = registry.hall
    return DaySummary(
        day,
        local_midnight(hall, day),
        local_midnight(hall, day + timedelta(days=1)),
        template.collected,
        template.windows,
        template.staff,
        template.withdrawn,
    )


def fill_year(runtime, registry: Registry, templates: list[tuple[DaySummary, int]]) -> int:
    """Store a summary for every day of YEAR; return how many were working days."""
    now = datetime.now(UTC)
    day, working = date(YEAR, 1, 1), 0
    while day.year == YEAR:
        if is_working_day(registry.hall, day):
            template, count = templates[working % len(templates)]
            summary, receipts = shifted(template, registry, day), Receipts(count, now)
            working += 1
        else:
            summary = day_summary(registry, [], day, now)
            receipts = Receipts()
        save_summary(
            runtime.sessions,
            registry.hall.id,
            summary,
            day_fingerprint(registry, day),
            receipts,
            now,
        )
        day += timedelta(days=1)
    return working


def timed(call, *args) -> float:
    t0 = perf_counter()
    call(*args)
    return perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template-days", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hallwatch-report-speed-"))
    env = {
        "HALLWATCH_DATABASE_URL": f"sqlite:///{work / 'hallwatch.sqlite3'}",
        "HALLWATCH_INFLUX_URL": "http://127.0.0.1:9",  # nothing there: all days from the table
        "HALLWATCH_SECRET_KEY": "bench",
    }
    settings = Settings.from_env(env)

    def new_app():
        app = create_app(settings, {"TESTING": True})
        if "reports_api" not in app.blueprints:
            app.register_blueprint(reports_bp)
        return app

    try:
        app = new_app()
        runtime = app.extensions["hallwatch"]
        (work / "hall.yaml").write_text(hall_yaml(), encoding="utf-8")
        import_file(runtime.sessions, work / "hall.yaml")
        with runtime.sessions() as db:
            add_user(db, USER, "hall_manager", PASSWORD, None)
            db.commit()
        registry = runtime.registry(fresh=True)

        templates, compute_s, events_n = [], [], 0
        first = date(YEAR, 11, 3)  # a Monday
        for k in range(args.template_days):
            day = first + timedelta(days=k)
            events = generated_day(day, args.seed + k)
            next_morning = local_midnight(registry.hall, day + timedelta(days=1))
            t0 = perf_counter()
            summary = day_summary(registry, events, day, next_morning + timedelta(hours=2))
            compute_s.append(perf_counter() - t0)
            events_n = len(events)
            templates.append((summary, len(events)))
        t0 = perf_counter()
        working = fill_year(runtime, registry, templates)
        fill_s = perf_counter() - t0

        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
        year = {"from": f"{YEAR}-01-01T00:00:00+08:00", "to": f"{YEAR + 1}-01-01T00:00:00+08:00"}
        month = {"from": f"{MONTH}-01T00:00:00+08:00", "to": f"{YEAR}-12-01T00:00:00+08:00"}
        cases = [
            ("month", "/api/reports/departments", {"month": MONTH}),
            ("month", "/api/reports/windows", month),
            ("year", "/api/reports/windows", year),
            ("year", "/api/reports/staff", year),
        ]

        def ask(client, path, query):
            response = client.get(path, query_string=query, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            assert len(response.get_json()) in (10, WINDOWS)

        results = []
        for span, path, query in cases:
            cold, warm = [], []
            for _ in range(args.repeat):
                client = new_app().test_client()  # a new process's memory: nothing cached
                cold.append(timed(ask, client, path, query))
                warm.append(timed(ask, client, path, query))
            results.append((span, path, query, statistics.median(cold), statistics.median(warm)))

        size = (work / "hallwatch.sqlite3").stat().st_size
        print(f"## Reports: {WINDOWS} windows, {working} working days of {YEAR} stored")
        print(
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPUs; SQLite {size / 2**20:.1f} MiB after storing "
            f"365 days in {fill_s:.1f} s"
        )
        print()
        print("| request | span | cold s | warm s | target s |")
        print("| --- | --- | ---: | ---: | ---: |")
        for span, path, query, cold_s, warm_s in results:
            shown = "month=" + query["month"] if "month" in query else "from=…&to=…"
            print(
                f"| `{path}?{shown}` | {span} | {cold_s:.2f} | {warm_s:.2f} | {TARGETS_S[span]:g} |"
            )
        print()
        print(
            f"One working day from raw events ({events_n:,} events, in memory, "
            f"`day_summary()`): median {statistics.median(compute_s):.2f} s "
            f"(min {min(compute_s):.2f}, max {max(compute_s):.2f})"
        )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
