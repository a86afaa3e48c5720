"""The report page's calendar (web/reports_page.py): each person's days of the month, a mark
and icon a day, grouped by department."""

from __future__ import annotations

from datetime import date

from flask import url_for
from flask_babel import format_date, gettext, lazy_gettext
from flask_login import current_user

from hallwatch.metrics.appeals import Adjustment, adjust
from hallwatch.metrics.day import ZERO, DaySummary, StaffCounts
from hallwatch.metrics.month import CalendarCell, Month, month_calendar
from hallwatch.metrics.report import Totals, minutes
from hallwatch.registry.spec import Registry
from hallwatch.schedule import is_working_day
from web.month_text import day_label, minutes_text
from web.scope import visible_windows

CALENDAR_MAX_PEOPLE = 60  # more people than this in one calendar: pick a department first

MARK_WORDS = {
    "normal": lazy_gettext("正常在岗"),
    "late": lazy_gettext("迟到"),
    "absent": lazy_gettext("未签到"),
    "pulled_back": lazy_gettext("被抽回"),
    "leave": lazy_gettext("请假"),
    "pending": lazy_gettext("尚未开始"),
    "unknown": lazy_gettext("无数据"),
    "no_duty": lazy_gettext("无排班"),
    "future": lazy_gettext("未到"),
}
MARK_ICONS = {
    "normal": "✔",
    "late": "⏱",
    "absent": "✖",
    "pulled_back": "↩",
    "leave": "☂",
    "pending": "…",
    "unknown": "?",
    "no_duty": "·",
    "future": "",
}
LEGEND = ("normal", "late", "absent", "pulled_back", "leave", "unknown", "no_duty")


def people_calendar(
    registry: Registry,
    month: Month,
    summaries: list[DaySummary],
    allowed: set[str],
    department: str | None,
    today: date,
    adjustments: list[Adjustment],
) -> dict | None:
    """Each person's days, grouped by department; None when too many people for one page.

    A person's month counts have their accepted appeals applied; such a row is marked and
    keeps the original counts."""
    people = [
        s for s in registry.staff if s.department in allowed and department in (None, s.department)
    ]
    if department is None and len(people) > CALENDAR_MAX_PEOPLE:
        return None
    cells = month_calendar(registry, month, summaries, [p.id for p in people])
    days = [_day_head(registry, day, today) for day in month.days()]
    visible = visible_windows(current_user, registry)
    window_names = {w.id: w.name for w in registry.windows}
    groups: dict[str, dict] = {}
    for person in people:
        group = groups.setdefault(
            person.department,
            {
                "name": registry.department_by_id[person.department].name
                if person.department in registry.department_by_id
                else person.department,
                "people": [],
            },
        )
        month_counts = sum((c.counts for c in cells[person.id]), StaffCounts())
        theirs = [a for a in adjustments if a.staff == person.id]
        adjusted = adjust(Totals(staff={person.id: month_counts}), theirs).person(person.id)
        group["people"].append(
            {
                "id": person.id,
                "name": person.name,
                "cells": [
                    _cell(c, head, window_names, visible)
                    for c, head in zip(cells[person.id], days, strict=True)
                ],
                "counts": adjusted,
                "original": month_counts if theirs else None,
                "leave_days": sum(1 for c in cells[person.id] if c.mark == "leave"),
            }
        )
    order = {d.id: n for n, d in enumerate(registry.departments)}
    return {
        "days": days,
        "groups": [groups[k] for k in sorted(groups, key=lambda k: order.get(k, len(order)))],
        "columns": len(days) + 5,
    }


def _day_head(registry: Registry, day: date, today: date) -> dict:
    working = is_working_day(registry.hall, day)
    label = f"{day_label(day)} {format_date(day, 'EEE')}"  # the column's; a cell says the date
    return {
        "day": day,
        "number": day.day,
        "weekday": format_date(day, "EEEEE"),
        "date": day_label(day),
        "title": label if working else gettext("%(day)s 休息日", day=label),
        "working": working,
        "today": day == today,
    }


def _cell(cell: CalendarCell, head: dict, window_names: dict, visible: set[str]) -> dict:
    """A calendar cell: its mark, icon, a title that says it all, and the window's day."""
    parts = [head["date"], str(MARK_WORDS[cell.mark])]
    if cell.windows:
        parts.append("、".join(window_names.get(w, w) for w in cell.windows))
    c = cell.counts
    if c.late_sign_ins and cell.mark != "late":
        parts.append(gettext("迟到"))
    if c.absences and (cell.mark != "absent" or c.absences > 1):
        parts.append(gettext("未签到 %(n)s 次", n=c.absences))
    if c.pulled_back and (cell.mark != "pulled_back" or c.pulled_back > 1):
        parts.append(gettext("被抽回 %(n)s 次", n=c.pulled_back))
    if c.leave > ZERO and cell.mark != "leave":
        parts.append(gettext("请假 %(minutes)s 分钟", minutes=minutes_text(minutes(c.leave))))
    link = None
    target = next((w for w in cell.windows if w in visible), None)
    if target is not None:
        link = url_for("window.show", window_id=target, day=cell.day.isoformat())
    title = None if cell.mark == "future" else " · ".join(parts)
    return {
        "mark": cell.mark,
        "icon": MARK_ICONS[cell.mark],
        "title": title,
        "link": link,
        "off": not head["working"],
    }
