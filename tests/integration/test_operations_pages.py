"""The operations pages /ops/… on real services: devices, rejected messages and unknown
cards, with who may read them, and escaping and the page rules on every operations page
(the registry page and the users page: test_operations_registry, test_operations_users)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport, Rejection
from hallwatch.influx.eventstore import event_point, rejection_point
from hallwatch.registry.users import add_user
from tests.halls import HALL_TZ
from tests.integration.ops_pages import (
    ADMIN,
    INSPECTOR,
    MANAGER,
    get,
    hall_yaml,
    ops_app,
    upload,
)
from tests.web_helpers import basic

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
DEPT_HEAD = ("tax", "pw-tax")


@pytest.fixture
def app(deployment):
    """The deployment's app with an admin and an inspector besides its manager and tax head,
    and CSRF off."""
    return ops_app(deployment)


def write(app, *events) -> None:
    app.extensions["hallwatch"].influx.write([event_point(e).to_line() for e in events])


def device_rows(html: str) -> list[tuple[str, str]]:
    """(state, device id) of each row of the devices table, in order."""
    return re.findall(r'<tr class="device (\w+)">\s*<td class="id"><code>([^<]*)</code>', html)


def assert_no_inline_script_or_style(html: str) -> None:
    assert "<style" not in html and "style=" not in html
    for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert " src=" in attributes and not body.strip()


# --- devices -------------------------------------------------------------------------------


def test_the_devices_page_puts_offline_devices_first_with_what_they_last_said(app):
    now = datetime.now(UTC)
    seen = (now - timedelta(minutes=2)).replace(microsecond=0)
    write(
        app,
        DeviceStatus("desk-w01-seat", seen - timedelta(minutes=1), True),
        PresenceReport("desk-w01-seat", seen, True),
        Heartbeat("desk-w01-seat", seen, extra={"battery": 88.0}),
        BadgeRead("desk-w01-card", seen, "04A1B2C3"),  # no status ever: recent, so online
        DeviceStatus("desk-w02-card", seen, False),
    )
    html = get(app, "/ops/devices")
    assert '<html lang="zh-CN">' in html and "设备" in html
    rows = device_rows(html)
    assert [state for state, _ in rows] == ["offline"] * 3 + ["online"] * 2
    assert {d for s, d in rows if s == "online"} == {"desk-w01-seat", "desk-w01-card"}
    assert [d for s, d in rows if s == "offline"] == [
        "desk-w02-card",
        "desk-w03-card",
        "office-civil",
    ]
    seat = re.search(
        r'<tr class="device online">\s*<td class="id"><code>desk-w01-seat.*?</tr>', html, re.S
    )[0]
    assert "88%" in seat and "有人" in seat and "在位传感器" in seat and "1号窗口" in seat
    assert seen.astimezone(HALL_TZ).strftime("%Y-%m-%d %H:%M:%S") in seat  # hall time
    assert "分钟前" in seat
    w02 = re.search(r"<code>desk-w02-card</code>.*?</tr>", html, re.S)[0]
    assert "离线" in w02 and "民政局" in w02
    office = re.search(r"<code>office-civil</code>.*?</tr>", html, re.S)[0]
    assert "民政局 办公室" in office and "从未上报" in office
    assert re.search(r"全部 <b>5</b>", html) and re.search(r"在线 <b>2</b>", html)
    assert re.search(r"离线 <b>3</b>", html)
    # The ingest box says what /healthz says.
    box = re.search(r'<section class="ops-health".*?</section>', html, re.S)[0]
    assert box.count('class="check ok"') == 3 and "数据库" in box and "MQTT" in box
    only_online = device_rows(get(app, "/ops/devices", state="online"))
    assert [d for _, d in only_online] == ["desk-w01-card", "desk-w01-seat"]  # registry order


def test_inspectors_read_the_operations_pages_but_department_heads_do_not(app):
    for path in ("/ops/devices", "/ops/rejected", "/ops/unknown-cards"):
        get(app, path, user=INSPECTOR)
        get(app, path, user=DEPT_HEAD, status=403)
    assert app.test_client().get("/ops/devices").status_code == 302  # to the login


# --- rejected messages ---------------------------------------------------------------------


def test_rejected_messages_newest_first_escaped_and_truncated(app):
    now = datetime.now(UTC)
    long_payload = ('{"note": "' + SCRIPT + "x" * 300 + '"}').encode()
    rejections = [
        Rejection(
            "hallwatch/devices/ghost/events", b"\xff\xfe", "not UTF-8", now - timedelta(hours=2)
        ),
        Rejection(
            f"zigbee2mqtt/{SCRIPT}",
            long_payload,
            f"unknown device {SCRIPT}",
            now - timedelta(minutes=5),
        ),
    ]
    app.extensions["hallwatch"].influx.write([rejection_point(r).to_line() for r in rejections])
    html = get(app, "/ops/rejected", user=INSPECTOR)
    assert SCRIPT not in html and ESCAPED in html
    rows = re.findall(r"<tr>\s*<td><time>.*?</tr>", html, re.S)
    assert len(rows) == 2
    assert "unknown device" in rows[0] and "not UTF-8" in rows[1]  # newest first
    assert "<details><summary>" in rows[0] and "x" * 300 in rows[0]  # the whole text, folded
    assert "base64" in rows[1] and "2 字节" in rows[1]
    recent = get(app, "/ops/rejected", hours="1")
    assert "unknown device" in recent and "not UTF-8" not in recent
    bad = get(app, "/ops/rejected", status=400, hours="lots")
    assert "回溯小时数必须是数字" in bad


# --- unknown cards -------------------------------------------------------------------------


def card_rows(html: str) -> list[tuple[str, str, str]]:
    """(hex, decimal, reader) of each row of the unknown-cards table, in order."""
    return re.findall(
        r'<tr class="card"[^>]*>\s*<td class="hex"><code>(\w+)</code></td>\s*'
        r'<td class="decimal"><code>(\d+)</code></td>\s*<td><code>([^<]*)</code>',
        html,
    )


def test_unknown_cards_grouped_in_hex_and_decimal_with_a_form_for_managers(app):
    now = datetime.now(UTC)
    write(
        app,
        BadgeRead("desk-w01-card", now - timedelta(minutes=30), "DEADBEEF"),
        BadgeRead("desk-w01-card", now - timedelta(minutes=10), "DEADBEEF"),
        BadgeRead("office-civil", now - timedelta(minutes=5), "DEADBEEF"),
        BadgeRead(SCRIPT, now - timedelta(minutes=3), "0BAD"),
        BadgeRead("desk-w03-card", now - timedelta(minutes=2), "C0FFEE"),
        # Stored without a holder, but the registry knows the card now: not unknown any more.
        BadgeRead("desk-w02-card", now - timedelta(minutes=1), "04A1B2C4"),
    )
    html = get(app, "/ops/unknown-cards")
    assert "04A1B2C4" not in html
    assert SCRIPT not in html and f"<code>{ESCAPED}</code>" in html
    assert card_rows(html) == [
        ("C0FFEE", "0012648430", "desk-w03-card"),
        ("0BAD", "0000002989", ESCAPED),
        ("DEADBEEF", "3735928559", "office-civil"),
        ("DEADBEEF", "3735928559", "desk-w01-card"),
    ]
    desk = re.search(
        r'<tr class="card" data-card="DEADBEEF" data-device="desk-w01-card">.*?</tr>', html, re.S
    )[0]
    assert '<td class="num">2</td>' in desk and "1号窗口" in desk
    first = (now - timedelta(minutes=30)).astimezone(HALL_TZ).strftime("%H:%M:%S")
    assert first in desk
    # A form per card, the reader's department first; the current registry to download.
    assert 'name="card" value="DEADBEEF"' in desk
    assert re.findall(r'<optgroup label="([^"]+)"', desk) == ["民政局", "税务局"]
    tax = re.search(r'data-card="C0FFEE".*?</tr>', html, re.S)[0]
    assert re.findall(r'<optgroup label="([^"]+)"', tax) == ["税务局", "民政局"]
    assert '<option value="s003">王五 · s003</option>' in tax
    assert "下载当前名册 (YAML)" in html and 'href="/ops/registry.yaml"' in html
    inspector = get(app, "/ops/unknown-cards", user=INSPECTOR)
    assert card_rows(inspector) == card_rows(html)  # the same cards, both numbers…
    assert 'name="staff"' not in inspector and "/ops/registry.yaml" not in inspector  # …no form


# --- escaping and the page rules -----------------------------------------------------------


def test_names_from_the_registry_and_users_are_escaped(app):
    text = hall_yaml("W09", SCRIPT).decode().replace("税务局", SCRIPT)
    text = text.replace(
        "devices:\n", "devices:\n  - {id: desk-w09-card, kind: badge_reader, window: W09}\n"
    )
    assert upload(app, text.encode()).status_code == 302
    with app.extensions["hallwatch"].sessions() as db:
        add_user(db, SCRIPT, "inspector", "whatever-pw")
        db.commit()
    devices = get(app, "/ops/devices")
    assert SCRIPT not in devices
    row = re.search(r"<code>desk-w09-card</code>.*?</tr>", devices, re.S)[0]
    assert row.count(ESCAPED) == 2  # the window's name and its department's
    users = get(app, "/ops/users", user=ADMIN)
    assert SCRIPT not in users
    assert f"<td>{ESCAPED}</td>" in users  # the user name
    assert f"<td>{ESCAPED}</td>" in re.search(r"<td>tax</td>.*?</tr>", users, re.S)[0]


def test_every_operations_page_is_chinese_without_inline_script_or_style(app):
    for path, user in (
        ("/ops/devices", MANAGER),
        ("/ops/rejected", MANAGER),
        ("/ops/unknown-cards", MANAGER),
        ("/ops/registry", MANAGER),
        ("/ops/users", ADMIN),
    ):
        response = app.test_client().get(path, headers=basic(*user))
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert '<html lang="zh-CN">' in html and "operations.css" in html
        assert_no_inline_script_or_style(html)
