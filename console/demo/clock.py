"""Fit the demo hall's calendar around the moment the demo starts (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

from hallwatch.registry.spec import HallSettings, Registry
from hallwatch.schedule import is_working_day

LEAD_IN = timedelta(hours=1)  # how far into the morning period the demo starts
# The simulator has people arrive up to 20 minutes before opening (simulator.dayplan): an
# opening earlier than this would put their arrivals and taps on the day before, leaving
# seats occupied with nobody signed in and every rostered person "absent".
EARLIEST_OPENING = timedelta(minutes=30)


def _clock(minutes: int) -> time:
    minutes = max(0, min(minutes, 24 * 60 - 1))
    return time(minutes // 60, minutes % 60)


def shifted_hours(hall: HallSettings, now: datetime) -> tuple[tuple[time, time], ...]:
    """The hall's opening periods moved so that `now` is an hour into the first one (or, just
    after midnight, so that the first opens EARLIEST_OPENING after it)."""
    local = now.astimezone(hall.tz)
    first_start = hall.hours[0][0]
    opening = max(
        local.hour * 60 + local.minute - int(LEAD_IN.total_seconds() // 60),
        int(EARLIEST_OPENING.total_seconds() // 60),  # just after midnight: a little later
    )
    offset = opening - (first_start.hour * 60 + first_start.minute)
    periods = []
    for start, end in hall.hours:
        s = start.hour * 60 + start.minute + offset
        e = end.hour * 60 + end.minute + offset
        if s < 24 * 60 - 1 and e > 0:
            periods.append((_clock(s), _clock(e)))
    return tuple(periods)


def fit_to_now(registry: Registry, now: datetime) -> tuple[Registry, list[str]]:
    """Make today a working day and `now` opening time in the demo hall; say what changed."""
    hall = registry.hall
    today = now.astimezone(hall.tz).date()
    notes = []
    if not is_working_day(hall, today):
        hall = replace(
            hall,
            working_days=hall.working_days | {today},
            closed_days=hall.closed_days - {today},
        )
        notes.append(f"今天({today})不是工作日,演示大厅把它设为工作日。")
    local = now.astimezone(hall.tz).time()
    if not any(start <= local < end for start, end in hall.hours):
        hall = replace(hall, hours=shifted_hours(hall, now))
        shown = "、".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in hall.hours)
        notes.append(f"现在不在办公时间内,演示大厅的办公时间平移为 {shown}。")
    return replace(registry, hall=hall), notes
