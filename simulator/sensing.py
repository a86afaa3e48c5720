"""Realistic seat sensors, card readers and networks for the simulator (pure; issue 16, part 3).

The planned day (`simulator.dayplan`) knows when each clerk really sat at the window. These
functions turn that ground truth into what real devices would have reported:

- a PIR reports *motion*, not people: a clerk who sits still is missed, and the seat is
  reported empty a fixed timeout after the last reported motion;
- an mmWave radar sees a still person but loses them now and then for a moment;
- card readers miss a card now and then, people tap twice, forget to tap;
- device clocks are off by seconds (a few by minutes);
- a Wi-Fi device drops off the network for a moment, a gateway restarts.

Every device parameter cites the device's own documentation beside it. The clerk's own
stillness is not a device property; its numbers are assumptions, stated as such in
docs/ACCURACY.md, where the benchmark shows what they lead to.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hallwatch.registry.spec import Device
from hallwatch.schedule import Interval, subtract, union

SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class PirModel:
    """A passive infrared motion sensor as Zigbee2MQTT presents it."""

    name: str
    # Zigbee2MQTT publishes `occupancy: false` this long after the last reported motion; each
    # reported motion restarts the timer (zigbee-herdsman-converters src/converters/fromZigbee.ts,
    # `occupancy_timeout`, default 90 s for Aqara RTCGQ11LM and IAS PIRs; docs/DEVICES.md §4.9).
    hold_s: float
    # After a report the sensor ignores motion this long. Aqara RTCGQ11LM: 60 s, fixed in
    # hardware (AlexxIT/XiaomiGateway3#457: "For old sensors this value was 60 seconds and cannot
    # be changed"); RTCGQ14LM: its `detection_interval`, default 30 s
    # (https://zigbee2mqtt.io/devices/RTCGQ14LM.html, `occupancy_timeout` default
    # "detection_interval + 2 seconds").
    blind_s: float
    # Motion by someone else (a citizen at the counter, a colleague passing) on an empty seat,
    # per hour; PIRs do fire on such (EverythingSmartHome/everything-presence-one#230).
    stray_per_hour: float = 0.3


AQARA_RTCGQ11LM = PirModel("RTCGQ11LM", hold_s=90, blind_s=60)
AQARA_RTCGQ14LM = PirModel("RTCGQ14LM", hold_s=32, blind_s=30)


@dataclass(frozen=True)
class RadarModel:
    """A 24 GHz mmWave presence radar (Tuya ZY-M100, Aqara FP1)."""

    name: str
    # `detection_delay` and `fading_time` of Tuya ZY-M100-S_2
    # (https://zigbee2mqtt.io/devices/ZY-M100-S_2.html): presence after the target was seen
    # that long, absence after it was lost for `fading_time` (30 s, as sim_payloads reports).
    detect_s: tuple[float, float]
    fading_s: float
    # A still target is lost now and then ("the detection can be a bit flaky at times",
    # TillFleisch/ESPHome-HLK-LD2450#14): losses per seated hour and how long (assumptions:
    # short, as issue 16 describes them). Only a loss longer than the fading time is reported.
    loss_per_hour: float = 0.6
    loss_s: tuple[float, float] = (2, 90)
    # A curtain, a fan or a person behind the counter seen on an empty seat
    # (EverythingSmartHome/everything-presence-one#62), per empty hour, and how long.
    ghost_per_hour: float = 0.1
    ghost_s: tuple[float, float] = (5, 40)


TUYA_ZY_M100 = RadarModel("ZY-M100-S_2", detect_s=(1, 3), fading_s=30)


@dataclass(frozen=True)
class Clerk:
    """How a seated clerk moves, as a PIR can see it (assumptions: docs/ACCURACY.md).

    While working the clerk moves visibly every `move_gap_s` seconds on average (typing,
    turning to the counter); `still_per_hour` times an hour they sit still for a spell whose
    length in minutes is log-normal with median `still_median_min` and shape `still_sigma`.
    """

    move_gap_s: float = 20
    still_per_hour: float = 1.0
    still_median_min: float = 3.0
    still_sigma: float = 0.6
    # Errands away from the seat (a file from the back office, a colleague's counter): the
    # real empty spells the empty-window alert is for, on top of dayplan's short breaks.
    errands_per_day: float = 0.4
    errand_min: tuple[float, float] = (6, 35)


CLERK = Clerk()


def _poisson_times(rng: random.Random, span: Interval, per_hour: float) -> list[datetime]:
    """Instants of a Poisson process of `per_hour` events an hour over `span`."""
    start, end = span
    out, at = [], start
    if per_hour <= 0:
        return out
    while True:
        at += timedelta(hours=rng.expovariate(per_hour))
        if at >= end:
            return out
        out.append(at)


def clerk_motion(
    rng: random.Random, seated: list[Interval], clerk: Clerk = CLERK
) -> list[datetime]:
    """The instants a seated clerk moves visibly: sitting down, working, standing up."""
    motion: list[datetime] = []
    for start, end in seated:
        motion.append(start)
        at = start
        while at < end:
            if rng.random() < clerk.still_per_hour * clerk.move_gap_s / 3600:
                minutes = clerk.still_median_min * math.exp(rng.gauss(0, clerk.still_sigma))
                at += timedelta(minutes=minutes)
            else:
                at += SECOND * rng.expovariate(1 / clerk.move_gap_s)
            if at < end:
                motion.append(at)
        motion.append(end)  # standing up and walking off
    return motion


def pir_view(
    rng: random.Random,
    seated: list[Interval],
    span: Interval,
    pir: PirModel = AQARA_RTCGQ11LM,
    clerk: Clerk = CLERK,
) -> list[Interval]:
    """When a PIR reports the seat occupied: from each reported motion to its timeout."""
    empty = subtract([span], seated)
    stray = [t for gap in empty for t in _poisson_times(rng, gap, pir.stray_per_hour)]
    reports: list[datetime] = []
    for at in sorted(clerk_motion(rng, seated, clerk) + stray):
        if not reports or at - reports[-1] >= SECOND * pir.blind_s:
            reports.append(at + SECOND * rng.uniform(0.2, 1.0))
    return union([(at, at + SECOND * pir.hold_s) for at in reports])


def radar_view(
    rng: random.Random, seated: list[Interval], span: Interval, radar: RadarModel = TUYA_ZY_M100
) -> list[Interval]:
    """When a radar reports the seat occupied: late by its delay, held by its fading time,
    with a flicker now and then and a ghost on an empty seat now and then."""
    seen = [
        (s + SECOND * rng.uniform(*radar.detect_s), e + SECOND * radar.fading_s) for s, e in seated
    ]
    flickers = []
    for spell in seated:
        for at in _poisson_times(rng, spell, radar.loss_per_hour):
            lost = SECOND * rng.uniform(*radar.loss_s)
            if lost > SECOND * radar.fading_s:
                flickers.append((at + SECOND * radar.fading_s, at + lost))
    ghosts = []
    for gap in subtract([span], seated):
        for at in _poisson_times(rng, gap, radar.ghost_per_hour):
            ghosts.append((at, at + SECOND * (rng.uniform(*radar.ghost_s) + radar.fading_s)))
    return union(subtract(union(seen), flickers) + ghosts)


def errands(rng: random.Random, stints: list[Interval], clerk: Clerk = CLERK) -> list[Interval]:
    """When a clerk is off on an errand during their stints at the window."""
    hours = sum((e - s) / timedelta(hours=1) for s, e in stints)
    per_hour = clerk.errands_per_day / hours if hours else 0
    out = []
    for start, end in stints:
        for at in _poisson_times(rng, (start, end), per_hour):
            out.append((at, min(end, at + timedelta(minutes=rng.uniform(*clerk.errand_min)))))
    return union(out)


# ---------------------------------------------------------------- card readers


@dataclass(frozen=True)
class ReaderHabits:
    """Card readers and the people tapping them (assumptions: docs/ACCURACY.md)."""

    miss: float = 0.03  # a read fails (card held too briefly or too far)
    retry: float = 0.8  # …and the person notices the missing beep and taps again
    retry_s: tuple[float, float] = (2, 8)


READERS = ReaderHabits()


def tap_outcomes(
    rng: random.Random, at: datetime, habits: ReaderHabits = READERS
) -> list[datetime]:
    """When a tap at `at` is really read: at once, after a retry, or not at all."""
    if rng.random() >= habits.miss:
        return [at]
    if rng.random() < habits.retry:
        return [at + SECOND * rng.uniform(*habits.retry_s)]
    return []


# ---------------------------------------------------------------- clocks and networks


@dataclass(frozen=True)
class Network:
    """Device clocks and outages (assumptions: docs/ACCURACY.md)."""

    clock_sd_s: float = 15  # NTP-synchronised clocks: seconds off
    clock_wrong: float = 0.05  # …and now and then one minutes off (NTP not answering)
    clock_wrong_s: tuple[float, float] = (60, 240)
    dropouts_per_day: float = 0.3  # a Wi-Fi device's short losses of its network
    dropout_s: tuple[float, float] = (20, 240)
    gateway_restarts_per_day: float = 0.05  # a window group's gateway or coordinator restarts
    gateway_restart_s: tuple[float, float] = (60, 180)


NETWORK = Network()


def clock_skew(rng: random.Random, network: Network = NETWORK) -> timedelta:
    """How far one device's clock is off today."""
    if rng.random() < network.clock_wrong:
        return SECOND * rng.uniform(*network.clock_wrong_s) * rng.choice((-1, 1))
    return SECOND * rng.gauss(0, network.clock_sd_s)


