"""The alert rules (docs/OPERATIONS.md) as pure functions of (registry, events, now).

`episodes()` returns every alert episode of `now`'s hall day up to `now`, each
with the key that identifies it across evaluations and, when it has already
cleared, when and why. Evaluating twice, late, or after a restart gives the same
episodes, so alert records reconcile by key and nothing is opened twice or lost.
All of it reads the day's sweep: no second copy of the hall's rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from hallwatch.alert_kinds import Episode
from hallwatch.events import Event
from hallwatch.registry.spec import Registry
from hallwatch.schedule import (
    Interval,
    containing,
    day_of,
    local_midnight,
    next_working_day,
)
from hallwatch.timeline import Span, Sweep, sweep

FLAP_MERGE = timedelta(minutes=10)  # offline spans closer than this are one device_offline


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _done(at: datetime | None, now: datetime) -> datetime | None:
    """A resolution only counts once it has happened."""
    return at if at is not None and at <= now else None


def episodes(registry: Registry, events: Iterable[Event], now: datetime) -> list[Episode]:
    """Every alert episode of `now`'s hall day up to `now`."""
    return episodes_of_day(registry, events, day_of(registry.hall, now), now)


def episodes_of_day(
    registry: Registry, events: Iterable[Event], day: date, now: datetime
) -> list[Episode]:
    """The episodes of one hall day as seen at `now` (which may be after the day)."""
    day_sweep = sweep(registry, events, day, now)
    if not day_sweep.collected:  # that is for /healthz, not for the departments
        return []
    return [
        *empty_windows(registry, day_sweep, now),
        *absences(registry, day_sweep, now),
        *pull_backs(registry, day_sweep, now),
        *offline_devices(registry, day_sweep, now),
        *withdrawals(registry, day_sweep, now),
    ]


def _day_closed_at(day_sweep: Sweep, window: str) -> datetime | None:
    intervals = day_sweep.tracker.schedule.open_intervals.get(window) or []
    return intervals[-1][1] if intervals else None


def empty_windows(registry: Registry, day_sweep: Sweep, now: datetime) -> list[Episode]:
    """A rostered window whose seat stayed empty for the grace; resolves when it is occupied."""
    found: list[Episode] = []
    for window_id, segments in day_sweep.windows.items():
        window = registry.window_by_id[window_id]
        current: Episode | None = None
        for segment in segments:
            if segment.state == "empty" and (current is None or current.since != segment.since):
                current = Episode(
                    "empty_window",
                    f"empty_window:{window_id}:{_iso(segment.since)}",
                    opened_at=segment.start,
                    since=segment.since,
                    window=window_id,
                    department=window.department,
                )
                found.append(current)
            elif segment.state == "staffed" and current is not None:
                found[-1] = _resolve(current, segment.start, "occupied")
                current = None
        if current is not None:
            found[-1] = _resolve(current, _day_closed_at(day_sweep, window_id), "day_closed", now)
    return found


def _resolve(
    episode: Episode, at: datetime | None, why: str, now: datetime | None = None
) -> Episode:
    when = at if now is None else _done(at, now)
    if when is None:
        return episode
    return Episode(**{**episode.__dict__, "resolved_at": when, "resolution": why})


def absences(registry: Registry, day_sweep: Sweep, now: datetime) -> list[Episode]:
    """No sign-in at their window within the grace of a period's start; resolves on sign-in.

    A person still absent when the next period starts keeps the same alert (one per
    absence, not one per period); leave is already taken out of the rostered intervals,
    so the grace runs from when their duty really starts.
    """
    grace = timedelta(minutes=registry.hall.absent_grace_minutes)
    found: list[Episode] = []
    for duty in day_sweep.tracker.schedule.duties:
        staff = registry.staff_by_id[duty.staff]
        present = day_sweep.signed_in_spans(duty.staff, duty.window)
        open_episode: Episode | None = None
        for start, stop in duty.intervals:
            deadline = start + grace
            if deadline > stop or deadline > now:
                continue
            if open_episode is not None and (open_episode.resolved_at or deadline) < deadline:
                open_episode = None
            came = any(a <= deadline and b > start for a, b in present)
            if came or open_episode is not None:
                continue
            arrival = min((a for a, _ in present if a > deadline), default=None)
            open_episode = Episode(
                "absent",
                f"absent:{duty.staff}:{duty.window}:{_iso(start)}",
                opened_at=deadline,
                since=start,
                window=duty.window,
                department=staff.department,
                staff=duty.staff,
            )
            if arrival is not None:
                open_episode = _resolve(open_episode, arrival, "signed_in", now)
            else:
                open_episode = _resolve(open_episode, duty.intervals[-1][1], "day_closed", now)
            found.append(open_episode)
    return found


