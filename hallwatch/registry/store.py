"""The registry in the database: apply a parsed file idempotently, load a snapshot back.

An entry missing from a newer file is retired (kept with `retired_at`), so what
happened before still has its window, person and device; one that reappears
is restored. Re-importing the same file writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import Select, inspect, or_, select
from sqlalchemy.orm import Session

from hallwatch.registry.models import (
    BadgeRow,
    Base,
    DepartmentRow,
    DeviceRow,
    HallRow,
    LeaveRow,
    RosterRow,
    StaffRow,
    WindowRow,
)
from hallwatch.registry.parse import RegistryError, parse_registry
from hallwatch.registry.spec import (
    WEEKDAYS,
    Department,
    Device,
    HallSettings,
    Leave,
    Period,
    Registry,
    RosterEntry,
    StaffMember,
    Window,
)

HALL_ROW_ID = 1

Desired = dict[Any, dict[str, Any]]  # natural key → column values, in file order


@dataclass
class SectionCounts:
    """What one import did to one kind of entry."""

    added: int = 0
    restored: int = 0  # retired before, back in the file
    updated: int = 0
    retired: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return self.added + self.restored + self.updated + self.retired


@dataclass
class ImportSummary:
    """Counts per section (hall, departments, windows, staff, badges, devices, roster, leave)."""

    sections: dict[str, SectionCounts] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return sum(counts.changes for counts in self.sections.values())

    def __str__(self) -> str:
        parts = []
        for name, counts in self.sections.items():
            done = [
                f"{getattr(counts, f.name)} {f.name}"
                for f in fields(counts)
                if f.name != "unchanged" and getattr(counts, f.name)
            ]
            if done:
                parts.append(f"{name}: {', '.join(done)}")
        unchanged = sum(counts.unchanged for counts in self.sections.values())
        if not parts:
            return f"no changes ({unchanged} entries unchanged)"
        return "; ".join(parts) + f" ({unchanged} unchanged)"


# --- registry values → column values ------------------------------------------------------


def _hhmm(periods: Iterable[Period]) -> list[list[str]]:
    return [[f"{start:%H:%M}", f"{end:%H:%M}"] for start, end in periods]


def _digest(*parts: Any) -> str:
    """A stable key for entries without an id of their own."""
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _hall_columns(hall: HallSettings) -> Desired:
    return {
        HALL_ROW_ID: {
            "name": hall.name,
            "timezone": hall.timezone,
            "hours": _hhmm(hall.hours),
            "holidays": hall.holidays,
            "closed_days": sorted(day.isoformat() for day in hall.closed_days),
            "working_days": sorted(day.isoformat() for day in hall.working_days),
            "empty_grace_minutes": float(hall.empty_grace_minutes),
            "absent_grace_minutes": float(hall.absent_grace_minutes),
            "offline_after_minutes": float(hall.offline_after_minutes),
        }
    }


def _window_columns(window: Window) -> dict[str, Any]:
    row, col = window.position or (None, None)
    return {
        "name": window.name,
        "department_id": window.department,
        "position_row": row,
        "position_col": col,
    }


def _device_columns(device: Device) -> dict[str, Any]:
    return {
        "kind": device.kind,
        "window_id": device.window,
        "department_id": device.department,
        "zigbee2mqtt": device.zigbee2mqtt,
        "tasmota": device.tasmota,
    }


def _roster_columns(entry: RosterEntry) -> dict[str, Any]:
    return {
        "staff_id": entry.staff,
        "window_id": entry.window,
        "days": [day for day in WEEKDAYS if day in entry.days],
        "from_date": entry.from_date,
        "until_date": entry.until_date,
        "hours": _hhmm(entry.hours) if entry.hours is not None else None,
    }


def roster_key(entry: RosterEntry) -> str:
    """The whole entry is its identity: a changed line is a new line."""
    columns = _roster_columns(entry)
    dates = [d.isoformat() if d else None for d in (entry.from_date, entry.until_date)]
    return _digest("roster", entry.staff, entry.window, columns["days"], dates, columns["hours"])


def leave_key(leave: Leave) -> str:
    """Who and when identify leave; the reason may be corrected in place."""
    start, end = (moment.astimezone(UTC).isoformat() for moment in (leave.start, leave.end))
    return _digest("leave", leave.staff, start, end)


def _desired(registry: Registry) -> dict[type[Base], Desired]:
    """Every table's wanted rows, in the order foreign keys need them written."""
    return {
        HallRow: _hall_columns(registry.hall),
        DepartmentRow: {d.id: {"name": d.name} for d in registry.departments},
        WindowRow: {w.id: _window_columns(w) for w in registry.windows},
        StaffRow: {s.id: {"name": s.name, "department_id": s.department} for s in registry.staff},
        BadgeRow: {uid: {"staff_id": s.id} for s in registry.staff for uid in s.badges},
        DeviceRow: {d.id: _device_columns(d) for d in registry.devices},
        RosterRow: {roster_key(r): _roster_columns(r) for r in registry.roster},
        LeaveRow: {
            leave_key(v): {
                "staff_id": v.staff,
                "start": v.start.astimezone(UTC),
                "end": v.end.astimezone(UTC),
                "reason": v.reason,
            }
            for v in registry.leave
        },
    }


# --- applying ------------------------------------------------------------------------------


