"""The operations pages /ops/… on real services: devices, rejected messages, unknown
cards, the registry upload and the users, with who may do what, and escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import select

from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport, Rejection
from hallwatch.influx.eventstore import event_point, rejection_point
from hallwatch.registry.models import UserRow
from hallwatch.registry.users import (
    UserChangeRefused,
    add_user,
    authenticate,
    delete_user,
)
from tests.halls import HALL_TZ, HALL_YAML
from tests.integration.ops_pages import (
    ADMIN,
    INSPECTOR,
    MANAGER,
    ops_app,
    post,
    registry_of,
    upload,
)
from tests.web_helpers import basic, confirm_preview

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
DEPT_HEAD = ("tax", "pw-tax")


@pytest.fixture
def app(deployment):
    """The deployment's app with an admin and an inspector besides the manager and tax head."""
    return ops_app(deployment)


def get(app, path, user=MANAGER, status=200, **query):
    response = app.test_client().get(path, query_string=query, headers=basic(*user))
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def write(app, *events) -> None:
    app.extensions["hallwatch"].influx.write([event_point(e).to_line() for e in events])


def user_id(app, name: str) -> int:
    with app.extensions["hallwatch"].sessions() as db:
        return db.scalar(select(UserRow.id).where(UserRow.username == name))


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


# --- registry upload -----------------------------------------------------------------------


def hall_yaml(extra_window: str = "", window_name: str = "4号窗口") -> bytes:
    text = HALL_YAML.format(today=datetime.now(HALL_TZ).date())
    if extra_window:
        text = text.replace(
            "staff:\n",
            f'  - {{id: {extra_window}, name: "{window_name}", department: tax}}\nstaff:\n',
        )
    return text.encode()


