"""The monthly report as plain data: `month_report()` turns a month's day summaries (read by
the caller, e.g. with `DaySummaries.between()`) into a `MonthReport`, the rows of the tables
of `export_tables`: the department ranking (汇总), windows by working day (窗口逐日), staff
(人员) and the month's decided appeals (申诉); with `ranking_note()`, why a department has no
rank, and `not_collected_text()`, the working days HallWatch was not collecting. Pure: the
writers (`export_csv`, `export_workbook`) take these rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from hallwatch.metrics.appeals import Adjustment, published
from hallwatch.metrics.day import DaySummary
from hallwatch.metrics.export_tables import APPEALS, RANKING, STAFF, WINDOWS_BY_DAY, Table
from hallwatch.metrics.month import Month
from hallwatch.metrics.report import (
    RANKED_COVERAGE,
    add_up,
    department_rows,
    staff_rows,
    window_rows,
)
from hallwatch.registry.spec import HallSettings, Registry, Window
from hallwatch.schedule import is_working_day

WEEKDAY_NAMES = "一二三四五六日"


@dataclass(frozen=True)
class MonthReport:
    """A month of the hall as the rows of the three tables (ranks are the whole hall's)."""

    hall: HallSettings
    month: date  # its first day
    until: datetime  # counted up to here: the month's end, or the moment of a running month
    departments: list[dict]
    windows_by_day: list[dict]
    staff: list[dict]
    scope: str | None = None  # the departments shown, when not the whole hall
    not_collected: tuple[date, ...] = ()  # working days HallWatch was not collecting
    appeals: tuple[dict, ...] = ()  # the month's decided appeals (metrics.appeal_records.listing)

    @property
    def month_label(self) -> str:
        return f"{self.month.year}年{self.month.month}月"

    @property
    def complete(self) -> bool:
        return self.until >= Month.of(self.month).bounds(self.hall)[1]

    def rows(self, table: Table) -> list[dict]:
        return {
            RANKING.name: self.departments,
            WINDOWS_BY_DAY.name: self.windows_by_day,
            STAFF.name: self.staff,
            APPEALS.name: list(self.appeals),
        }[table.name]


def month_report(
    registry: Registry,
    month: date,
    days: Sequence[DaySummary],
    until: datetime,
    departments: Collection[str] | None = None,
    windows: Collection[str] | None = None,
    appeals: Sequence[Adjustment] = (),
    decided: Sequence[dict] = (),
) -> MonthReport:
    """The month's tables from its day summaries, limited to `departments` / `windows` if given.

    The ranking is computed on the whole hall first, so a limited report keeps
    each department's rank in the hall. The accepted `appeals` are applied to every
    table, each row keeping its original (docs/APPEALS.md); `decided` lists the
    month's decided appeals (`hallwatch.metrics.appeal_records.listing`).
    """
    shown_departments = set(departments) if departments is not None else None
    shown_windows = set(windows) if windows is not None else None

    def dept_shown(department: str) -> bool:
        return shown_departments is None or department in shown_departments

    def window_shown(window: Window) -> bool:
        return dept_shown(window.department) and (
            shown_windows is None or window.id in shown_windows
        )

    names = {d.id: d.name for d in registry.departments}
    totals = add_up(days)
    ranking = [
        {**r, "note": ranking_note(r)}
        for r in published(department_rows, "department", registry, totals, appeals)
        if dept_shown(r["department"])
    ]
    people = registry.staff_by_id
    staff = [
        {**r, "name": people[r["staff"]].name, "department_name": names.get(r["department"], "")}
        for r in published(staff_rows, "staff", registry, totals, appeals)
        if dept_shown(r["department"])
    ]
    scope = None
    if shown_departments is not None and shown_departments != set(names):
        scope = "、".join(d.name for d in registry.departments if d.id in shown_departments)
    return MonthReport(
        hall=registry.hall,
        month=month,
        until=until.astimezone(registry.hall.tz),
        departments=ranking,
        windows_by_day=list(_windows_by_day(registry, days, names, window_shown, appeals)),
        staff=staff,
        scope=scope,
        not_collected=tuple(sorted(totals.not_collected)),
        appeals=tuple(a for a in decided if dept_shown(a["department_id"])),
    )


def ranking_note(row: dict) -> str:
    """Why a department has no rank (docs/API.md: coverage below 95 %, or nothing measured)."""
    if row["rank"] is not None:
        return ""
    if row["staffed_ratio"] is None:
        return "无可计量的排班时间，不参与排名"
    return f"数据覆盖率低于 {RANKED_COVERAGE:.0%}，不参与排名"


def not_collected_text(days: Sequence[date]) -> str:
    """The line that lists the working days HallWatch was not collecting, or ""."""
    if not days:
        return ""
    listed = "、".join(f"{d.month}月{d.day}日" for d in days)
    return f"系统未采集数据的工作日（不计入任何部门和人员）：{listed}"


def _windows_by_day(registry, days, names, window_shown, appeals) -> Iterable[dict]:
    """One row per shown window per working day, in day then registry order, each with
    the accepted appeals of its day applied."""
    windows = registry.window_by_id
    for summary in sorted(days, key=lambda s: s.day):
        if not is_working_day(registry.hall, summary.day):
            continue
        note = "系统未采集数据，不计入" if summary.not_collected else ""
        of_day = [a for a in appeals if a.day == summary.day]
        for row in published(window_rows, "window", registry, add_up([summary]), of_day):
            if window_shown(windows[row["window"]]):
                yield {
                    "date": summary.day,
                    "weekday": "周" + WEEKDAY_NAMES[summary.day.weekday()],
                    "department_name": names.get(row["department"], ""),
                    "window_name": windows[row["window"]].name,
                    **row,
                    "note": note,
                }
