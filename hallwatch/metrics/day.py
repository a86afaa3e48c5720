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
from hallwatch.rules import absences, pull_backs, withdrawals
from hallwatch.schedule import Interval, local_midnight, union
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

    `collected` is False for a day without a single device event: on a `working` day
    that means HallWatch was not collecting, and nobody is scheduled (the reports list
    such days apart). `withdrawn` holds the windows with a `withdrawn` episode raised
    within the range; `offline` the stretches of opening hours in the range during
    which each device was offline (the reason a window's minutes were unknown).
    """

    day: date
    start: datetime
    end: datetime
    collected: bool
    windows: dict[str, WindowMinutes] = field(default_factory=dict)
    staff: dict[str, StaffCounts] = field(default_factory=dict)
    withdrawn: frozenset[str] = frozenset()
    working: bool = False
    offline: dict[str, tuple[Interval, ...]] = field(default_factory=dict)

    @property
    def not_collected(self) -> bool:
        """A working day on which HallWatch was not collecting (listed apart in reports)."""
        return self.working and not self.collected


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
    collected = day_sweep.collected
    windows = {
        w.id: window_minutes(day_sweep.windows.get(w.id, []), lo, hi, collected)
        for w in registry.windows
    }
    absent = absences(registry, day_sweep, now) if collected else []
    pulled = pull_backs(registry, day_sweep, now) if collected else []
    withdrawn = withdrawals(registry, day_sweep, now) if collected else []
    staff = {
        staff_id: _staff_counts(day_sweep, staff_id, [*absent, *pulled], lo, hi)
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
        working=day_sweep.tracker.schedule.working,
        offline=_offline_in_hours(day_sweep, lo, hi) if collected else {},
    )


def window_minutes(
    segments: list[Segment], lo: datetime, hi: datetime, collected: bool = True
) -> WindowMinutes:
    """A window's scheduled time in [lo, hi) by state; `closed` segments are not scheduled,
    and on a day HallWatch was not collecting nothing is."""
    by_state = dict.fromkeys(("staffed", "away", "empty", "unknown"), ZERO)
    if not collected:
        return WindowMinutes()
    for segment in segments:
        if segment.state == "closed":
            continue
        overlap = min(segment.end, hi) - max(segment.start, lo)
        if overlap > ZERO:
            by_state[segment.state] += overlap
    return WindowMinutes(scheduled=sum(by_state.values(), ZERO), **by_state)


def _offline_in_hours(day_sweep: Sweep, lo: datetime, hi: datetime) -> dict[str, tuple]:
    """Device → its offline stretches within the hall's opening periods and [lo, hi)."""
    hours = [(max(a, lo), min(b, hi)) for a, b in day_sweep.tracker.schedule.hall_periods]
    hours = [(a, b) for a, b in hours if a < b]
    found: dict[str, tuple] = {}
    for device, spans in day_sweep.devices.items():
        offline = [(s.start, s.end) for s in spans if not s.online]
        stretches = tuple(
            (max(a, c), min(b, d)) for a, b in offline for c, d in hours if a < d and c < b
        )
        if stretches:
            found[device] = stretches
    return found


def _staff_counts(
    day_sweep: Sweep, staff_id: str, episodes: list[Episode], lo: datetime, hi: datetime
) -> StaffCounts:
    duties = day_sweep.tracker.schedule.duties_of(staff_id)
    late = day_sweep.first_sign_in(staff_id) if day_sweep.late_by(staff_id) else None
    mine = [e for e in episodes if e.staff == staff_id and lo <= e.opened_at < hi]
    return StaffCounts(
        rostered=clipped_length(union([p for d in duties for p in d.periods]), lo, hi),
        leave=clipped_length(union([p for d in duties for p in d.leave]), lo, hi),
        late_sign_ins=int(late is not None and lo <= late.start < hi),
        absences=sum(1 for e in mine if e.kind == "absent"),
        pulled_back=sum(1 for e in mine if e.kind == "pulled_back"),
    )


def clipped_length(intervals: list[Interval], lo: datetime, hi: datetime) -> timedelta:
    """Total length of disjoint intervals within [lo, hi)."""
    return sum(
        (min(end, hi) - max(start, lo) for start, end in intervals if start < hi and end > lo),
        ZERO,
    )
