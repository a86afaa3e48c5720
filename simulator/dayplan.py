"""A believable day at the service hall as a time line of MQTT messages (pure, no I/O).

`plan_day` turns the registry and a seed into what the hall's devices would
publish on one day, each message already in its device's own payload form
(native JSON, Zigbee2MQTT, Tasmota), together with the ground truth of who sat
at which window minute by minute. With `realism` (simulator.sensing) the devices
behave like real ones: PIRs and radars, missed card reads, clock skew, outages.
Timestamps inside payloads (`ts`, Tasmota `Time`, Zigbee2MQTT `last_seen`) are
the planned instants (plus the device's clock error, with `realism`), so a replay shows a
believable working day whatever the wall clock says.

The day's story: most people arrive around opening, tap their desk reader and
sit; short breaks, now and then a longer one; lunch; one person is late beyond
the absence grace, one forgets to tap in, one never comes, one is pulled back
to the home office mid-morning and returns in the afternoon, one seat sensor
drops offline for a while; people on leave stay away; everyone goes home.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from hallwatch import schedule
from hallwatch.registry.spec import Registry
from hallwatch.schedule import DaySchedule, Interval, containing
from simulator import sensing
from simulator.plan_devices import device_messages, real_device_messages
from simulator.plan_people import MIN, DayDraft, cast, plan_person
from simulator.sim_payloads import PlannedMessage, badge

REPORT_INTERVAL_S = 60.0  # presence sensors re-report their current state this often
DEVICE_LEAD = timedelta(minutes=60)  # devices are planned this long before opening / after closing


class TruthRow(NamedTuple):
    at: datetime  # start of the minute
    window: str
    staff: str | None  # who sits there (the first in roster order when two do)
    occupied: bool


@dataclass(frozen=True)
class DayPlan:
    """Everything the hall's devices publish on `day`, and what really happened."""

    day: date
    messages: list[PlannedMessage] = field(default_factory=list)
    ground_truth: list[TruthRow] = field(default_factory=list)
    story: dict[str, str] = field(default_factory=dict)  # role → staff or device id
    milestones: list[tuple[datetime, str]] = field(default_factory=list)  # for the log
    office_reads: list[tuple[str, datetime]] = field(default_factory=list)  # who was really there

    @property
    def working(self) -> bool:
        return bool(self.messages)


# ---------------------------------------------------------------- ground truth


def _ground_truth(day: DayDraft) -> list[TruthRow]:
    """Who sat at each window at the start of every minute of the opening hours."""
    rows = []
    for start, end in day.sched.hall_periods:
        at = start
        while at < end:
            for window in day.registry.windows:
                sitter = next(
                    (
                        staff
                        for staff, seated in day.seated.get(window.id, [])
                        if containing(seated, at)
                    ),
                    None,
                )
                rows.append(TruthRow(at, window.id, sitter, sitter is not None))
            at += MIN
    return rows


def ground_truth_csv(plan: DayPlan) -> str:
    """The ground truth as CSV text: time, window, staff, occupied (1/0)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["time", "window", "staff", "occupied"])
    for row in plan.ground_truth:
        writer.writerow([row.at.isoformat(), row.window, row.staff or "", int(row.occupied)])
    return buffer.getvalue()


def write_ground_truth_csv(plan: DayPlan, path: Path) -> None:
    """Write the ground truth CSV (the only I/O in this module)."""
    Path(path).write_text(ground_truth_csv(plan), encoding="utf-8")


# ---------------------------------------------------------------- the plan


def _registry_for_day(
    registry: Registry, day: date, is_working_day: Callable[[date], bool] | None
) -> Registry | None:
    """The registry whose calendar agrees with `is_working_day`, or None if the hall is closed."""
    if is_working_day is None:
        return registry if schedule.is_working_day(registry.hall, day) else None
    if not is_working_day(day):
        return None
    hall = replace(
        registry.hall,
        working_days=registry.hall.working_days | {day},
        closed_days=registry.hall.closed_days - {day},
    )
    return replace(registry, hall=hall)


def _span(sched: DaySchedule) -> Interval:
    """From an hour before the first opening to an hour after the last closing, within the day."""
    periods = list(sched.hall_periods) + [p for d in sched.duties for p in d.periods]
    start = max(sched.start, min(s for s, _ in periods) - DEVICE_LEAD)
    end = min(sched.end - timedelta(seconds=1), max(e for _, e in periods) + DEVICE_LEAD)
    return start, end


def _tap_messages(
    day: DayDraft, span: Interval, skews: dict[str, timedelta]
) -> list[PlannedMessage]:
    tz = day.registry.hall.tz
    out = []
    for tap in sorted(day.taps, key=lambda t: t.at):
        if not (span[0] <= tap.at <= span[1] and tap.staff.badges):
            continue
        if tap.device.window is None:
            day.office_reads.append((tap.staff.id, tap.at))
        reads = [tap.at]
        if day.realism is not None:
            reads = sensing.tap_outcomes(day.rng, tap.at, day.realism.readers)
        for at in reads:
            skew = skews.get(tap.device.id, timedelta(0))
            message = badge(tap.device, at + skew, tap.staff.badges[-1], tap.action, tz)
            out.append(message._replace(at=at))
    return out


def _hall_notes(day: DayDraft) -> None:
    periods = day.sched.hall_periods
    for i, (start, end) in enumerate(periods):
        day.note(start, f"hall opens ({start:%H:%M}–{end:%H:%M})")
        day.note(end, "hall closes for the day" if i == len(periods) - 1 else "lunch break")


def plan_day(
    registry: Registry,
    day: date,
    seed: int,
    *,
    report_interval_s: float = REPORT_INTERVAL_S,
    is_working_day: Callable[[date], bool] | None = None,
    realism: sensing.Realism | None = None,
) -> DayPlan:
    """A believable day of device traffic at the hall; empty on a day the hall is closed.

    `is_working_day` overrides the hall's calendar (default: `hallwatch.schedule`,
    which honours statutory holidays, make-up days, closed_days and working_days).
    `realism` plays real devices (simulator.sensing: PIRs and radars, missed card reads,
    clock skew, outages) instead of the idealised seat sensors.
    The same registry, day, seed and realism always give the same plan.
    """
    if report_interval_s <= 0:
        raise ValueError("report_interval_s must be positive")
    reg = _registry_for_day(registry, day, is_working_day)
    if reg is None:
        return DayPlan(day)
    sched = DaySchedule(reg, day)
    if not sched.working or not sched.hall_periods:
        return DayPlan(day)
    plan = DayDraft(reg, sched, random.Random(f"{seed}/{day.isoformat()}"), realism=realism)
    duties = [d for d in sched.duties if d.intervals]
    roles = cast(plan, duties)
    for duty in duties:
        plan_person(plan, duty, roles.get(duty.staff, ""))
    _hall_notes(plan)
    span = _span(sched)
    if realism is None:
        skews: dict[str, timedelta] = {}
        devices = device_messages(plan, span, report_interval_s)
    else:
        skews = {d.id: sensing.clock_skew(plan.rng, realism.network) for d in reg.devices}
        devices = real_device_messages(plan, span, report_interval_s, skews)
    messages = _tap_messages(plan, span, skews) + devices
    messages.sort(key=lambda m: m.at)
    return DayPlan(
        day=day,
        messages=messages,
        ground_truth=_ground_truth(plan),
        story=plan.story,
        milestones=sorted(plan.milestones, key=lambda m: m[0]),
        office_reads=plan.office_reads,
    )
