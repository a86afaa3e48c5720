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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from hallwatch import schedule
from hallwatch.registry.spec import Device, Registry, StaffMember
from hallwatch.schedule import DaySchedule, Duty, Interval, containing, subtract, union
from simulator import sensing
from simulator.sim_payloads import (
    PlannedMessage,
    SeatModel,
    badge,
    heartbeat,
    payload_form,
    presence,
    seat_model,
    stable,
    status,
)

REPORT_INTERVAL_S = 60.0  # presence sensors re-report their current state this often
HEARTBEAT_INTERVAL_S = 300.0  # native devices' heartbeat
TELE_PERIOD_S = 300.0  # Tasmota's default TelePeriod (tele/<topic>/STATE)
DEVICE_LEAD = timedelta(minutes=60)  # devices are planned this long before opening / after closing
NATIVE_WILL_DELAY = timedelta(seconds=45)  # the broker sends a native will after ~1.5 keepalives
Z2M_AVAILABILITY_DELAY = timedelta(minutes=10)  # Zigbee2MQTT's active availability timeout

MIN = timedelta(minutes=1)


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


# ---------------------------------------------------------------- people


@dataclass
class _Tap:
    at: datetime
    device: Device
    staff: StaffMember
    action: str | None  # None: the reader says nothing (means "in")


@dataclass
class _Day:
    """The working state of one plan while it is being built."""

    registry: Registry
    sched: DaySchedule
    rng: random.Random
    taps: list[_Tap] = field(default_factory=list)
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


def _cast(day: _Day, duties: list[Duty]) -> dict[str, str]:
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


def _stints(day: _Day, duty: Duty, role: str) -> list[Interval]:
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


def _breaks(day: _Day, stints: list[Interval], role: str) -> list[Interval]:
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


def _pull_back(day: _Day, duty: Duty, staff: StaffMember) -> tuple[Interval, list[_Tap]]:
    """Called back to the home office mid-morning; back at the window in the afternoon."""
    office = _office_reader(day.registry, staff.department)
    blocks = list(duty.intervals)
    start, _ = blocks[0]
    leave_desk = start + day.minutes(55, 95)
    at_office = leave_desk + day.minutes(5, 12)
    taps = [_Tap(at_office, office, staff, None)]
    if len(blocks) > 1:
        last_start, last_end = blocks[-1]
        back = min(last_start + day.minutes(50, 110), last_end - 20 * MIN)
        taps.append(_Tap(last_start + day.minutes(-5, 8), office, staff, None))
    else:
        back = min(at_office + day.minutes(60, 100), blocks[0][1] - 10 * MIN)
    day.note(at_office, f"pulled back: {_who(staff)} read at {office.id}, seat left empty")
    day.note(back, f"back from the office: {_who(staff)} taps in at {duty.window}")
    return (leave_desk, back), taps


def _tap_rules(
    day: _Day,
    staff: StaffMember,
    reader: Device,
    stretches: list[Interval],
    gap: Interval | None,
    role: str,
    day_end: datetime,
) -> list[_Tap]:
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
            taps.append(_Tap(start, reader, staff, "in" if says_in else None))
        elif i == 0:
            day.note(start, f"forgot to tap: {_who(staff)} sits at {reader.window} unsigned")
        leaving_for_office = gap is not None and end == gap[0]
        tapped_out = False
        if can_say_out and not leaving_for_office:
            chance = 0.6 if end >= day_end - 30 * MIN else 0.3
            if day.rng.random() < chance:
                taps.append(_Tap(end - day.seconds(5, 30), reader, staff, "out"))
                tapped_out = True
    return taps


def _double_taps(day: _Day, taps: list[_Tap]) -> list[_Tap]:
    """People tap twice now and then; the collector must count it once."""
    extra = [
        _Tap(t.at + day.seconds(2, 20), t.device, t.staff, t.action)
        for t in taps
        if day.rng.random() < 0.08
    ]
    return taps + extra


def _plan_person(day: _Day, duty: Duty, role: str) -> None:
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
    taps: list[_Tap] = []
    gap = None
    if role == "pulled_back":
        gap, taps = _pull_back(day, duty, staff)
    if role == "late":
        day.note(stints[0][0], f"late: {_who(staff)} arrives at {duty.window}")
    if role == "early_office":
        office = _office_reader(reg, staff.department)
        at = duty.intervals[0][0] - day.minutes(25, 50)
        taps.append(_Tap(at, office, staff, None))
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


# ---------------------------------------------------------------- seat sensors


def _sensor_view(day: _Day, model: SeatModel, seated: list[Interval]) -> list[Interval]:
    """What the sensor reports as occupied: late to see a sitter, slow to let go, PIRs miss."""
    seen = union(
        [(s + day.seconds(*model.detect_s), e + day.seconds(*model.hold_s)) for s, e in seated]
    )
    if not model.pir:
        return seen
    misses = []
    for start, end in seen:
        if end - start > 45 * MIN and day.rng.random() < 0.35:
            at = start + day.minutes(15, (end - start) / MIN - 15)
            misses.append((at, at + day.minutes(1, 3)))
    return subtract(seen, misses)


