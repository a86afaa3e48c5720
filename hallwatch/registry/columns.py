"""A deployment as the rows its tables should hold: each entry's column values (registry
values → column values), in the order foreign keys need them written; the key of an entry
without an id of its own (`roster_key`, `leave_key`); the row id of each hall; and the
name of a table's key column, by which rows are matched when applied and ordered when
loaded.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from hallwatch.registry.deployment import Deployment
from hallwatch.registry.models import (
    BadgeRow,
    Base,
    DepartmentRow,
    DeviceRow,
    HallRow,
    LeaveRow,
    RosterRow,
    StaffRow,
    SwapRow,
    WindowRow,
)
from hallwatch.registry.spec import (
    DEFAULT_HALL_ID,
    WEEKDAYS,
    Device,
    HallSettings,
    Leave,
    RosterEntry,
    Swap,
    Window,
)
from hallwatch.registry.values import period_texts

HALL_ROW_ID = 1  # the row of a single-hall deployment (and the first hall ever imported)

Desired = dict[Any, dict[str, Any]]  # natural key → column values, in file order


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


def _swap_columns(swap: Swap) -> dict[str, Any]:
    kind, (first, second) = ("staff", swap.staff) if swap.staff else ("windows", swap.windows)
    return {"day": swap.day, "kind": kind, "first": first, "second": second}


def swap_key(swap: Swap) -> str:
    """The whole swap is its identity."""
    columns = _swap_columns(swap)
    return _digest(
        "swap", swap.day.isoformat(), columns["kind"], columns["first"], columns["second"]
    )


def hall_row_ids(session: Session, deployment: Deployment) -> dict[str, int]:
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


def desired_rows(deployment: Deployment, hall_rows: dict[str, int]) -> dict[type[Base], Desired]:
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
                "type": v.type,
            }
            for r in halls
            for v in r.leave
        },
        SwapRow: {swap_key(s): _swap_columns(s) for r in halls for s in r.swaps},
    }


def primary_key_name(model: type[Base]) -> str:
    return inspect(model).primary_key[0].key
