"""The registry as an Excel workbook, and its 排班 sheet read back: what we write reads back
as the same roster; what Excel and people do to a sheet is still read; every bad cell is
named by sheet, row and column and refuses the whole sheet."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from hallwatch.registry.dump import dump_deployment
from hallwatch.registry.file import RegistryError
from hallwatch.registry.parse import parse_deployment
from hallwatch.registry.workbook import registry_workbook, registry_workbook_bytes
from hallwatch.registry.workbook_read import (
    MAX_UNPACKED_BYTES,
    read_date,
    read_days,
    read_hours,
    read_roster,
)
from tests.halls import two_halls_yaml
from tests.unit.registry_file import HALL, edited

ROSTERED = edited(
    "  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}\n",
    "  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}\n"
    '  - {staff: s002, window: W02, days: [mon, wed], from: "2026-12-01",'
    ' until: "2026-12-31", hours: [["09:00", "12:00"], ["13:30", "16:00"]]}\n',
)
HALL_DEPLOYMENT = parse_deployment(ROSTERED)
HEADERS = ["人员编号", "姓名", "窗口", "窗口名称", "工作日", "起始日期", "截止日期", "时段"]
KEYS = ["staff", "staff_name", "window", "window_name", "days", "from", "until", "hours"]


def roster_of(yaml_text: str) -> list[dict]:
    mapping = dump_deployment(parse_deployment(yaml_text))
    parts = mapping.get("halls", [mapping])
    return [entry for part in parts for entry in part.get("roster", [])]


def sheet(*rows, title: str = "排班") -> bytes:
    """A workbook with one sheet of these rows, as a person might make it."""
    book = Workbook()
    book.active.title = title
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems_of(data: bytes, halls=()) -> list[str]:
    with pytest.raises(RegistryError) as refused:
        read_roster(data, HALL_DEPLOYMENT, halls)
    return refused.value.problems


# --- written ---------------------------------------------------------------------------------


def test_the_workbook_has_a_sheet_per_section_with_headers_keys_and_a_frozen_top():
    book = registry_workbook(HALL_DEPLOYMENT)
    assert book.sheetnames == ["人员", "窗口", "排班", "请假", "说明"]
    roster = book["排班"]
    assert [c.value for c in roster[1]] == HEADERS
    assert [c.value for c in roster[2]] == KEYS
    assert roster.freeze_panes == "A3"
    assert [c.value for c in book["人员"][3]] == ["s001", "张三", "civil", "民政局", "04A1B2C3"]
    assert [c.value for c in book["窗口"][3]] == ["W01", "1号窗口", "civil", "民政局", "1, 1"]


def test_dates_are_real_excel_dates_and_days_hours_are_in_the_halls_words():
    book = load_workbook(io.BytesIO(registry_workbook_bytes(HALL_DEPLOYMENT)))
    line = [c for c in book["排班"][4]]
    assert [c.value for c in line[:5]] == ["s002", "李四", "W02", "2号窗口", "一三"]
    assert line[5].is_date and line[5].value == datetime(2026, 12, 1)
    assert line[7].value == "09:00-12:00, 13:30-16:00"
    leave = book["请假"][3]
    assert leave[2].is_date and leave[2].value == datetime(2026, 11, 23, 9, 0)
    assert leave[4].value == "培训"


def test_a_name_starting_with_equals_is_written_as_text_not_a_formula():
    deployment = parse_deployment(HALL.replace("name: 张三", 'name: "=1+1"'))
    cell = load_workbook(io.BytesIO(registry_workbook_bytes(deployment)))["人员"]["B3"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")


@pytest.mark.parametrize("yaml_text", [ROSTERED, two_halls_yaml()], ids=["one hall", "two halls"])
def test_the_roster_written_reads_back_as_the_same_entries(yaml_text):
    deployment = parse_deployment(yaml_text)
    lines = read_roster(registry_workbook_bytes(deployment), deployment)
    assert [line.entry for line in lines] == roster_of(yaml_text)
    assert [line.hall for line in lines] == [
        deployment.hall_of_staff[line.entry["staff"]] for line in lines
    ]


# --- read tolerantly -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, days",
    [
        ("一二三四五", ["mon", "tue", "wed", "thu", "fri"]),
        ("一,三,五", ["mon", "wed", "fri"]),
        ("周一、周三", ["mon", "wed"]),
        ("周一周三", ["mon", "wed"]),
        ("星期一 星期日", ["mon", "sun"]),
        ("mon,wed", ["mon", "wed"]),
        ("Monday, Tues", ["mon", "tue"]),
        ("工作日", ["mon", "tue", "wed", "thu", "fri"]),
        ("周一至周三", ["mon", "tue", "wed"]),
        ("1-5", ["mon", "tue", "wed", "thu", "fri"]),
        (135, ["mon", "wed", "fri"]),  # "1,3,5" that Excel took for a number
        (" 一三 ", ["mon", "wed"]),
    ],
)
def test_days_are_read_in_every_usual_form(written, days):
    assert read_days(written) == days


@pytest.mark.parametrize(
    "written",
    [datetime(2026, 12, 1), date(2026, 12, 1), "2026-12-01", "2026/12/1", "2026.12.01",
     "2026年12月1日", "2026-12-01 00:00:00", 46357, " 2026-12-01 "],
)  # fmt: skip
def test_dates_are_read_from_date_cells_text_and_day_numbers(written):
    assert read_date(written) == date(2026, 12, 1)


@pytest.mark.parametrize(
    "written",
    ["09:00-12:00, 13:30-17:30", "9:00–12:00；13:30~17:30", "13:30-17:30 09:00-12:00",
     "09：00-12：00、13:30 - 17:30"],
)  # fmt: skip
def test_hours_are_read_whatever_the_separators(written):
    assert read_hours(written) == [["09:00", "12:00"], ["13:30", "17:30"]]


def test_reordered_columns_blank_rows_text_dates_spaces_and_window_names_are_read():
    data = sheet(
        ["工作日", "窗口", "截止日期", "人员编号", "起始日期"],
        ["days", "window", "until", "staff", "from"],
        [],
        ["一二三四五", "1号窗口 ", "", "s001 ", None],
        [None, None, None, None, None],
        ["周一、周三", "W02", "2026/12/31", "s002", "2026-12-01"],
        [],
        ["days", "window", "until", "staff", "from"],  # the key row, sorted in by Excel
    )
    assert [line.entry for line in read_roster(data, HALL_DEPLOYMENT)] == [
        {"staff": "s001", "window": "W01", "days": ["mon", "tue", "wed", "thu", "fri"]},
        {
            "staff": "s002",
            "window": "W02",
            "days": ["mon", "wed"],
            "from": "2026-12-01",
            "until": "2026-12-31",
        },
    ]


def test_a_sheet_with_chinese_headers_only_is_read_by_its_headers():
    data = sheet(["人员编号", "窗口", "工作日"], ["s001", "W01", "工作日"], title="排班 ")
    (line,) = read_roster(data, HALL_DEPLOYMENT)
    assert line.row == 2 and line.entry["days"] == ["mon", "tue", "wed", "thu", "fri"]


# --- refused ---------------------------------------------------------------------------------


def test_every_bad_cell_is_named_by_sheet_row_and_column_and_nothing_is_read():
    data = sheet(
        HEADERS,
        KEYS,
        ["s001", "张三", "W01", "", "一二三四五"],
        ["s009", "", "W01", "", "一"],
        ["s001", "", "W09", "", "一"],
        ["s002", "", "W02", "", "周八"],
        ["s002", "", "W02", "", "一", "2026-12-31", "2026-12-01"],
        ["s002", "", "W02", "", "一", "2026-13-01", None, "9:00-8:00"],
        ["nobody", "", "W02", "", "周九"],
        ["s001", "张三", "W01", "", "周一至周五"],
    )
    assert problems_of(data) == [
        "排班 第 4 行 A 列:没有编号为“s009”的人员(见“人员”表)",
        "排班 第 5 行 C 列:该人员所在大厅没有编号或名称为“W09”的窗口(见“窗口”表)",
        "排班 第 6 行 E 列:“周八”不是星期几(写法如 一二三四五、周一、周三、mon,wed、工作日)",
        "排班 第 7 行 G 列:截止日期 2026-12-01 早于起始日期 2026-12-31",
        "排班 第 8 行 F 列:“2026-13-01”不是日期(写法如 2026-12-01 或 2026/12/1)",
        "排班 第 8 行 H 列:时段 09:00-08:00 结束不晚于开始",
        "排班 第 9 行 A 列:没有编号为“nobody”的人员(见“人员”表)",
        "排班 第 9 行 E 列:“周九”不是星期几(写法如 一二三四五、周一、周三、mon,wed、工作日)",
        "排班 第 10 行:与第 3 行重复",
    ]


def test_a_person_of_a_hall_the_user_does_not_manage_is_refused():
    deployment = parse_deployment(two_halls_yaml())
    east, west = deployment.halls[0], deployment.halls[1]
    person = west.staff[0]
    data = sheet(["staff", "window", "days"], [person.id, west.windows[0].id, "一"])
    with pytest.raises(RegistryError) as refused:
        read_roster(data, deployment, halls=(east.hall.id,))
    assert refused.value.problems == [f"排班 第 2 行 A 列:人员“{person.id}”不在您管理的大厅"]


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"staff,window,days\n", "文件不是 Excel 工作簿(.xlsx)"),
        (sheet(["staff", "window", "days"], title="Sheet1"), "工作簿中没有“排班”表"),
        (sheet(["人员", "哪里"], ["s001", "W01"]), "排班 表:找不到表头"),
        (sheet(HEADERS, KEYS, []), "排班 表中没有任何排班行"),
    ],
)
def test_a_file_that_is_no_roster_workbook_is_refused_in_words(data, problem):
    (found,) = problems_of(data)
    assert found.startswith(problem)


def test_a_workbook_that_would_unpack_to_too_much_is_refused_unread():
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (MAX_UNPACKED_BYTES + 1))
    assert len(bomb.getvalue()) < 1024 * 1024
    assert problems_of(bomb.getvalue()) == ["工作簿解压后太大,拒收"]
