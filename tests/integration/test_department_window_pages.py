"""The department and window pages on real services: content, a past day, scope and escaping.

民政局 (civil) has three windows and five people; yesterday is a working day whose
events are written at fixed hall times, so the past-day pages are exact.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from urllib.parse import quote

import pytest

from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport
from hallwatch.influx.eventstore import event_point
from hallwatch.registry.alerting import AlertRow
from tests.halls import HALL_TZ
from tests.helpers import hallwatch
from tests.web_helpers import app_for, basic

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
ALL_WEEK = "[mon, tue, wed, thu, fri, sat, sun]"
HALL_YAML = """
hall:
  name: 测试大厅
  timezone: {zone}
  hours: [["08:00", "12:00"], ["13:00", "18:00"]]
  holidays: none
  working_days: [{yesterday}, {today}]
  empty_grace_minutes: 10
  absent_grace_minutes: 15
departments:
  - {{id: civil, name: 民政局}}
  - {{id: tax, name: 税务局}}
windows:
  - {{id: W01, name: 1号窗口, department: civil, position: [1, 1]}}
  - {{id: W02, name: 2号窗口, department: civil, position: [1, 2]}}
  - {{id: W03, name: 3号窗口, department: tax, position: [1, 3]}}
  - {{id: W04, name: "{script}", department: civil}}
staff:
  - {{id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}}
  - {{id: s002, name: 李四, department: civil, badges: ["04A1B2C4"]}}
  - {{id: s003, name: 王五, department: tax, badges: ["04A1B2C5"]}}
  - {{id: s004, name: 钱七, department: civil, badges: ["04A1B2C6"]}}
  - {{id: s005, name: 孙八, department: civil, badges: ["04A1B2C7"]}}
  - {{id: s006, name: 周九, department: civil, badges: ["04A1B2C8"]}}
  - {{id: s007, name: "{script}", department: civil, badges: ["04A1B2C9"]}}
devices:
  - {{id: desk-w01-card, kind: badge_reader, window: W01}}
  - {{id: desk-w01-seat, kind: presence_sensor, window: W01}}
  - {{id: desk-w02-card, kind: badge_reader, window: W02}}
  - {{id: desk-w03-card, kind: badge_reader, window: W03}}
  - {{id: desk-w04-card, kind: badge_reader, window: W04}}
  - {{id: office-civil, kind: badge_reader, department: civil}}
roster:
  - {{staff: s001, window: W01, days: {week}}}
  - {{staff: s002, window: W02, days: {week}}}
  - {{staff: s003, window: W03, days: {week}}}
  - {{staff: s004, window: W02, days: {week}}}
  - {{staff: s005, window: W01, days: {week}}}
  - {{staff: s007, window: W04, days: {week}}}
leave:
  - {{staff: s005, from: "{yesterday}T00:00", until: "{yesterday}T23:59", reason: 培训}}
"""


@pytest.fixture
def hall(deployment, tmp_path):
    """The hall above, a civil department head, and yesterday's events and alerts."""
    today = datetime.now(HALL_TZ).date()
    yesterday = today - timedelta(days=1)
    hall_file = tmp_path / "pages.yaml"
    hall_file.write_text(
        HALL_YAML.format(
            today=today, yesterday=yesterday, script=SCRIPT, week=ALL_WEEK, zone=HALL_TZ.key
        ),
        encoding="utf-8",
    )
    hallwatch("import", str(hall_file), env=deployment)
    hallwatch(
        "user", "add", "civil", "--role", "dept_head", "--department", "civil",
        "--password", "pw-civil", env=deployment,
    )  # fmt: skip
    app = app_for(deployment)
    runtime = app.extensions["hallwatch"]

    def at(hhmm: str):
        return datetime.combine(yesterday, time.fromisoformat(hhmm), tzinfo=HALL_TZ)

    events = [
        DeviceStatus("desk-w01-seat", at("07:50"), True),
        BadgeRead("desk-w01-card", at("07:55"), "04A1B2C3"),  # 张三, on time
        PresenceReport("desk-w01-seat", at("08:55"), True),
        Heartbeat("desk-w01-seat", at("09:00"), extra={"battery": 87.0}),
        BadgeRead("desk-w02-card", at("09:20"), "04A1B2C4"),  # 李四, late
        PresenceReport("desk-w01-seat", at("10:00"), False),
        PresenceReport("desk-w01-seat", at("10:30"), True),
        BadgeRead("desk-w04-card", at("10:40"), "04A1B2C9"),
        BadgeRead("office-civil", at("15:00"), "04A1B2C4"),  # 李四 called back to the office
        BadgeRead("desk-w02-card", at("15:05"), "DEADBEEF"),  # nobody's card
    ]
    runtime.influx.write([event_point(e).to_line() for e in events])
    with runtime.sessions() as db:
        db.add_all(
            [
                _alert("absent:s002", "absent", "civil", at("08:15"), at("09:20"), "李四未签到"),
                _alert("empty_window:W03", "empty_window", "tax", at("11:00"), None, "3号窗口空岗"),
            ]
        )
        db.commit()
    return app, yesterday


