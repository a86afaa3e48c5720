"""The month as files on real InfluxDB and a real registry database: `hallwatch report` and the
downloads, for the hand-built Monday of the report API's tests."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from flask import Flask
from openpyxl import load_workbook

from console.services import free_port
from hallwatch.influx.eventstore import event_point
from hallwatch.metrics.export_csv import ranking_csv
from tests.helpers import SHANGHAI, hallwatch
from tests.integration.deployments import hall_deployment
from tests.report_hall import MONDAY, MONDAY_EVENTS, REPORT_HALL, USERS
from tests.web_helpers import app_for, basic

HALL_TZ = SHANGHAI  # the zone this module's hall file names

MONTH = "2026-11"
THIS_MONTH = f"{datetime.now(HALL_TZ):%Y-%m}"
WHOLE_MONTH = {"from": "2026-11-01T00:00:00+08:00", "to": "2026-12-01T00:00:00+08:00"}
THE_MONDAY = {"from": "2026-11-23T00:00:00+08:00", "to": "2026-11-24T00:00:00+08:00"}
BOSS, TAX_HEAD, CIVIL_HEAD = ("boss", "pw-boss"), ("tax", "pw-tax"), ("civil-head", "pw-civil")
PEOPLE = ("张三", "李四", "王五", "s001", "s002", "s003")


def a_monday_of_the_last_month() -> date:
    """The second Monday of the month before this one: the public ranking shows ended months."""
    first = (datetime.now(HALL_TZ).date().replace(day=1) - timedelta(days=1)).replace(day=1)
    return first + timedelta(days=(7 - first.weekday()) % 7 + 7)


PUBLISHED_MONDAY = a_monday_of_the_last_month()
PUBLISHED = f"{PUBLISHED_MONDAY:%Y-%m}"


@dataclass
class Deployment:
    env: dict
    app: Flask
    home: Path


@pytest.fixture(scope="module")
def hall(influxd, tmp_path_factory):
    """One deployment for the module: the tests only read, and the past Monday never changes."""
    home = tmp_path_factory.mktemp("export")
    shift = PUBLISHED_MONDAY - MONDAY  # whole weeks: the same Monday, in an ended month
    published = [(replace(e, at=e.at + shift), staff) for e, staff in MONDAY_EVENTS]
    lines = [event_point(e, staff).to_line() for e, staff in MONDAY_EVENTS + published]
    with hall_deployment(influxd.url, home, REPORT_HALL, USERS, lines) as (env, app):
        yield Deployment(env, app, home)


def api(hall: Deployment, path: str, **query) -> list[dict]:
    response = hall.app.test_client().get(path, query_string=query, headers=basic(*BOSS))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def download(hall: Deployment, path: str, user=BOSS, status=200, **query):
    headers = basic(*user) if user else {}
    response = hall.app.test_client().get(path, query_string=query, headers=headers)
    assert response.status_code == status, response.get_data()[:300]
    return response


def rows(ws) -> list[tuple]:
    """The data rows of a sheet: below the title, the period line and the header row, down to
    the first empty row (the summary lists the days not collected below its table)."""
    found = []
    for row in ws.iter_rows(min_row=4, values_only=True):
        if all(value is None for value in row):
            break
        found.append(row)
    return found


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]  # Excel reads the BOM as "UTF-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


RANKING_KEYS = ("rank", "department", "name", "staffed_ratio", "coverage", "empty_minutes")
RANKING_KEYS += ("absences",)
RANKING_KEYS += ("pulled_back", "withdrawn_days")
STAFF_KEYS = ("rostered_minutes", "leave_minutes", "late_sign_ins", "absences", "pulled_back")


# --- the command ------------------------------------------------------------------------


def test_the_command_writes_the_month_as_a_workbook(hall):
    out = hall.home / "out" / f"{MONTH}.xlsx"
    done = hallwatch(
        "report", "--month", MONTH, "--format", "xlsx", "--out", str(out), env=hall.env
    )
    assert done.stdout.strip() == str(out)
    book = load_workbook(out)
    assert book.sheetnames == ["汇总", "窗口逐日", "人员", "申诉", "说明"]
    assert book["汇总"]["A1"].value == "测试大厅 2026年11月部门在岗情况排名"
    ranking = api(hall, "/api/reports/departments", month=MONTH)
    assert [r[:-2] for r in rows(book["汇总"])] == [  # without 备注 and 申诉调整
        tuple(r[k] for k in RANKING_KEYS) for r in ranking
    ]
    monday = [r for r in rows(book["窗口逐日"]) if r[0].date().isoformat() == "2026-11-23"]
    windows = api(hall, "/api/reports/windows", **THE_MONDAY)
    assert [r[3:] for r in monday] == [
        (
            w["window"],
            {"W01": "1号窗口", "W02": "2号窗口", "W03": "3号窗口"}[w["window"]],
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
        for w in windows
    ]
    staff = api(hall, "/api/reports/staff", **WHOLE_MONTH)
    assert [(r[0], r[1]) for r in rows(book["人员"])] == [
        ("s001", "张三"),
        ("s002", "李四"),
        ("s003", "王五"),
    ]
    assert [r[3:-1] for r in rows(book["人员"])] == [tuple(s[k] for k in STAFF_KEYS) for s in staff]


def test_the_command_writes_three_csv_files_to_a_directory_or_a_zip(hall):
    folder, archive = hall.home / "csv", hall.home / "csv.zip"
    done = hallwatch(
        "report", "--month", MONTH, "--format", "csv", "--out", str(folder), env=hall.env
    )
    names = [
        f"{MONTH}-departments.csv",
        f"{MONTH}-windows-by-day.csv",
        f"{MONTH}-staff.csv",
        f"{MONTH}-appeals.csv",
    ]
    assert done.stdout.split() == [str(folder / name) for name in names]
    ranking = api(hall, "/api/reports/departments", month=MONTH)
    written = (folder / names[0]).read_bytes()
    assert written == ranking_csv(ranking, public=False)
    assert read_csv(written)[1] == [
        "1",
        "tax",
        "税务局",
        "100.0%",
        "100.0%",
        "0.0",
        "0",
        "0",
        "0",
        "",
        "",
    ]
    assert read_csv((folder / names[2]).read_bytes())[0][:2] == ["人员编号", "姓名"]
    hallwatch("report", "--month", MONTH, "--format", "csv", "--out", str(archive), env=hall.env)
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.namelist() == names
        assert zipped.read(names[0]) == written


@pytest.mark.parametrize(
    ("month", "said"),
    [
        ("2026-13", "Invalid value for --month: must be a month such as 2026-11"),
        ("11/2026", "Invalid value for --month: must be a month such as 2026-11"),
        ("2999-01", "Invalid value for --month: 2999-01 has not begun yet"),
    ],
)
def test_the_command_refuses_a_bad_month_naming_the_option(hall, month, said):
    out = hall.home / "never.xlsx"
    done = hallwatch("report", "--month", month, "--out", str(out), env=hall.env, check=False)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert not out.exists()


def test_the_command_says_so_when_influxdb_is_unreachable(hall):
    env = {**hall.env, "HALLWATCH_INFLUX_URL": f"http://127.0.0.1:{free_port()}"}
    out = hall.home / "unreachable.xlsx"
    # No test reads that month, so none of its days is in the table of day summaries.
    done = hallwatch("report", "--month", "2025-06", "--out", str(out), env=env, check=False)
    assert done.returncode == 1
    assert "event store unavailable" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


# --- the downloads ----------------------------------------------------------------------


def test_a_department_head_downloads_only_their_department_with_its_rank_in_the_hall(hall):
    response = download(hall, f"/reports/{MONTH}.xlsx", user=CIVIL_HEAD)
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Cache-Control"] == "private, no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="hallwatch-report-2026-11.xlsx"')
    quoted = disposition.split("filename*=UTF-8''")[1]
    assert unquote(quoted) == "测试大厅-民政局-2026-11-在岗情况报表.xlsx"
    book = load_workbook(io.BytesIO(response.data))
    [civil] = rows(book["汇总"])
    assert civil[:5] == (2, "civil", "民政局", 0.554, 1.0)  # second in the whole hall
    assert {r[3] for r in rows(book["窗口逐日"])} == {"W01", "W02"}
    assert [r[1] for r in rows(book["人员"])] == ["张三", "李四"]
    tax = download(hall, f"/reports/{MONTH}.zip", user=TAX_HEAD)
    with zipfile.ZipFile(io.BytesIO(tax.data)) as zipped:
        staff = read_csv(zipped.read(f"{MONTH}-staff.csv"))
    assert [line[1] for line in staff[1:]] == ["王五"]
    ranking = read_csv(download(hall, f"/reports/{MONTH}.csv", user=TAX_HEAD).data)
    assert [line[:3] for line in ranking[1:]] == [["1", "tax", "税务局"]]


def test_the_public_ranking_is_the_last_ended_month_without_what_could_name_a_person(hall):
    response = download(hall, "/public/ranking.csv", user=None)
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    disposition = response.headers["Content-Disposition"]
    assert (
        unquote(disposition.split("filename*=UTF-8''")[1]) == f"测试大厅-{PUBLISHED}-部门排名.csv"
    )
    lines = read_csv(response.data)
    assert lines[0] == [
        "排名",
        "部门编号",
        "部门",
        "在岗率",
        "数据覆盖率",
        "空岗分钟",
        "撤岗天数",
        "备注",
        "申诉调整",
    ]
    ranking = api(hall, "/api/reports/departments", month=PUBLISHED)
    assert lines[1:] == [
        [str(r["rank"]), r["department"], r["name"], f"{r['staffed_ratio'] * 100:.1f}%"]
        + [f"{r['coverage'] * 100:.1f}%", f"{r['empty_minutes']:.1f}", str(r["withdrawn_days"])]
        + ["", ""]
        for r in ranking
    ]
    assert [line[2] for line in lines[1:]] == ["税务局", "民政局"]
    text = response.data.decode("utf-8-sig")
    assert not [who for who in PEOPLE if who in text]
    again = download(hall, "/public/ranking.csv", user=None, month=PUBLISHED)
    assert again.data == response.data


def test_the_public_ranking_shows_no_running_month(hall):
    response = download(hall, "/public/ranking.csv", user=None, status=400, month=THIS_MONTH)
    assert "'month' must be an ended month" in response.get_data(as_text=True)


@pytest.mark.parametrize("switch", ["0", "off", "false"])
def test_the_public_ranking_is_not_found_when_switched_off(hall, switch):
    closed = app_for({**hall.env, "HALLWATCH_PUBLIC_RANKING": switch})
    assert closed.test_client().get(f"/public/ranking.csv?month={MONTH}").status_code == 404
    private = closed.test_client().get(f"/reports/{MONTH}.csv", headers=basic(*BOSS))
    assert private.status_code == 200  # only the public file is switched off


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/reports/2026-13.xlsx", "'month' must be a month such as 2026-11 (YYYY-MM)"),
        ("/reports/november.csv", "'month' must be a month such as 2026-11 (YYYY-MM)"),
        ("/reports/2999-01.zip", "'month' 2999-01 has not begun yet"),
        ("/public/ranking.csv?month=2026-1", "'month' must be a month such as 2026-11"),
    ],
)
def test_a_bad_month_in_a_download_is_a_400_saying_why(hall, path, said):
    response = hall.app.test_client().get(path, headers=basic(*BOSS))
    assert response.status_code == 400
    assert said in response.get_data(as_text=True)


def test_downloads_need_a_login_except_the_public_ranking(hall):
    client = hall.app.test_client()
    response = client.get(f"/reports/{MONTH}.xlsx")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
