"""Appeals (申诉) over HTTP on a real registry database and InfluxDB: the hand-built Monday
of the report tests, a department head filing, the hall manager deciding, the scope."""

from __future__ import annotations

import io
import zipfile
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from hallwatch.config import Settings
from hallwatch.influx.eventstore import event_point
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.importing import import_file
from tests.conftest import database_url_for
from tests.integration.deployments import hall_deployment
from tests.report_hall import MONDAY_EVENTS, REPORT_HALL, USERS, at
from tests.web_helpers import basic
from web import create_app

pytestmark = pytest.mark.integration

BOSS, CIVIL, TAX, INSPECTOR = (
    ("boss", "pw-boss"),
    ("civil-head", "pw-civil"),
    ("tax", "pw-tax"),
    ("inspector", "pw-inspector"),
)
W01_STRETCH = {
    "subject": "window",
    "window": "W01",
    "start": "2026-11-23T10:00:00+08:00",
    "end": "2026-11-23T10:30:00+08:00",
    "reason": "sensor_fault",
    "reason_text": "座位传感器电池没电,人其实在岗",
}
DAY = "from=2026-11-23T00:00:00%2B08:00&to=2026-11-24T00:00:00%2B08:00"
LI_SI_ABSENT = "absent:s002:W02:2026-11-23T13:30:00+08:00"  # as hallwatch.rules keys it


@contextmanager
def monday(influxd, home, database_url=None):
    lines = [event_point(e, staff).to_line() for e, staff in MONDAY_EVENTS]
    with hall_deployment(influxd.url, home, REPORT_HALL, USERS, lines, database_url) as found:
        yield found


@pytest.fixture
def deployment(influxd, tmp_path):
    """A fresh deployment per test: appeals are written."""
    with monday(influxd, tmp_path) as found:
        yield found


@pytest.fixture
def app(deployment):
    """The app hall_deployment built: this module's `deployment` is its (env, app) pair."""
    return deployment[1]


@pytest.fixture
def form_app(deployment):
    """The same deployment with CSRF off, so pages take forms over HTTP Basic."""
    env = deployment[0]
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("HALLWATCH_")})
    return create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})


def call(app, method, path, user, status, body=None, query=None):
    client = app.test_client()
    response = client.open(path, method=method, json=body, query_string=query, headers=basic(*user))
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json(silent=True)


def file(app, body=W01_STRETCH, user=CIVIL, status=201):
    return call(app, "POST", "/api/appeals", user, status, body)


def decide(app, appeal_id, decision="accept", note="已核实设备维修记录", user=BOSS, status=200):
    body = {"decision": decision, "note": note}
    return call(app, "POST", f"/api/appeals/{appeal_id}/decide", user, status, body)


def add_alert(app, key=LI_SI_ABSENT, kind="absent", staff="s002", window="W02") -> int:
    row = AlertRow(
        key=key,
        kind=kind,
        window_id=window,
        department_id="civil",
        staff_id=staff,
        since=at("13:30"),
        opened_at=at("13:45"),
        message="李四未签到",
        created_at=datetime(2026, 11, 23, 6, 0, tzinfo=UTC),
    )
    with app.extensions["hallwatch"].sessions() as db:
        db.add(row)
        db.commit()
        return row.id


def test_a_window_stretch_is_filed_accepted_once_and_its_figure_kept(app):
    appeal = file(app)
    assert (appeal["status"], appeal["filed_by"], appeal["department"]) == (
        "pending",
        "civil-head",
        "civil",
    )
    decided = decide(app, appeal["id"])
    assert (decided["status"], decided["decided_by"], decided["note"]) == (
        "accepted",
        "boss",
        "已核实设备维修记录",
    )
    assert decided["decided_at"] is not None
    # 10:00 the seat empties: away for the 10-minute grace, then empty until 10:30.
    assert decided["excused_minutes"] == {
        "scheduled_minutes": 30.0,
        "staffed_minutes": 0.0,
        "away_minutes": 10.0,
        "empty_minutes": 20.0,
        "unknown_minutes": 0.0,
    }
    decide(app, appeal["id"], "reject", "改判", status=409)
    call(app, "POST", f"/api/appeals/{appeal['id']}/withdraw", CIVIL, 409)
    [listed] = call(app, "GET", "/api/appeals", INSPECTOR, 200)
    assert listed == decided