def _seat_messages(
    day: _Day,
    device: Device,
    seen: list[Interval],
    span: Interval,
    offline: Interval | None,
    interval_s: float,
) -> list[PlannedMessage]:
    """Changes as they happen plus a re-report of the current state every `interval_s`."""
    tz = day.registry.hall.tz
    start, end = span

    def up(at: datetime) -> bool:
        return start <= at <= end and not (offline and offline[0] <= at < offline[1])

    out = []
    for s, e in seen:
        for at, occupied in ((s, True), (e, False)):
            if up(at):
                out.append(presence(device, at, occupied, True, tz, day.rng))
    jitter = min(2.0, interval_s / 10)
    at = start + timedelta(seconds=1 + stable(device.id, "phase") % max(1, int(interval_s)))
    while at <= end:
        if up(at):
            occupied = containing(seen, at) is not None
            out.append(presence(device, at, occupied, False, tz, day.rng))
        at += timedelta(seconds=interval_s) + day.seconds(-jitter, jitter)
    if offline and up(offline[1]):
        back = offline[1] + timedelta(seconds=2)
        out.append(presence(device, back, containing(seen, back) is not None, True, tz, day.rng))
    return out


def _dropout(day: _Day, periods: list[Interval]) -> tuple[Device, Interval] | None:
    """One seat sensor at a staffed window falls off the network for a while.

    Battery-powered Zigbee sensors are left out: Zigbee2MQTT only declares them
    offline after a day of silence; so are ESPHome radars, whose node would take its
    card reader down with it.
    """
    staffed = set(day.seated)
    candidates = [
        d
        for d in day.registry.devices
        if d.kind == "presence_sensor"
        and d.window in staffed
        and not (d.zigbee2mqtt and seat_model(d).battery)
        and not d.esphome
    ]
    if not candidates or not periods:
        return None
    device = candidates[day.rng.randrange(len(candidates))]
    first, last = periods[0][0], periods[-1][1]
    if last - first < 3 * timedelta(hours=1):
        return None
    at = first + day.minutes(40, (last - first) / MIN - 90)
    back = at + day.minutes(20, 50)
    day.story["sensor_dropout"] = device.id
    day.note(at, f"sensor dropout: {device.id} at {device.window} goes silent")
    day.note(back, f"sensor back: {device.id} online again")
    return device, (at, back)


def _announces_itself(device: Device, registry: Registry) -> bool:
    """Whether the device sends its own status: an ESPHome node's one status is sent once,
    for its seat sensor if it has one."""
    if not device.esphome:
        return True
    entities = sorted(
        registry.esphome_nodes[device.esphome_node].values(),
        key=lambda d: (d.kind != "presence_sensor", d.id),
    )
    return entities[0].id == device.id


def _device_messages(day: _Day, span: Interval, interval_s: float) -> list[PlannedMessage]:
    """Every device's statuses, heartbeats and seat reports over the planned span."""
    reg = day.registry
    tz = reg.hall.tz
    start, end = span
    dropout = _dropout(day, day.sched.hall_periods)
    out: list[PlannedMessage] = []
    for device in reg.devices:
        offline = dropout[1] if dropout and dropout[0].id == device.id else None
        online_at = start + day.seconds(0, 30)
        if _announces_itself(device, reg):
            out.append(status(device, online_at, True))
        if offline:
            delay = Z2M_AVAILABILITY_DELAY if device.zigbee2mqtt else NATIVE_WILL_DELAY
            out.append(status(device, offline[0] + delay, False))
            out.append(status(device, offline[1], True))
        boot = start - timedelta(hours=1 + stable(device.id, "boot") % 300)
        period = TELE_PERIOD_S if device.tasmota else HEARTBEAT_INTERVAL_S
        at = online_at + timedelta(seconds=1 + stable(device.id, "hb") % int(period))
        while at <= end:
            if not (offline and offline[0] <= at < offline[1]):
                beat = heartbeat(device, at, boot, tz, day.rng)
                if beat is not None:
                    out.append(beat)
            at += timedelta(seconds=period)
        if device.kind == "presence_sensor" and device.window:
            seated = union([i for _, ivs in day.seated.get(device.window, []) for i in ivs])
            seen = _sensor_view(day, seat_model(device), seated)
            out += _seat_messages(day, device, seen, (online_at, end), offline, interval_s)
    return out


# ---------------------------------------------------------------- real devices


def _skewed(message: PlannedMessage, at: datetime) -> PlannedMessage:
    """A message built with the device's clock reading, published at the true instant."""
    return message._replace(at=at)