def pull_backs(registry: Registry, day_sweep: Sweep, now: datetime) -> list[Episode]:
    """A rostered person read at an office reader during their rostered hours.

    One trip to the office is one episode, however many times the card was read there:
    it lasts until they sign in at one of their windows again.
    """
    schedule = day_sweep.tracker.schedule
    found: list[Episode] = []
    for staff_id in dict.fromkeys(d.staff for d in schedule.duties):
        duties = schedule.duties_of(staff_id)
        windows = {d.window for d in duties}
        returns = [s.start for s in day_sweep.sign_ins_of(staff_id, windows)]
        back_at: datetime | None = None
        for read in day_sweep.office_reads_on_duty(staff_id):
            if found and found[-1].staff == staff_id and (back_at is None or read.at < back_at):
                continue  # still the same trip
            duty = next(d for d in duties if containing(list(d.intervals), read.at))
            episode = Episode(
                "pulled_back",
                f"pulled_back:{staff_id}:{_iso(read.at)}",
                opened_at=read.at,
                since=read.at,
                window=duty.window,
                department=registry.staff_by_id[staff_id].department,
                staff=staff_id,
            )
            back_at = next((at for at in returns if at > read.at), None)
            if back_at is not None:
                episode = _resolve(episode, back_at, "signed_in")
            else:
                rostered_end = max(i[1] for d in duties for i in d.intervals)
                episode = _resolve(episode, rostered_end, "day_closed", now)
            found.append(episode)
    return found


def offline_devices(registry: Registry, day_sweep: Sweep, now: datetime) -> list[Episode]:
    """A device offline during opening hours; spans closer than FLAP_MERGE are one alert.

    One alert per device and day: a device still offline at the hall's close resolves
    as day_closed, and opens again (once) the next working day it is still offline.
    """
    hall_periods = day_sweep.tracker.schedule.hall_periods
    closing = hall_periods[-1][1] if hall_periods else None
    found: list[Episode] = []
    for device_id, spans in day_sweep.devices.items():
        device = registry.device_by_id[device_id]
        department = device.department or (
            registry.window_by_id[device.window].department if device.window else None
        )
        for group in _flap_groups([s for s in spans if not s.online]):
            opened = _first_in_hours(group, hall_periods)
            if opened is None or opened > now:
                continue
            back = group[-1].end
            still_offline = back >= day_sweep.until
            episode = Episode(
                "device_offline",
                f"device_offline:{device_id}:{day_sweep.day.isoformat()}:{_iso(group[0].since)}",
                opened_at=opened,
                since=group[0].since,
                window=device.window,
                department=department,
                device=device_id,
            )
            if not still_offline and back + FLAP_MERGE <= now:
                episode = _resolve(episode, back, "reported")
            elif closing is not None and group[-1].end >= closing:
                episode = _resolve(episode, closing, "day_closed", now)
            found.append(episode)
    return found


def _flap_groups(offline: list[Span]) -> list[list[Span]]:
    groups: list[list[Span]] = []
    for span in offline:
        if groups and span.start - groups[-1][-1].end < FLAP_MERGE:
            groups[-1].append(span)
        else:
            groups.append([span])
    return groups


def _first_in_hours(group: list[Span], periods: list[Interval]) -> datetime | None:
    """The first instant of the group that falls within the hall's opening periods."""
    for span in group:
        for start, stop in periods:
            if span.start < stop and span.end > start:
                return max(span.start, start)
    return None


def _next_morning_close(registry: Registry, day: date) -> datetime:
    hall = registry.hall
    following = next_working_day(hall, day)
    first_end = hall.hours[0][1] if hall.hours else None
    if first_end is None:
        return local_midnight(hall, following)
    return datetime.combine(following, first_end, tzinfo=hall.tz)


def withdrawals(registry: Registry, day_sweep: Sweep, now: datetime) -> list[Episode]:
    """At the close of a working day, a rostered window not staffed for a single minute."""
    found: list[Episode] = []
    for window_id, intervals in day_sweep.tracker.schedule.open_intervals.items():
        if not intervals or now < intervals[-1][1]:
            continue
        segments = day_sweep.windows.get(window_id, [])
        staffed = sum(((s.end - s.start) for s in segments if s.state == "staffed"), timedelta())
        if staffed >= timedelta(minutes=1):
            continue
        closed_at = intervals[-1][1]
        episode = Episode(
            "withdrawn",
            f"withdrawn:{window_id}:{day_sweep.day.isoformat()}",
            opened_at=closed_at,
            since=intervals[0][0],
            window=window_id,
            department=registry.window_by_id[window_id].department,
        )
        # Open until the next working day's first period ends: seen, notified and in the
        # morning digest even when the day is only closed late (after a restart).
        found.append(_resolve(episode, _next_morning_close(registry, day_sweep.day), "seen", now))
    return found