def test_an_absence_is_appealed_by_its_alert(app):
    alert = add_alert(app)
    body = {
        "subject": "absence",
        "alert": alert,
        "reason": "errand",
        "reason_text": "经批准去税务局送件",
    }
    appeal = file(app, body)
    assert (appeal["staff"], appeal["episode"], appeal["day"]) == (
        "s002",
        LI_SI_ABSENT,
        "2026-11-23",
    )
    file(app, body, status=409)  # one open appeal per episode
    file(app, {**body, "subject": "pulled_back"}, status=400)
    assert decide(app, appeal["id"])["excused_count"] == 1


def test_a_department_head_appeals_only_for_their_department(app):
    file(app, user=TAX, status=404)  # W01 is civil's
    alert = add_alert(app)
    body = {"subject": "absence", "alert": alert, "reason": "errand", "reason_text": "x"}
    file(app, body, user=TAX, status=404)
    appeal = file(app)
    assert call(app, "GET", "/api/appeals", TAX, 200) == []
    call(app, "POST", f"/api/appeals/{appeal['id']}/withdraw", TAX, 404)
    assert [a["id"] for a in call(app, "GET", "/api/appeals", CIVIL, 200)] == [appeal["id"]]


def test_inspectors_read_every_appeal_and_change_nothing(app):
    appeal = file(app)
    file(app, user=INSPECTOR, status=403)
    decide(app, appeal["id"], user=INSPECTOR, status=403)
    decide(app, appeal["id"], user=CIVIL, status=403)  # a department head does not decide
    call(app, "POST", f"/api/appeals/{appeal['id']}/withdraw", INSPECTOR, 403)
    assert (
        call(app, "GET", "/api/appeals", INSPECTOR, 200, query={"status": "pending"})[0]["id"]
        == appeal["id"]
    )


def test_bad_requests_say_what_is_wrong(app):
    assert "reason" in file(app, {**W01_STRETCH, "reason": "weather"}, status=400)["error"]
    assert "reason_text" in file(app, {**W01_STRETCH, "reason_text": ""}, status=400)["error"]
    late = {**W01_STRETCH, "end": "2026-11-24T10:30:00+08:00"}
    assert "one hall day" in file(app, late, status=400)["error"]
    future = {**W01_STRETCH, "start": "2099-01-01T10:00", "end": "2099-01-01T11:00"}
    assert "future" in file(app, future, status=400)["error"]
    appeal = file(app)
    assert "note" in decide(app, appeal["id"], note=" ", status=400)["error"]
    decide(app, appeal["id"], decision="maybe", status=400)
    decide(app, 9999, status=404)


def test_the_page_files_and_decides_with_forms(form_app):
    client = form_app.test_client()
    civil, boss = basic(*CIVIL), basic(*BOSS)
    form = {
        "w-window": "W01",
        "w-day": "2026-11-23",
        "w-start": "10:30",
        "w-end": "10:00",
        "w-reason": "sensor_fault",
        "w-reason_text": "",
    }
    bad = client.post("/appeals/window", data=form, headers=civil)
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "结束时间须晚于开始时间" in text and "请写明申诉理由" in text
    form.update({"w-start": "10:00", "w-end": "10:30", "w-reason_text": "传感器故障"})
    moved = client.post("/appeals/window", data=form, headers=civil)
    assert moved.status_code == 303, moved.get_data(as_text=True)
    page = client.get("/appeals", headers=boss).get_data(as_text=True)
    assert "待处理" in page and 'class="decide"' in page
    appeal = int(moved.headers["Location"].rsplit("-", 1)[1])
    missing = client.post(
        f"/appeals/{appeal}/decide", data={"note": "", "accept": "1"}, headers=boss
    )
    assert missing.status_code == 400 and "请填写处理意见" in missing.get_data(as_text=True)
    done = client.post(
        f"/appeals/{appeal}/decide", data={"note": "属实", "accept": "1"}, headers=boss
    )
    assert done.status_code == 303
    page = client.get("/appeals", headers=civil).get_data(as_text=True)
    assert "已接受" in page and "属实" in page and "boss" in page and 'class="decide"' not in page
    again = client.post(
        f"/appeals/{appeal}/decide", data={"note": "x", "reject": "1"}, headers=boss
    )
    assert again.status_code == 303
    assert "已经处理过" in client.get("/appeals", headers=boss).get_data(as_text=True)
    assert (
        client.get("/appeals", headers=basic(*TAX)).get_data(as_text=True).count("data-appeal-id")
        == 0
    )