def _alert(key, kind, department, opened, resolved, message) -> AlertRow:
    return AlertRow(
        key=key,
        kind=kind,
        window_id="W03" if kind == "empty_window" else "W02",
        department_id=department,
        staff_id="s002" if kind == "absent" else None,
        since=opened,
        opened_at=opened,
        resolved_at=resolved,
        resolution="signed_in" if resolved else None,
        message=message,
        created_at=opened,
    )


def get(app, path, user=("boss", "pw-boss"), status=200, **query):
    response = app.test_client().get(path, query_string=query, headers=basic(*user))
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response


def person(html: str, name: str) -> str:
    """The people-list entry of `name`."""
    return re.search(
        rf'<li class="person [a-z_]+">\s*<span class="who"><b>{name}</b>.*?</li>', html, re.S
    )[0]


def test_the_department_page_shows_its_windows_people_and_alerts(hall):
    app, yesterday = hall
    html = get(app, "/departments/civil", day=yesterday.isoformat()).get_data(as_text=True)
    assert "民政局" in html and "当日在岗时长" in html and "非办公时间" not in html
    assert "在岗 455 分钟,无人 30 分钟" in html  # 1号窗口: away 10 and empty 20 minutes
    assert f'href="/windows/W01?day={yesterday}"' in html and "3号窗口" not in html
    assert "已签到" in person(html, "张三") and "签到 07:55" in person(html, "张三")
    li_si = person(html, "李四")
    assert "被抽回" in li_si and "签到 09:20" in li_si and "晚 80 分钟" in li_si
    assert "15:00" in li_si
    assert "未签到" in person(html, "钱七")
    assert "请假" in person(html, "孙八")
    assert "当日无排班" in person(html, "周九")
    assert f'<a class="small" href="/windows/W02?day={yesterday}">2号窗口</a>' in li_si
    assert "李四未签到" in html and "已解除" in html
    assert "3号窗口空岗" not in html  # another department's alert
    assert f'href="/departments/civil?day={yesterday - timedelta(days=1)}"' in html


def test_today_shows_each_window_in_words_and_open_alerts_of_earlier_days(hall):
    app, _ = hall
    html = get(app, "/departments/tax").get_data(as_text=True)
    assert "当前状态" in html and 'href="/windows/W03"' in html
    card = re.search(r'<li class="card (\w+)">.*?</li>', html, re.S)
    assert (
        card
        and ("在岗", "暂离", "空岗", "非办公时间", "状态未知")[
            ("staffed", "away", "empty", "closed", "unknown").index(card[1])
        ]
        in card[0]
    )
    assert "3号窗口空岗" in html and "待确认" in html  # still open from yesterday
    assert "王五" in html


