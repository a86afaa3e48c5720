"""What the appeals page and API share: a filing checked against the user's scope, the
alerts one may appeal, and the snapshot taken when an appeal is accepted."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from alerts.records import visible_to as alerts_visible_to
from hallwatch.metrics.appeals import episode_count, stretch_minutes
from hallwatch.metrics.day import WindowMinutes
from hallwatch.metrics.source import events_of_day
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.appeals import EPISODE_KINDS, EPISODE_SUBJECTS, WINDOW, Filing
from hallwatch.registry.models import AppealRow
from hallwatch.registry.spec import Registry
from hallwatch.schedule import day_of, local_midnight
from web.scope import visible_windows

ALERTS_OFFERED = 200  # newest absences and pull-backs offered to appeal


class NotInScope(LookupError):
    """No such window or alert for this user: answered 404, like an unknown id."""


def _runtime():
    return current_app.extensions["hallwatch"]


def window_filing(
    user,
    registry: Registry,
    window: str,
    start: datetime,
    end: datetime,
    reason: str,
    reason_text: str,
    now: datetime,
) -> Filing:
    """A stretch [start, end) of one window within one hall day, not in the future."""
    if window not in visible_windows(user, registry):
        raise NotInScope(f"no window {window!r}")
    hall = registry.hall
    day = day_of(hall, start)
    if end <= start:
        raise ValueError("'end' must be later than 'start'")
    if end > local_midnight(hall, day + timedelta(days=1)):
        raise ValueError("a stretch must lie within one hall day")
    if end > now:
        raise ValueError("a stretch must have ended: 'end' is in the future")
    return Filing(
        hall=hall.id,
        department=registry.window_by_id[window].department,
        subject=WINDOW,
        day=day,
        start=start,
        end=end,
        reason=reason,
        reason_text=reason_text,
        window=window,
    )


def appealable_alerts(user, registry: Registry):
    """The absences and pull-backs the user may appeal, newest first (a query)."""
    return (
        select(AlertRow)
        .where(
            *alerts_visible_to(user, registry.hall.id),
            AlertRow.kind.in_(list(EPISODE_SUBJECTS)),
            AlertRow.department_id.in_([d.id for d in registry.departments]),
        )
        .order_by(AlertRow.opened_at.desc(), AlertRow.id.desc())
        .limit(ALERTS_OFFERED)
    )


def episode_filing(
    user, registry: Registry, alert_id: int, reason: str, reason_text: str
) -> Filing:
    """An absence or pull-back, named by its alert record."""
    with _runtime().sessions() as db:
        row = db.scalars(
            select(AlertRow).where(
                AlertRow.id == alert_id,
                AlertRow.kind.in_(list(EPISODE_SUBJECTS)),
                *alerts_visible_to(user, registry.hall.id),
            )
        ).one_or_none()
    if row is None or row.staff_id is None or row.department_id is None:
        raise NotInScope(f"no absence or pull-back alert {alert_id}")
    return Filing(
        hall=registry.hall.id,
        department=row.department_id,
        subject=EPISODE_SUBJECTS[row.kind],
        day=day_of(registry.hall, row.opened_at),
        start=row.opened_at,
        reason=reason,
        reason_text=reason_text,
        window=row.window_id,
        staff=row.staff_id,
        episode_key=row.key,
    )


def snapshot(
    registry: Registry, row: AppealRow, now: datetime
) -> tuple[WindowMinutes | None, int | None]:
    """What the appeal excuses, as the reports count it now: (minutes, None) or (None, count)."""
    day: date = row.day
    events = events_of_day(_runtime(), registry, day, now)
    if row.subject == WINDOW:
        return stretch_minutes(registry, events, day, row.window_id, row.start, row.end, now), None
    assert row.subject in EPISODE_KINDS
    return None, episode_count(registry, events, day, row.subject, row.episode_key, now)
