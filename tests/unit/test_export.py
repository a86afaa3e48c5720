"""The month as files (docs/API.md): the workbook read back with openpyxl, and the CSV as Excel
reads it (UTF-8 with BOM)."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest

from hallwatch.metrics import add_up, department_rows, staff_rows, window_rows
from hallwatch.metrics.export_csv import csv_files, csv_zip, ranking_csv
from hallwatch.metrics.export_rows import month_report, ranking_note
from hallwatch.metrics.export_tables import RANKING_HEADERS, percent
from hallwatch.metrics.month import Month
from hallwatch.metrics.report import rank
from hallwatch.registry.spec import Department, HallSettings
from tests.unit.export_cases import NOVEMBER, TUESDAY, UNTIL, data, days, read_back, read_csv
from tests.unit.hall import MONDAY, at, hall

SUMMARY_HEADERS = list(RANKING_HEADERS)
WINDOW_HEADERS = [
    "日期",
    "星期",
    "部门",
    "窗口编号",
    "窗口",
    "排班分钟",
    "在岗分钟",
    "暂离分钟",
    "空岗分钟",
    "状态未知分钟",
    "在岗率",
    "数据覆盖率",
    "备注",
    "申诉调整",
]
STAFF_HEADERS = [
    "人员编号",
    "姓名",
    "部门",
    "排班分钟",
    "请假分钟",
    "迟到签到次数",
    "缺勤次数",
    "被抽回次数",
    "申诉调整",
]


@pytest.fixture
def report():
    return month_report(hall(), NOVEMBER, days(), UNTIL)


def test_the_workbook_has_a_summary_windows_by_day_staff_and_the_rules(report):
    book = read_back(report)
    assert book.sheetnames == ["汇总", "窗口逐日", "人员", "申诉", "说明"]
    assert [c.value for c in book["汇总"][3]] == SUMMARY_HEADERS
    assert [c.value for c in book["窗口逐日"][3]] == WINDOW_HEADERS
    assert [c.value for c in book["人员"][3]] == STAFF_HEADERS
    notes = " ".join(str(c.value) for c in book["说明"]["A"])
    assert "在岗率 = 在岗分钟 ÷（排班分钟 − 状态未知分钟）" in notes
    assert "10 分钟" in notes  # the hall's own graces


def test_each_sheet_has_a_title_freezes_its_headers_and_prints_landscape_one_page_wide(report):
    book = read_back(report)
    for name in ("汇总", "窗口逐日", "人员"):
        ws = book[name]
        assert ws["A1"].value.startswith("测试大厅 2026年11月")
        assert ws["A2"].value == "统计期间：2026-11-01 至 2026-11-25 02:00（本月尚未结束）"
        assert ws.freeze_panes == "A4"
        assert ws.print_title_rows == "$3:$3"
        assert ws.page_setup.orientation == "landscape"
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert all(ws.column_dimensions[c].width >= 6 for c in "ABCDE")


def test_the_summary_is_the_department_ranking_with_real_numbers(report):
    ws = read_back(report)["汇总"]
    ranking = department_rows(hall(), add_up(days()))
    assert data(ws) == [
        (
            r["rank"],
            r["department"],
            r["name"],
            r["staffed_ratio"],
            r["coverage"],
            r["empty_minutes"],
            r["absences"],
            r["pulled_back"],
            r["withdrawn_days"],
            ranking_note(r) or None,
            None,  # no appeal
        )
        for r in ranking
    ]
    assert data(ws)[0][:5] == (1, "civil", "民政局", 0.554, 1.0)  # (390 + 75) / 840
    assert data(ws)[1][:4] == (None, "tax", "税务局", None)  # nobody rostered: not ranked
    assert data(ws)[1][-2] == "无可计量的排班时间，不参与排名"
    assert (ws["D4"].number_format, ws["E4"].number_format) == ("0.0%", "0.0%")
    assert ws["F4"].number_format == "0.0"
    # Tuesday: no device reported all day, so it is listed apart, not counted as unknown.
    assert ws.cell(len(ranking) + 5, 1).value == (
        "系统未采集数据的工作日（不计入任何部门和人员）：11月24日"
    )


def test_a_department_below_95_percent_coverage_is_listed_unranked_with_its_coverage():
    rows = [
        {**r, "coverage": 0.9} if r["department"] == "civil" else r
        for r in department_rows(hall(), add_up(days()))
    ]
    [civil] = [r for r in rank(rows) if r["department"] == "civil"]
    assert civil["rank"] is None
    assert read_csv(ranking_csv(rank(rows), public=True))[1] == [
        "",
        "civil",
        "民政局",
        "55.4%",
        "90.0%",
        "340.0",
        "0",
        "数据覆盖率低于 95%，不参与排名",
        "",
    ]


def test_windows_by_day_has_one_row_per_window_and_working_day(report):
    ws = read_back(report)["窗口逐日"]
    rows = data(ws)
    assert [(r[0].date(), r[3]) for r in rows] == [
        (day, window) for day in (MONDAY, TUESDAY) for window in ("W01", "W02", "W03")
    ]  # Sunday is not a working day
    monday = window_rows(hall(), add_up([days()[1]]))
    assert [r[5:] for r in rows[:3]] == [
        (
            w["scheduled_minutes"],
            w["staffed_minutes"],
            w["away_minutes"],
            w["empty_minutes"],
            w["unknown_minutes"],
            w["staffed_ratio"],
            w["coverage"],
            None,
            None,
        )
        for w in monday
    ]
    assert rows[0][:5] == (rows[0][0], "周一", "民政局", "W01", "1号窗口")
    assert rows[0][5:] == (420, 390, 10, 20, 0, 0.929, 1.0, None, None)
    # No device event all Tuesday: HallWatch was not collecting, nobody is scheduled.
    assert rows[3][5:] == (0, 0, 0, 0, 0, None, None, "系统未采集数据，不计入", None)
    assert ws["A4"].number_format == "yyyy-mm-dd"
    assert ws["K4"].number_format == ws["L4"].number_format == "0.0%"


def test_the_staff_sheet_names_each_person_with_their_counts(report):
    rows = data(read_back(report)["人员"])
    expected = staff_rows(hall(), add_up(days()))
    assert [r[:3] for r in rows] == [
        ("s001", "张三", "民政局"),
        ("s002", "李四", "民政局"),
        ("s003", "王五", "税务局"),
    ]
    assert [r[3:] for r in rows] == [
        (
            s["rostered_minutes"],
            s["leave_minutes"],
            s["late_sign_ins"],
            s["absences"],
            s["pulled_back"],
            None,
        )
        for s in expected
    ]
    assert rows[1][3:] == (
        840,
        0,
        1,
        1,
        1,
        None,
    )  # 李四: late, absent in the afternoon, pulled back


def test_a_department_report_keeps_its_rank_in_the_whole_hall():
    registry = hall()
    civil = month_report(
        registry, NOVEMBER, days(), UNTIL, departments={"civil"}, windows={"W01", "W02"}
    )
    book = read_back(civil)
    assert data(book["汇总"]) == [(1, "civil", "民政局", 0.554, 1.0, 340, 1, 1, 0, None, None)]
    assert {r[3] for r in data(book["窗口逐日"])} == {"W01", "W02"}
    assert [r[0] for r in data(book["人员"])] == ["s001", "s002"]
    assert "范围：民政局（排名为全厅名次）" in book["汇总"]["A2"].value
    tax = month_report(registry, NOVEMBER, days(), UNTIL, departments={"tax"})
    assert [r["name"] for r in tax.staff] == ["王五"]
    assert {r["window"] for r in tax.windows_by_day} == {"W03"}  # its department's windows
    assert "范围：税务局" in read_back(tax)["人员"]["A2"].value


def test_a_complete_month_names_its_last_day():
    report = month_report(hall(), NOVEMBER, days(), at("09:00", date(2026, 12, 1)))
    assert read_back(report)["汇总"]["A2"].value == "统计期间：2026-11-01 至 2026-11-30"


def test_the_ranking_csv_is_utf8_with_bom_and_chinese_headers(report):
    data = ranking_csv(report.departments, public=False)
    assert read_csv(data) == [
        SUMMARY_HEADERS,
        ["1", "civil", "民政局", "55.4%", "100.0%", "340.0", "1", "1", "0", "", ""],
        ["", "tax", "税务局", "", "", "0.0", "0", "0", "0", "无可计量的排班时间，不参与排名", ""],
    ]
    assert data.count(b"\r\n") == 3  # Excel's line ends


def test_a_public_ranking_leaves_out_what_could_name_a_person(report):
    leaky = [{**r, "staff": ["张三"], "names": "李四"} for r in report.departments]
    data = ranking_csv(leaky, public=True)
    assert read_csv(data) == [
        [
            "排名",
            "部门编号",
            "部门",
            "在岗率",
            "数据覆盖率",
            "空岗分钟",
            "撤岗天数",
            "备注",
            "申诉调整",
        ],
        ["1", "civil", "民政局", "55.4%", "100.0%", "340.0", "0", "", ""],
        ["", "tax", "税务局", "", "", "0.0", "0", "无可计量的排班时间，不参与排名", ""],
    ]  # a department of one worker: its absences and pull-backs would be that person's
    assert "张三" not in data.decode("utf-8-sig") and "李四" not in data.decode("utf-8-sig")


def test_the_csv_files_hold_the_same_tables_as_the_workbook(report):
    files = csv_files(report)
    assert list(files) == [
        "2026-11-departments.csv",
        "2026-11-windows-by-day.csv",
        "2026-11-staff.csv",
        "2026-11-appeals.csv",
    ]
    windows = read_csv(files["2026-11-windows-by-day.csv"])
    assert windows[0] == WINDOW_HEADERS
    assert windows[1] == [
        "2026-11-23",
        "周一",
        "民政局",
        "W01",
        "1号窗口",
        "420.0",
        "390.0",
        "10.0",
        "20.0",
        "0.0",
        "92.9%",
        "100.0%",
        "",
        "",
    ]
    staff = read_csv(files["2026-11-staff.csv"])
    assert staff[0] == STAFF_HEADERS
    assert staff[2] == ["s002", "李四", "民政局", "840.0", "0.0", "1", "1", "1", ""]
    with zipfile.ZipFile(io.BytesIO(csv_zip(report))) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == files
    assert csv_zip(report) == csv_zip(report)  # the same month gives the same bytes


def test_text_that_excel_would_run_as_a_formula_is_written_as_text():
    registry = hall()
    registry = type(registry)(
        HallSettings(name="=1+1"),
        (Department("civil", "=HYPERLINK(1)"), registry.departments[1]),
        registry.windows,
        registry.staff,
        registry.devices,
        registry.roster,
    )
    report = month_report(registry, NOVEMBER, days(registry), UNTIL)
    assert read_csv(ranking_csv(report.departments, public=True))[1][2] == "'=HYPERLINK(1)"
    cell = read_back(report)["汇总"]["C4"]
    assert (cell.value, cell.data_type) == ("=HYPERLINK(1)", "s")  # shown as typed, never run
    title = read_back(report)["人员"]["A1"]
    assert (title.value, title.data_type) == ("=1+1 2026年11月人员考勤情况", "s")


@pytest.mark.parametrize(
    ("ratio", "shown"), [(0.935, "93.5%"), (1.0, "100.0%"), (0.0, "0.0%"), (None, "")]
)
def test_a_ratio_reads_as_a_percentage(ratio, shown):
    assert percent(ratio) == shown


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-13", "must be a month such as 2026-11"),
        ("2026-11-01", "must be a month such as 2026-11"),
        ("Nov 2026", "must be a month such as 2026-11"),
        ("1999-12", "must not be before 2000-01"),
    ],
)
def test_a_bad_month_says_what_is_wrong(text, problem):
    with pytest.raises(ValueError, match=problem):
        Month.of_report(text)
    assert Month.of_report(" 2026-11 ").first == NOVEMBER
