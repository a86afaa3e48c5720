"""The 排班 sheet of a registry workbook read back as roster entries (docs/REGISTRY.md,
"Excel 工作簿"), tolerant of what Excel and people do: columns found by key (or by their
Chinese header) in any order, dates as date cells or text, days and hours written in
several ways, windows named by id or by name, blank rows, stray spaces. Every bad cell is
named by sheet, row and column, and one bad cell refuses the whole sheet. Pure: bytes and a
deployment in, entries as a registry file writes them out.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel

from hallwatch.registry.deployment import Deployment
from hallwatch.registry.file import RegistryError
from hallwatch.registry.spec import WEEKDAYS, Registry
from hallwatch.registry.workbook import ROSTER_COLUMNS, ROSTER_SHEET

MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # a workbook unpacking to more is refused unread
MAX_PROBLEMS = 200  # listed; the rest counted
HEADER_SEARCH_ROWS = 10
REQUIRED = ("staff", "window", "days")
READ = (*REQUIRED, "from", "until", "hours")

# Header text → key: the keys themselves, our Chinese headers, and a few usual words.
HEADERS = {c.key: c.key for c in ROSTER_COLUMNS} | {c.header: c.key for c in ROSTER_COLUMNS}
HEADERS |= {"人员": "staff", "工号": "staff", "窗口编号": "window", "星期": "days"}
HEADERS |= {"开始日期": "from", "结束日期": "until", "办公时段": "hours", "工作时段": "hours"}

DAY_WORDS = {
    "工作日": WEEKDAYS[:5],
    "周末": WEEKDAYS[5:],
    "每天": WEEKDAYS,
    "每日": WEEKDAYS,
    "全周": WEEKDAYS,
}
DAY_NAMES = {day: day for day in WEEKDAYS}
DAY_NAMES |= {"monday": "mon", "tuesday": "tue", "tues": "tue", "wednesday": "wed"}
DAY_NAMES |= {"thursday": "thu", "thur": "thu", "thurs": "thu", "friday": "fri"}
DAY_NAMES |= {"saturday": "sat", "sunday": "sun"}
DAY_NAMES |= dict(zip("一二三四五六日", WEEKDAYS, strict=True)) | {"天": "sun", "七": "sun"}
DAY_NAMES |= dict(zip("1234567", WEEKDAYS, strict=True))
DAY_PREFIX = re.compile(r"^(星期|礼拜|周)")
DAY_RANGE = re.compile(r"^(.+?)\s*(?:至|到|-|~|～|—|–)\s*(.+)$")
SEPARATORS = re.compile(r"[\s,，、;；/]+")
DATE_TEXT = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]0?0:00(?::00)?)?"
)
CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
PERIOD = re.compile(r"(\S+?)-(\S+)")
SPACES = "\u3000\u00a0"


@dataclass(frozen=True)
class RosterLine:
    """One roster entry read from the sheet: its row, its hall, the entry as a file has it."""

    row: int
    hall: str
    entry: dict[str, Any]


class BadCell(ValueError):
    """What is wrong with one cell, in words (the reader adds where it is)."""


# --- cells -----------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell as stripped text; whole numbers without ".0" (Excel turns 001 into 1.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip(f" \t\r\n{SPACES}")


def read_days(value: Any) -> list[str]:
    """Weekdays from 一二三四五, 一,三,五, 周一、周三, mon,wed, 工作日, 周一至周五, 1-5."""
    text = cell_text(value).lower()
    if not text:
        raise BadCell("没有填写工作日")
    days: set[str] = set()
    for token in SEPARATORS.split(text):
        if token:
            days.update(_day_token(token))
    return [day for day in WEEKDAYS if day in days]


def _day_token(token: str) -> tuple[str, ...]:
    if token in DAY_WORDS:
        return DAY_WORDS[token]
    if range_match := DAY_RANGE.match(token):
        first, last = (_one_day(part) for part in range_match.groups())
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last)
        if start > end:
            raise BadCell(f"“{token}”:起止颠倒")
        return WEEKDAYS[start : end + 1]
    bare = DAY_PREFIX.sub("", token)
    if bare in DAY_NAMES:
        return (DAY_NAMES[bare],)
    parts = [DAY_PREFIX.sub("", part) for part in re.split(r"(?=星期|礼拜|周)", bare)]
    chars = "".join(parts)
    if chars and all(ch in DAY_NAMES for ch in chars):
        return tuple(DAY_NAMES[ch] for ch in chars)
    raise BadCell(f"“{token}”不是星期几(写法如 一二三四五、周一、周三、mon,wed、工作日)")


def _one_day(text: str) -> str:
    bare = DAY_PREFIX.sub("", text.strip())
    if bare not in DAY_NAMES:
        raise BadCell(f"“{text}”不是星期几")
    return DAY_NAMES[bare]


def read_date(value: Any) -> date | None:
    """A date cell, a date-time cell at midnight, an Excel day number, or text 2026-12-01,
    2026/12/1, 2026.12.1, 2026年12月1日; None for an empty cell."""
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise BadCell(f"“{value:%Y-%m-%d %H:%M}”带有时刻,这里只要日期")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _day_number(value)
    text = cell_text(value)
    if not text:
        return None
    if match := DATE_TEXT.fullmatch(text):
        try:
            return date(*map(int, match.groups()))
        except ValueError:
            pass
    raise BadCell(f"“{text}”不是日期(写法如 2026-12-01 或 2026/12/1)")


def _day_number(value: float) -> date:
    """A date cell that lost its format: Excel's day number (1 is 1900-01-01)."""
    if not 1 <= value < 2958466:
        raise BadCell(f"“{cell_text(value)}”不是日期(写法如 2026-12-01 或 2026/12/1)")
    moment = from_excel(value)
    return moment.date() if isinstance(moment, datetime) else moment


