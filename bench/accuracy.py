"""How well does the hall's derived state match what the simulator really played?

    python -m bench.accuracy var/truth.csv [--until ISO]

Reads the ground truth written by `hallwatch simulate --truth` (who sat at which
seat, minute by minute), replays the same day from InfluxDB through the one
state function (`HallTracker`), and counts per minute and window whether the
window's state agrees: truth occupied ↔ `staffed`, truth empty ↔ `away`/`empty`.
`unknown` minutes (a sensor offline) are counted apart, not as errors.
Uses the HALLWATCH_* environment like every other process.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hallwatch.config import Settings
from hallwatch.runtime import Runtime
from hallwatch.schedule import day_of, local_midnight
from hallwatch.state import HallTracker


def read_truth(path: Path) -> dict[datetime, dict[str, bool]]:
    truth: dict[datetime, dict[str, bool]] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            at = datetime.fromisoformat(row["time"])
            truth.setdefault(at, {})[row["window"]] = row["occupied"] == "1"
    return truth


def compare(runtime: Runtime, truth: dict[datetime, dict[str, bool]], until: datetime) -> Counter:
    registry = runtime.registry()
    minutes = sorted(t for t in truth if t <= until)
    day_start = local_midnight(registry.hall, day_of(registry.hall, minutes[0]))
    events = iter(runtime.store.day_history(day_start, minutes[-1]))
    tracker = HallTracker(registry, day_of(registry.hall, minutes[0]))
    pending = next(events, None)
    tally: Counter = Counter()
    for minute in minutes:
        while pending is not None and pending.at <= minute:
            tracker.apply(pending)
            pending = next(events, None)
        for window, occupied in truth[minute].items():
            state = tracker.window_state(window, minute).state
            tally[("occupied" if occupied else "vacant", state)] += 1
    return tally


def report(tally: Counter) -> str:
    agree = tally[("occupied", "staffed")] + tally[("vacant", "away")] + tally[("vacant", "empty")]
    unknown = sum(n for (_, state), n in tally.items() if state == "unknown")
    closed = sum(n for (_, state), n in tally.items() if state == "closed")
    judged = sum(tally.values()) - unknown - closed
    lines = [
        "| truth \\ state | staffed | away | empty | unknown | closed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for truth in ("occupied", "vacant"):
        cells = " | ".join(
            str(tally[(truth, s)]) for s in ("staffed", "away", "empty", "unknown", "closed")
        )
        lines.append(f"| {truth} | {cells} |")
    share = agree / judged if judged else float("nan")
    lines.append(
        f"\nagreement {agree}/{judged} window-minutes = {share:.1%} "
        f"(unknown {unknown}, closed {closed} not judged)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("truth", type=Path)
    parser.add_argument("--until", type=datetime.fromisoformat, default=None)
    args = parser.parse_args()
    runtime = Runtime.from_settings(Settings.from_env())
    until = args.until or datetime.now(UTC)
    print(report(compare(runtime, read_truth(args.truth), until)))


if __name__ == "__main__":
    main()
