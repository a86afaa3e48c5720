"""The roster's edits as a form makes them: a person's weekly pattern at a window, with an
optional date range and hours; add, edit, end on a date.

A roster line has no id in the file, so a page names one by `line_key`, a short digest of
what it says: a line edited meanwhile by someone else is no longer found, and the edit is
refused rather than applied to a line the user did not see. Pure, like `edits.py`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

from hallwatch.registry import values
from hallwatch.registry.changes import Mapping, halls_of
from hallwatch.registry.edits import entry_of, set_or_drop
from hallwatch.registry.file import RegistryError

KEY_CHARS = 16  # of the digest's hex: a line is named among a hall's few hundred


def line_key(line: Mapping) -> str:
    """A roster line's name in URLs: a digest of its content."""
    text = json.dumps(line, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_CHARS]


def roster_problem(staff: str, key: str, message: str) -> RegistryError:
    """A refusal worded as the parser words a roster problem."""
    return RegistryError([f"roster (staff {staff}): key '{key}': {message}"])


def find_line(mapping: Mapping, key: str) -> tuple[Mapping, Mapping]:
    """The hall part and the roster line named `key`; RegistryError if it is gone."""
    for part in halls_of(mapping):
        for line in part.get("roster", ()):
            if line_key(line) == key:
                return part, line
    raise RegistryError(["roster: this line is no longer in the roster (changed meanwhile?)"])


def hours_of(text: str) -> list[list[str]] | None:
    """Opening periods as a form writes them, "09:00-12:00, 13:30-17:30"; None if empty."""
    text = (text or "").strip()
    if not text:
        return None
    periods = []
    for part in text.replace(",", ",").replace(";", ",").split(","):
        start, dash, end = part.strip().replace("–", "-").partition("-")
        if not dash:
            raise ValueError(f"'{part.strip()}' is not a period such as 09:00-12:00")
        periods.append([start.strip(), end.strip()])
    return periods


def hours_text(hours: list[list[str]] | None) -> str:
    """The inverse of `hours_of`, for a form's initial value."""
    return ", ".join(f"{start}-{end}" for start, end in hours or ())


def _line(
    staff: str,
    window: str,
    days: list[str],
    start: date | None,
    until: date | None,
    hours: list[list[str]] | None,
) -> Mapping:
    if not days:
        raise roster_problem(staff, "days", "choose at least one day")
    line: Mapping = {"staff": staff, "window": window, "days": list(days)}
    set_or_drop(line, "from", start.isoformat() if start else None)
    set_or_drop(line, "until", until.isoformat() if until else None)
    set_or_drop(line, "hours", hours)
    return line


def add_line(
    mapping: Mapping,
    staff: str,
    window: str,
    days: list[str],
    start: date | None = None,
    until: date | None = None,
    hours: list[list[str]] | None = None,
) -> Mapping:
    """A new line in the person's hall (the parser checks the window is of the same hall)."""
    part, _ = entry_of(mapping, "staff", staff)
    line = _line(staff, window, days, start, until, hours)
    part.setdefault("roster", []).append(line)
    return line


def edit_line(
    mapping: Mapping,
    key: str,
    window: str,
    days: list[str],
    start: date | None = None,
    until: date | None = None,
    hours: list[list[str]] | None = None,
) -> Mapping:
    """Change a line's window, days, dates or hours (its person stays); the line before."""
    part, line = find_line(mapping, key)
    before = dict(line)
    new = _line(line["staff"], window, days, start, until, hours)
    line.clear()
    line.update(new)
    return before


def end_line(mapping: Mapping, key: str, last_day: date) -> Mapping:
    """The line applies up to `last_day` and no longer; a line starting after that day goes.
    The line as it was."""
    part, line = find_line(mapping, key)
    before = dict(line)
    start = values.iso_date(line["from"]) if line.get("from") else None
    if line.get("until") and values.iso_date(line["until"]) <= last_day:
        raise roster_problem(line["staff"], "until", f"already ends on {line['until']}")
    if start is not None and start > last_day:
        part["roster"] = [e for e in part["roster"] if e is not line]
    else:
        line["until"] = last_day.isoformat()
    return before
