"""The registry as an Excel workbook (docs/REGISTRY.md, "Excel 工作簿"): 人员, 窗口, 排班, 请假
and 说明, for hall managers who keep rosters in Excel. Only 排班 is read back
(hallwatch.registry.workbook_read). Each sheet has its Chinese headers in row 1 and the
registry key of each column in row 2, so a reader finds the columns by key whatever their
order. Pure: a deployment in, a workbook or its bytes out.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hallwatch.registry.deployment import Deployment
from hallwatch.registry.spec import WEEKDAYS, Registry

HEADER_ROW, KEY_ROW = 1, 2
FIRST_DATA_ROW = KEY_ROW + 1
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DDE4EE")
KEY_FONT = Font(color="808080", size=9)
DATE_FORMAT = "yyyy-mm-dd"
DATE_TIME_FORMAT = "yyyy-mm-dd hh:mm"
MIN_WIDTH, MAX_WIDTH = 8.0, 40.0  # Excel's character units
NOTES_WIDTH = 100.0

# Chinese weekday characters, in WEEKDAYS order: 一 is Monday.
DAY_CHARACTERS = dict(zip(WEEKDAYS, "一二三四五六日", strict=True))

ROSTER_SHEET = "排班"


@dataclass(frozen=True)
class Column:
    key: str  # the registry key, in the key row
    header: str  # the Chinese header
    value: Callable[[Any, Registry], Any]
    number_format: str | None = None


def days_text(days: frozenset[str]) -> str:
    """Weekdays as a hall writes them: 一二三四五."""
    return "".join(DAY_CHARACTERS[day] for day in WEEKDAYS if day in days)


def hours_text(periods) -> str:
    """Opening periods as "09:00-12:00, 13:30-17:30" (empty for none)."""
    if not periods:
        return ""
    return ", ".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in periods)


def _department_name(registry: Registry, department: str | None) -> str:
    found = registry.department_by_id.get(department or "")
    return found.name if found else ""


def _local(moment: datetime, registry: Registry) -> datetime:
    """An instant as hall wall-clock time without zone: Excel has no time zones."""
    return moment.astimezone(registry.hall.tz).replace(tzinfo=None)


def _name_of(lookup: str) -> Callable[[Any, Registry], str]:
    def name(entry: Any, registry: Registry) -> str:
        found = getattr(registry, lookup).get(
            entry.staff if lookup == "staff_by_id" else entry.window
        )
        return found.name if found else ""

    return name


STAFF_COLUMNS = (
    Column("id", "人员编号", lambda s, r: s.id),
    Column("name", "姓名", lambda s, r: s.name),
    Column("department", "部门编号", lambda s, r: s.department),
    Column("department_name", "部门名称", lambda s, r: _department_name(r, s.department)),
    Column("badges", "工卡", lambda s, r: ", ".join(s.badges)),
)
WINDOW_COLUMNS = (
    Column("id", "窗口编号", lambda w, r: w.id),
    Column("name", "窗口名称", lambda w, r: w.name),
    Column("department", "部门编号", lambda w, r: w.department),
    Column("department_name", "部门名称", lambda w, r: _department_name(r, w.department)),
    Column("position", "位置(行, 列)", lambda w, r: ", ".join(map(str, w.position or ()))),
)
ROSTER_COLUMNS = (
    Column("staff", "人员编号", lambda e, r: e.staff),
    Column("staff_name", "姓名", _name_of("staff_by_id")),
    Column("window", "窗口", lambda e, r: e.window),
    Column("window_name", "窗口名称", _name_of("window_by_id")),
    Column("days", "工作日", lambda e, r: days_text(e.days)),
    Column("from", "起始日期", lambda e, r: e.from_date, DATE_FORMAT),
    Column("until", "截止日期", lambda e, r: e.until_date, DATE_FORMAT),
    Column("hours", "时段", lambda e, r: hours_text(e.hours)),
)
LEAVE_COLUMNS = (
    Column("staff", "人员编号", lambda v, r: v.staff),
    Column("staff_name", "姓名", _name_of("staff_by_id")),
    Column("from", "开始", lambda v, r: _local(v.start, r), DATE_TIME_FORMAT),
    Column("until", "结束", lambda v, r: _local(v.end, r), DATE_TIME_FORMAT),
    Column("reason", "事由", lambda v, r: v.reason),
)
HALL_COLUMN = Column("hall", "大厅", lambda entry, r: r.hall.id)

SHEETS: tuple[tuple[str, str, tuple[Column, ...]], ...] = (
    ("人员", "staff", STAFF_COLUMNS),
    ("窗口", "windows", WINDOW_COLUMNS),
    (ROSTER_SHEET, "roster", ROSTER_COLUMNS),
    ("请假", "leave", LEAVE_COLUMNS),
)

NOTES = (
    "本工作簿由 HallWatch 从当前名册导出。各表第 1 行为中文列名，第 2 行为名册文件中的键名"
    "（灰色小字）：读回时按第 2 行的键名找列，可以调整列的顺序，但请不要修改或删除第 2 行。",
    "只有“排班”表会被读回（网页“名册”页的“导入排班”或命令 hallwatch roster import）；"
    "人员、窗口、请假三张表仅供查阅，在这里修改它们不会生效。",
    "导入排班时，“排班”表就是您所管理的每个大厅的全部排班：表中没有的排班行将被删除，"
    "表中新的行将被加入。导入前会先列出新增、修改和删除的排班行，确认后才生效。",
    "排班表各列：人员编号（必填，人员表中的编号）；姓名（仅供查阅，不读取）；"
    "窗口（必填，窗口编号或窗口名称）；窗口名称（仅供查阅，不读取）；"
    "工作日（必填，如 一二三四五、一,三,五、周一、周三、mon,wed、工作日、周一至周五）；"
    "起始日期、截止日期（可空，含当天；日期格式或 2026-12-01、2026/12/1 文本均可）；"
    "时段（可空，如 09:00-12:00, 13:30-17:30，代替大厅的办公时间）。",
    "空行会被忽略。任何一个单元格有误，整个工作簿都不会导入，并逐一指出出错的表、行和列。",
)


def _sheet(ws: Worksheet, columns: Sequence[Column], rows: list[list[Any]]) -> None:
    ws.append([c.header for c in columns])
    ws.append([c.key for c in columns])
    for row in rows:
        ws.append(row)
    for cell in ws[HEADER_ROW]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
    for cell in ws[KEY_ROW]:
        cell.font = KEY_FONT
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        if column.number_format:
            for (cell,) in ws.iter_rows(min_row=FIRST_DATA_ROW, min_col=index, max_col=index):
                cell.number_format = column.number_format
        widest = max([_text_width(column.header)] + [_text_width(r[index - 1]) for r in rows])
        ws.column_dimensions[letter].width = min(MAX_WIDTH, max(MIN_WIDTH, widest + 2))
    _as_text(ws)
    ws.freeze_panes = f"A{FIRST_DATA_ROW}"


def _text_width(value: Any) -> float:
    """Excel column units: a CJK character is about two Latin ones wide."""
    if isinstance(value, datetime):
        return 16.0
    text = "" if value is None else str(value)
    return sum(2.0 if ord(ch) > 0x2E7F else 1.0 for ch in text)


def _as_text(ws: Worksheet) -> None:
    """openpyxl stores text starting with "=" as a formula: names are text, never run."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _rows(deployment: Deployment, section: str, columns: Sequence[Column]) -> list[list[Any]]:
    return [
        [column.value(entry, registry) for column in columns]
        for registry in deployment.halls
        for entry in getattr(registry, section)
    ]


def registry_workbook(deployment: Deployment, now: datetime | None = None) -> Workbook:
    """The deployment's staff, windows, roster and leave as a workbook, with a 说明 sheet.
    With several halls each sheet starts with a 大厅 column."""
    book = Workbook()
    book.remove(book.active)
    hall_column = () if deployment.single else (HALL_COLUMN,)
    for title, section, columns in SHEETS:
        columns = (*hall_column, *columns)
        _sheet(book.create_sheet(title), columns, _rows(deployment, section, columns))
    notes = book.create_sheet("说明")
    for number, line in enumerate(NOTES, start=1):
        notes.append([f"{number}. {line}"])
        notes.cell(row=number, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    notes.column_dimensions["A"].width = NOTES_WIDTH
    book.active = book.sheetnames.index(ROSTER_SHEET)
    book.properties.creator = "HallWatch"
    book.properties.title = " / ".join(r.hall.name for r in deployment.halls) + " 名册"
    if now is not None:
        book.properties.created = now.astimezone(UTC).replace(tzinfo=None)
    return book


def registry_workbook_bytes(deployment: Deployment, now: datetime | None = None) -> bytes:
    out = io.BytesIO()
    registry_workbook(deployment, now).save(out)
    return out.getvalue()
