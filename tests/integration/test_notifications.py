"""Notifications end to end: a real SMTP server, a real HTTP server, a real database.

The hall is tests.unit.hall's (民政局 W01/W02, 税务局 W03) on Monday 2026-11-23.
Times handed to the code are fixed; only DingTalk's signing timestamp is the clock's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import add_channel, list_channels, remove_channel
from alerts.digest import morning_digest
from alerts.notify import follow_up
from alerts.outbox import deliver_due, enqueue
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.models import UserRow
from tests.helpers import wait_until
from tests.integration.notify_servers import (
    DING_SECRET,
    DING_TOKEN,
    REGISTRY,
    SETTINGS,
    announce,
    keys_with,
    open_alert,
    outbox,
    users,
)
from tests.unit.hall import MONDAY, at

TUESDAY = MONDAY + timedelta(days=1)
SATURDAY = MONDAY + timedelta(days=5)

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


# --- e-mail -----------------------------------------------------------------------------


def test_an_alert_reaches_a_real_smtp_server_in_chinese(sessions, smtp):
    smtp.start()
    settings = replace(SETTINGS, smtp_url=smtp.url, mail_from="hallwatch@hall.example")
    with sessions() as session, session.begin():
        add_channel(session, "li", "email", "li@civil.example")
        add_channel(session, "zhao", "email", "zhao@tax.example")  # another department
    announce(sessions)

    stats = deliver_due(sessions, settings, at("10:12"))

    assert (stats.sent, stats.retrying, stats.failed) == (1, 0, 0)
    [mail] = wait_until(lambda: smtp.inbox.messages)
    assert mail["To"] == "li@civil.example" and mail["From"] == "hallwatch@hall.example"
    assert mail["Subject"] == "【空岗】1号窗口"
    body = mail.get_content()
    assert "1号窗口(民政局)空岗,座位自 10:02 起无人" in body
    assert "开始:2026-11-23 10:02" in body and "http://hall.example:8080/" in body
    assert smtp.inbox.logins == [b"hall"]
    assert outbox(sessions)[0].sent_at == at("10:12")


def test_nothing_is_lost_while_the_mail_server_is_down(sessions, smtp):
    settings = replace(SETTINGS, smtp_url=smtp.url)
    with sessions() as session, session.begin():
        add_channel(session, "wang", "email", "wang@hall.example")
    announce(sessions)
    t0 = at("10:12")

    first = deliver_due(sessions, settings, t0)
    second = deliver_due(sessions, settings, t0 + timedelta(seconds=10))
    too_early = deliver_due(sessions, settings, t0 + timedelta(seconds=29))

    assert (first.retrying, second.retrying, too_early.attempted) == (1, 1, 0)
    [row] = outbox(sessions)
    assert row.attempts == 2 and row.sent_at is None and row.failed_at is None
    assert row.next_attempt_at == t0 + timedelta(seconds=30)  # 10 s, then 20 s
    assert str(smtp.port) in row.last_error

    smtp.start()
    back = deliver_due(sessions, settings, t0 + timedelta(seconds=30))

    assert back.sent == 1
    [mail] = wait_until(lambda: smtp.inbox.messages)
    assert mail["Subject"] == "【空岗】1号窗口"
    [row] = outbox(sessions)
    assert row.attempts == 3 and row.sent_at == t0 + timedelta(seconds=30)


def test_a_wrong_smtp_password_is_retried_not_dropped(sessions, smtp):
    smtp.start()
    settings = replace(SETTINGS, smtp_url=f"smtp://hall:wrong@127.0.0.1:{smtp.port}")
    with sessions() as session, session.begin():
        add_channel(session, "wang", "email", "wang@hall.example")
    announce(sessions)

    stats = deliver_due(sessions, settings, at("10:12"))

    assert stats.retrying == 1 and not smtp.inbox.messages
    assert deliver_due(sessions, replace(settings, smtp_url=smtp.url), at("10:13")).sent == 1


# --- robots and webhooks ----------------------------------------------------------------


def test_dingtalk_wecom_and_a_webhook_each_get_their_format(sessions, robots):
    base, server = robots
    with sessions() as session, session.begin():
        add_channel(
            session, "wang", "dingtalk", f"{base}/robot/send?access_token={DING_TOKEN}", DING_SECRET
        )
        add_channel(session, "wang", "wecom", f"{base}/cgi-bin/webhook/send?key=K1")
        add_channel(session, "wang", "webhook", f"{base}/hook", "hook-secret")
    alert_id = announce(
        sessions, "absent", staff_id="s001", since=at("09:15"), opened_at=at("09:15")
    )

    stats = deliver_due(sessions, SETTINGS, at("09:15"))

    assert (stats.sent, stats.retrying, stats.failed) == (3, 0, 0)
    [ding] = server.on("/robot/send")
    assert ding.body["msgtype"] == "text"
    assert "张三(民政局,1号窗口)09:15 仍未签到" in ding.body["text"]["content"]
    [wecom] = server.on("/cgi-bin/webhook/send")
    assert wecom.query["key"] == ["K1"]
    assert wecom.body["msgtype"] == "text" and "【未签到】张三" in wecom.body["text"]["content"]
    [hook] = server.on("/hook")
    assert {k: hook.body[k] for k in ("id", "kind", "window", "department", "staff", "status")} == {
        "id": alert_id,
        "kind": "absent",
        "window": "W01",
        "department": "civil",
        "staff": "s001",
        "status": "open",
    }
    assert (
        hook.body["opened_at"] == "2026-11-23T09:15:00+08:00" and hook.body["resolved_at"] is None
    )
    assert hook.body["message"] == "张三(民政局,1号窗口)09:15 仍未签到"
    assert "仍未签到" in hook.body["text"]
    raw = json.dumps(hook.body, ensure_ascii=False).encode()
    expected = hmac.new(b"hook-secret", raw, hashlib.sha256).hexdigest()
    assert hook.headers["X-HallWatch-Signature"] == f"sha256={expected}"


def test_a_wrong_dingtalk_secret_is_given_up_not_retried(sessions, robots):
    base, server = robots
    with sessions() as session, session.begin():
        add_channel(
            session, "wang", "dingtalk", f"{base}/robot/send?access_token={DING_TOKEN}", "SECwrong"
        )
    announce(sessions)

    stats = deliver_due(sessions, SETTINGS, at("10:12"))

    assert stats.failed == 1
    [row] = outbox(sessions)
    assert row.failed_at == at("10:12") and "310000" in row.last_error
    assert deliver_due(sessions, SETTINGS, at("11:00")).attempted == 0


def test_a_500_is_retried_with_backoff_until_it_goes_through(sessions, robots):
    base, server = robots
    server.answers["/hook"] = [(500, {"error": "db down"}), (503, {"error": "busy"})]
    with sessions() as session, session.begin():
        add_channel(session, "li", "webhook", f"{base}/hook")
    announce(sessions)
    t0 = at("10:12")

    outcomes = [deliver_due(sessions, SETTINGS, t0 + timedelta(seconds=s)) for s in (0, 10, 29, 30)]

    assert [(o.sent, o.retrying) for o in outcomes] == [(0, 1), (0, 1), (0, 0), (1, 0)]
    assert len(server.on("/hook")) == 3
    [row] = outbox(sessions)
    assert row.attempts == 3 and row.last_error is None


def test_two_deliverers_at_once_send_every_row_exactly_once(sessions, robots):
    base, server = robots
    with sessions() as session, session.begin():
        add_channel(session, "wang", "webhook", f"{base}/hook")
        add_channel(session, "wang", "wecom", f"{base}/cgi-bin/webhook/send?key=K1")
    for minute in range(20):
        announce(sessions, opened_at=at("10:12") + timedelta(minutes=minute), now=at("10:12"))
    start = threading.Barrier(2)
    results = []

    def deliverer() -> None:
        start.wait()
        results.append(deliver_due(sessions, SETTINGS, at("10:40")))

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(r.sent for r in results) == 40 and sum(r.retrying + r.failed for r in results) == 0
    hook_ids = sorted(hit.body["id"] for hit in server.on("/hook"))
    assert len(hook_ids) == len(set(hook_ids)) == 20
    assert len(server.on("/cgi-bin/webhook/send")) == 20
    assert all(row.sent_at is not None for row in outbox(sessions))


# --- noise control ----------------------------------------------------------------------


def with_channels(sessions: sessionmaker[Session], base: str) -> None:
    with sessions() as session, session.begin():
        for name in ("wang", "li", "zhao", "root", "jian"):
            add_channel(session, name, "webhook", f"{base}/{name}")


def run_follow_up(sessions: sessionmaker[Session], now: datetime, settings=SETTINGS) -> int:
    with sessions() as session, session.begin():
        return follow_up(session, REGISTRY, users(session), settings, now)


def test_recipients_are_the_manager_and_the_own_department_head(sessions, robots):
    with_channels(sessions, robots[0])

    announce(sessions)

    assert sorted(row.target.rsplit("/", 1)[1] for row in outbox(sessions)) == ["li", "wang"]


def test_an_unacknowledged_empty_window_escalates_to_admins_once(sessions, robots):
    with_channels(sessions, robots[0])
    alert_id = announce(sessions)  # opened 10:12
    absent_id = announce(
        sessions, "absent", staff_id="s001", opened_at=at("09:15"), now=at("10:12")
    )

    assert run_follow_up(sessions, at("10:26")) == 0
    run_follow_up(sessions, at("10:27"))
    run_follow_up(sessions, at("10:28"))

    escalated = [row for row in outbox(sessions) if ":escalated:" in row.dedupe_key]
    assert [(row.alert_id, row.target.rsplit("/", 1)[1]) for row in escalated] == [
        (alert_id, "root")
    ]
    assert "【升级·空岗】1号窗口" == escalated[0].subject
    with sessions() as session:
        assert session.get(AlertRow, alert_id).escalated_at == at("10:27")
        assert session.get(AlertRow, absent_id).escalated_at is None  # absent never escalates


def test_an_acknowledged_alert_is_neither_reminded_nor_escalated(sessions, robots):
    with_channels(sessions, robots[0])
    alert_id = announce(sessions)
    with sessions() as session, session.begin():
        session.get(AlertRow, alert_id).acknowledged_at = at("10:15")

    assert run_follow_up(sessions, at("11:30")) == 0


def test_reminders_come_at_most_every_renotify_interval(sessions, robots):
    with_channels(sessions, robots[0])
    announce(sessions, "pulled_back", staff_id="s001", device_id="office-civil", since=at("10:10"))
    settings = replace(SETTINGS, escalate_after_minutes=600)  # only reminders in this test

    counts = {
        hhmm: run_follow_up(sessions, at(hhmm), settings)
        for hhmm in ("10:30", "10:41", "10:42", "10:50", "11:11", "11:12", "11:13")
    }

    assert counts == {
        "10:30": 0,
        "10:41": 0,
        "10:42": 2,  # 30 min after 10:12: the manager and the department head
        "10:50": 0,
        "11:11": 0,
        "11:12": 2,
        "11:13": 0,
    }
    reminders = [row for row in outbox(sessions) if ":reminder:" in row.dedupe_key]
    assert all(row.subject == "【提醒·被抽回】张三" for row in reminders)


def test_two_schedulers_reading_the_same_state_remind_once(sessions, robots):
    with_channels(sessions, robots[0])
    announce(sessions)
    with sessions() as late:
        stale = users(late)
        list(late.scalars(select(AlertRow)))  # read before the other scheduler commits
        first = run_follow_up(sessions, at("10:42"), replace(SETTINGS, escalate_after_minutes=600))
        second = follow_up(
            late, REGISTRY, stale, replace(SETTINGS, escalate_after_minutes=600), at("10:42")
        )
        late.commit()

    assert (first, second) == (2, 0)
    assert len(keys_with(sessions, "reminder")) == 2


def test_enqueue_twice_adds_nothing_the_second_time(sessions, robots):
    with_channels(sessions, robots[0])
    with sessions() as session, session.begin():
        alert = open_alert(session)
        wang = session.scalars(select(UserRow).where(UserRow.username == "wang")).one()
        first = enqueue(session, alert, wang, "opened", "s", "b", at("10:12"))
        again = enqueue(session, alert, wang, "opened", "s", "b", at("10:13"))

    assert (first, again) == (1, 0) and len(outbox(sessions)) == 1


def test_no_reminders_at_lunch_after_hours_or_at_weekends(sessions, robots):
    with_channels(sessions, robots[0])
    announce(sessions)

    for moment in (at("12:30"), at("17:30"), at("20:00"), at("10:30", SATURDAY)):
        assert run_follow_up(sessions, moment) == 0, moment
    assert keys_with(sessions, "reminder") == keys_with(sessions, "escalated") == []


def test_an_alert_opened_outside_hours_is_announced_when_the_hall_opens(sessions, robots):
    with_channels(sessions, robots[0])
    announce(sessions, "device_offline", window_id=None, device_id="office-civil", now=at("12:10"))
    assert outbox(sessions) == []

    assert run_follow_up(sessions, at("13:30")) == 2
    assert len(keys_with(sessions, "opened")) == 2
    assert run_follow_up(sessions, at("13:31")) == 0


# --- morning digest ---------------------------------------------------------------------


def test_each_head_gets_a_digest_of_their_department_and_managers_of_the_hall(sessions, robots):
    with_channels(sessions, robots[0])
    with sessions() as session, session.begin():
        open_alert(session, "empty_window")
        open_alert(session, "absent", staff_id="s002", window_id="W02", opened_at=at("09:15"))
        open_alert(
            session, "withdrawn", window_id="W03", department_id="tax", opened_at=at("17:30")
        )
        open_alert(session, "empty_window", opened_at=at("10:12", TUESDAY))  # not Monday's

    def digest(day) -> int:
        with sessions() as session, session.begin():
            return morning_digest(
                session, REGISTRY, users(session), SETTINGS, day, at("08:30", TUESDAY)
            )

    assert digest(MONDAY) == 3
    assert digest(MONDAY) == 0  # already queued
    assert digest(SATURDAY) == 0  # nothing happened: no "no alerts" noise
    by_user = {row.target.rsplit("/", 1)[1]: row for row in outbox(sessions)}
    assert set(by_user) == {"wang", "li", "zhao"}
    civil = by_user["li"]
    assert civil.subject == "【告警日报】2026-11-23(周一)民政局"
    assert "民政局共 2 条告警" in civil.body
    assert "· 09:15 李四(民政局,2号窗口)09:15 仍未签到" in civil.body
    assert "· 10:12 1号窗口(民政局)空岗,座位自 10:02 起无人" in civil.body
    assert "3号窗口" not in civil.body
    assert "3号窗口(税务局)今日全天无人在岗" in by_user["zhao"].body
    hall_digest = by_user["wang"].body
    assert "测试大厅共 3 条告警" in hall_digest and "按单位:民政局 2、税务局 1" in hall_digest
    assert by_user["wang"].payload["count"] == 3


# --- channels ---------------------------------------------------------------------------


def test_channels_are_validated_listed_and_removed(sessions):
    with sessions() as session, session.begin():
        mail = add_channel(session, "li", "email", "li@civil.example")
        ding = add_channel(
            session, "li", "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=x", "SECx"
        )
        again = add_channel(
            session, "li", "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=x", "SECy"
        )
        for kind, target, secret, problem in (
            ("sms", "13800000000", None, "unknown channel kind"),
            ("email", "not-an-address", None, "e-mail address"),
            ("wecom", "ftp://robot.example", None, "http"),
            ("email", "li@civil.example", "s", "takes no secret"),
        ):
            with pytest.raises(ValueError, match=problem):
                add_channel(session, "li", kind, target, secret)
        with pytest.raises(ValueError, match="nobody"):
            add_channel(session, "nobody", "email", "x@y.example")

    assert again.id == ding.id and again.secret == "SECy"
    with sessions() as session, session.begin():
        assert [c.id for c in list_channels(session, "li")] == [mail.id, ding.id]
        with pytest.raises(ValueError, match="no channel"):
            remove_channel(session, "wang", mail.id)
        remove_channel(session, "li", mail.id)
        assert [c.kind for c in list_channels(session, "li")] == ["dingtalk"]