def test_the_window_page_draws_a_past_day(hall):
    app, yesterday = hall
    html = get(app, "/windows/W01", day=yesterday.isoformat()).get_data(as_text=True)
    titles = re.findall(r'<rect class="seg (\w+)"[^>]*><title>([^<]*)</title>', html)
    assert titles[:5] == [
        ("unknown", "状态未知 08:00–08:55"),
        ("staffed", "在岗 08:55–10:00"),
        ("away", "暂离 10:00–10:10"),
        ("empty", "空岗 10:10–10:30"),
        ("staffed", "在岗 10:30–12:00"),
    ]
    assert ("closed", "非办公时间 12:00–13:00") in titles
    assert re.search(r'<rect class="seg staffed" x="9\.167%" y="0" width="10\.833%"', html)
    for word in ("在岗", "暂离", "空岗", "非办公时间", "状态未知"):
        assert word in re.search(r'<ul class="legend">.*?</ul>', html, re.S)[0]
    start = datetime.combine(yesterday, time(8, 55), tzinfo=HALL_TZ).isoformat()
    assert f"/?at={quote(start, safe=':')}" in html  # replay at a segment's start
    assert "张三 · 签到" in html and "有人" in html and "无人" in html and "电量 87%" in html
    assert "孙八" in html and "请假 08:00–12:00, 13:00–18:00" in html
    devices = re.search(r'<section class="devices">.*?</section>', html, re.S)[0]
    seat = re.search(r"<tr><td>desk-w01-seat</td>.*?</tr>", devices, re.S)[0]
    assert "在位传感器" in seat and "87%" in seat and "device-state online" in seat
    reader = re.search(r"<tr><td>desk-w01-card</td>.*?</tr>", devices, re.S)[0]
    assert "读卡器" in reader and "07:55" in reader  # silent since: offline at the day's end
    assert "device-state offline" in reader
    assert f'href="/windows/W01?day={yesterday + timedelta(days=1)}"' in html


def test_the_window_page_lists_reads_of_its_people_elsewhere(hall):
    app, yesterday = hall
    html = get(app, "/windows/W02", day=yesterday.isoformat()).get_data(as_text=True)
    assert "office-civil" in html and "在本单位读卡" in html
    assert "未登记的卡 DEADBEEF" in html


def test_a_department_head_sees_only_their_department(hall):
    app, _ = hall
    head = ("civil", "pw-civil")
    response = get(app, "/departments", user=head, status=302)
    assert response.headers["Location"].endswith("/departments/civil")
    get(app, "/departments/tax", user=head, status=404)
    get(app, "/windows/W03", user=head, status=404)
    html = get(app, "/windows/W01", user=head).get_data(as_text=True)
    assert "1号窗口" in html
    assert "3号窗口空岗" not in get(app, "/departments/civil", user=head).get_data(as_text=True)


def test_a_hall_manager_lists_every_department_with_window_counts(hall):
    app, _ = hall
    html = get(app, "/departments").get_data(as_text=True)
    assert (
        'href="/departments/civil">民政局</a>' in html and 'href="/departments/tax">税务局' in html
    )
    civil = re.search(r'<tr>\s*<td class="dept"><a href="/departments/civil">.*?</tr>', html, re.S)[
        0
    ]
    assert re.findall(r'<td class="n[^"]*">(\d+)</td>', civil)[0] == "3"  # three windows
    assert sum(map(int, re.findall(r'<td class="n[^"]*">(\d+)</td>', civil)[1:])) == 3


def test_unknown_ids_and_bad_days(hall):
    app, _ = hall
    get(app, "/departments/nowhere", status=404)
    get(app, "/windows/W99", status=404)
    for path in ("/windows/W01", "/departments/civil"):
        html = get(app, path, status=400, day="2026-13-45").get_data(as_text=True)
        assert "日期格式不正确" in html and "2026-13-45" in html


def test_a_future_day_has_no_data_yet(hall):
    app, _ = hall
    tomorrow = datetime.now(HALL_TZ).date() + timedelta(days=1)
    html = get(app, "/windows/W01", day=tomorrow.isoformat()).get_data(as_text=True)
    assert "这一天还没有到来" in html and '<rect class="seg' not in html


def test_names_are_escaped_and_the_pages_keep_the_security_policy(hall):
    app, yesterday = hall
    for path in ("/departments/civil", "/windows/W04", "/departments"):
        response = get(app, path, day=yesterday.isoformat())
        html = response.get_data(as_text=True)
        assert SCRIPT not in html and "alert(1)</script>" not in html
        assert "<style" not in html and "style=" not in html
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
            assert " src=" in attributes and not body.strip()
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
    window = get(app, "/windows/W04", day=yesterday.isoformat()).get_data(as_text=True)
    assert f'<h1 class="page-title">{ESCAPED}' in window and f"{ESCAPED} · 签到" in window
    department = get(app, "/departments/civil", day=yesterday.isoformat()).get_data(as_text=True)
    assert f"<b>{ESCAPED}</b>" in department


def test_anonymous_visitors_log_in_first(hall):
    app, _ = hall
    for path in ("/departments/civil", "/windows/W01"):
        response = app.test_client().get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
