"""What an approved staffing request does to the registry, as edits of its file's mapping.

Each function changes the mapping `hallwatch.registry.changes.change_registry` hands it,
in place, and raises RegistryError when the registry no longer allows it (the person or
window gone since the request was filed). The result is then read back as a file, so an
approval can never store what a file could not say. Pure: no database, no clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hallwatch.registry.changes import Mapping, find_entry
from hallwatch.registry.file import RegistryError
from hallwatch.registry.spec import HallSettings


def _part_holding(mapping: Mapping, section: str, entry_id: str) -> tuple[Mapping, Mapping]:
    try:
        return find_entry(mapping, section, entry_id)
    except RegistryError:
        raise RegistryError([f"{section}: no entry with id '{entry_id}' any more"]) from None


def _hall_time(part: Mapping, moment: datetime) -> str:
    tz = ZoneInfo(part.get("timezone") or HallSettings().timezone)
    return moment.astimezone(tz).isoformat(timespec="minutes")


def add_leave(
    mapping: Mapping, staff: str, start: datetime, end: datetime, kind: str, reason: str
) -> None:
    """A `leave:` entry of the person's hall, with its type."""
    part, _ = _part_holding(mapping, "staff", staff)
    entry: dict[str, Any] = {
        "staff": staff,
        "from": _hall_time(part, start),
        "until": _hall_time(part, end),
    }
    if reason:
        entry["reason"] = reason
    entry["type"] = kind
    part.setdefault("leave", []).append(entry)


def add_swap(mapping: Mapping, day: date, section: str, pair: tuple[str, str]) -> None:
    """A `swaps:` entry: `section` is "staff" or "windows", `pair` their two ids."""
    part, _ = _part_holding(mapping, section, pair[0])
    _part_holding(mapping, section, pair[1])
    part.setdefault("swaps", []).append({"date": day.isoformat(), section: list(pair)})


def replace_at_window(
    mapping: Mapping,
    window: str,
    leaving: str,
    coming: str,
    day: date,
    newcomer: Mapping | None = None,
) -> None:
    """From `day`, `coming` works `leaving`'s roster lines at `window`: each line in force
    on or after `day` ends the day before and continues from `day` with the other person
    (a line starting on or after `day` simply changes hands). `newcomer` (id, name and
    perhaps badges) joins the window's department first."""
    part, place = _part_holding(mapping, "windows", window)
    if newcomer is not None:
        person = {**newcomer, "department": place["department"]}
        part.setdefault("staff", []).append(person)
    else:
        _part_holding(mapping, "staff", coming)
    roster: list[Mapping] = part.get("roster", [])
    changed = False
    for index, line in reversed(list(enumerate(roster))):
        if line.get("staff") != leaving or line.get("window") != window:
            continue
        until = line.get("until")
        if until and date.fromisoformat(until) < day:
            continue
        changed = True
        start = line.get("from")
        if start and date.fromisoformat(start) >= day:
            line["staff"] = coming
            continue
        roster.insert(index + 1, {**line, "staff": coming, "from": day.isoformat()})
        line["until"] = (day - timedelta(days=1)).isoformat()
    if not changed:
        raise RegistryError(
            [f"roster: '{leaving}' has no roster line at window '{window}' on or after {day}"]
        )
