"""Alert records: episodes from the rules become rows once, are resolved once, and are acknowledged.

An episode's key (kind, subject, the moment the situation began) is the row's unique
key, so evaluating twice, late, after a restart or in two processes at once never
opens an alert twice.

Alerts can be opened on incomplete data: the collector still catching up after an
outage, a backlog of a device that was offline. So when the rules, given the whole
day again, no longer find an unresolved alert's episode on its day, the alert is
resolved as `revised`; should the episode come back (the store answered with less
than it holds), the same alert is reopened rather than a second one created.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.messages import describe
from hallwatch.access import Scope
from hallwatch.alert_kinds import Episode
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.models import DepartmentRow
from hallwatch.registry.spec import DEFAULT_HALL_ID, Registry

log = logging.getLogger(__name__)

KEY_BATCH = 500  # keys per IN (…) look-up, well under every backend's parameter limit


@dataclass
class ReconcileResult:
    """What one reconciliation changed: rows to notify, rows resolved, rows recorded silently."""

    opened: list[AlertRow] = field(default_factory=list)  # new and unresolved: notify these
    resolved: list[AlertRow] = field(default_factory=list)  # were open, cleared now
    recorded: list[AlertRow] = field(default_factory=list)  # new but already over: not notified


def _existing(session: Session, keys: list[str]) -> dict[str, AlertRow]:
    """The rows already recorded for these episode keys."""
    found: dict[str, AlertRow] = {}
    for i in range(0, len(keys), KEY_BATCH):
        batch = keys[i : i + KEY_BATCH]
        rows = session.scalars(select(AlertRow).where(AlertRow.key.in_(batch)))
        found.update((r.key, r) for r in rows)
    return found


def _department(episode: Episode, registry: Registry) -> str | None:
    """The alert's department (a department head's scope): the episode's, else its subject's."""
    if episode.department:
        return episode.department
    window = registry.window_by_id.get(episode.window or "")
    if window:
        return window.department
    staff = registry.staff_by_id.get(episode.staff or "")
    if staff:
        return staff.department
    device = registry.device_by_id.get(episode.device or "")
    if device and device.window in registry.window_by_id:
        return registry.window_by_id[device.window].department
    return device.department if device else None


def _new_row(episode: Episode, registry: Registry, now: datetime) -> AlertRow:
    return AlertRow(
        key=episode.key,
        kind=episode.kind,
        window_id=episode.window,
        department_id=_department(episode, registry),
        staff_id=episode.staff,
        device_id=episode.device,
        since=episode.since,
        opened_at=episode.opened_at,
        resolved_at=episode.resolved_at,
        resolution=episode.resolution if episode.resolved_at else None,
        message=describe(episode, registry),
        created_at=now,
    )


def begin_write(session: Session) -> None:
    """Make sure a real transaction is open before the first SAVEPOINT.

    pysqlite starts its transaction lazily, before the first INSERT/UPDATE only; a
    SAVEPOINT issued outside one starts a transaction SQLite ends at RELEASE, which
    would commit half of a reconciliation (and make a dry run write). BEGIN IMMEDIATE
    also takes SQLite's write lock up front, so a read-then-write transaction cannot
    fail to upgrade because another process wrote in between.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _insert(session: Session, row: AlertRow) -> bool:
    """Insert in a SAVEPOINT; False when another process recorded the same key first."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        log.debug("alert %s was recorded concurrently; keeping that one", row.key)
        return False
    return True


def _resolve(row: AlertRow, episode: Episode) -> bool:
    """Resolve an open row whose episode has cleared; True when it changed."""
    if row.resolved_at is not None or episode.resolved_at is None:
        return False  # resolved by the rules is final
    row.resolved_at = episode.resolved_at
    row.resolution = episode.resolution
    return True


REVISED = "revised"  # the episode is gone once the whole day's events were seen


def _revise(
    session: Session,
    keys: set[str],
    day: tuple[datetime, datetime],
    now: datetime,
    foreign: frozenset[str] = frozenset(),
) -> list[AlertRow]:
    """Resolve unresolved alerts opened on `day` whose episodes the rules no longer find.

    Alerts of the departments in `foreign` (other halls') are not this evaluation's.
    """
    start, end = day
    stale = session.scalars(
        select(AlertRow).where(
            AlertRow.resolved_at.is_(None), AlertRow.opened_at >= start, AlertRow.opened_at < end
        )
    )
    revised = []
    for row in stale:
        if row.key not in keys and row.department_id not in foreign:
            row.resolved_at, row.resolution = now, REVISED
            revised.append(row)
    return revised


def reconcile(
    session: Session,
    episodes: list[Episode],
    registry: Registry,
    now: datetime,
    day: tuple[datetime, datetime] | None = None,
    foreign: frozenset[str] = frozenset(),
) -> ReconcileResult:
    """Record new episodes and resolve cleared ones in the caller's transaction (it commits).

    With `day` ([start, end) of the hall day the episodes cover, all of it evaluated),
    alerts of that day whose episode has vanished are revised away, except those of the
    departments in `foreign` (the other halls of the deployment).
    """
    begin_write(session)
    result = ReconcileResult()
    episodes = list({e.key: e for e in episodes}.values())
    known = _existing(session, [e.key for e in episodes])
    raced: list[Episode] = []
    for episode in episodes:
        row = known.get(episode.key)
        if row is None:
            row = _new_row(episode, registry, now)
            if not _insert(session, row):
                raced.append(episode)
                continue
            (result.recorded if row.resolved_at else result.opened).append(row)
        elif row.resolution == REVISED and episode.resolved_at is None:
            row.resolved_at = row.resolution = None  # it was real after all
            log.info("alert %s reopened: its episode is back", row.key)
        elif _resolve(row, episode):
            result.resolved.append(row)
    if day is not None:
        result.resolved += _revise(session, {e.key for e in episodes}, day, now, foreign)
    # Rows another process inserted while we looked: theirs to notify, ours to resolve.
    won = _existing(session, [e.key for e in raced])
    for episode in raced:
        row = won.get(episode.key)
        if row is not None and _resolve(row, episode):
            result.resolved.append(row)
    session.flush()
    return result


def _iso(at: datetime | None, tz: tzinfo) -> str | None:
    return at.astimezone(tz).isoformat(timespec="seconds") if at else None


def alert_json(row: AlertRow, tz: tzinfo) -> dict:
    """docs/API.md fields (times ISO-8601 with the hall's offset), plus a few extras."""
    return {
        "id": row.id,
        "kind": row.kind,
        "window": row.window_id,
        "department": row.department_id,
        "staff": row.staff_id,
        "opened_at": _iso(row.opened_at, tz),
        "resolved_at": _iso(row.resolved_at, tz),
        "status": row.status,
        "message": row.message,
        "device": row.device_id,
        "since": _iso(row.since, tz),
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": _iso(row.acknowledged_at, tz),
        "ack_note": row.ack_note,
    }


def in_halls(halls: list[str]) -> ColumnElement[bool]:
    """WHERE clause keeping the alerts of departments in `halls` (hall ids)."""
    hall_of = func.coalesce(DepartmentRow.hall_code, DEFAULT_HALL_ID)  # NULL: from before halls
    return AlertRow.department_id.in_(select(DepartmentRow.id).where(hall_of.in_(halls)))


def visible_to(user, hall: str | None = None) -> list:
    """WHERE clauses limiting alerts to what `user` may see (hallwatch.access.Scope): a
    department head only theirs, a user limited to halls only theirs; with `hall`, only
    that hall's."""
    return Scope.of(user).where(in_halls, AlertRow.department_id, hall)


def acknowledge(
    session: Session, alert_id: int, user, note: str | None, now: datetime
) -> AlertRow | None:
    """Acknowledge an alert `user` may see; None when there is no such alert (caller commits).

    The first acknowledgement stands: acknowledging again changes nothing, so two
    people pressing the button at once do not overwrite each other.
    """
    scope = [AlertRow.id == alert_id, *visible_to(user)]
    session.execute(
        update(AlertRow)
        .where(*scope, AlertRow.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=user.username, ack_note=note or None)
        .execution_options(synchronize_session=False)
    )
    return session.scalars(
        select(AlertRow).where(*scope).execution_options(populate_existing=True)
    ).one_or_none()
