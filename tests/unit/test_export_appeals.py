"""Accepted appeals in the workbook and the CSV files: adjusted, marked, the original kept."""

from __future__ import annotations

from datetime import timedelta

from hallwatch.metrics.appeals import Adjustment
from hallwatch.metrics.day import WindowMinutes
from hallwatch.metrics.export_csv import csv_files, ranking_csv
from hallwatch.metrics.export_rows import month_report
from hallwatch.registry.appeals import ABSENCE, WINDOW
from tests.unit.export_cases import NOVEMBER, UNTIL, data, days, read_back, read_csv
from tests.unit.hall import MONDAY, at, hall

# W01 on Monday: the seat "empty" 10:10–10:30 was a sensor fault (as the snapshot counted it).
STRETCH = Adjustment(
    7,
    WINDOW,
    MONDAY,
    at("10:00"),
    "civil",
    window="W01",
    minutes=WindowMinutes(
        timedelta(minutes=30), away=timedelta(minutes=10), empty=timedelta(minutes=20)
    ),
)
ERRAND = Adjustment(8, ABSENCE, MONDAY, at("13:45"), "civil", staff="s002", count=1)
DECIDED = {
    "appeal": 7,
    "department": "民政局",
    "subject": "窗口时段",
    "what": "1号窗口",
    "day": MONDAY,
    "when": "10:00–10:30",
    "reason": "设备故障",
    "reason_text": "传感器电池没电",
    "filed_by": "civil-head",
    "filed_at": "2026-11-24 09:00",
    "decision": "接受",
    "decided_by": "boss",
    "decided_at": "2026-11-24 10:00",
    "note": "已核实",
    "excused": "应在岗 30.0 分钟(在岗 0.0、暂离 10.0、空岗 20.0、未知 0.0)",
    "department_id": "civil",
}


def appealed_report(**kwargs):
    return month_report(
        hall(), NOVEMBER, days(), UNTIL, appeals=[STRETCH, ERRAND], decided=[DECIDED], **kwargs
    )


def test_the_workbook_applies_accepted_appeals_and_keeps_the_original():
    book = read_back(appealed_report())
    [civil, _tax] = data(book["汇总"])
    # (390 + 75) / (840 - 30) instead of / 840; 20 empty minutes and one absence excused.
    assert civil[:9] == (1, "civil", "民政局", 0.574, 1.0, 320, 0, 1, 0)
    assert civil[-1] == "已申诉调整（原：在岗率 55.4%，空岗分钟 340，缺勤次数 1）"
    w01 = data(book["窗口逐日"])[0]
    assert (w01[3], w01[5:10]) == ("W01", (390, 390, 0, 0, 0))
    assert w01[-1] == "已申诉调整（原：排班分钟 420，暂离分钟 10，空岗分钟 20，在岗率 92.9%）"
    assert data(book["窗口逐日"])[1][-1] is None  # W02 was not appealed
    li_si = data(book["人员"])[1]
    assert (li_si[0], li_si[6], li_si[-1]) == ("s002", 0, "已申诉调整（原：缺勤次数 1）")
    [listed] = data(book["申诉"])
    assert listed[:4] == (7, "民政局", "窗口时段", "1号窗口")
    assert listed[-5:-1] == ("接受", "boss", "2026-11-24 10:00", "已核实")


def test_the_csv_files_carry_the_marks_and_the_appeals():
    files = csv_files(appealed_report())
    appeals = read_csv(files["2026-11-appeals.csv"])
    assert appeals[0][:3] == ["申诉编号", "部门", "对象"]
    assert appeals[1][0] == "7" and "已核实" in appeals[1]
    staff = read_csv(files["2026-11-staff.csv"])
    assert staff[2][-1] == "已申诉调整（原：缺勤次数 1）"


def test_a_department_report_lists_only_its_own_appeals():
    tax = appealed_report(departments={"tax"})
    assert tax.appeals == ()
    assert [r["appealed"] for r in tax.departments] == [False]


def test_the_public_ranking_marks_without_naming_absences():
    report = appealed_report()
    rows = read_csv(ranking_csv(report.departments, public=True))
    assert rows[1][-1] == "已申诉调整（原：在岗率 55.4%，空岗分钟 340）"
