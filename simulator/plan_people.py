"""The people of a planned day (simulator/dayplan.py): who arrives when, taps which reader,
sits, takes breaks, is pulled back; and the plan's working state, `DayDraft`."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hallwatch.registry.spec import Device, Registry, StaffMember
from hallwatch.schedule import DaySchedule, Duty, Interval, subtract, union
from simulator import sensing
from simulator.sim_payloads import payload_form, stable

MIN = timedelta(minutes=1)


@dataclass
class Tap:
    at: datetime
    device: Device
    staff: StaffMember
    action: str | None  # None: the reader says nothing (means "in")


@dataclass
class DayDraft:
    """The working state of one plan while it is being built."""

    registry: Registry
    sched: DaySchedule
    rng: random.Random
    taps: list[Tap] = field(default_factory=list)
    seated: dict[str, list[tuple[str, list[Interval]]]] = field(default_factory=dict)
    story: dict[str, str] = field(default_factory=dict)
    milestones: list[tuple[datetime, str]] = field(default_factory=list)
    realism: sensing.Realism | None = None  # real devices' faults, else idealised sensors
    outages: dict[str, list[Interval]] = field(default_factory=dict)  # device → when it is down
    office_reads: list[tuple[str, datetime]] = field(default_factory=list)  # (staff, when)

    def minutes(self, lo: float, hi: float) -> timedelta:
        return timedelta(minutes=self.rng.uniform(lo, hi))

    def seconds(self, lo: float, hi: float) -> timedelta:
        return timedelta(seconds=self.rng.uniform(lo, hi))

    def offset(self, mean: float, sd: float, lo: float, hi: float) -> timedelta:
        """A normally distributed offset in minutes, clipped to [lo, hi]."""
        return timedelta(minutes=max(lo, min(hi, self.rng.gauss(mean, sd))))

    def note(self, at: datetime, text: str) -> None:
        self.milestones.append((at, text))


def _who(staff: StaffMember) -> str:
    return f"{staff.id} {staff.name}"


def _desk_reader(registry: Registry, window: str) -> Device | None:
    return next(
        (d for d in registry.devices if d.kind == "badge_reader" and d.window == window), None
    )


def _office_reader(registry: Registry, department: str) -> Device | None:
    return next(
        (d for d in registry.devices if d.kind == "badge_reader" and d.department == department),
        None,
    )


def cast(day: DayDraft, duties: list[Duty]) -> dict[str, str]:
    """Give a few people today's roles: absent, pulled back, late, forgot badge, long breaks."""
    reg = day.registry
    working = sorted({d.staff for d in duties if d.intervals})
    day.rng.shuffle(working)
    first_block = {d.staff: d.intervals[0] for d in duties if d.intervals}
    seated_window = {d.staff: d.window for d in duties}
    per_window = Counter(d.window for d in duties)

    def office(s: str) -> bool:
        return _office_reader(reg, reg.staff_by_id[s].department) is not None

    def long_morning(s: str) -> bool:
        start, end = first_block[s]
        return end - start >= timedelta(minutes=120)

    def sensed(s: str) -> bool:
        return seated_window[s] in reg.seat_sensors

    def alone(s: str) -> bool:
        return per_window[seated_window[s]] == 1

    # The pulled-back person preferably staffs a window alone, so that the window empties.
    wanted: list[tuple[str, Callable[[str], bool]]] = [
        ("absent", lambda s: True),
        ("pulled_back", lambda s: office(s) and long_morning(s) and alone(s)),
        ("pulled_back", lambda s: office(s) and long_morning(s)),
        ("late", lambda s: True),
        ("forgot_badge", sensed),
        ("long_break", lambda s: True),
        ("long_break_2", lambda s: True),
        ("early_office", office),
    ]
    roles: dict[str, str] = {}
    budget = len(working) // 3  # a small hall is not all drama
    for role, fits in wanted:
        if role in day.story or len(roles) >= budget:
            continue
        pick = next((s for s in working if s not in roles and fits(s)), None)
        if pick is not None:
            roles[pick] = role
            day.story[role] = pick
    return roles


def _stints(day: DayDraft, duty: Duty, role: str) -> list[Interval]:
    """When the person is at the hall around each rostered block (arrive → leave)."""
    stints = []
    blocks = list(duty.intervals)
    for i, (start, end) in enumerate(blocks):
        first, last = i == 0, i == len(blocks) - 1
        arrive = start + (day.offset(-5, 4, -20, 8) if first else day.offset(-2, 4, -12, 10))
        if first and role == "late":
            arrive = start + day.minutes(18, 40)
        leave = end + (day.offset(1, 4, -12, 15) if last else day.offset(-4, 3, -15, 3))
        if leave - arrive >= 5 * MIN:
            stints.append((arrive, leave))
    return union(stints)


