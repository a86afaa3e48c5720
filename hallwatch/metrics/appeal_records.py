"""Appeals (申诉) as the reports use them: an accepted appeal as the adjustment it makes,
an appeal as the API shows it, and the month's decided appeals as the exports list them.

The appeals themselves, and the rules of filing and deciding, are the registry's
(`hallwatch.registry.appeals`); what an adjustment does to the figures is `metrics.appeals`.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy.orm import Session

from hallwatch.metrics.appeals import Adjustment, from_microseconds
from hallwatch.metrics.report import minutes
from hallwatch.registry.appeals import (
    ACCEPTED,
    REJECTED,
    WINDOW,
    accepted_rows,
    decided_between,
)
from hallwatch.registry.models import AppealRow
from hallwatch.registry.spec import Registry


def adjustment(row: AppealRow) -> Adjustment:
    """An accepted appeal as the reports apply it."""
    return Adjustment(
        appeal=row.id,
        subject=row.subject,
        day=row.day,
        at=row.start,
        department=row.department_id,
        window=row.window_id,
        staff=row.staff_id,
        minutes=from_microseconds(row.minutes_us),
        count=row.excused_count or 0,
    )


def accepted_between(
    session: Session, hall: str, start: datetime, end: datetime
) -> list[Adjustment]:
    """What the hall's accepted appeals of [start, end) take out of the reports."""
    return [adjustment(row) for row in accepted_rows(session, hall, start, end)]


def _iso(at: datetime | None, tz: tzinfo) -> str | None:
    return at.astimezone(tz).isoformat(timespec="seconds") if at else None


def _minutes(row: AppealRow) -> dict | None:
    if row.minutes_us is None:
        return None
    m = from_microseconds(row.minutes_us)
    return {
        f"{name}_minutes": minutes(getattr(m, name))
        for name in ("scheduled", "staffed", "away", "empty", "unknown")
    }


def appeal_json(row: AppealRow, tz: tzinfo) -> dict:
    """An appeal for the API (times ISO-8601 with the hall's offset)."""
    return {
        "id": row.id,
        "hall": row.hall_code,
        "department": row.department_id,
        "subject": row.subject,
        "window": row.window_id,
        "staff": row.staff_id,
        "episode": row.episode_key,
        "day": row.day.isoformat(),
        "start": _iso(row.start, tz),
        "end": _iso(row.end, tz),
        "reason": row.reason,
        "reason_text": row.reason_text,
        "status": row.status,
        "filed_by": row.filed_by,
        "filed_at": _iso(row.filed_at, tz),
        "decided_by": row.decided_by,
        "decided_at": _iso(row.decided_at, tz),
        "note": row.note,
        "excused_minutes": _minutes(row),
        "excused_count": row.excused_count,
    }


# --- the appeals as the exports list them (Chinese, like the exports' headers) ----------

SUBJECT_WORDS = {"window": "窗口时段", "absence": "未签到", "pulled_back": "被抽回"}
REASON_WORDS = {"sensor_fault": "设备故障", "errand": "经批准的公务外出", "outage": "系统故障"}
DECISION_WORDS = {ACCEPTED: "接受", REJECTED: "驳回"}


def _hall_time(at: datetime | None, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone(tz).strftime(fmt) if at else ""


def _excused_words(row: AppealRow) -> str:
    if row.status != ACCEPTED:
        return ""
    if row.subject == WINDOW:
        m = from_microseconds(row.minutes_us)
        return (
            f"应在岗 {minutes(m.scheduled)} 分钟(在岗 {minutes(m.staffed)}、暂离 "
            f"{minutes(m.away)}、空岗 {minutes(m.empty)}、未知 {minutes(m.unknown)})"
        )
    return f"{row.excused_count or 0} 次"


def listing(row: AppealRow, registry: Registry) -> dict:
    """A decided appeal as a row of the exports' appeals table."""
    tz = registry.hall.tz
    if row.subject == WINDOW:
        window = registry.window_by_id.get(row.window_id or "")
        who = window.name if window else row.window_id
        when = f"{_hall_time(row.start, tz, '%H:%M')}–{_hall_time(row.end, tz, '%H:%M')}"
    else:
        person = registry.staff_by_id.get(row.staff_id or "")
        who = person.name if person else row.staff_id
        when = _hall_time(row.start, tz, "%H:%M")
    department = registry.department_by_id.get(row.department_id)
    return {
        "appeal": row.id,
        "department": department.name if department else row.department_id,
        "subject": SUBJECT_WORDS.get(row.subject, row.subject),
        "what": who or "",
        "day": row.day,
        "when": when,
        "reason": REASON_WORDS.get(row.reason, row.reason),
        "reason_text": row.reason_text,
        "filed_by": row.filed_by,
        "filed_at": _hall_time(row.filed_at, tz),
        "decision": DECISION_WORDS.get(row.status, row.status),
        "decided_by": row.decided_by or "",
        "decided_at": _hall_time(row.decided_at, tz),
        "note": row.note or "",
        "excused": _excused_words(row),
        "department_id": row.department_id,
        "subject_id": row.subject,
        "reason_id": row.reason,
        "status": row.status,
    }


def month_appeals(
    sessions, registry: Registry, start: datetime, end: datetime
) -> tuple[list[Adjustment], list[dict]]:
    """The hall's accepted appeals of [start, end) as adjustments, and its decided ones listed.

    A runtime without a database (`sessions` None) has no appeals.
    """
    if sessions is None:
        return [], []
    hall = registry.hall.id
    with sessions() as db:
        adjustments = accepted_between(db, hall, start, end)
        listed = [listing(row, registry) for row in decided_between(db, hall, start, end)]
    return adjustments, listed
