"""How long do the day's sweep, one state of the hall and the alert episodes take at 200 windows?

    python -m bench.sweep_speed [--hours 9] [--repeat 3]

Pure and in memory: the hall and the day of bench/web_speed.py (200 windows in 10
departments, a seat sensor and a card reader at each, one person rostered at each,
every seat sensor reporting every 30 s, breaks, badge reads, the odd office visit),
parsed with the registry parser. Times `sweep()` over the day, `HallTracker.state_at`
once the day is applied, and `rules.episodes()` at the end of it; prints the median
(and the spread) of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.web_speed import WINDOWS, registry_yaml, window_day
from hallwatch.registry.parse import parse_registry
from hallwatch.rules import episodes
from hallwatch.state import HallTracker
from hallwatch.timeline import sweep

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)
DAY_START = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
STATE_CALLS = 20  # state_at is fast: time this many and report one


def timed(repeat: int, work) -> list[float]:
    """Seconds of each of `repeat` runs of `work()`."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        runs.append(time.perf_counter() - t0)
    return runs


def row(label: str, runs: list[float], unit: float = 1000.0) -> str:
    return (
        f"| {label} | {statistics.median(runs) * unit:,.1f} "
        f"| {min(runs) * unit:,.1f} | {max(runs) * unit:,.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=9.0, help="length of the day's events")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    registry = parse_registry(registry_yaml(TZ, DAY))
    end = DAY_START + timedelta(hours=args.hours)
    rng = random.Random(args.seed)
    events = sorted(
        (e for w in range(WINDOWS) for e in window_day(rng, w, DAY_START, end)),
        key=lambda e: e.at,
    )
    tracker = HallTracker(registry, DAY).apply_all(events)

    def states() -> None:
        for _ in range(STATE_CALLS):
            tracker.state_at(end)

    sweep_runs = timed(args.repeat, lambda: sweep(registry, events, DAY, end))
    state_runs = [t / STATE_CALLS for t in timed(args.repeat, states)]
    episode_runs = timed(args.repeat, lambda: episodes(registry, events, end))
    print(
        f"{WINDOWS} windows, {len(events):,} events ({args.hours:g} h),"
        f" {platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()};"
        f" median (min, max) of {args.repeat} runs.\n\n"
        "| call | median ms | min ms | max ms |\n| --- | ---: | ---: | ---: |\n"
        + "\n".join(
            [
                row("`sweep()` of the day", sweep_runs),
                row("`HallTracker.state_at` (one call)", state_runs),
                row("`rules.episodes()` at the end of the day", episode_runs),
            ]
        )
    )


if __name__ == "__main__":
    main()