def read_hours(value: Any) -> list[list[str]] | None:
    """Periods "09:00-12:00, 13:30-17:30" (also 9:00–12:00；13:30~17:30), sorted, checked
    that each ends after it starts and none overlap; None for an empty cell."""
    if isinstance(value, time | datetime):
        raise BadCell("时段要写成 开始-结束,如 09:00-12:00, 13:30-17:30")
    text = cell_text(value).replace("：", ":")
    text = re.sub(r"\s*(?:-|~|～|—|–|至|到)\s*", "-", text)
    if not text:
        return None
    periods = []
    for token in SEPARATORS.split(text):
        match = PERIOD.fullmatch(token) if token else None
        clocks = [CLOCK.fullmatch(part) for part in match.groups()] if match else []
        if not token:
            continue
        if len(clocks) != 2 or not all(clocks):
            raise BadCell(f"“{token}”不是时段(写法如 09:00-12:00, 13:30-17:30)")
        start, end = (time(int(c[1]), int(c[2])) for c in clocks)
        if start >= end:
            raise BadCell(f"时段 {start:%H:%M}-{end:%H:%M} 结束不晚于开始")
        periods.append((start, end))
    periods.sort()
    for (s1, e1), (s2, e2) in zip(periods, periods[1:], strict=False):
        if s2 < e1:
            raise BadCell(f"时段 {s1:%H:%M}-{e1:%H:%M} 与 {s2:%H:%M}-{e2:%H:%M} 重叠")
    return [[f"{s:%H:%M}", f"{e:%H:%M}"] for s, e in periods]


# --- the sheet -------------------------------------------------------------------------------


class _Problems(list):
    """Bad cells as (row, column, message), told in reading order: by row, then column."""

    def at(self, row: int, column: int | None, message: str) -> None:
        self.append((row, column or 0, message))

    def raise_if_any(self) -> None:
        told = [f"{_where(row, column)}:{text}" for row, column, text in sorted(self)]
        if len(told) > MAX_PROBLEMS:
            told = [*told[:MAX_PROBLEMS], f"……还有更多问题未列出,请先改正以上 {MAX_PROBLEMS} 处"]
        if told:
            raise RegistryError(told)


def _where(row: int, column: int) -> str:
    """排班 第 7 行 C 列 (a whole row: no column)."""
    return f"{ROSTER_SHEET} 第 {row} 行" + (f" {get_column_letter(column)} 列" if column else "")


def _open(data: bytes):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise RegistryError(["文件不是 Excel 工作簿(.xlsx)"]) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise RegistryError(["工作簿解压后太大,拒收"])
    try:
        return load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file  # noqa: BLE001
        raise RegistryError([f"文件不是可读的 Excel 工作簿(.xlsx):{type(exc).__name__}"]) from None


def _header_columns(row: tuple) -> dict[str, int] | None:
    """key → column number, if the row is a header row (it names the required columns)."""
    columns: dict[str, int] = {}
    for index, value in enumerate(row, start=1):
        key = HEADERS.get(cell_text(value).lower()) or HEADERS.get(cell_text(value))
        if key in READ and key not in columns:
            columns[key] = index
    return columns if all(key in columns for key in REQUIRED) else None


def _header(rows: list[tuple]) -> tuple[int, dict[str, int]]:
    """The last header row at the top (Chinese headers, then keys) and key → column number."""
    found: tuple[int, dict[str, int]] | None = None
    for number, row in enumerate(rows[:HEADER_SEARCH_ROWS], start=1):
        if columns := _header_columns(row):
            found = (number, columns)
        elif found:
            break
    if found is None:
        needed = "、".join(f"{c.header}({c.key})" for c in ROSTER_COLUMNS if c.key in REQUIRED)
        raise RegistryError([f"{ROSTER_SHEET} 表:找不到表头,需要 {needed} 三列"])
    return found


