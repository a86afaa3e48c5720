"""The monthly report as an Excel workbook (openpyxl, docs/API.md): `workbook()` and
`workbook_bytes()` write one sheet per table (汇总, 窗口逐日, 人员, 申诉) with its title, the
period line (`period_text()`), a grid, number formats and column widths fitted to the
content, and the 说明 sheet of `counting_rules()`; every sheet ready to print (landscape
A4, one page wide, the header row on every page, numbered pages).
"""

from __future__ import annotations

import io
from datetime import UTC

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hallwatch.metrics.export_csv import csv_value
from hallwatch.metrics.export_rows import MonthReport, not_collected_text
from hallwatch.metrics.export_tables import APPEALED, RANKING, TABLES, Column, Table, cell_value
from hallwatch.metrics.month import Month
from hallwatch.metrics.report import RANKED_COVERAGE
from hallwatch.registry.spec import HallSettings

# Workbook presentation.
TITLE_ROW, PERIOD_ROW, HEADER_ROW = 1, 2, 3
FIRST_DATA_ROW = HEADER_ROW + 1
TITLE_FONT = Font(bold=True, size=14)
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DDE4EE")
THIN = Side(style="thin", color="999999")
GRID = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
MIN_WIDTH, MAX_WIDTH = 6.0, 40.0  # column widths, in Excel's character units
NOTES_WIDTH = 100.0
NUMBER_FORMATS = {"count": "0", "minutes": "0.0", "ratio": "0.0%", "date": "yyyy-mm-dd"}


def period_text(report: MonthReport) -> str:
    """The line under each title: the period counted, and whose departments."""
    text = f"统计期间：{report.month.isoformat()} 至 "
    if report.complete:
        text += Month.of(report.month).last.isoformat()
    else:
        text += f"{report.until:%Y-%m-%d %H:%M}（本月尚未结束）"
    if report.scope:
        text += f"　范围：{report.scope}（排名为全厅名次）"
    return text


def workbook(report: MonthReport) -> Workbook:
    """The month as a workbook: 汇总, 窗口逐日, 人员, 申诉 and 说明, each ready to print."""
    book = Workbook()
    book.remove(book.active)
    for table in TABLES:
        _table_sheet(book.create_sheet(table.sheet), report, table)
    _notes_sheet(book.create_sheet("说明"), report)
    book.properties.creator = "HallWatch"
    book.properties.title = f"{report.hall.name} {report.month_label}在岗情况报表"
    book.properties.created = report.until.astimezone(UTC).replace(tzinfo=None)
    return book


def workbook_bytes(report: MonthReport) -> bytes:
    out = io.BytesIO()
    workbook(report).save(out)
    return out.getvalue()


def _table_sheet(ws: Worksheet, report: MonthReport, table: Table) -> None:
    columns = table.columns
    last = get_column_letter(len(columns))
    ws.append([f"{report.hall.name} {report.month_label}{table.title}"])
    ws.append([period_text(report)])
    ws.append(table.headers)
    for row in report.rows(table):
        ws.append([cell_value(table, c, row) for c in columns])
    data_end = ws.max_row
    if table is RANKING and report.not_collected:
        ws.append([])
        ws.append([not_collected_text(report.not_collected)])
    for line in (TITLE_ROW, PERIOD_ROW):
        ws.merge_cells(f"A{line}:{last}{line}")
    ws[f"A{TITLE_ROW}"].font = TITLE_FONT
    ws[f"A{TITLE_ROW}"].alignment = Alignment(horizontal="center")
    ws.row_dimensions[TITLE_ROW].height = 24
    for cell in ws[HEADER_ROW]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.border = GRID
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for index, column in enumerate(columns, start=1):
        number_format = NUMBER_FORMATS.get(column.kind)
        cells = ws.iter_rows(min_row=FIRST_DATA_ROW, max_row=data_end, min_col=index, max_col=index)
        for (cell,) in cells:
            cell.border = GRID
            if number_format:
                cell.number_format = number_format
        ws.column_dimensions[get_column_letter(index)].width = _width(table, report, column)
    _as_text(ws)
    ws.freeze_panes = f"A{FIRST_DATA_ROW}"
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{max(data_end, HEADER_ROW)}"
    _print_setup(ws, repeat=f"{HEADER_ROW}:{HEADER_ROW}")