def outages(
    rng: random.Random, span: Interval, per_day: float, length_s: tuple[float, float]
) -> list[Interval]:
    """Random outages over `span`, `per_day` on average."""
    hours = (span[1] - span[0]) / timedelta(hours=1)
    rate = per_day / max(hours, 1e-9)
    return union(
        [(at, at + SECOND * rng.uniform(*length_s)) for at in _poisson_times(rng, span, rate)]
    )


# ---------------------------------------------------------------- the whole set-up


def radar_for_all(device: Device) -> PirModel | RadarModel:
    return TUYA_ZY_M100


def _by_department(device: Device) -> str:
    return device.department or device.window or device.id


@dataclass(frozen=True)
class Realism:
    """Which sensor model each seat device is, and the habits and networks around them."""

    seat: Callable[[Device], PirModel | RadarModel] = radar_for_all
    clerk: Clerk = CLERK
    readers: ReaderHabits = READERS
    network: Network = NETWORK
    gateway_of: Callable[[Device], str] = field(default=_by_department)


def seat_view(
    rng: random.Random, realism: Realism, device: Device, seated: list[Interval], span: Interval
) -> list[Interval]:
    """When the device reports its seat occupied, by its model."""
    model = realism.seat(device)
    if isinstance(model, PirModel):
        return pir_view(rng, seated, span, model, realism.clerk)
    return radar_view(rng, seated, span, model)
