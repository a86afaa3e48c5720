"""Day summaries added up into the report rows of docs/API.md, and the department ranking.

Pure. `add_up()` sums any number of `DaySummary`s (a month is the sum of its
days); the `*_rows()` functions return the report JSON objects (docs/API.md) with numbers
rounded as published, and `department_rows()` ranks on those published
numbers, so anyone can check a ranking from the notice itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hallwatch.metrics.day import ZERO, DaySummary, StaffCounts, WindowMinutes
from hallwatch.registry.spec import Registry
from hallwatch.schedule import Interval, union

MICROSECONDS_PER_MINUTE = Decimal(60_000_000)
MINUTES_STEP = Decimal("0.1")  # docs/API.md: minutes to 0.1
RATIO_STEP = Decimal("0.001")  # staffed_ratio and coverage to 0.1 %
RANKED_COVERAGE = 0.95  # docs/API.md: only departments measured at least this much are ranked
_MICROSECOND = timedelta(microseconds=1)


@dataclass
class Totals:
    """Summed day summaries: per window, per person, the days each window was withdrawn,
    the working days HallWatch was not collecting, and each device's offline stretches
    in opening hours (why minutes were unknown)."""

    windows: dict[str, WindowMinutes] = field(default_factory=dict)
    staff: dict[str, StaffCounts] = field(default_factory=dict)
    withdrawn: dict[str, set[date]] = field(default_factory=dict)
    not_collected: set[date] = field(default_factory=set)
    offline: dict[str, list[Interval]] = field(default_factory=dict)

    def window(self, window: str) -> WindowMinutes:
        return self.windows.get(window, WindowMinutes())

    def person(self, staff: str) -> StaffCounts:
        return self.staff.get(staff, StaffCounts())


def add_up(summaries: Iterable[DaySummary]) -> Totals:
    """The sum of day summaries (each day should appear once)."""
    totals = Totals()
    for summary in summaries:
        for window, minutes in summary.windows.items():
            totals.windows[window] = totals.window(window) + minutes
        for staff, counts in summary.staff.items():
            totals.staff[staff] = totals.person(staff) + counts
        for window in summary.withdrawn:
            totals.withdrawn.setdefault(window, set()).add(summary.day)
        if summary.not_collected:
            totals.not_collected.add(summary.day)
        for device, stretches in summary.offline.items():
            totals.offline[device] = union([*totals.offline.get(device, []), *stretches])
    return totals


def minutes(span: timedelta) -> float:
    """A duration in minutes, to 0.1, rounded half up from exact microseconds."""
    exact = Decimal(span // _MICROSECOND) / MICROSECONDS_PER_MINUTE
    return float(exact.quantize(MINUTES_STEP, ROUND_HALF_UP))


def ratio(part: timedelta, whole: timedelta) -> float | None:
    """part ÷ whole to 0.001, or None when whole is nothing."""
    if whole <= ZERO:
        return None
    exact = Decimal(part // _MICROSECOND) / Decimal(whole // _MICROSECOND)
    return float(exact.quantize(RATIO_STEP, ROUND_HALF_UP))


def coverage(m: WindowMinutes) -> float | None:
    """(scheduled − unknown) ÷ scheduled to 0.001: how much of the time was measured."""
    return ratio(m.measured, m.scheduled)


def window_rows(registry: Registry, totals: Totals) -> list[dict]:
    """One report object (docs/API.md) per window, in registry order."""
    rows = []
    for window in registry.windows:
        m = totals.window(window.id)
        rows.append(
            {
                "window": window.id,
                "department": window.department,
                "scheduled_minutes": minutes(m.scheduled),
                "staffed_minutes": minutes(m.staffed),
                "away_minutes": minutes(m.away),
                "empty_minutes": minutes(m.empty),
                "unknown_minutes": minutes(m.unknown),
                "staffed_ratio": ratio(m.staffed, m.measured),
                "coverage": coverage(m),
            }
        )
    return rows


def staff_rows(registry: Registry, totals: Totals) -> list[dict]:
    """One report object (docs/API.md) per person, in registry order."""
    rows = []
    for person in registry.staff:
        c = totals.person(person.id)
        rows.append(
            {
                "staff": person.id,
                "department": person.department,
                "rostered_minutes": minutes(c.rostered),
                "leave_minutes": minutes(c.leave),
                "late_sign_ins": c.late_sign_ins,
                "absences": c.absences,
                "pulled_back": c.pulled_back,
            }
        )
    return rows


def coverage_gaps(registry: Registry, totals: Totals) -> dict:
    """Why coverage is short: the working days HallWatch was not collecting, and each seat
    sensor's offline stretches within opening hours (with the window and department it
    serves), longest first. Only seat sensors make a window's minutes unknown."""
    seat_sensors = {d for ids in registry.seat_sensors.values() for d in ids}
    offline = []
    for device_id, stretches in totals.offline.items():
        device = registry.device_by_id.get(device_id)
        if device is None or device_id not in seat_sensors:
            continue
        window = registry.window_by_id.get(device.window) if device.window else None
        for start, end in stretches:
            offline.append(
                {
                    "device": device_id,
                    "window": device.window,
                    "department": window.department if window else device.department,
                    "from": start.astimezone(registry.hall.tz).isoformat(),
                    "to": end.astimezone(registry.hall.tz).isoformat(),
                    "minutes": minutes(end - start),
                }
            )
    offline.sort(key=lambda r: (-r["minutes"], r["from"], r["device"]))
    return {
        "not_collected": [day.isoformat() for day in sorted(totals.not_collected)],
        "offline": offline,
    }


