"""The registry read back from the database: every hall's snapshot in force now, or at an
earlier moment (`load_deployment`, `load_registry`), each row put in its hall through its
department, and the registry's revision, which tells a process whether there is anything
new to load (`registry_revision`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from hallwatch.cards import canonical_or_none
from hallwatch.registry.columns import primary_key_name
from hallwatch.registry.deployment import Deployment
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
    SwapRow,
    WindowRow,
)
from hallwatch.registry.spec import (
    DEFAULT_HALL_ID,
    TASMOTA_FULL_TOPIC,
    ZIGBEE2MQTT_BASE,
    Department,
    Device,
    HallSettings,
    Leave,
    Period,
    Registry,
    RosterEntry,
    StaffMember,
    Swap,
    Window,
)


def registry_revision(session: Session) -> int:
    """How many imports the database has taken (0 before the first, or before this count).

    Processes re-read the registry only when it moved: one small query instead of a load
    (0.13 s at 2,000 desks, 0.7 s at 10,000: bench/ingest_costs.py).
    """
    stmt = select(RegistryRevisionRow.revision).where(RegistryRevisionRow.id == 1)
    return session.scalar(stmt) or 0


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
    return stmt.order_by(model.seq, getattr(model, primary_key_name(model)))


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


_LISTED = (DepartmentRow, WindowRow, StaffRow, DeviceRow, RosterRow, LeaveRow, SwapRow)


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
        if model is SwapRow:
            return (staff_hall if row.kind == "staff" else window_hall).get(row.first, first)
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
            Leave(
                r.staff_id, r.start.astimezone(hall.tz), r.end.astimezone(hall.tz), r.reason, r.type
            )
            for r in rows[LeaveRow]
        ),
        swaps=tuple(_swap(r) for r in rows[SwapRow]),
    )


def _swap(row: SwapRow) -> Swap:
    pair = (row.first, row.second)
    return Swap(row.day, pair, None) if row.kind == "staff" else Swap(row.day, None, pair)


def load_registry(session: Session, as_of: datetime | None = None) -> Registry:
    """The first hall's snapshot in force now, or at `as_of`: the whole of a single-hall
    deployment (code serving several halls reads `load_deployment`)."""
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError(f"load_registry needs an aware `as_of`, got {as_of.isoformat()}")
    return load_deployment(session, as_of).first