def _outages(day: _Day, span: Interval) -> dict[str, list[Interval]]:
    """Each device's outages: its own Wi-Fi dropouts and its gateway's restarts."""
    net = day.realism.network
    by_gateway: dict[str, list[Interval]] = {}
    out: dict[str, list[Interval]] = {}
    for device in day.registry.devices:
        gateway = day.realism.gateway_of(device)
        if gateway not in by_gateway:
            by_gateway[gateway] = sensing.outages(
                day.rng, span, net.gateway_restarts_per_day, net.gateway_restart_s
            )
        own = sensing.outages(day.rng, span, net.dropouts_per_day, net.dropout_s)
        out[device.id] = union(own + by_gateway[gateway])
    return out


def _real_device_messages(
    day: _Day, span: Interval, interval_s: float, skews: dict[str, timedelta]
) -> list[PlannedMessage]:
    """Statuses, heartbeats and seat reports of real devices: the model's view, outages (the
    broker's will after a lost connection, the current state re-sent on return), clock skew.
    PIRs send changes only; radars also re-report every `interval_s`."""
    reg, tz = day.registry, day.registry.hall.tz
    start, end = span
    downs = _outages(day, span)
    day.outages = downs
    out: list[PlannedMessage] = []
    for device in reg.devices:
        down, skew = downs[device.id], skews[device.id]

        def up(at: datetime, down: list[Interval] = down) -> bool:
            return start <= at <= end and containing(down, at) is None

        online_at = start + day.seconds(0, 30)
        if _announces_itself(device, reg):
            out.append(status(device, online_at, True))
            for lost, back in down:
                if back - lost > NATIVE_WILL_DELAY:
                    out.append(status(device, lost + NATIVE_WILL_DELAY, False))
                    out.append(status(device, back, True))
        boot = start - timedelta(hours=1 + stable(device.id, "boot") % 300)
        period = TELE_PERIOD_S if device.tasmota else HEARTBEAT_INTERVAL_S
        at = online_at + timedelta(seconds=1 + stable(device.id, "hb") % int(period))
        while at <= end:
            beat = heartbeat(device, at + skew, boot, tz, day.rng) if up(at) else None
            if beat is not None:
                out.append(_skewed(beat, at))
            at += timedelta(seconds=period)
        if device.kind == "presence_sensor" and device.window:
            for at, occupied in _real_seat_reports(day, device, (online_at, end), interval_s):
                if up(at):
                    report = presence(device, at + skew, occupied, True, tz, day.rng)
                    out.append(_skewed(report, at))
    return out


def _real_seat_reports(
    day: _Day, device: Device, span: Interval, interval_s: float
) -> list[tuple[datetime, bool]]:
    """(instant, occupied) a real seat sensor would report, before outages hide some: its
    changes, its state when it comes up and after each outage, a radar's re-reports."""
    seated = union([i for _, ivs in day.seated.get(device.window, []) for i in ivs])
    seen = sensing.seat_view(day.rng, day.realism, device, seated, span)
    moments = [(s, True) for s, _ in seen] + [(e, False) for _, e in seen]
    if not isinstance(day.realism.seat(device), sensing.PirModel):
        moments += _re_reports(device, span[0], span[1], interval_s, seen)
    backs = [span[0] + timedelta(seconds=1)] + [back for _, back in _outages_of(day, device)]
    moments += [(at, containing(seen, at) is not None) for at in backs]
    return sorted(moments)


def _outages_of(day: _Day, device: Device) -> list[Interval]:
    return day.outages.get(device.id, [])


def _re_reports(
    device: Device, start: datetime, end: datetime, interval_s: float, seen: list[Interval]
) -> list[tuple[datetime, bool]]:
    at = start + timedelta(seconds=1 + stable(device.id, "phase") % max(1, int(interval_s)))
    out = []
    while at <= end:
        out.append((at, containing(seen, at) is not None))
        at += timedelta(seconds=interval_s)
    return out


# ---------------------------------------------------------------- ground truth


def _ground_truth(day: _Day) -> list[TruthRow]:
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


def _tap_messages(day: _Day, span: Interval, skews: dict[str, timedelta]) -> list[PlannedMessage]:
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


def _hall_notes(day: _Day) -> None:
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
    plan = _Day(reg, sched, random.Random(f"{seed}/{day.isoformat()}"), realism=realism)
    duties = [d for d in sched.duties if d.intervals]
    roles = _cast(plan, duties)
    for duty in duties:
        _plan_person(plan, duty, roles.get(duty.staff, ""))
    _hall_notes(plan)
    span = _span(sched)
    if realism is None:
        skews: dict[str, timedelta] = {}
        devices = _device_messages(plan, span, report_interval_s)
    else:
        skews = {d.id: sensing.clock_skew(plan.rng, realism.network) for d in reg.devices}
        devices = _real_device_messages(plan, span, report_interval_s, skews)
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
