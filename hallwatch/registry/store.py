"""The registry in the database: apply a parsed file idempotently, load a snapshot back.

An entry missing from a newer file is retired (kept with `retired_at`), so what
happened before still has its window, person and device; one that reappears
is restored. Re-importing the same file writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import Select, inspect, or_, select, update
from sqlalchemy.orm import Session

from hallwatch.access import Scope
from hallwatch.cards import canonical_or_none
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.dump import add_badge, deployment_yaml, dump_deployment, registry_yaml
from hallwatch.registry.file import RegistryError
from hallwatch.registry.models import (
    BadgeRow,
    Base,
    DepartmentRow,
    DeviceRow,
    HallRow,
    LeaveRow,
    RegistryRevisionRow,
    RosterRow,
    StaffRow,
    WindowRow,
)
from hallwatch.registry.parse import parse_deployment
from hallwatch.registry.scoped import within_halls
from hallwatch.registry.spec import (
    DEFAULT_HALL_ID,
    TASMOTA_FULL_TOPIC,
    WEEKDAYS,
    ZIGBEE2MQTT_BASE,
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
from hallwatch.registry.users import current_halls
from hallwatch.registry.values import period_texts

HALL_ROW_ID = 1  # the row of a single-hall deployment (and the first hall ever imported)

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


def _digest(*parts: Any) -> str:
    """A stable key for entries without an id of their own."""
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _hall_columns(hall: HallSettings) -> dict[str, Any]:
    return {
        "code": hall.id,
        "name": hall.name,
        "timezone": hall.timezone,
        "hours": period_texts(hall.hours),
        "holidays": hall.holidays,
        "closed_days": sorted(day.isoformat() for day in hall.closed_days),
        "working_days": sorted(day.isoformat() for day in hall.working_days),
        "empty_grace_minutes": float(hall.empty_grace_minutes),
        "absent_grace_minutes": float(hall.absent_grace_minutes),
        "offline_after_minutes": float(hall.offline_after_minutes),
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
        "esphome": device.esphome,
        "zigbee2mqtt_base": device.zigbee2mqtt_base if device.zigbee2mqtt else None,
        "tasmota_full_topic": device.tasmota_full_topic if device.tasmota else None,
        "uid_reversed": device.uid_reversed or None,  # NULL: as rows from before the key
        "uid_decimal": device.uid_decimal or None,
        "offline_after_minutes": device.offline_after_minutes,
        "sensing": device.sensing,
    }


def _roster_columns(entry: RosterEntry) -> dict[str, Any]:
    return {
        "staff_id": entry.staff,
        "window_id": entry.window,
        "days": [day for day in WEEKDAYS if day in entry.days],
        "from_date": entry.from_date,
        "until_date": entry.until_date,
        "hours": period_texts(entry.hours) if entry.hours is not None else None,
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


def _hall_row_ids(session: Session, deployment: Deployment) -> dict[str, int]:
    """Hall code → its row id: the row it had before, else a new one after the highest."""
    known = {(row.code or DEFAULT_HALL_ID): row.id for row in session.scalars(select(HallRow))}
    next_id = max(known.values(), default=HALL_ROW_ID - 1) + 1
    ids = {}
    for code in deployment.ids:
        if code in known:
            ids[code] = known[code]
        else:
            ids[code], next_id = next_id, next_id + 1
    return ids


def _desired(deployment: Deployment, hall_rows: dict[str, int]) -> dict[type[Base], Desired]:
    """Every table's wanted rows, in the order foreign keys need them written."""
    halls = deployment.halls
    return {
        HallRow: {hall_rows[r.hall.id]: _hall_columns(r.hall) for r in halls},
        DepartmentRow: {
            d.id: {"name": d.name, "hall_code": r.hall.id} for r in halls for d in r.departments
        },
        WindowRow: {w.id: _window_columns(w) for r in halls for w in r.windows},
        StaffRow: {
            s.id: {"name": s.name, "department_id": s.department} for r in halls for s in r.staff
        },
        BadgeRow: {uid: {"staff_id": s.id} for r in halls for s in r.staff for uid in s.badges},
        DeviceRow: {d.id: _device_columns(d) for r in halls for d in r.devices},
        RosterRow: {roster_key(e): _roster_columns(e) for r in halls for e in r.roster},
        LeaveRow: {
            leave_key(v): {
                "staff_id": v.staff,
                "start": v.start.astimezone(UTC),
                "end": v.end.astimezone(UTC),
                "reason": v.reason,
            }
            for r in halls
            for v in r.leave
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


def apply_deployment(session: Session, deployment: Deployment, now: datetime) -> ImportSummary:
    """Bring the database to every hall of `deployment` as of `now` (aware), in the caller's
    transaction; a hall missing from it is retired with all it holds."""
    if now.tzinfo is None:
        raise ValueError(f"apply_deployment needs an aware `now`, got {now.isoformat()}")
    summary = ImportSummary()
    for model, desired in _desired(deployment, _hall_row_ids(session, deployment)).items():
        summary.sections[model.__tablename__] = _sync(session, model, desired, now)
    _count_revision(session)
    return summary


def _count_revision(session: Session) -> None:
    # In SQL, not Python: two imports at once on PostgreSQL must each count.
    stmt = update(RegistryRevisionRow).where(RegistryRevisionRow.id == 1)
    if session.execute(stmt.values(revision=RegistryRevisionRow.revision + 1)).rowcount == 0:
        session.add(RegistryRevisionRow(id=1, revision=1))


def registry_revision(session: Session) -> int:
    """How many imports the database has taken (0 before the first, or before this count).

    Processes re-read the registry only when it moved: one small query instead of a load
    (0.13 s at 2,000 desks, 0.7 s at 10,000: bench/ingest_costs.py).
    """
    stmt = select(RegistryRevisionRow.revision).where(RegistryRevisionRow.id == 1)
    return session.scalar(stmt) or 0


def apply_registry(session: Session, registry: Registry, now: datetime) -> ImportSummary:
    """Bring the database to the one hall `registry` (the whole deployment becomes it)."""
    return apply_deployment(session, Deployment((registry,)), now)


def import_file(
    session_factory: Callable[[], Session],
    path: Path | str,
    now: datetime | None = None,
    halls: Collection[str] = (),
) -> ImportSummary:
    """Parse the file (RegistryError if bad, nothing written) and apply it in one transaction.

    With `halls` (the importer is limited to them), only those halls change: see
    hallwatch.registry.scoped; the result is validated whole again, as a file would be.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    deployment = parse_deployment(text)
    with session_factory() as session, session.begin():
        hold_registry(session)
        if halls:
            deployment = _within(session, deployment, Scope(tuple(halls)))
        return apply_deployment(session, deployment, now or datetime.now(UTC))


def _within(session: Session, uploaded: Deployment, scope: Scope) -> Deployment:
    in_force = set(current_halls(session))  # none yet: load_deployment's default is no hall
    current = [r for r in load_deployment(session).halls if r.hall.id in in_force]
    return parse_deployment(deployment_yaml(within_halls(current, uploaded, scope)))


def hold_registry(session: Session) -> None:
    """Take the registry for this transaction: another writer waits until it ends.

    A write before the read, so that two changes at the same moment are made one after
    the other instead of each applying a copy without the other's change.
    """
    row = RegistryRevisionRow
    if session.execute(update(row).where(row.id == 1).values(revision=row.revision)).rowcount:
        return
    session.add(RegistryRevisionRow(id=1, revision=0))
    session.flush()


def register_card(
    session_factory: Callable[[], Session],
    staff_id: str,
    card: str,
    now: datetime,
    halls: Collection[str] = (),
) -> ImportSummary:
    """Add `card` to the badges of `staff_id` as an import of the registry with it would
    (the same validation: RegistryError naming the problem, and nothing changed). With
    `halls`, the person must be in one of them."""
    with session_factory() as session, session.begin():
        hold_registry(session)
        current = load_deployment(session)
        if not Scope(tuple(halls)).sees_hall(current.hall_of_staff.get(staff_id)):
            raise RegistryError([f"staff: '{staff_id}' is not in a hall you manage"])
        written = dump_deployment(current)
        try:
            changed = add_badge(written, staff_id, card)
        except KeyError:
            raise RegistryError([f"staff: no staff member '{staff_id}' any more"]) from None
        return apply_deployment(session, parse_deployment(registry_yaml(changed)), now)


# --- loading -------------------------------------------------------------------------------


def _current(model: type[Base], as_of: datetime | None) -> Select:
    """Rows in force now (not retired), or at `as_of` (created by then, not yet retired).

    Plain rows of the table's columns, not ORM objects: a registry of 10,000 desks is
    60,000 rows, and building an object for each was most of the time a load took.
    """
    stmt = select(*model.__table__.columns)
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


def _hall(row: HallRow) -> HallSettings:
    return HallSettings(
        id=row.code or DEFAULT_HALL_ID,
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


def _device(row: DeviceRow) -> Device:
    return Device(
        row.id,
        row.kind,
        row.window_id,
        row.department_id,
        row.zigbee2mqtt,
        row.tasmota,
        row.esphome,
        zigbee2mqtt_base=row.zigbee2mqtt_base or ZIGBEE2MQTT_BASE,
        tasmota_full_topic=row.tasmota_full_topic or TASMOTA_FULL_TOPIC,
        uid_reversed=bool(row.uid_reversed),
        uid_decimal=bool(row.uid_decimal),
        offline_after_minutes=row.offline_after_minutes,
        sensing=row.sensing,
    )


def _roster_entry(row: RosterRow) -> RosterEntry:
    return RosterEntry(
        staff=row.staff_id,
        window=row.window_id,
        days=frozenset(row.days),
        from_date=row.from_date,
        until_date=row.until_date,
        hours=_periods(row.hours) if row.hours is not None else None,
    )


def load_deployment(session: Session, as_of: datetime | None = None) -> Deployment:
    """Every hall in force now, or the entries at `as_of` (hall settings are always current)."""
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError(f"load_deployment needs an aware `as_of`, got {as_of.isoformat()}")
    current_halls = select(HallRow).where(HallRow.retired_at.is_(None))
    halls = [
        _hall(row) for row in session.scalars(current_halls.order_by(HallRow.seq, HallRow.id))
    ] or [HallSettings()]
    badges: dict[str, list[str]] = {}
    for badge in session.execute(_current(BadgeRow, as_of)):
        # Rows written before cards were numbers may keep leading zeros: read them canonical.
        badges.setdefault(badge.staff_id, []).append(canonical_or_none(badge.uid) or badge.uid)
    rows = {model: session.execute(_current(model, as_of)).all() for model in _LISTED}
    parts: dict[str, dict[type[Base], list[Any]]] = {
        hall.id: {model: [] for model in _LISTED} for hall in halls
    }
    hall_of = _hall_finder(rows, {hall.id for hall in halls}, halls[0].id)
    for model, found in rows.items():
        for row in found:
            parts[hall_of(model, row)][model].append(row)
    return Deployment(tuple(_registry(hall, parts[hall.id], badges) for hall in halls))


def _hall_finder(
    rows: dict[type[Base], Any], codes: set[str], first: str
) -> Callable[[type[Base], Any], str]:
    """Which hall a row is in: a department names it, the rest follow their department.

    A department of a database from before several halls (no code) is in `main`; one
    naming a hall no longer current, in the first hall.
    """
    department_hall = {}
    for row in rows[DepartmentRow]:
        code = row.hall_code or DEFAULT_HALL_ID
        department_hall[row.id] = code if code in codes else first
    window_hall = {r.id: department_hall.get(r.department_id, first) for r in rows[WindowRow]}
    staff_hall = {r.id: department_hall.get(r.department_id, first) for r in rows[StaffRow]}

    def hall_of(model: type[Base], row: Any) -> str:
        if model is DepartmentRow:
            return department_hall[row.id]
        if model is DeviceRow and row.window_id:
            return window_hall.get(row.window_id, first)
        if model is RosterRow:
            return window_hall.get(row.window_id, first)
        if model is LeaveRow:
            return staff_hall.get(row.staff_id, first)
        return department_hall.get(row.department_id, first)  # windows, staff, office readers

    return hall_of


def _registry(
    hall: HallSettings, rows: dict[type[Base], list[Any]], badges: dict[str, list[str]]
) -> Registry:
    return Registry(
        hall=hall,
        departments=tuple(Department(r.id, r.name) for r in rows[DepartmentRow]),
        windows=tuple(_window(r) for r in rows[WindowRow]),
        staff=tuple(
            StaffMember(r.id, r.name, r.department_id, tuple(badges.get(r.id, ())))
            for r in rows[StaffRow]
        ),
        devices=tuple(_device(r) for r in rows[DeviceRow]),
        roster=tuple(_roster_entry(r) for r in rows[RosterRow]),
        leave=tuple(
            Leave(r.staff_id, r.start.astimezone(hall.tz), r.end.astimezone(hall.tz), r.reason)
            for r in rows[LeaveRow]
        ),
    )


def load_registry(session: Session, as_of: datetime | None = None) -> Registry:
    """The first hall's snapshot in force now, or at `as_of`: the whole of a single-hall
    deployment (code serving several halls reads `load_deployment`)."""
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError(f"load_registry needs an aware `as_of`, got {as_of.isoformat()}")
    return load_deployment(session, as_of).first
