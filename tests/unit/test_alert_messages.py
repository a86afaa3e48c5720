"""What an alert says: its Chinese line, a notification's text, and how it goes on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.channels import (
    ROBOT_TEXT_MAX_BYTES,
    dingtalk_signature,
    dingtalk_url,
    email_message,
    robot_text,
    webhook_body,
)
from alerts.messages import describe, notification_text
from hallwatch.alert_kinds import Episode
from hallwatch.config import ConfigError, Settings
from hallwatch.registry.alerting import AlertRow, OutboxRow
from tests.unit.hall import at, hall

REGISTRY = hall()
UTC_1002 = datetime(2026, 11, 23, 2, 2, tzinfo=UTC)  # 10:02 in the hall (UTC+8)


def episode(kind: str, **fields) -> Episode:
    base = {"key": f"{kind}:test", "opened_at": at("10:12"), "since": at("10:02")}
    return Episode(kind=kind, **{**base, **fields})


def alert_row(kind: str = "empty_window", **fields) -> AlertRow:
    values = {
        "id": 17,
        "key": f"{kind}:W01:test",
        "kind": kind,
        "window_id": "W01",
        "department_id": "civil",
        "staff_id": None,
        "device_id": None,
        "since": UTC_1002,
        "opened_at": at("10:12"),
        "resolved_at": None,
        "acknowledged_at": None,
        "message": "",
    }
    return AlertRow(**{**values, **fields})


# --- one-line messages ----------------------------------------------------------------


def test_an_empty_window_names_window_department_and_since_in_hall_time():
    text = describe(episode("empty_window", window="W01", since=UTC_1002), REGISTRY)
    assert text == "1号窗口(民政局)空岗,座位自 10:02 起无人"


def test_an_absent_person_is_named_with_department_window_and_the_deadline():
    text = describe(episode("absent", staff="s001", window="W01", opened_at=at("09:15")), REGISTRY)
    assert text == "张三(民政局,1号窗口)09:15 仍未签到"


def test_a_pulled_back_person_is_placed_at_the_office_of_the_reader():
    text = describe(
        episode("pulled_back", staff="s001", device="office-civil", since=at("10:20")), REGISTRY
    )
    assert text == "张三 10:20 在民政局办公室刷卡,被抽回单位"


def test_an_offline_device_names_its_window_or_office():
    desk = describe(episode("device_offline", device="desk-w01-seat", since=at("10:05")), REGISTRY)
    office = describe(episode("device_offline", device="office-civil"), REGISTRY)
    assert desk == "设备 desk-w01-seat(1号窗口)自 10:05 离线"
    assert office == "设备 office-civil(民政局办公室)自 10:02 离线"


def test_a_withdrawn_window_is_a_whole_day_verdict():
    text = describe(episode("withdrawn", window="W02"), REGISTRY)
    assert text == "2号窗口(民政局)今日全天无人在岗"


def test_ids_that_left_the_registry_still_give_a_readable_line():
    text = describe(episode("empty_window", window="W99", department="gone"), REGISTRY)
    assert text.startswith("W99(gone)空岗")


def test_an_unknown_kind_is_refused_with_its_key():
    with pytest.raises(ValueError, match="bogus:test"):
        describe(Episode("bogus", "bogus:test", at("10:00"), at("10:00")), REGISTRY)  # type: ignore[arg-type]


# --- notification text ------------------------------------------------------------------


def test_a_notification_carries_window_person_since_and_link():
    alert = alert_row("absent", staff_id="s001", since=at("09:15"), opened_at=at("09:15"))
    subject, body = notification_text(alert, REGISTRY, "http://hall.example:8080", "opened")
    assert subject == "【未签到】张三"
    assert "张三(民政局,1号窗口)09:15 仍未签到" in body
    assert "窗口:1号窗口(民政局)" in body
    assert "人员:张三" in body
    assert "开始:2026-11-23 09:15" in body
    assert "http://hall.example:8080/" in body


def test_reminders_and_escalations_say_so():
    alert = alert_row()
    reminder = notification_text(alert, REGISTRY, "http://h", "reminder")
    escalated = notification_text(alert, REGISTRY, "http://h", "escalated")
    assert reminder[0] == "【提醒·空岗】1号窗口" and "再次提醒" in reminder[1]
    assert escalated[0] == "【升级·空岗】1号窗口" and "升级" in escalated[1]
    assert "开始:2026-11-23 10:02" in reminder[1]  # UTC stored, hall time shown


def test_a_stored_message_is_used_as_is():
    alert = alert_row(message="已存的告警内容")
    assert notification_text(alert, REGISTRY, "http://h", "opened")[1].startswith("已存的告警内容")


def test_an_unknown_reason_is_refused():
    with pytest.raises(ValueError, match="alert 17"):
        notification_text(alert_row(), REGISTRY, "http://h", "whenever")


# --- on the wire ----------------------------------------------------------------------


def outbox_row(**fields) -> OutboxRow:
    values = {"id": 5, "channel_kind": "email", "target": "wang@example.org"}
    values |= {"subject": "【空岗】1号窗口", "body": "1号窗口(民政局)空岗", "payload": None}
    return OutboxRow(**{**values, **fields})


def test_dingtalk_signature_matches_an_independent_computation():
    # printf '1700000000000\nSECabc123' | openssl dgst -sha256 -hmac SECabc123 -binary | base64
    assert dingtalk_signature("SECabc123", 1700000000000) == (
        "N5P09a4+p1AMJIJWnIvQd2Yxw9+fu/oEBnPrjCcsLXk="
    )


def test_dingtalk_signed_url_appends_timestamp_and_url_encoded_sign():
    url = dingtalk_url(
        "https://oapi.dingtalk.com/robot/send?access_token=T", "SECabc123", 1700000000000
    )
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000"
        "&sign=N5P09a4%2Bp1AMJIJWnIvQd2Yxw9%2Bfu%2FoEBnPrjCcsLXk%3D"
    )
    query = parse_qs(urlsplit(url).query)
    assert query["sign"] == ["N5P09a4+p1AMJIJWnIvQd2Yxw9+fu/oEBnPrjCcsLXk="]
    assert dingtalk_url("https://robot.example/send?access_token=T", None, 1) == (
        "https://robot.example/send?access_token=T"
    )


def test_robot_text_is_cut_to_what_robots_accept_without_breaking_a_character():
    text = robot_text(outbox_row(subject="", body="空岗" * 2000))
    assert len(text.encode("utf-8")) <= ROBOT_TEXT_MAX_BYTES
    assert text.endswith("…") and text.startswith("空岗空岗")


def test_an_email_is_utf8_with_a_chinese_subject_from_the_configured_sender():
    settings = Settings(mail_from="hallwatch@hall.example")
    raw = email_message(outbox_row(), settings).as_bytes()
    parsed = message_from_bytes(raw, policy=default_policy)
    assert parsed["Subject"] == "【空岗】1号窗口"
    assert parsed["From"] == "hallwatch@hall.example"
    assert parsed.get_content().strip() == "1号窗口(民政局)空岗"
    assert raw.isascii()  # encoded for any mail server, decoded back above


def test_a_webhook_gets_the_alert_fields_plus_text():
    payload = {"id": 17, "kind": "empty_window", "window": "W01", "status": "open"}
    body = webhook_body(outbox_row(channel_kind="webhook", payload=payload))
    assert body["id"] == 17 and body["window"] == "W01"
    assert body["text"] == "1号窗口(民政局)空岗"


# --- settings ---------------------------------------------------------------------------


def test_smtp_url_is_taken_apart():
    target = Settings(
        smtp_url="smtp://mail%40hall:p%40ss@mail.example:2525?starttls=1"
    ).smtp_target()
    assert target is not None
    assert (target.host, target.port, target.starttls, target.implicit_tls) == (
        "mail.example",
        2525,
        True,
        False,
    )
    assert (target.username, target.password) == ("mail@hall", "p@ss")
    assert Settings(smtp_url="smtps://mail.example").smtp_target().port == 465
    assert Settings(smtp_url="smtp://mail.example").smtp_target().port == 25
    assert Settings().smtp_target() is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HALLWATCH_SMTP_URL": "http://mail.example"}, "HALLWATCH_SMTP_URL"),
        ({"HALLWATCH_SMTP_URL": "smtp://mail.example?tls=1"}, "HALLWATCH_SMTP_URL"),
        ({"HALLWATCH_SMTP_URL": "smtps://mail.example?starttls=1"}, "HALLWATCH_SMTP_URL"),
        ({"HALLWATCH_MAIL_FROM": "nobody"}, "HALLWATCH_MAIL_FROM"),
        ({"HALLWATCH_BASE_URL": "hall.example"}, "HALLWATCH_BASE_URL"),
        ({"HALLWATCH_RENOTIFY_MINUTES": "half an hour"}, "HALLWATCH_RENOTIFY_MINUTES"),
        ({"HALLWATCH_ESCALATE_MINUTES": "0"}, "HALLWATCH_ESCALATE_MINUTES"),
    ],
)
def test_bad_notification_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_a_bad_smtp_url_does_not_show_its_password():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"HALLWATCH_SMTP_URL": "smtp://u:hunter2@mail.example:99999"})
    assert "hunter2" not in str(caught.value)


def test_notification_settings_defaults_and_overrides():
    default = Settings.from_env({})
    assert (default.base_url, default.mail_from) == ("http://127.0.0.1:8080", "hallwatch@localhost")
    assert (default.renotify_minutes, default.escalate_after_minutes) == (30, 15)
    custom = Settings.from_env(
        {
            "HALLWATCH_BASE_URL": "https://hall.example/",
            "HALLWATCH_RENOTIFY_MINUTES": "45",
            "HALLWATCH_ESCALATE_MINUTES": "5",
        }
    )
    assert (custom.base_url, custom.renotify_minutes, custom.escalate_after_minutes) == (
        "https://hall.example",
        45,
        5,
    )
