"""What a staffing request says about itself, on the page and in notifications.

A filing tells the hall managers of its hall; a decision tells the filer. Both are
queued through the notification outbox in the transaction that files or decides, so a
message exists exactly when what it reports does. Notifications are in Chinese, the
hall's language, whoever pressed the button.
"""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.messages import staff_name, window_name
from alerts.outbox import enqueue
from hallwatch.access import HALL_MANAGER, in_hall
from hallwatch.registry.models import UserRow
from hallwatch.registry.spec import LEAVE_TYPES, Registry
from hallwatch.registry.staffing import APPROVED, LEAVE, SWAP, StaffingRequestRow

KIND_NAMES = {"leave": "请假报备", "swap": "调班", "replacement": "人员更换"}
STATUS_NAMES = {"approved": "已批准", "rejected": "已驳回", "withdrawn": "已撤回"}
STAMP = "%Y-%m-%d %H:%M"


def _span(row: StaffingRequestRow, registry: Registry) -> str:
    """Whole days as dates ("2026-12-10 至 2026-12-11"), anything else with its times."""
    start, end = (t.astimezone(registry.hall.tz) for t in (row.start, row.end))
    if start.time() == end.time() == time(0):
        return f"{start.date()} 至 {end.date() - timedelta(days=1)}"
    return f"{start.strftime(STAMP)} 至 {end.strftime(STAMP)}"


def what(row: StaffingRequestRow, registry: Registry) -> str:
    """One line saying what is asked for, with names (ids of entries since gone)."""
    if row.kind == LEAVE:
        kind = LEAVE_TYPES.get(row.leave_type or "", row.leave_type or "")
        return f"{staff_name(registry, row.staff_id)} {_span(row, registry)} {kind}"
    if row.kind == SWAP:
        if row.staff_id:
            pair = (staff_name(registry, row.staff_id), staff_name(registry, row.other_staff_id))
        else:
            pair = (
                window_name(registry, row.window_id),
                window_name(registry, row.other_window_id),
            )
        return f"{row.day} {pair[0]} ⇄ {pair[1]}"
    coming = row.new_name if row.newcomer else staff_name(registry, row.other_staff_id)
    newcomer = "(新人员)" if row.newcomer else ""
    return (
        f"{window_name(registry, row.window_id)}:{staff_name(registry, row.staff_id)} → "
        f"{coming}{newcomer},自 {row.day} 起"
    )


def notify_filed(session: Session, row: StaffingRequestRow, registry: Registry, now) -> int:
    """Tell the hall managers of the request's hall; how many messages were queued."""
    managers = session.scalars(select(UserRow).where(UserRow.role == HALL_MANAGER))
    subject = f"[{registry.hall.name}] 待审批:{KIND_NAMES[row.kind]} #{row.id}"
    body = f"{row.filed_by} 提出{KIND_NAMES[row.kind]}:{what(row, registry)}"
    if row.reason:
        body += f"\n事由:{row.reason}"
    body += "\n请在“人员调整”页审批。"
    return sum(
        enqueue(session, None, user, "staffing", subject, body, now, key=f"staffing:{row.id}:filed")
        for user in in_hall(managers, row.hall_code)
    )


def notify_decided(session: Session, row: StaffingRequestRow, registry: Registry, now) -> int:
    """Tell the filer how their request was decided (not when they decided it themselves)."""
    filer = session.scalars(select(UserRow).where(UserRow.username == row.filed_by)).first()
    if filer is None or filer.username == row.decided_by:
        return 0
    word = STATUS_NAMES.get(row.status, row.status)
    subject = f"[{registry.hall.name}] {KIND_NAMES[row.kind]} #{row.id} {word}"
    body = f"{what(row, registry)}\n{row.decided_by} {word}:{row.note or ''}"
    if row.status == APPROVED:
        body += "\n名册已按此调整。"
    key = f"staffing:{row.id}:{row.status}"
    return enqueue(session, None, filer, "staffing", subject, body, now, key=key)