def _key_name(model: type[Base]) -> str:
    return inspect(model).primary_key[0].key


def _sync(session: Session, model: type[Base], desired: Desired, now: datetime) -> SectionCounts:
    """Make the table's current rows exactly `desired`: add, restore, update, retire."""
    counts = SectionCounts()
    key_name = _key_name(model)
    existing = {getattr(row, key_name): row for row in session.scalars(select(model))}
    for seq, (key, columns) in enumerate(desired.items()):
        row = existing.get(key)
        if row is None:
            session.add(
                model(**{key_name: key}, **columns, seq=seq, created_at=now, updated_at=now)
            )
            counts.added += 1
            continue
        restored = row.retired_at is not None
        changed = any(getattr(row, name) != value for name, value in columns.items())
        if restored:
            counts.restored += 1
        elif changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
        if restored or changed:
            for name, value in columns.items():
                setattr(row, name, value)
            row.retired_at = None
            row.updated_at = now
        if row.seq != seq:
            row.seq = seq  # only the order in the file moved: not counted as a change
    for key, row in existing.items():
        if key not in desired and row.retired_at is None:
            row.retired_at = now
            row.updated_at = now
            counts.retired += 1
    session.flush()
    return counts


def apply_registry(session: Session, registry: Registry, now: datetime) -> ImportSummary:
    """Bring the database to `registry` as of `now` (aware), in the caller's transaction."""
    if now.tzinfo is None:
        raise ValueError(f"apply_registry needs an aware `now`, got {now.isoformat()}")
    summary = ImportSummary()
    for model, desired in _desired(registry).items():
        summary.sections[model.__tablename__] = _sync(session, model, desired, now)
    return summary


def import_file(
    session_factory: Callable[[], Session], path: Path | str, now: datetime | None = None
) -> ImportSummary:
    """Parse the file (RegistryError if bad, nothing written) and apply it in one transaction."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    registry = parse_registry(text)
    with session_factory() as session, session.begin():
        return apply_registry(session, registry, now or datetime.now(UTC))


# --- loading -------------------------------------------------------------------------------


def _current(model: type[Base], as_of: datetime | None) -> Select:
    """Rows in force now (not retired), or at `as_of` (created by then, not yet retired)."""
    stmt = select(model)
    if as_of is None:
        stmt = stmt.where(model.retired_at.is_(None))
    else:
        stmt = stmt.where(
            model.created_at <= as_of,
            or_(model.retired_at.is_(None), model.retired_at > as_of),
        )
    return stmt.order_by(model.seq, getattr(model, _key_name(model)))


def _periods(hours: list[list[str]]) -> tuple[Period, ...]:
    return tuple((time.fromisoformat(start), time.fromisoformat(end)) for start, end in hours)


def _hall(row: HallRow | None) -> HallSettings:
    if row is None:
        return HallSettings()
    return HallSettings(
        name=row.name,
        timezone=row.timezone,
        hours=_periods(row.hours),
        holidays=row.holidays,
        closed_days=frozenset(map(date.fromisoformat, row.closed_days)),
        working_days=frozenset(map(date.fromisoformat, row.working_days)),
        empty_grace_minutes=row.empty_grace_minutes,
        absent_grace_minutes=row.absent_grace_minutes,
        offline_after_minutes=row.offline_after_minutes,
    )


_LISTED = (DepartmentRow, WindowRow, StaffRow, DeviceRow, RosterRow, LeaveRow)


def _window(row: WindowRow) -> Window:
    position = None
    if row.position_row is not None and row.position_col is not None:
        position = (row.position_row, row.position_col)
    return Window(row.id, row.name, row.department_id, position)


def _roster_entry(row: RosterRow) -> RosterEntry:
    return RosterEntry(
        staff=row.staff_id,
        window=row.window_id,
        days=frozenset(row.days),
        from_date=row.from_date,
        until_date=row.until_date,
        hours=_periods(row.hours) if row.hours is not None else None,
    )


def load_registry(session: Session, as_of: datetime | None = None) -> Registry:
    """The registry snapshot in force now, or at `as_of` (hall settings are always current)."""
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError(f"load_registry needs an aware `as_of`, got {as_of.isoformat()}")
    hall = _hall(session.get(HallRow, HALL_ROW_ID))
    badges: dict[str, list[str]] = {}
    for badge in session.scalars(_current(BadgeRow, as_of)):
        badges.setdefault(badge.staff_id, []).append(badge.uid)
    rows = {model: session.scalars(_current(model, as_of)).all() for model in _LISTED}
    return Registry(
        hall=hall,
        departments=tuple(Department(r.id, r.name) for r in rows[DepartmentRow]),
        windows=tuple(_window(r) for r in rows[WindowRow]),
        staff=tuple(
            StaffMember(r.id, r.name, r.department_id, tuple(badges.get(r.id, ())))
            for r in rows[StaffRow]
        ),
        devices=tuple(
            Device(r.id, r.kind, r.window_id, r.department_id, r.zigbee2mqtt, r.tasmota)
            for r in rows[DeviceRow]
        ),
        roster=tuple(_roster_entry(r) for r in rows[RosterRow]),
        leave=tuple(
            Leave(r.staff_id, r.start.astimezone(hall.tz), r.end.astimezone(hall.tz), r.reason)
            for r in rows[LeaveRow]
        ),
    )
