"""Staffing requests over HTTP on a real registry database: a department head files leave,
a swap or a replacement on the 人员调整 page, the hall manager decides, the registry and
the day's schedule follow; a rejection changes nothing; the scope and the roles hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from alerts.channels import add_channel
from alerts.outbox import deliver_due
from hallwatch.config import Settings
from hallwatch.registry.alerting import OutboxRow
from hallwatch.registry.load import load_registry
from hallwatch.registry.spec import Swap
from hallwatch.registry.staffing import StaffingRequestRow
from hallwatch.schedule import DaySchedule
from tests.helpers import wait_until
from tests.integration.deployments import hall_deployment
from tests.report_hall import REPORT_HALL, USERS, at
from tests.web_helpers import basic
from web import create_app

pytestmark = pytest.mark.integration

BOSS, CIVIL, TAX, INSPECTOR = (
    ("boss", "pw-boss"),
    ("civil-head", "pw-civil"),
    ("tax", "pw-tax"),
    ("inspector", "pw-inspector"),
)
MONDAY = date(2026, 11, 23)
NEXT_MONDAY = date(2026, 11, 30)
SICK = {
    "leave-staff": "s001",
    "leave-from_day": "2026-11-23",
    "leave-until_day": "2026-11-23",
    "leave-type": "sick",
    "leave-reason": "发烧",
}


@pytest.fixture
def app(influxd, tmp_path):
    """A fresh hall per test, its pages taking forms over HTTP Basic (CSRF off)."""
    with hall_deployment(influxd.url, tmp_path, REPORT_HALL, USERS, []) as (env, _app):
        settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("HALLWATCH_")})
        app = create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})
        with app.extensions["hallwatch"].sessions() as db:
            add_channel(db, "boss", "email", "boss@hall.example")
            add_channel(db, "civil-head", "email", "civil@hall.example")
            db.commit()
        yield app


def post(app, path, data, user, status=303):
    response = app.test_client().post(path, data=data, headers=basic(*user))
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response


def page(app, user, query="") -> str:
    response = app.test_client().get(f"/staffing{query}", headers=basic(*user))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def requests(app) -> list[StaffingRequestRow]:
    with app.extensions["hallwatch"].sessions() as db:
        return list(db.scalars(select(StaffingRequestRow).order_by(StaffingRequestRow.id)))


def registry(app):
    with app.extensions["hallwatch"].sessions() as db:
        return load_registry(db)


def outbox(app) -> list[tuple[str, str]]:
    with app.extensions["hallwatch"].sessions() as db:
        return [(r.target, r.subject) for r in db.scalars(select(OutboxRow).order_by(OutboxRow.id))]


def decide(app, request_id, approve=True, user=BOSS, note="同意", status=303):
    button = {"approve": "批准"} if approve else {"reject": "驳回"}
    return post(app, f"/staffing/{request_id}/decide", {"note": note, **button}, user, status)


def test_leave_filed_and_approved_is_leave_in_the_registry_and_the_day(app):
    post(app, "/staffing/leave", SICK, CIVIL)
    [request] = requests(app)
    assert (request.kind, request.status, request.filed_by) == ("leave", "pending", "civil-head")
    assert outbox(app) == [("boss@hall.example", "[测试大厅] 待审批:请假报备 #1")]
    listed = page(app, BOSS, "?status=pending")
    assert "待审批" in listed and "张三" in listed and "approve-1" in listed
    assert registry(app).leave[1:] == ()  # only the file's own leave: pending is not leave
    decide(app, request.id)
    [request] = requests(app)
    assert (request.status, request.decided_by, request.note) == ("approved", "boss", "同意")
    leave = registry(app).leave[-1]
    assert (leave.staff, leave.type, leave.reason) == ("s001", "sick", "发烧")
    assert DaySchedule(registry(app), MONDAY).on_leave_at("W01", at("10:00")) == ["s001"]
    assert outbox(app)[-1] == ("civil@hall.example", "[测试大厅] 请假报备 #1 已批准")
    decide(app, request.id, approve=False)  # decided already: said, and nothing changes
    assert requests(app)[0].status == "approved"


def test_a_rejected_request_changes_nothing(app):
    before = registry(app)
    post(app, "/staffing/leave", SICK, CIVIL)
    decide(app, 1, approve=False, note="当天人手不足")
    assert requests(app)[0].status == "rejected"
    assert registry(app) == before


def test_a_swap_approved_swaps_the_two_for_that_day(app):
    form = {
        "swap-by": "staff",
        "swap-day": "2026-11-23",
        "swap-first": "s001",
        "swap-second": "s002",
    }
    post(app, "/staffing/swap", form, CIVIL)
    decide(app, 1)
    assert registry(app).swaps == (Swap(MONDAY, staff=("s001", "s002")),)
    day = DaySchedule(registry(app), MONDAY)
    assert day.rostered_at("W01", at("10:00")) == ["s002"]
    assert day.rostered_at("W02", at("10:00")) == ["s001"]


def test_a_replacement_by_a_newcomer_changes_the_roster_from_its_date(app):
    form = {
        "repl-window": "W01",
        "repl-leaving": "s001",
        "repl-day": NEXT_MONDAY.isoformat(),
        "repl-coming": "",
        "repl-new_id": "s009",
        "repl-new_name": "赵六",
        "repl-new_card": "04A1B2D9",
    }
    post(app, "/staffing/replacement", form, CIVIL)
    decide(app, 1)
    hall = registry(app)
    assert hall.staff_by_id["s009"].name == "赵六"
    assert DaySchedule(hall, MONDAY).rostered_at("W01", at("10:00")) == ["s001"]
    later = DaySchedule(hall, NEXT_MONDAY)
    assert later.rostered_at("W01", later.start.replace(hour=10)) == ["s009"]


def test_bad_fields_are_shown_beside_them_and_nothing_is_filed(app):
    late = {**SICK, "leave-until_day": "2026-11-22"}
    response = post(app, "/staffing/leave", late, CIVIL, status=400)
    assert "结束日期不能早于开始日期" in response.get_data(as_text=True)
    taken = {
        "repl-window": "W01",
        "repl-leaving": "s001",
        "repl-day": "2026-11-30",
        "repl-coming": "",
        "repl-new_id": "s002",
        "repl-new_name": "重名",
    }
    response = post(app, "/staffing/replacement", taken, CIVIL, status=400)
    assert "该编号已有人使用" in response.get_data(as_text=True)
    assert requests(app) == []


def test_another_department_and_an_inspector_are_refused(app):
    # 王五 is the tax department's: not a choice the civil head has.
    post(app, "/staffing/leave", {**SICK, "leave-staff": "s003"}, CIVIL, status=400)
    post(app, "/staffing/leave", SICK, INSPECTOR, status=403)
    post(app, "/staffing/leave", SICK, CIVIL)
    assert "张三" not in page(app, TAX)  # another department's request is not listed
    decide(app, 1, user=TAX, status=403)
    decide(app, 1, user=INSPECTOR, status=403)
    post(app, "/staffing/1/withdraw", {}, TAX, status=404)
    assert requests(app)[0].status == "pending"
    post(app, "/staffing/1/withdraw", {}, CIVIL)
    assert requests(app)[0].status == "withdrawn"


def test_pending_leave_is_marked_on_the_floor_for_its_day(app):
    post(app, "/staffing/leave", SICK, CIVIL)
    response = app.test_client().get("/?at=2026-11-23T10:00:00%2B08:00", headers=basic(*BOSS))
    assert response.status_code == 200
    assert "请假待批: 张三" in response.get_data(as_text=True)


def test_the_filing_and_the_decision_reach_a_real_mail_server(app, smtp):
    smtp.start()
    runtime = app.extensions["hallwatch"]
    settings = replace(runtime.settings, smtp_url=smtp.url, mail_from="hallwatch@hall.example")
    post(app, "/staffing/leave", SICK, CIVIL)
    decide(app, 1, approve=False, note="当天人手不足")
    stats = deliver_due(runtime.sessions, settings, datetime.now(UTC) + timedelta(seconds=1))
    assert (stats.sent, stats.failed) == (2, 0)
    mails = wait_until(lambda: len(smtp.inbox.messages) == 2 and smtp.inbox.messages)
    told = {mail["To"]: (mail["Subject"], mail.get_content()) for mail in mails}
    subject, body = told["boss@hall.example"]
    assert subject == "[测试大厅] 待审批:请假报备 #1"
    assert "civil-head 提出请假报备:张三 2026-11-23 至 2026-11-23 病假" in body
    subject, body = told["civil@hall.example"]
    assert subject == "[测试大厅] 请假报备 #1 已驳回"
    assert "boss 已驳回:当天人手不足" in body
