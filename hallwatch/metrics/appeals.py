"""Accepted appeals (申诉) applied to the report totals: pure.

An accepted appeal excuses what it names, and the reports publish the figures
without it, keeping the original beside them (docs/APPEALS.md):

- a window stretch: its minutes, by state as the reports counted them when the
  appeal was accepted (the snapshot), leave the window's scheduled minutes and
  the state they were in, so staffed_ratio is computed without them;
- an absence or a pull-back: the incidents of that episode leave the person's
  `absences` / `pulled_back` (and so the department's).

An appeal belongs to one instant (the stretch's start, the episode's opening),
as each incident does (`hallwatch.metrics`): a report over [from, to) applies
the appeals whose instant lies within it. Nothing goes below zero, so a later
correction of the day's events can never turn a figure negative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta

from hallwatch.alert_kinds import Episode
from hallwatch.events import Event
from hallwatch.metrics.day import ZERO, StaffCounts, WindowMinutes
from hallwatch.metrics.day import window_minutes as minutes_in
from hallwatch.metrics.report import Totals
from hallwatch.registry.appeals import ABSENCE, EPISODE_KINDS, WINDOW
from hallwatch.registry.spec import Registry
from hallwatch.rules import absences, pull_backs
from hallwatch.timeline import sweep

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Adjustment:
    """What one accepted appeal takes out of the reports."""

    appeal: int
    subject: str  # window | absence | pulled_back
    day: date
    at: datetime  # the instant it belongs to
    department: str
    window: str | None = None
    staff: str | None = None
    minutes: WindowMinutes = WindowMinutes()  # a window stretch's snapshot
    count: int = 0  # an episode's incidents (absences or pull-backs)


def within(adjustments: Iterable[Adjustment], start: datetime, end: datetime) -> list[Adjustment]:
    """The adjustments belonging to [start, end)."""
    return [a for a in adjustments if start <= a.at < end]


def _less(total: WindowMinutes, taken: WindowMinutes) -> WindowMinutes:
    return WindowMinutes(
        *(max(ZERO, getattr(total, f.name) - getattr(taken, f.name)) for f in fields(total))
    )


def _excused(counts: StaffCounts, adjustment: Adjustment) -> StaffCounts:
    if adjustment.subject == ABSENCE:
        return replace(counts, absences=max(0, counts.absences - adjustment.count))
    return replace(counts, pulled_back=max(0, counts.pulled_back - adjustment.count))


def adjust(totals: Totals, adjustments: Iterable[Adjustment]) -> Totals:
    """`totals` with the adjustments applied (a new Totals; `totals` is left as it was)."""
    windows = dict(totals.windows)
    staff = dict(totals.staff)
    for a in adjustments:
        if a.subject == WINDOW and a.window is not None:
            windows[a.window] = _less(windows.get(a.window, WindowMinutes()), a.minutes)
        elif a.subject in EPISODE_KINDS and a.staff is not None:
            staff[a.staff] = _excused(staff.get(a.staff, StaffCounts()), a)
    return replace(totals, windows=windows, staff=staff)


def appealed(adjustments: Iterable[Adjustment], key: str) -> set[str]:
    """The windows, staff or departments (`key`) an adjustment touches."""
    found = set()
    for a in adjustments:
        if key == "department":
            found.add(a.department)
        elif key == "window" and a.subject == WINDOW and a.window:
            found.add(a.window)
        elif key == "staff" and a.subject in EPISODE_KINDS and a.staff:
            found.add(a.staff)
    return found


def mark_rows(rows: list[dict], original: list[dict], key: str, touched: set[str]) -> list[dict]:
    """Published rows with `appealed` and `original` (the row as before adjustment, or None)."""
    before = {row[key]: row for row in original}
    return [
        {
            **row,
            "appealed": row[key] in touched,
            "original": before.get(row[key]) if row[key] in touched else None,
        }
        for row in rows
    ]


def published(rows_of, key: str, registry: Registry, totals: Totals, adjustments) -> list[dict]:
    """`rows_of(registry, totals)` (a report row function) with the accepted appeals applied,
    each row marked `appealed` with its `original` (see `mark_rows`)."""
    adjustments = list(adjustments)
    adjusted = rows_of(registry, adjust(totals, adjustments))
    original = rows_of(registry, totals) if adjustments else []
    return mark_rows(adjusted, original, key, appealed(adjustments, key))


# --- the snapshot taken when an appeal is accepted --------------------------------------


def stretch_minutes(
    registry: Registry,
    events: Iterable[Event],
    day: date,
    window: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> WindowMinutes:
    """A window's minutes by state within [start, end) of hall day `day`, as the reports count."""
    day_sweep = sweep(registry, events, day, now)
    hi = min(end, day_sweep.until)
    return minutes_in(day_sweep.windows.get(window, []), start, hi, day_sweep.collected)


def _episode(found: list[Episode], key: str) -> Episode | None:
    return next((e for e in found if e.key == key), None)


def episode_count(
    registry: Registry,
    events: Iterable[Event],
    day: date,
    subject: str,
    key: str,
    now: datetime,
) -> int:
    """How many of the person's incidents the episode `key` is, as the reports count them:
    one, or none when the rules no longer find it on the day (it was revised away)."""
    day_sweep = sweep(registry, events, day, now)
    if not day_sweep.collected:
        return 0
    rule = absences if subject == ABSENCE else pull_backs
    return int(_episode(rule(registry, day_sweep, now), key) is not None)


def to_microseconds(m: WindowMinutes) -> dict[str, int]:
    """A snapshot as stored (JSON): microseconds by field."""
    return {f.name: getattr(m, f.name) // _MICROSECOND for f in fields(m)}


def from_microseconds(stored: dict | None) -> WindowMinutes:
    stored = stored or {}
    return WindowMinutes(
        **{
            f.name: timedelta(microseconds=int(stored.get(f.name, 0)))
            for f in fields(WindowMinutes)
        }
    )