def read_roster(
    data: bytes, deployment: Deployment, halls: Collection[str] = ()
) -> list[RosterLine]:
    """Every roster line of the 排班 sheet, or RegistryError listing every bad cell. With
    `halls`, each person must be in one of them."""
    book = _open(data)
    named = [name for name in book.sheetnames if name.strip() == ROSTER_SHEET]
    if not named:
        raise RegistryError([f"工作簿中没有“{ROSTER_SHEET}”表"])
    rows = [tuple(row) for row in book[named[0]].iter_rows(values_only=True)]
    header, columns = _header(rows)
    sheet = _Sheet(columns, deployment, halls)
    lines: list[RosterLine] = []
    seen: dict[tuple, int] = {}
    for number, row in enumerate(rows[header:], start=header + 1):
        if all(cell_text(value) == "" for value in row) or _header_columns(row):
            continue  # a blank row, or the key row sorted in among the lines
        line = sheet.line(number, row)
        if line is None:
            continue
        same = (line.hall, repr(sorted(line.entry.items())))
        if same in seen:
            sheet.problems.at(number, None, f"与第 {seen[same]} 行重复")
        seen.setdefault(same, number)
        lines.append(line)
    if not lines and not sheet.problems:
        raise RegistryError([f"{ROSTER_SHEET} 表中没有任何排班行"])
    sheet.problems.raise_if_any()
    return lines


VALUE_READERS = {"days": read_days, "from": read_date, "until": read_date, "hours": read_hours}


@dataclass
class _Sheet:
    """The 排班 sheet being read: where its columns are, whom they may name, what is wrong."""

    columns: dict[str, int]  # key → column number
    deployment: Deployment
    halls: Collection[str]
    problems: _Problems = field(default_factory=_Problems)

    def line(self, number: int, row: tuple) -> RosterLine | None:
        """One row as a roster line, or None after naming its bad cells."""
        cells = {key: row[i - 1] if i <= len(row) else None for key, i in self.columns.items()}
        before = len(self.problems)
        values = {key: self._read(number, key, cells) for key in VALUE_READERS if key in cells}
        person = _staff(cell_text(cells["staff"]), self.deployment, self.halls)
        if isinstance(person, BadCell):
            self.problems.at(number, self.columns["staff"], str(person))
            return None
        hall, staff = person
        window = _window(cell_text(cells["window"]), self.deployment.by_id[hall])
        if isinstance(window, BadCell):
            self.problems.at(number, self.columns["window"], str(window))
        start, end = values.get("from"), values.get("until")
        if start and end and end < start:
            self.problems.at(number, self.columns["until"], f"截止日期 {end} 早于起始日期 {start}")
        if len(self.problems) > before:
            return None
        entry: dict[str, Any] = {"staff": staff, "window": window, "days": values["days"]}
        entry |= {key: values[key].isoformat() for key in ("from", "until") if values.get(key)}
        if values.get("hours"):
            entry["hours"] = values["hours"]
        return RosterLine(number, hall, entry)

    def _read(self, number: int, key: str, cells: dict[str, Any]) -> Any:
        try:
            return VALUE_READERS[key](cells[key])
        except BadCell as exc:
            self.problems.at(number, self.columns[key], str(exc))
            return None


def _staff(text: str, deployment: Deployment, halls: Collection[str]):
    """(hall, staff id) of the person, or a BadCell. An id Excel made a number (001 → 1) is
    found by its digits."""
    if not text:
        return BadCell("没有填写人员编号")
    of = deployment.hall_of_staff
    found = text if text in of else None
    if found is None and text.isdigit():
        matches = [s for s in of if s.isdigit() and s.lstrip("0") == text.lstrip("0")]
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        return BadCell(f"没有编号为“{text}”的人员(见“人员”表)")
    if halls and of[found] not in halls:
        return BadCell(f"人员“{text}”不在您管理的大厅")
    return of[found], found


def _window(text: str, registry: Registry) -> str | BadCell:
    """The id of the window of that id or name in the person's hall, or a BadCell."""
    if not text:
        return BadCell("没有填写窗口")
    if text in registry.window_by_id:
        return text
    named = [w.id for w in registry.windows if w.name.strip() == text]
    if len(named) == 1:
        return named[0]
    if named:
        return BadCell(f"有 {len(named)} 个窗口名为“{text}”,请写窗口编号")
    return BadCell(f"该人员所在大厅没有编号或名称为“{text}”的窗口(见“窗口”表)")
