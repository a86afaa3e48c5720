"""The morning digest: the alerts of one hall day, per department head and for hall managers.

A department head gets their department's alerts, a hall manager the whole
hall's; nobody gets an empty digest ("昨日无告警" every morning is noise).
Each digest is queued once per (hall, day, user): running it twice adds nothing.
On a deployment of several halls each hall has its own digest, of its own alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.messages import KIND_LABELS, alert_line, department_name, hall_clock
from alerts.outbox import enqueue
from alerts.recipients import digest_recipients
from hallwatch.access import HALL_MANAGER, Scope
from hallwatch.config import Settings
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.models import UserRow
from hallwatch.registry.spec import DEFAULT_HALL_ID, Registry
from hallwatch.schedule import local_midnight

DIGEST_MAX_LINES = 30  # the rest is counted, not listed: the page has them all
WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def alerts_of_day(
    session: Session, registry: Registry, day: date, foreign: frozenset[str] = frozenset()
) -> list[AlertRow]:
    """Alerts opened on the hall day `day`, in the order they opened, but for those of the
    departments in `foreign` (other halls')."""
    start = local_midnight(registry.hall, day)
    end = local_midnight(registry.hall, day + timedelta(days=1))
    rows = session.scalars(
        select(AlertRow)
        .where(AlertRow.opened_at >= start, AlertRow.opened_at < end)
        .order_by(AlertRow.opened_at, AlertRow.id)
    )
    return [row for row in rows if row.department_id not in foreign]


def _counts(alerts: Sequence[AlertRow]) -> str:
    counts = Counter(alert.kind for alert in alerts)
    return "、".join(f"{KIND_LABELS.get(kind, kind)} {n}" for kind, n in sorted(counts.items()))


def digest_text(
    alerts: Sequence[AlertRow],
    registry: Registry,
    day: date,
    scope: str,
    base_url: str,
    by_department: bool,
) -> tuple[str, str]:
    """Subject and body of one digest of `alerts` (non-empty) for `scope` (a name)."""
    when = f"{day.isoformat()}({WEEKDAY_NAMES[day.weekday()]})"
    lines = [f"{when}{scope}共 {len(alerts)} 条告警:{_counts(alerts)}"]
    if by_department:
        departments = Counter(alert.department_id for alert in alerts)
        shares = "、".join(
            f"{department_name(registry, dept)} {n}" for dept, n in departments.most_common()
        )
        lines.append(f"按单位:{shares}")
    for alert in alerts[:DIGEST_MAX_LINES]:
        lines.append(f"· {hall_clock(registry, alert.opened_at)} {alert_line(alert, registry)}")
    if len(alerts) > DIGEST_MAX_LINES:
        lines.append(f"……另有 {len(alerts) - DIGEST_MAX_LINES} 条")
    lines.append(f"查看:{base_url.rstrip('/')}/")
    return f"【告警日报】{when}{scope}", "\n".join(lines)


def _scope(user: UserRow, alerts: list[AlertRow], registry: Registry) -> tuple[str, list[AlertRow]]:
    """What a user's digest covers: its name and its alerts."""
    scope = Scope.of(user)  # digest_recipients: a hall manager or a department head
    if scope.departments is None:
        return registry.hall.name, alerts
    own = [alert for alert in alerts if scope.sees_department(alert.department_id)]
    return (department_name(registry, user.department_id) if own else ""), own


def morning_digest(
    session: Session,
    registry: Registry,
    users: Sequence[UserRow],
    settings: Settings,
    day: date,
    now: datetime,
    foreign: frozenset[str] = frozenset(),
) -> int:
    """Queue the digest of `day` for each department head and hall manager; return rows added.

    `users` are those of this hall; `foreign` the departments of the other halls.
    """
    alerts = alerts_of_day(session, registry, day, foreign)
    if not alerts:
        return 0
    added = 0
    for user in digest_recipients(users):
        scope, own = _scope(user, alerts, registry)
        if not own:
            continue
        by_department = user.role == HALL_MANAGER
        subject, body = digest_text(own, registry, day, scope, settings.base_url, by_department)
        payload = {
            "kind": "digest",
            "day": day.isoformat(),
            "department": None if by_department else user.department_id,
            "count": len(own),
            "counts": dict(Counter(alert.kind for alert in own)),
            "alerts": [alert.id for alert in own],
        }
        hall = "" if registry.hall.id == DEFAULT_HALL_ID else f"{registry.hall.id}:"
        key = f"digest:{hall}{day.isoformat()}:{user.id}"
        added += enqueue(session, None, user, "digest", subject, body, now, payload, key=key)
    return added
