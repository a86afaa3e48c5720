"""The devices of a planned day (simulator/dayplan.py): seat sensors that see who sits, the
readers' and sensors' heartbeats and status, and with realism their faults and outages."""

from __future__ import annotations

from datetime import datetime, timedelta

from hallwatch.registry.spec import Device, Registry
from hallwatch.schedule import Interval, containing, subtract, union
from simulator import sensing
from simulator.plan_people import MIN, DayDraft
from simulator.sim_payloads import (
    PlannedMessage,
    SeatModel,
    heartbeat,
    presence,
    seat_model,
    stable,
    status,
)

HEARTBEAT_INTERVAL_S = 300.0  # native devices' heartbeat
TELE_PERIOD_S = 300.0  # Tasmota's default TelePeriod (tele/<topic>/STATE)
NATIVE_WILL_DELAY = timedelta(seconds=45)  # the broker sends a native will after ~1.5 keepalives
Z2M_AVAILABILITY_DELAY = timedelta(minutes=10)  # Zigbee2MQTT's active availability timeout


def _sensor_view(day: DayDraft, model: SeatModel, seated: list[Interval]) -> list[Interval]:
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
    day: DayDraft,
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


def _dropout(day: DayDraft, periods: list[Interval]) -> tuple[Device, Interval] | None:
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


def device_messages(day: DayDraft, span: Interval, interval_s: float) -> list[PlannedMessage]:
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


def _skewed(message: PlannedMessage, at: datetime) -> PlannedMessage:
    """A message built with the device's clock reading, published at the true instant."""
    return message._replace(at=at)


def _outages(day: DayDraft, span: Interval) -> dict[str, list[Interval]]:
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


def real_device_messages(
    day: DayDraft, span: Interval, interval_s: float, skews: dict[str, timedelta]
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
    day: DayDraft, device: Device, span: Interval, interval_s: float
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


def _outages_of(day: DayDraft, device: Device) -> list[Interval]:
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
