"""Assessment metrics (docs/API.md) as pure functions of (registry, events, `now`).

`day.day_summary()` turns one hall day's events into a `DaySummary`, clipped to
any [start, end) that may cut the day anywhere; `report.add_up()` sums
summaries, so a month is the sum of its days (and a closed day can be
precomputed once); `report.window_rows()`, `staff_rows()` and
`department_rows()` give the report rows of docs/API.md. `source` reads the days from
the event store (the only module here that does I/O).

The rules decided here, beyond what docs/API.md says of them:

- **Minutes** are the day's sweep segments (`hallwatch.timeline`) clipped to
  the range; a segment in state `closed` is not scheduled. Nothing is counted
  after `now`. A working day without a single device event is a day the
  system was not collecting (`Sweep.collected`, as for the alert rules): nobody
  is scheduled, no absence or withdrawal is counted, and `Totals.not_collected`
  lists the day apart.
- **coverage** = (scheduled − unknown) ÷ scheduled; only departments with
  coverage ≥ RANKED_COVERAGE (0.95) are ranked, so an unplugged sensor (whose
  minutes are unknown and left out of the ratio) cannot lift a department.
  `Totals.offline` keeps each device's offline stretches in opening hours: the
  reason coverage is short.
- **rostered_minutes** are the person's roster periods on working days, leave
  included; **leave_minutes** the part of them covered by approved leave (so
  the time on duty is rostered − leave).
- **A late sign-in** is `Sweep.late_by`: at most one per person and day, at the
  instant of the sign-in.
- **absences** count `absent` alert episodes (an absence that lasts through
  lunch is one alert, so one absence); each belongs to the instant it was
  raised (period start + grace).
- **pulled_back** counts `pulled_back` alert episodes: one trip to the office,
  however many reads, at the instant of its first office read.
- **withdrawn_days** of a department: days with at least one `withdrawn`
  episode for one of its windows (a day, not window-days: the seed's complaint
  is departments leaving the hall).
- **Ranking** (departments with enough coverage, best first): staffed_ratio descending, then fewer
  withdrawn_days, fewer empty_minutes, fewer absences, fewer pulled_back, all
  on the published (rounded) numbers. Departments equal on all of them share a
  rank and the next rank skips ("1, 2, 2, 4"), listed by department id. A
  department whose staffed_ratio is null or whose coverage is short is not
  ranked: rank null, listed after the ranked ones, best covered first.
- Numbers: minutes to 0.1, staffed_ratio to 0.001 (0.1 %), both rounded half up
  from exact microsecond totals.
"""

from hallwatch.metrics.day import DaySummary, StaffCounts, WindowMinutes, day_summary
from hallwatch.metrics.report import (
    Totals,
    add_up,
    department_rows,
    staff_rows,
    window_rows,
)

__all__ = [
    "DaySummary",
    "StaffCounts",
    "Totals",
    "WindowMinutes",
    "add_up",
    "day_summary",
    "department_rows",
    "staff_rows",
    "window_rows",
]