def test_appeals_outlive_a_registry_import(deployment, tmp_path):
    env, app = deployment
    appeal = file(app)
    decide(app, appeal["id"])
    import_file(app.extensions["hallwatch"].sessions, tmp_path / "hall.yaml")  # imported again
    assert [a["status"] for a in call(app, "GET", "/api/appeals", BOSS, 200)] == ["accepted"]


@pytest.mark.postgres
def test_filing_and_deciding_on_postgresql(influxd, tmp_path):
    for url in database_url_for("postgres", tmp_path):
        with monday(influxd, tmp_path, url) as (_, app):
            appeal = file(app)
            file(app, user=TAX, status=404)
            assert decide(app, appeal["id"])["excused_minutes"]["empty_minutes"] == 20.0
            decide(app, appeal["id"], "reject", "改判", status=409)
            assert call(app, "GET", "/api/appeals", TAX, 200) == []


def download(app, path, user=BOSS) -> bytes:
    response = app.test_client().get(path, headers=basic(*user))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data()


def test_an_accepted_appeal_changes_every_report_and_export(app):
    decide(app, file(app)["id"])  # W01 10:00–10:30: away 10, empty 20
    errand = {
        "subject": "absence",
        "alert": add_alert(app),
        "reason": "errand",
        "reason_text": "送件",
    }
    decide(app, file(app, errand)["id"], note="有外出审批单")
    w02 = {**W01_STRETCH, "window": "W02"}
    decide(app, file(app, w02)["id"], "reject", "无维修记录")  # a rejected appeal changes nothing

    windows = {r["window"]: r for r in call(app, "GET", "/api/reports/windows?" + DAY, BOSS, 200)}
    w01 = windows["W01"]
    assert (w01["appealed"], w01["scheduled_minutes"], w01["away_minutes"]) == (True, 390.0, 0.0)
    assert (w01["empty_minutes"], w01["staffed_ratio"]) == (0.0, 1.0)
    assert (w01["original"]["scheduled_minutes"], w01["original"]["empty_minutes"]) == (420.0, 20.0)
    assert (windows["W02"]["appealed"], windows["W02"]["empty_minutes"]) == (False, 320.0)
    staff = {r["staff"]: r for r in call(app, "GET", "/api/reports/staff?" + DAY, BOSS, 200)}
    assert (staff["s002"]["absences"], staff["s002"]["original"]["absences"]) == (0, 1)
    ranking = call(app, "GET", "/api/reports/departments?month=2026-11", BOSS, 200)
    civil = next(r for r in ranking if r["department"] == "civil")
    assert (civil["staffed_ratio"], civil["absences"], civil["appealed"]) == (0.574, 1, True)
    assert (civil["original"]["staffed_ratio"], civil["original"]["absences"]) == (0.554, 2)

    book = load_workbook(io.BytesIO(download(app, "/reports/2026-11.xlsx")))
    summary = [
        row for row in book["汇总"].iter_rows(min_row=4, values_only=True) if row[1] == "civil"
    ]
    assert summary[0][-1] == "已申诉调整（原：在岗率 55.4%，空岗分钟 340，缺勤次数 2）"
    listed = list(book["申诉"].iter_rows(min_row=4, values_only=True))
    assert [(r[10], r[11], r[13]) for r in listed] == [
        ("接受", "boss", "已核实设备维修记录"),
        ("驳回", "boss", "无维修记录"),
        ("接受", "boss", "有外出审批单"),
    ]
    with zipfile.ZipFile(io.BytesIO(download(app, "/reports/2026-11.zip"))) as archive:
        by_day = archive.read("2026-11-windows-by-day.csv").decode("utf-8-sig")
        appeals = archive.read("2026-11-appeals.csv").decode("utf-8-sig")
    monday_w01 = next(
        line for line in by_day.splitlines() if ",W01," in line and "2026-11-23" in line
    )
    assert "已申诉调整（原：排班分钟 420" in monday_w01
    assert appeals.count("civil-head") == 3
    tax_book = load_workbook(io.BytesIO(download(app, "/reports/2026-11.xlsx", TAX)))
    assert list(tax_book["申诉"].iter_rows(min_row=4, values_only=True)) == []

    page = app.test_client().get("/reports?month=2026-11", headers=basic(*BOSS))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "已申诉调整" in html and "有外出审批单" in html
    assert "原:应在岗分钟 420" in html
    calendar_row = {p: html.split(f'id="staff-{p}"')[1].split("</tr>")[0] for p in ("s001", "s002")}
    assert "已申诉调整" in calendar_row["s002"] and "已申诉调整" not in calendar_row["s001"]
