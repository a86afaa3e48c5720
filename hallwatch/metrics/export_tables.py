"""The tables of the monthly report (docs/API.md) as plain data: each table described once
(`Column`, `Table`: 汇总, 窗口逐日, 人员, 申诉, and the ranking as published), so the workbook
and the CSV files hold the same content and only the presentation differs (a ratio is a
number formatted 0.0 % in the workbook, text "93.5%" in CSV); and what one cell holds:
`cell_value()`, with the appeal mark (已申诉调整 and the original figures) computed for its
table, and `percent()`, a staffed ratio as published.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

APPEAL = "appeal_mark"  # the column computed from a row's `appealed` and `original`
APPEALED = "已申诉调整"


@dataclass(frozen=True)
class Column:
    """One column of a table: its Chinese header, the row key it shows, and its kind."""

    header: str
    key: str
    kind: str = "text"  # text | count | minutes | ratio | date


@dataclass(frozen=True)
class Table:
    """One table of the report: a workbook sheet and a CSV file."""

    name: str  # the CSV file's name part, ASCII for scripts and zip tools
    sheet: str  # the workbook sheet's name
    title: str  # printed above the table
    columns: tuple[Column, ...]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


RANKING = Table(
    "departments",
    "汇总",
    "部门在岗情况排名",
    (
        Column("排名", "rank", "count"),
        Column("部门编号", "department"),
        Column("部门", "name"),
        Column("在岗率", "staffed_ratio", "ratio"),
        Column("数据覆盖率", "coverage", "ratio"),
        Column("空岗分钟", "empty_minutes", "minutes"),
        Column("缺勤次数", "absences", "count"),
        Column("被抽回次数", "pulled_back", "count"),
        Column("撤岗天数", "withdrawn_days", "count"),
        Column("备注", "note"),
        Column("申诉调整", APPEAL),
    ),
)
WINDOWS_BY_DAY = Table(
    "windows-by-day",
    "窗口逐日",
    "窗口逐日在岗情况",
    (
        Column("日期", "date", "date"),
        Column("星期", "weekday"),
        Column("部门", "department_name"),
        Column("窗口编号", "window"),
        Column("窗口", "window_name"),
        Column("排班分钟", "scheduled_minutes", "minutes"),
        Column("在岗分钟", "staffed_minutes", "minutes"),
        Column("暂离分钟", "away_minutes", "minutes"),
        Column("空岗分钟", "empty_minutes", "minutes"),
        Column("状态未知分钟", "unknown_minutes", "minutes"),
        Column("在岗率", "staffed_ratio", "ratio"),
        Column("数据覆盖率", "coverage", "ratio"),
        Column("备注", "note"),
        Column("申诉调整", APPEAL),
    ),
)
STAFF = Table(
    "staff",
    "人员",
    "人员考勤情况",
    (
        Column("人员编号", "staff"),
        Column("姓名", "name"),
        Column("部门", "department_name"),
        Column("排班分钟", "rostered_minutes", "minutes"),
        Column("请假分钟", "leave_minutes", "minutes"),
        Column("迟到签到次数", "late_sign_ins", "count"),
        Column("缺勤次数", "absences", "count"),
        Column("被抽回次数", "pulled_back", "count"),
        Column("申诉调整", APPEAL),
    ),
)
APPEALS = Table(
    "appeals",
    "申诉",
    "已处理的考核申诉",
    (
        Column("申诉编号", "appeal", "count"),
        Column("部门", "department"),
        Column("对象", "subject"),
        Column("窗口或人员", "what"),
        Column("日期", "day", "date"),
        Column("时段或时刻", "when"),
        Column("申诉原因", "reason"),
        Column("申诉说明", "reason_text"),
        Column("申诉人", "filed_by"),
        Column("申诉时间", "filed_at"),
        Column("处理结果", "decision"),
        Column("处理人", "decided_by"),
        Column("处理时间", "decided_at"),
        Column("处理意见", "note"),
        Column("扣除的原始记录", "excused"),
    ),
)
TABLES = (RANKING, WINDOWS_BY_DAY, STAFF, APPEALS)
RANKING_HEADERS = tuple(RANKING.headers)
# What the hall publishes (as the /public/ranking page): in a department of one window
# worker, its absences and pull-backs would name that person, so they stay inside.
INSIDE_ONLY = frozenset({"absences", "pulled_back"})
PUBLIC_RANKING = Table(
    RANKING.name,
    RANKING.sheet,
    RANKING.title,
    tuple(c for c in RANKING.columns if c.key not in INSIDE_ONLY),
)


def percent(ratio: float | None) -> str:
    """A staffed ratio as published, e.g. 0.935 → "93.5%"; "" when there is none."""
    if ratio is None:
        return ""
    value = (Decimal(str(ratio)) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{value}%"


def _shown(value, column: Column) -> str:
    if column.kind == "ratio":
        return percent(value) or "—"
    return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def appeal_text(table: Table, row: dict) -> str:
    """已申诉调整 and the original of each figure of `table` an accepted appeal changed."""
    if not row.get("appealed"):
        return ""
    original = row.get("original") or {}
    changed = [
        f"{c.header} {_shown(original[c.key], c)}"
        for c in table.columns
        if c.kind != "text" and c.key in original and original[c.key] != row.get(c.key)
    ]
    return f"{APPEALED}（原：{'，'.join(changed)}）" if changed else APPEALED


def cell_value(table: Table, column: Column, row: dict):
    """The value of one cell: the row's, or the appeal mark computed for this table."""
    return appeal_text(table, row) if column.key == APPEAL else row[column.key]
