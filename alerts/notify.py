"""When to tell whom about an alert: on opening, reminders, escalation; all through the outbox.

Noise control: one notification when an alert opens, then a reminder at most
every `renotify_minutes` while nobody acknowledges it, and one escalation to
admins for `empty_window`/`pulled_back` left unacknowledged
`escalate_after_minutes`. Nothing is sent outside opening hours or on days the
hall is closed: an alert opened then is announced when the hall opens, if it
is still open. Every notification's dedupe key is fixed by the alert's state
as read (reminder `n` = the time of the notification it follows), so two
schedulers doing this at once queue each message once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.messages import notification_text
from alerts.outbox import enqueue
from alerts.recipients import ESCALATING_KINDS, escalation_recipients, recipients
from alerts.records import alert_json
from hallwatch.config import Settings
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.models import UserRow
from hallwatch.registry.spec import Registry
from hallwatch.schedule import DaySchedule, day_of

log = logging.getLogger(__name__)

# `withdrawn` fires at the close of the day: let it out this long after the day's last period.
CLOSE_GRACE = timedelta(minutes=30)
# A verdict on a whole day: announced once (and in the digest), never "reminded".
VERDICT_KINDS = frozenset({"withdrawn"})


def in_hours(registry: Registry, now: datetime, after_close: timedelta = timedelta(0)) -> bool:
    """Whether `now` falls in an opening period of a working day (the last one + `after_close`)."""
    periods = DaySchedule(registry, day_of(registry.hall, now)).hall_periods
    if not periods:
        return False
    last_end = max(end for _, end in periods)
    return any(
        start <= now < (end + after_close if end == last_end else end) for start, end in periods
    )


def alert_payload(alert: AlertRow, registry: Registry, reason: str) -> dict[str, Any]:
    """The alert as the API shows it (docs/API.md fields), plus why this message is sent."""
    return {**alert_json(alert, registry.hall.tz), "reason": reason}


def _notify(
    session: Session,
    alert: AlertRow,
    registry: Registry,
    to: Sequence[UserRow],
    settings: Settings,
    now: datetime,
    reason: str,
    n: int = 0,
) -> int:
    """Queue one `reason` message about `alert` to each of `to`; return the rows added."""
    if not to:
        return 0
    subject, body = notification_text(alert, registry, settings.base_url, reason)
    payload = alert_payload(alert, registry, reason)
    added = sum(
        enqueue(session, alert, user, reason, subject, body, now, payload, n=n) for user in to
    )
    log.debug("alert %s: %s queued %d messages for %d users", alert.id, reason, added, len(to))
    return added


def on_opened(
    session: Session,
    alert: AlertRow,
    registry: Registry,
    users: Sequence[UserRow],
    settings: Settings,
    now: datetime,
) -> int:
    """Announce a newly opened alert to its recipients; return the outbox rows added.

    Outside hours nothing is queued and `last_notified_at` stays empty, so
    `follow_up` announces it when the hall opens if it is still open. An alert
    already resolved or acknowledged is not news (a `withdrawn` verdict always is).
    """
    if alert.acknowledged_at is not None:
        return 0
    if alert.resolved_at is not None and alert.kind not in VERDICT_KINDS:
        return 0
    if not in_hours(registry, now, CLOSE_GRACE):
        log.debug("alert %s opened outside hours: announced when the hall opens", alert.id)
        return 0
    to = recipients(alert.kind, alert.department_id, users)
    added = _notify(session, alert, registry, to, settings, now, "opened")
    alert.last_notified_at = now
    return added


def _open_unacknowledged(session: Session, foreign: frozenset[str]) -> list[AlertRow]:
    """Open, unacknowledged alerts, except those of the departments in `foreign`."""
    rows = session.scalars(
        select(AlertRow)
        .where(AlertRow.resolved_at.is_(None), AlertRow.acknowledged_at.is_(None))
        .order_by(AlertRow.id)
    )
    return [row for row in rows if row.department_id not in foreign]


def _escalate(
    session: Session,
    alert: AlertRow,
    registry: Registry,
    users: Sequence[UserRow],
    settings: Settings,
    now: datetime,
) -> int:
    """Tell the admins once about an escalating alert left unacknowledged too long."""
    if alert.kind not in ESCALATING_KINDS or alert.escalated_at is not None:
        return 0
    if now - alert.opened_at < timedelta(minutes=settings.escalate_after_minutes):
        return 0
    alert.escalated_at = now
    log.info("alert %s unacknowledged since %s: escalated", alert.id, alert.opened_at.isoformat())
    admins = escalation_recipients(alert.kind, users)
    return _notify(session, alert, registry, admins, settings, now, "escalated")


def _remind(
    session: Session,
    alert: AlertRow,
    registry: Registry,
    users: Sequence[UserRow],
    settings: Settings,
    now: datetime,
) -> int:
    """Announce a deferred alert, or remind of one last notified `renotify_minutes` ago."""
    to = recipients(alert.kind, alert.department_id, users)
    last = alert.last_notified_at
    if last is None:
        alert.last_notified_at = now
        return _notify(session, alert, registry, to, settings, now, "opened")
    if alert.kind in VERDICT_KINDS:
        return 0
    if day_of(registry.hall, alert.opened_at) != day_of(registry.hall, now):
        return 0  # yesterday's situation is the digest's business, not a reminder's
    if now - last < timedelta(minutes=settings.renotify_minutes):
        return 0
    alert.last_notified_at = now
    return _notify(session, alert, registry, to, settings, now, "reminder", n=int(last.timestamp()))


def follow_up(
    session: Session,
    registry: Registry,
    users: Sequence[UserRow],
    settings: Settings,
    now: datetime,
    foreign: frozenset[str] = frozenset(),
) -> int:
    """Remind and escalate open, unacknowledged alerts (only within hours); return rows added.

    Alerts of the departments in `foreign` belong to other halls, followed up with theirs.
    """
    if not in_hours(registry, now):
        return 0
    added = 0
    for alert in _open_unacknowledged(session, foreign):
        added += _escalate(session, alert, registry, users, settings, now)
        added += _remind(session, alert, registry, users, settings, now)
    session.flush()
    return added
