"""One hall day summarised for the reports: minutes per window, counts per person, withdrawals.

Pure. Everything is read from the day's `sweep()` (window state segments and
the tracker's counted badge reads) and the alert rules' episodes, so a report
can never disagree with the floor view or the alerts. The rules of counting
are described in `hallwatch.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta

from hallwatch.alert_kinds import Episode
from hallwatch.events import Event
from hallwatch.registry.spec import Registry
from hallwatch.rules import absences, withdrawals
from hallwatch.schedule import Interval, containing, local_midnight, union
from hallwatch.timeline import Segment, Sweep, sweep

ZERO = timedelta(0)


@dataclass(frozen=True)
class WindowMinutes:
    """Scheduled time of one window split by state (exact, as timedeltas); sums with `+`."""

    scheduled: timedelta = ZERO
    staffed: timedelta = ZERO
    away: timedelta = ZERO
    empty: timedelta = ZERO
    unknown: timedelta = ZERO

    def __add__(self, other: WindowMinutes) -> WindowMinutes:
        return WindowMinutes(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )

    @property
    def measured(self) -> timedelta:
        """Scheduled time whose state is known: the staffed_ratio's denominator."""
        return self.scheduled - self.unknown


@dataclass(frozen=True)
class StaffCounts:
    """One person's rostered and leave time and the counted incidents; sums with `+`."""

    rostered: timedelta = ZERO
    leave: timedelta = ZERO
    late_sign_ins: int = 0
    absences: int = 0
    pulled_back: int = 0

    def __add__(self, other: StaffCounts) -> StaffCounts:
        return StaffCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class DaySummary:
    """One hall day within [start, end): what the reports add up.

    `collected` is False for a day without a single device event (all its
    scheduled time is then unknown). `withdrawn` holds the windows with a
    `withdrawn` episode raised within the range.
    """

    day: date
    start: datetime
    end: datetime
    collected: bool
    windows: dict[str, WindowMinutes] = field(default_factory=dict)
    staff: dict[str, StaffCounts] = field(default_factory=dict)
    withdrawn: frozenset[str] = frozenset()


def day_summary(
    registry: Registry,
    events: Iterable[Event],
    day: date,
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
) -> DaySummary:
    """Summarise hall day `day` as seen at `now`, within [start, end) (default: the whole day)."""
    day_start = local_midnight(registry.hall, day)
    if now <= day_start:
        return DaySummary(day, day_start, day_start, collected=False)
    day_sweep = sweep(registry, events, day, now)
    lo = max(start or day_start, day_start)
    hi = max(lo, min(end or day_sweep.until, day_sweep.until))
    collected = day_sweep.tracker.schedule.working and day_sweep.events_seen > 0
    windows = {
        w.id: window_minutes(day_sweep.windows.get(w.id, []), lo, hi, collected)
        for w in registry.windows
    }
    # Episodes only for a day the system was collecting, as `rules.episodes_of_day`.
    absent = absences(registry, day_sweep, now) if collected else []
    withdrawn = withdrawals(registry, day_sweep, now) if collected else []
    staff = {
        staff_id: _staff_counts(day_sweep, staff_id, absent, lo, hi)
        for staff_id in dict.fromkeys(d.staff for d in day_sweep.tracker.schedule.duties)
    }
    return DaySummary(
        day,
        lo,
        hi,
        collected,
        windows,
        staff,
        frozenset(e.window for e in withdrawn if e.window and lo <= e.opened_at < hi),
    )


def window_minutes(
    segments: list[Segment], lo: datetime, hi: datetime, collected: bool = True
) -> WindowMinutes:
    """A window's scheduled time in [lo, hi) by state; `closed` segments are not scheduled."""
    by_state = dict.fromkeys(("staffed", "away", "empty", "unknown"), ZERO)
    for segment in segments:
        if segment.state == "closed":
            continue
        overlap = min(segment.end, hi) - max(segment.start, lo)
        if overlap > ZERO:
            by_state[segment.state if collected else "unknown"] += overlap
    return WindowMinutes(scheduled=sum(by_state.values(), ZERO), **by_state)


def late_sign_in(day_sweep: Sweep, staff_id: str) -> datetime | None:
    """The day's first sign-in at a rostered window, when it came after duty had started."""
    duties = day_sweep.tracker.schedule.duties_of(staff_id)
    intervals = sorted(i for d in duties for i in d.intervals)
    if not intervals:
        return None
    windows = {d.window for d in duties}
    first = next(
        (
            r
            for r in day_sweep.tracker.reads
            if r.staff == staff_id and r.window in windows and r.action == "in"
        ),
        None,
    )
    return first.at if first is not None and first.at > intervals[0][0] else None


def office_reads_on_duty(day_sweep: Sweep, staff_id: str) -> list[datetime]:
    """Counted office reads of a person during their rostered hours (leave excluded)."""
    duties = day_sweep.tracker.schedule.duties_of(staff_id)
    on_duty = union([i for d in duties for i in d.intervals])
    return [
        r.at
        for r in day_sweep.tracker.reads
        if r.staff == staff_id and r.window is None and containing(on_duty, r.at)
    ]


def _staff_counts(
    day_sweep: Sweep, staff_id: str, absent: list[Episode], lo: datetime, hi: datetime
) -> StaffCounts:
    duties = day_sweep.tracker.schedule.duties_of(staff_id)
    late = late_sign_in(day_sweep, staff_id)
    return StaffCounts(
        rostered=clipped_length(union([p for d in duties for p in d.periods]), lo, hi),
        leave=clipped_length(union([p for d in duties for p in d.leave]), lo, hi),
        late_sign_ins=int(late is not None and lo <= late < hi),
        absences=sum(1 for e in absent if e.staff == staff_id and lo <= e.opened_at < hi),
        pulled_back=sum(1 for at in office_reads_on_duty(day_sweep, staff_id) if lo <= at < hi),
    )


def clipped_length(intervals: list[Interval], lo: datetime, hi: datetime) -> timedelta:
    """Total length of disjoint intervals within [lo, hi)."""
    return sum(
        (min(end, hi) - max(start, lo) for start, end in intervals if start < hi and end > lo),
        ZERO,
    )