def _as_text(ws: Worksheet) -> None:
    """openpyxl stores text starting with "=" as a formula: names are text, never run."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _text_width(text: str) -> float:
    """Excel column units: a CJK character is about two Latin ones wide."""
    return sum(2.0 if ord(ch) > 0x2E7F else 1.0 for ch in text)


def _width(table: Table, report: MonthReport, column: Column) -> float:
    samples = [column.header] + [
        csv_value(column, cell_value(table, column, row)) for row in report.rows(table)[:500]
    ]
    widest = max(_text_width(str(value)) for value in samples)
    return min(MAX_WIDTH, max(MIN_WIDTH, widest + 2))


def _print_setup(ws: Worksheet, repeat: str | None) -> None:
    """Landscape A4, as wide as one page, the header row on every page, numbered pages."""
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as it takes
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    if repeat:
        ws.print_title_rows = repeat
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def counting_rules(hall: HallSettings) -> list[str]:
    """The counting rules of `hallwatch.metrics`, in Chinese, for the readers of a report."""
    empty, absent = f"{hall.empty_grace_minutes:g}", f"{hall.absent_grace_minutes:g}"
    return [
        "统计范围：工作日办公时间内，有人排班且未请假的窗口时间计为“排班分钟”，"
        "按窗口状态分为在岗、暂离、空岗、状态未知。",
        "在岗：座位有人（无座位传感器的窗口以有人签到为准）。"
        f"暂离：座位空出不满 {empty} 分钟；空岗：座位空出满 {empty} 分钟及以后，"
        "从座位空出与办公时段开始两者中较晚的时刻起算。",
        "状态未知：座位传感器离线或尚未报告。",
        "某个工作日全厅没有任何设备上报数据（系统尚未安装或未在采集）时，当日不计入任何部门和"
        "人员的排班时间，不计缺勤和撤岗，并在汇总表下单独列出。",
        "在岗率 = 在岗分钟 ÷（排班分钟 − 状态未知分钟）；分母为 0 时为空，该部门不参与排名。",
        "数据覆盖率 =（排班分钟 − 状态未知分钟）÷ 排班分钟。状态未知的时间不计入在岗率，"
        f"为防止拔掉传感器反而提高排名，数据覆盖率低于 {RANKED_COVERAGE:.0%} 的部门不参与排名，"
        "列在排名之后并注明其覆盖率。",
        "迟到签到：每人每天至多一次，即当天在本人排班窗口的首次签到晚于其第一个值班时段的开始。",
        f"缺勤：排班人员在办公时段开始后 {absent} 分钟内未在窗口签到，计一次；"
        "上午缺勤持续到下午仍只计一次。",
        "被抽回：排班时间内（请假时间除外）在本部门办公室读卡，计一次，直到本人回到排班窗口"
        "签到为止；期间在办公室多次读卡仍只计一次，与告警一致。",
        "撤岗天数：部门至少有一个排班窗口在当天办公时间内一分钟也未在岗的天数。",
        "排班分钟含请假时间；请假分钟为其中已批准请假所占的部分。",
        "排名：在岗率高者在前；在岗率相同时，依次比较撤岗天数、空岗分钟、缺勤次数、被抽回次数，"
        "少者在前，均按公布的（四舍五入后的）数值比较；"
        "全部相同者名次并列，下一名次顺延（如 1、2、2、4）。",
        f"申诉：被大厅负责人接受的考核申诉所涉时段或次数不计入本报表，相关行标注“{APPEALED}”"
        "并列出调整前的原始数字；当月已处理的申诉见“申诉”表。",
        "数值：分钟保留一位小数，在岗率精确到 0.1%，均四舍五入。"
        "当月尚未结束时，统计至报表生成时刻。",
    ]


def _notes_sheet(ws: Worksheet, report: MonthReport) -> None:
    ws.append([f"{report.hall.name} {report.month_label}在岗情况报表 · 统计口径说明"])
    ws.append([period_text(report)])
    for number, rule in enumerate(counting_rules(report.hall), start=1):
        ws.append([f"{number}. {rule}"])
    _as_text(ws)
    ws[f"A{TITLE_ROW}"].font = TITLE_FONT
    ws.column_dimensions["A"].width = NOTES_WIDTH
    for (cell,) in ws.iter_rows(min_row=PERIOD_ROW + 1):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    _print_setup(ws, repeat=None)