def test_the_registry_page_summarises_and_a_good_file_is_imported(app):
    html = get(app, "/ops/registry")
    summary = re.search(r'<section class="ops-summary".*?</section>', html, re.S)[0]
    assert "测试大厅" in summary and "00:00–23:59" in summary and HALL_TZ.key in summary
    counts = dict(re.findall(r'<li class="count">(\S+) <b>(\d+)</b>', summary))
    assert counts == {
        "部门": "2",
        "窗口": "3",
        "人员": "3",
        "工卡": "3",
        "设备": "5",
        "排班": "3",
        "请假": "0",
    }
    assert "尚未导入名册" not in summary and "前" in summary  # the last change, how long ago

    response = upload(app, hall_yaml("W04"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/ops/registry")
    assert "W04" in registry_of(app).window_by_id
    client = app.test_client()
    uploaded = client.post(
        "/ops/registry",
        data={"file": (BytesIO(hall_yaml("W05")), "hall.yml")},
        headers=basic(*MANAGER),
        content_type="multipart/form-data",
    )
    preview = uploaded.headers["Location"]  # nothing applied yet: first what it would do
    assert "/ops/registry/preview/" in preview and "W05" not in registry_of(app).window_by_id
    shown = client.get(preview, headers=basic(*MANAGER)).get_data(as_text=True)
    assert re.search(r"新增</th><td>窗口</td><td><code>W05 \(4号窗口\)</code>", shown)
    assert re.search(r"停用</th><td>窗口</td><td><code>W04 \(4号窗口\)</code>", shown)
    assert confirm_preview(client, preview, basic(*MANAGER)).status_code == 302
    after = client.get("/ops/registry", headers=basic(*MANAGER)).get_data(as_text=True)
    assert "名册已导入:2 处变更。" in after  # W04 retired, W05 added
    imported = re.search(r'<section class="ops-imported".*?</section>', after, re.S)[0]
    windows = re.search(r"<th scope=\"row\">窗口</th>(.*?)</tr>", imported, re.S)[1]
    assert re.findall(r">(\d+)<", windows) == ["1", "0", "0", "1", "3"]  # added … unchanged
    # Shown once: the next visit has only the summary.
    assert "ops-imported" not in client.get("/ops/registry", headers=basic(*MANAGER)).get_data(
        as_text=True
    )


BAD_YAML = """
hall: {name: 坏大厅, timezone: Asia/Shanghai}
departments:
  - {id: civil, name: 民政局}
windows:
  - {id: W01, name: 1号窗口, department: nowhere}
  - {id: W02, name: 2号窗口, department: civil, colour: red}
"""


def test_a_bad_file_is_refused_whole_with_every_problem_by_entry_and_key(app):
    before = registry_of(app)
    response = upload(app, BAD_YAML.encode())
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "文件被拒收,名册未做任何更改" in html
    problems = re.findall(
        r"<tr><td><code>([^<]*)</code></td><td>(?:<code>([^<]*)</code>)?</td><td>([^<]*)</td></tr>",
        html,
    )
    assert ("windows[0] (id W01)", "department", problems[0][2]) == problems[0]
    assert "nowhere" in problems[0][2]
    assert ("windows[1] (id W02)", "colour") == problems[1][:2]
    assert registry_of(app) == before  # nothing changed
    assert "测试大厅" in html  # the summary is still the old registry


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"hall: [", "hall.yaml", "YAML syntax error"),
        (b"\xff\xfehall:", "hall.yaml", "文件不是 UTF-8 编码的文本"),
        (None, "hall.yaml", "文件太大:最大 2 MiB"),
        (b"hall: {}", "hall.txt", "只接受 .yaml 或 .yml 文件"),
    ],
    ids=["not-yaml", "not-utf8", "too-big", "wrong-extension"],
)
def test_unusable_uploads_are_refused_with_a_clear_error(app, content, filename, message):
    content = content if content is not None else b"#" * (2 * 1024 * 1024 + 1)
    before = registry_of(app)
    response = upload(app, content, filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert registry_of(app) == before


def test_an_upload_without_a_file_asks_for_one(app):
    response = post(app, "/ops/registry", {}, user=MANAGER, content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择要上传的名册文件" in response.get_data(
        as_text=True
    )


def test_inspectors_may_not_upload(app):
    get(app, "/ops/registry", user=INSPECTOR, status=403)
    assert upload(app, hall_yaml("W04"), user=INSPECTOR).status_code == 403
    assert "W04" not in registry_of(app).window_by_id


# --- users ---------------------------------------------------------------------------------


def test_the_users_page_lists_roles_departments_and_channels(app):
    from alerts.channels import add_channel

    with app.extensions["hallwatch"].sessions() as db:
        add_channel(
            db, "tax", "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=T0K", "s"
        )
        add_channel(db, "tax", "email", "tax@example.org")
        db.commit()
    html = get(app, "/ops/users", user=ADMIN)
    row = re.search(r'<tr id="user-\d+">\s*<td>tax</td>.*?</tr>', html, re.S)[0]
    assert "部门负责人" in row and "税务局" in row
    assert "钉钉" in row and "oapi.dingtalk.com" in row and "T0K" not in row  # no tokens shown
    assert "tax@example.org" in row and "已签名" in row
    boss = re.search(r'<tr id="user-\d+">\s*<td>boss</td>.*?</tr>', html, re.S)[0]
    assert "大厅负责人" in boss
    me = re.search(r'<tr id="user-\d+">\s*<td>root <span.*?</tr>', html, re.S)[0]
    assert "管理员" in me and "确认删除" not in me  # no delete button for oneself


def test_adding_a_user(app):
    form = {
        "username": "clerk",
        "password": "long-enough",
        "confirm": "long-enough",
        "role": "dept_head",
        "department": "civil",
    }
    client = app.test_client()
    response = client.post("/ops/users", data=form, headers=basic(*ADMIN), follow_redirects=True)
    assert response.status_code == 200 and "已添加用户 clerk" in response.get_data(as_text=True)
    with app.extensions["hallwatch"].sessions() as db:
        user = authenticate(db, "clerk", "long-enough")
        assert (user.role, user.department_id) == ("dept_head", "civil")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": ""}, "username", "请输入用户名"),
        ({"username": "boss"}, "username", "该用户名已存在"),
        ({"username": " padded"}, "username", "首尾不能有空格"),
        ({"confirm": "something-else"}, "confirm", "两次输入的密码不一致"),
        ({"password": "short", "confirm": "short"}, "password", "密码至少 8 个字符"),
        ({"role": "dept_head", "department": ""}, "department", "部门负责人必须选择所属部门"),
        ({"role": "inspector", "department": "civil"}, "department", "只有部门负责人属于某个部门"),
        ({"role": "emperor"}, "role", "不是有效的选择"),
    ],
)
def test_a_bad_new_user_is_shown_back_per_field(app, changes, field, message):
    form = {
        "username": "newbie",
        "password": "long-enough",
        "confirm": "long-enough",
        "role": "inspector",
        "department": "",
    } | changes
    response = post(app, "/ops/users", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    add = re.search(r'<section class="ops-add".*?</section>', html, re.S)[0]
    errors = re.search(rf'id="new-{field}".*?(?=<p><label|<p class="small">)', add, re.S)[0]
    assert message in errors, errors
    if form["username"].strip():
        assert f'value="{form["username"]}"' in add  # what was typed is kept
    with app.extensions["hallwatch"].sessions() as db:
        assert authenticate(db, "newbie", "long-enough") is None


def test_changing_a_role_and_resetting_a_password(app):
    boss = user_id(app, "boss")
    form = {"role": "dept_head", "department": "tax", "password": "", "confirm": ""}
    assert post(app, f"/ops/users/{boss}", form).status_code == 302
    with app.extensions["hallwatch"].sessions() as db:
        user = authenticate(db, *MANAGER)  # the password is unchanged
        assert (user.role, user.department_id) == ("dept_head", "tax")
    form = {
        "role": "hall_manager",
        "department": "",
        "password": "new-secret",
        "confirm": "new-secret",
    }
    assert post(app, f"/ops/users/{boss}", form).status_code == 302
    with app.extensions["hallwatch"].sessions() as db:
        assert authenticate(db, *MANAGER) is None
        assert authenticate(db, "boss", "new-secret").role == "hall_manager"
    bad = post(app, f"/ops/users/{boss}", {"role": "dept_head", "department": ""})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "部门负责人必须选择所属部门" in html
    assert re.search(rf'<tr id="user-{boss}">.*?<details open>', html, re.S)  # the form stays open
    assert post(app, "/ops/users/99999", form).status_code == 404


def test_an_admin_cannot_delete_or_demote_themselves(app):
    me = user_id(app, "root")
    response = post(app, f"/ops/users/{me}/delete", {})
    assert response.status_code == 400 and "不能删除自己" in response.get_data(as_text=True)
    demote = post(app, f"/ops/users/{me}", {"role": "inspector", "department": ""})
    assert demote.status_code == 400 and "不能更改自己的角色" in demote.get_data(as_text=True)
    with app.extensions["hallwatch"].sessions() as db:
        assert db.get(UserRow, me).role == "admin"


def test_deleting_a_user_and_never_the_last_admin(app):
    tax = user_id(app, "tax")
    assert post(app, f"/ops/users/{tax}/delete", {}).status_code == 302
    assert user_id(app, "tax") is None
    assert post(app, f"/ops/users/{tax}/delete", {}).status_code == 404
    # Through the pages an admin is always left (the one acting); the rule itself holds too.
    with app.extensions["hallwatch"].sessions() as db:
        with pytest.raises(UserChangeRefused) as refused:
            delete_user(db, user_id(app, "root"))
        assert refused.value.reason == "last_admin"
    second = {
        "username": "root2",
        "password": "pw-root2-xx",
        "confirm": "pw-root2-xx",
        "role": "admin",
        "department": "",
    }
    assert post(app, "/ops/users", second).status_code == 302
    assert (
        post(
            app, f"/ops/users/{user_id(app, 'root')}/delete", {}, user=("root2", "pw-root2-xx")
        ).status_code
        == 302
    )


def test_only_admins_manage_users(app):
    boss = user_id(app, "boss")
    new = {
        "username": "x1",
        "password": "long-enough",
        "confirm": "long-enough",
        "role": "inspector",
    }
    for user in (MANAGER, INSPECTOR):
        get(app, "/ops/users", user=user, status=403)
        assert post(app, "/ops/users", new, user=user).status_code == 403
        assert post(app, f"/ops/users/{boss}", {"role": "admin"}, user=user).status_code == 403
        assert post(app, f"/ops/users/{boss}/delete", {}, user=user).status_code == 403
    assert user_id(app, "x1") is None and user_id(app, "boss") == boss


def test_forms_need_the_csrf_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get("/ops/users", headers=basic(*ADMIN)).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    form = {
        "username": "clerk",
        "password": "long-enough",
        "confirm": "long-enough",
        "role": "inspector",
        "department": "",
    }
    assert client.post("/ops/users", data=form, headers=basic(*ADMIN)).status_code == 400
    assert user_id(app, "clerk") is None
    ok = client.post("/ops/users", data=form | {"csrf_token": token}, headers=basic(*ADMIN))
    assert ok.status_code == 302 and user_id(app, "clerk")


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
