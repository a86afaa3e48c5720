"""A department's people over one hall day: rostered or not, signed in, late, absent, pulled back.

Pure: it reads a day's `Sweep` (the counted badge reads its tracker kept, the
day's schedule) and the `absent`/`pulled_back` episodes of `hallwatch.rules`,
so a person shows as absent exactly when the alert rule says so. A late
sign-in (docs/API.md) is a first sign-in at a rostered window after the
person's first opening period had started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hallwatch.alert_kinds import Episode
from hallwatch.registry.spec import Registry
from hallwatch.rules import absences, pull_backs
from hallwatch.schedule import Interval, containing
from hallwatch.timeline import Sweep

PersonStatus = Literal[
    "not_rostered", "on_leave", "pulled_back", "absent", "late", "signed_in", "pending"
]
PERSON_STATUSES: tuple[PersonStatus, ...] = (
    "signed_in",
    "late",
    "pending",
    "absent",
    "pulled_back",
    "on_leave",
    "not_rostered",
)


@dataclass(frozen=True)
class PersonDay:
    """One person's day as of `at`; `status` is the one word a department head reads first."""

    staff: str
    status: PersonStatus
    windows: tuple[str, ...] = ()  # rostered windows of the day, in roster order
    first_sign_in: datetime | None = None  # at one of those windows
    signed_in_window: str | None = None  # the window of that first sign-in
    late_by: timedelta | None = None  # how long after the first period started
    leave: tuple[Interval, ...] = ()  # leave within the rostered periods
    absences: tuple[Episode, ...] = ()
    pull_backs: tuple[Episode, ...] = ()


def _holds_at(episode: Episode, at: datetime) -> bool:
    """Whether the situation held at `at`; one closed only by the day's end still holds."""
    if episode.opened_at > at:
        return False
    return (
        episode.resolved_at is None
        or episode.resolved_at > at
        or episode.resolution == "day_closed"
    )


def people_of_day(
    registry: Registry, day_sweep: Sweep, now: datetime, staff_ids: list[str]
) -> list[PersonDay]:
    """The day of each person in `staff_ids`, as of min(now, the sweep's end)."""
    at = min(now, day_sweep.until)
    schedule = day_sweep.tracker.schedule
    episodes = []
    if day_sweep.collected:
        episodes = [*absences(registry, day_sweep, now), *pull_backs(registry, day_sweep, now)]
    found = []
    for staff_id in staff_ids:
        duties = schedule.duties_of(staff_id)
        if not duties:
            found.append(PersonDay(staff_id, "not_rostered"))
            continue
        windows = tuple(dict.fromkeys(d.window for d in duties))
        intervals = sorted(i for d in duties for i in d.intervals)
        leave = tuple(sorted(i for d in duties for i in d.leave))
        mine = [e for e in episodes if e.staff == staff_id]
        absent = tuple(e for e in mine if e.kind == "absent")
        pulled = tuple(e for e in mine if e.kind == "pulled_back")
        first = day_sweep.first_sign_in(staff_id)
        late_by = day_sweep.late_by(staff_id)
        if not intervals or containing(list(leave), at):
            status: PersonStatus = "on_leave"
        elif any(_holds_at(e, at) for e in pulled):
            status = "pulled_back"
        elif any(_holds_at(e, at) for e in absent):
            status = "absent"
        elif first is not None:
            status = "late" if late_by is not None else "signed_in"
        else:
            status = "pending"
        found.append(
            PersonDay(
                staff_id,
                status,
                windows,
                first.start if first else None,
                first.window if first else None,
                late_by,
                leave,
                absent,
                pulled,
            )
        )
    return found