def _breaks(day: DayDraft, stints: list[Interval], role: str) -> list[Interval]:
    """Short breaks away from the seat; a long one for the long-break roles."""
    breaks = []
    for start, end in stints:
        length = (end - start) / MIN
        if length < 60:
            continue
        for _ in range(day.rng.choice((0, 1, 1, 2))):
            duration = day.minutes(2, 8)
            at = start + day.minutes(15, length - 25)
            breaks.append((at, at + duration))
    if role.startswith("long_break") and stints:
        start, end = max(stints, key=lambda s: s[1] - s[0])
        length = (end - start) / MIN
        if length >= 60:
            at = start + day.minutes(20, length - 45)
            breaks.append((at, at + day.minutes(12, 25)))
    return union(breaks)


def _pull_back(day: DayDraft, duty: Duty, staff: StaffMember) -> tuple[Interval, list[Tap]]:
    """Called back to the home office mid-morning; back at the window in the afternoon."""
    office = _office_reader(day.registry, staff.department)
    blocks = list(duty.intervals)
    start, _ = blocks[0]
    leave_desk = start + day.minutes(55, 95)
    at_office = leave_desk + day.minutes(5, 12)
    taps = [Tap(at_office, office, staff, None)]
    if len(blocks) > 1:
        last_start, last_end = blocks[-1]
        back = min(last_start + day.minutes(50, 110), last_end - 20 * MIN)
        taps.append(Tap(last_start + day.minutes(-5, 8), office, staff, None))
    else:
        back = min(at_office + day.minutes(60, 100), blocks[0][1] - 10 * MIN)
    day.note(at_office, f"pulled back: {_who(staff)} read at {office.id}, seat left empty")
    day.note(back, f"back from the office: {_who(staff)} taps in at {duty.window}")
    return (leave_desk, back), taps


def _tap_rules(
    day: DayDraft,
    staff: StaffMember,
    reader: Device,
    stretches: list[Interval],
    gap: Interval | None,
    role: str,
    day_end: datetime,
) -> list[Tap]:
    """Desk taps: in on arrival, sometimes out at lunch and at the end of the day."""
    taps = []
    tapped_out = False
    can_say_out = payload_form(reader) == "native"
    says_in = stable(reader.id, "says_in") % 2 == 0
    for i, (start, end) in enumerate(stretches):
        returning = gap is not None and start == gap[1]
        if returning:
            chance = 1.0
        elif i == 0:
            chance = 0.0 if role == "forgot_badge" else 1.0
        else:
            chance = 0.95 if tapped_out else 0.6
        if day.rng.random() < chance:
            taps.append(Tap(start, reader, staff, "in" if says_in else None))
        elif i == 0:
            day.note(start, f"forgot to tap: {_who(staff)} sits at {reader.window} unsigned")
        leaving_for_office = gap is not None and end == gap[0]
        tapped_out = False
        if can_say_out and not leaving_for_office:
            chance = 0.6 if end >= day_end - 30 * MIN else 0.3
            if day.rng.random() < chance:
                taps.append(Tap(end - day.seconds(5, 30), reader, staff, "out"))
                tapped_out = True
    return taps


def _double_taps(day: DayDraft, taps: list[Tap]) -> list[Tap]:
    """People tap twice now and then; the collector must count it once."""
    extra = [
        Tap(t.at + day.seconds(2, 20), t.device, t.staff, t.action)
        for t in taps
        if day.rng.random() < 0.08
    ]
    return taps + extra


def plan_person(day: DayDraft, duty: Duty, role: str) -> None:
    """One rostered person's day at one window: taps and seated intervals."""
    reg = day.registry
    staff = reg.staff_by_id[duty.staff]
    reader = _desk_reader(reg, duty.window)
    if role == "absent":
        day.note(duty.intervals[0][0], f"absent: {_who(staff)} never comes to {duty.window}")
        return
    stints = _stints(day, duty, role)
    if not stints:
        return
    taps: list[Tap] = []
    gap = None
    if role == "pulled_back":
        gap, taps = _pull_back(day, duty, staff)
    if role == "late":
        day.note(stints[0][0], f"late: {_who(staff)} arrives at {duty.window}")
    if role == "early_office":
        office = _office_reader(reg, staff.department)
        at = duty.intervals[0][0] - day.minutes(25, 50)
        taps.append(Tap(at, office, staff, None))
        day.note(at, f"at the home office before opening: {_who(staff)} read at {office.id}")
    stretches = subtract(stints, [gap]) if gap else stints
    if reader is not None:
        day_end = max(end for _, end in duty.periods)
        taps += _tap_rules(day, staff, reader, stretches, gap, role, day_end)
    day.taps += _double_taps(day, taps)
    sat = [(s + day.seconds(10, 40), e) for s, e in stretches]
    sat = [(s, e) for s, e in sat if s < e]
    away = _breaks(day, stints, role)
    if day.realism is not None:
        away = union(away + sensing.errands(day.rng, stints, day.realism.clerk))
    seated = subtract(sat, away)
    day.seated.setdefault(duty.window, []).append((staff.id, seated))