def department_rows(registry: Registry, totals: Totals) -> list[dict]:
    """One report row per department, best first, ranked (see `hallwatch.metrics`)."""
    rows = [_department_row(registry, totals, d.id, d.name) for d in registry.departments]
    return rank(rows)


def _department_row(registry: Registry, totals: Totals, department: str, name: str) -> dict:
    windows = [w.id for w in registry.windows if w.department == department]
    people = [s.id for s in registry.staff if s.department == department]
    m = sum((totals.window(w) for w in windows), WindowMinutes())
    c = sum((totals.person(s) for s in people), StaffCounts())
    withdrawn_days = set().union(*(totals.withdrawn.get(w, set()) for w in windows))
    return {
        "department": department,
        "name": name,
        "rank": None,
        "staffed_ratio": ratio(m.staffed, m.measured),
        "coverage": coverage(m),
        "empty_minutes": minutes(m.empty),
        "absences": c.absences,
        "pulled_back": c.pulled_back,
        "withdrawn_days": len(withdrawn_days),
    }


def rank_key(row: dict) -> tuple:
    """Better first: higher ratio, fewer withdrawn days, empty minutes, absences, pull-backs."""
    return (
        -row["staffed_ratio"],
        row["withdrawn_days"],
        row["empty_minutes"],
        row["absences"],
        row["pulled_back"],
    )


def ranked(row: dict) -> bool:
    """Whether a department takes part in the ranking: measured, and covered enough that
    an unplugged sensor cannot lift it (unknown minutes are not in its ratio)."""
    return row["staffed_ratio"] is not None and (row["coverage"] or 0.0) >= RANKED_COVERAGE


def rank(rows: list[dict]) -> list[dict]:
    """Rows sorted best first with competition ranks ("1, 2, 2, 4"); the departments not
    ranked follow with rank None, best covered first."""
    ranked_rows = sorted(filter(ranked, rows), key=lambda r: (rank_key(r), r["department"]))
    unranked = sorted(
        (r for r in rows if not ranked(r)),
        key=lambda r: (-(r["coverage"] or 0.0), r["department"]),
    )
    result = []
    for position, row in enumerate(ranked_rows, start=1):
        tied = result and rank_key(result[-1]) == rank_key(row)
        result.append({**row, "rank": result[-1]["rank"] if tied else position})
    return result + [{**row, "rank": None} for row in unranked]
