"""The monthly report page and the public ranking on real InfluxDB and a real registry database.

One working Monday of last month is written at fixed hall times (as the report API's test):
张三 signs in late at W01, 李四 signs in at W02 and is called back to the civil office, 王五
works W03 all day, 赵六 is on leave, and a department, a window and a person are all named
`<script>`. Every other weekday of the month the hall sent nothing ("unknown").
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import date, datetime, time, timedelta

import pytest

from console.services import free_port
from hallwatch.events import BadgeRead, DeviceStatus, PresenceReport
from hallwatch.influx.eventstore import event_point
from hallwatch.metrics.month import Month
from tests.helpers import SHANGHAI
from tests.integration.deployments import hall_deployment
from tests.web_helpers import app_for, basic

HALL_TZ = SHANGHAI  # the zone this module's hall file names

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PERSON = "<script>alert(8)</script>"
PERSON_ESCAPED = "&lt;script&gt;alert(8)&lt;/script&gt;"
HALL = """
hall:
  name: 测试大厅
  timezone: Asia/Shanghai
  hours: [["09:00", "12:00"], ["13:30", "17:30"]]
  holidays: none
  empty_grace_minutes: 10
  absent_grace_minutes: 15
departments:
  - {{id: civil, name: 民政局}}
  - {{id: tax, name: 税务局}}
  - {{id: xss, name: "{script}"}}
windows:
  - {{id: W01, name: 1号窗口, department: civil, position: [1, 1]}}
  - {{id: W02, name: 2号窗口, department: civil, position: [1, 2]}}
  - {{id: W03, name: 3号窗口, department: tax, position: [1, 3]}}
  - {{id: W04, name: "{script}", department: xss, position: [1, 4]}}
staff:
  - {{id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}}
  - {{id: s002, name: 李四, department: civil, badges: ["04A1B2C4"]}}
  - {{id: s003, name: 王五, department: tax, badges: ["04A1B2C5"]}}
  - {{id: s004, name: "{person}", department: xss, badges: ["04A1B2C6"]}}
  - {{id: s005, name: 赵六, department: civil, badges: ["04A1B2C7"]}}
  - {{id: s006, name: 钱七, department: tax, badges: ["04A1B2C8"]}}
devices:
  - {{id: desk-w01-card, kind: badge_reader, window: W01}}
  - {{id: desk-w01-seat, kind: presence_sensor, window: W01}}
  - {{id: desk-w02-card, kind: badge_reader, window: W02}}
  - {{id: desk-w03-card, kind: badge_reader, window: W03}}
  - {{id: desk-w04-card, kind: badge_reader, window: W04}}
  - {{id: office-civil, kind: badge_reader, department: civil}}
roster:
  - {{staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s002, window: W02, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s003, window: W03, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s004, window: W04, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s005, window: W02, days: [mon, tue, wed, thu, fri]}}
leave:
  - {{staff: s005, from: "{day}T00:00", until: "{day}T23:59", reason: 培训}}
"""
STAFF_NAMES = ["张三", "李四", "王五", PERSON, PERSON_ESCAPED, "赵六", "钱七"]
USERS = [
    ("boss", "hall_manager", "pw-boss", None),
    ("civil-head", "dept_head", "pw-civil", "civil"),
    ("inspector", "inspector", "pw-inspector", None),
]
HREF = re.compile(r'href="([^"#]*)(#[^"]*)?"')


def last_months_first_monday() -> date:
    first = Month.of(datetime.now(HALL_TZ).date()).previous().first
    return first + timedelta(days=(7 - first.weekday()) % 7)


DAY = last_months_first_monday()
MONTH = Month.of(DAY)


def at(hhmm: str) -> datetime:
    return datetime.combine(DAY, time.fromisoformat(hhmm), tzinfo=HALL_TZ)


EVENTS = [
    DeviceStatus("desk-w01-seat", at("08:00"), True),
    PresenceReport("desk-w01-seat", at("09:00"), True),
    BadgeRead("desk-w03-card", at("09:00"), "04A1B2C5"),  # 王五, on time
    BadgeRead("desk-w04-card", at("09:00"), "04A1B2C6"),  # <script>, on time
    BadgeRead("desk-w02-card", at("09:05"), "04A1B2C4"),  # 李四, late
    BadgeRead("desk-w01-card", at("09:20"), "04A1B2C3"),  # 张三, late beyond the grace
    PresenceReport("desk-w01-seat", at("10:00"), False),
    BadgeRead("office-civil", at("10:20"), "04A1B2C4"),  # 李四 called back, never to return
    PresenceReport("desk-w01-seat", at("10:30"), True),
]


@pytest.fixture(scope="module")
def env(influxd, tmp_path_factory):
    """One deployment for the module: the tests only read, and last month does not change."""
    home = tmp_path_factory.mktemp("report-page")
    hall_yaml = HALL.format(script=SCRIPT, person=PERSON, day=DAY)
    lines = [event_point(e).to_line() for e in EVENTS]
    with hall_deployment(influxd.url, home, hall_yaml, USERS, lines) as (env, _):
        yield env


@pytest.fixture(scope="module")
def app(env):
    """One app for the whole module, on its read-only `env` (the shared one is per test)."""
    return app_for(env)


def get(app, path, user=("boss", "pw-boss"), status=200, **query):
    headers = basic(*user) if user else {}
    response = app.test_client().get(path, query_string=query, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return response


def page(app, user=("boss", "pw-boss"), status=200, **query) -> str:
    return get(app, "/reports", user, status, **query).get_data(as_text=True)


def ranking_rows(html: str) -> list[tuple[str, str, str]]:
    """(rank, department, staffed %) of each row of the ranking table."""
    table = re.search(r'<table class="report ranking-table">.*?</table>', html, re.S)[0]
    rows = re.findall(
        r'<td class="n">([^<]+)</td>\s*<td class="name"><a [^>]+>([^<]+)</a></td>\s*'
        r'<td class="n">([^<]+)</td>',
        table,
    )
    return [(rank, html_lib.unescape(name), pct) for rank, name, pct in rows]


def calendar_row(html: str, staff: str) -> list[tuple[str, str | None]]:
    """(mark, link) of each day of a person's calendar row."""
    row = re.search(rf'<tr id="staff-{staff}">.*?</tr>', html, re.S)[0]
    cells = re.findall(r'<td class="m ([a-z_]+)[^"]*"[^>]*>(?:<a href="([^"]+)">)?', row)
    return [(mark, html_lib.unescape(link) if link else None) for mark, link in cells]


def api_ranking(app, user=("boss", "pw-boss")) -> list[dict]:
    return get(app, "/api/reports/departments", user, month=str(MONTH)).get_json()


def test_the_report_ranks_the_departments_as_the_api_does_and_explains_the_rule(app):
    html = page(app, month=str(MONTH))
    expected = [
        (str(r["rank"]) if r["rank"] else "未排名", r["name"], f"{r['staffed_ratio'] * 100:.1f}%")
        for r in api_ranking(app)
    ]
    assert ranking_rows(html) == expected
    assert [name for _, name, _ in expected][-1] == "民政局"  # 李四 left W02 empty all afternoon
    assert "排名规则" in html and "名次并列" in html
    month_text = f"{MONTH.year}年{MONTH.month}月"
    assert month_text in html


def test_the_report_shows_coverage_and_lists_the_days_nothing_was_collected(app):
    html = page(app, month=str(MONTH))
    table = re.search(r'<table class="report ranking-table">.*?</table>', html, re.S)[0]
    assert "<th>数据覆盖率</th>" in table
    assert "覆盖率低于 95% 的部门不参与排名" in html
    # Only one Monday of the month has events: the month's other working days are listed.
    section = re.search(r'<section class="coverage" id="coverage">.*?</section>', html, re.S)[0]
    assert "系统未采集数据的工作日" in section
    assert f"{DAY.month}月{DAY.day + 1}日" in section and f"{DAY.month}月{DAY.day}日" not in section


def test_the_report_draws_both_charts_worst_window_first(app):
    html = page(app, month=str(MONTH))
    ratio_chart, empty_chart = re.findall(r'<svg class="bars".*?</svg>', html, re.S)
    assert 'aria-label="各部门在岗率"' in ratio_chart and "100.0%" in ratio_chart
    assert ratio_chart.count('class="bar ratio"') == 3
    start, end = bounds()
    windows = get(app, "/api/reports/windows", **{"from": start, "to": end}).get_json()
    worst = max(windows, key=lambda w: w["empty_minutes"])
    assert worst["window"] == "W02"
    labels = re.findall(r'<text class="label"[^>]*>([^<]+)</text>', empty_chart)
    assert labels[0] == "2号窗口" and "3号窗口" not in labels  # never empty: not charted
    assert f"{worst['empty_minutes']:g} 分钟" in empty_chart


def bounds() -> tuple[str, str]:
    start = datetime.combine(MONTH.first, time(0), tzinfo=HALL_TZ)
    end = datetime.combine(MONTH.next().first, time(0), tzinfo=HALL_TZ)
    return start.isoformat(), end.isoformat()


def test_the_calendar_marks_each_persons_days_in_words_and_links_the_windows_day(app):
    html = page(app, month=str(MONTH))
    index = DAY.day - 1
    zhang = calendar_row(html, "s001")
    assert len(zhang) == len(MONTH.days())
    assert zhang[index] == ("absent", f"/windows/W01?day={DAY}")  # late past the grace
    assert calendar_row(html, "s002")[index] == ("pulled_back", f"/windows/W02?day={DAY}")
    assert calendar_row(html, "s003")[index][0] == "normal"
    assert calendar_row(html, "s005")[index][0] == "leave"
    assert {mark for mark, _ in calendar_row(html, "s006")} == {"no_duty"}  # no roster
    tuesday = zhang[index + 1]
    assert tuesday[0] == "unknown"  # a weekday the hall sent nothing
    saturday = (5 - MONTH.first.weekday()) % 7  # the month's first Saturday
    assert zhang[saturday] == ("no_duty", None)
    # Not by colour alone: an icon and a title in words in each cell, and a legend.
    cell = re.search(r'<tr id="staff-s002">.*?(<td class="m pulled_back[^>]*>.*?</td>)', html, re.S)
    assert "↩" in cell[1] and "被抽回" in cell[1] and "2号窗口" in cell[1]
    for word in ("正常在岗", "迟到", "未签到", "被抽回", "请假", "无数据", "无排班"):
        assert word in re.search(r'<ul class="legend">.*?</ul>', html, re.S)[0]


def test_the_report_offers_the_month_as_files_and_the_months_around_it(app):
    html = page(app, month=str(MONTH))
    assert f'href="/reports/{MONTH}.xlsx"' in html and f'href="/reports/{MONTH}.csv"' in html
    assert f'href="/reports?month={MONTH.previous()}"' in html
    assert f'href="/reports?month={MONTH.next()}"' in html
    this_month = page(app)  # the default: this month, which has no next one yet
    this = Month.of(datetime.now(HALL_TZ).date())
    assert f'value="{this}"' in this_month and f"month={this.next()}" not in this_month


def test_a_department_head_sees_only_their_department_with_its_hall_rank(app):
    civil_head = ("civil-head", "pw-civil")
    html = page(app, civil_head, month=str(MONTH))
    [(rank, name, _pct)] = ranking_rows(html)
    hall_rank = next(r["rank"] for r in api_ranking(app) if r["department"] == "civil")
    assert (rank, name) == (str(hall_rank), "民政局") and hall_rank == 3
    for other in ("税务局", "王五", "钱七", "3号窗口", ESCAPED, "W03", "W04"):
        assert other not in html, other
    assert 'id="staff-s001"' in html and 'id="staff-s005"' in html
    page(app, civil_head, status=404, month=str(MONTH), department="tax")


def test_names_are_escaped_everywhere(app):
    for html in (page(app, month=str(MONTH)), page(app, month=str(MONTH), department="xss")):
        assert "<script" not in html
        assert ESCAPED in html and PERSON_ESCAPED in html
        assert f'<th class="who">{PERSON_ESCAPED}</th>' in html  # the calendar row
        assert f'<a href="/windows/W04?day={MONTH.last}">{ESCAPED}</a>' in html  # the window
    public = get(app, "/public/ranking", user=None).get_data(as_text=True)
    assert "<script" not in public and f'<td class="name">{ESCAPED}</td>' in public


@pytest.mark.parametrize(
    ("month", "says"),
    [
        ("2026-13", "月份格式不正确"),
        ("<b>11</b>", "&lt;b&gt;11&lt;/b&gt;"),
        ("1999-12", "月份不能早于 2000-01"),
        ("2999-01", "月份不能晚于"),
    ],
)
def test_a_bad_month_is_a_400_that_shows_it_back(app, month, says):
    html = page(app, status=400, month=month)
    assert says in html and 'role="alert"' in html
    assert "<b>11</b>" not in html


def test_a_month_without_data_says_so_and_ranks_nobody(app):
    empty = MONTH.previous().previous()
    html = page(app, month=str(empty))
    assert "这个月没有采集到任何设备数据" in html
    assert {rank for rank, _, _ in ranking_rows(html)} == {"未排名"}
    assert "本月没有空岗记录" in html


STORE_DOWN = "event store unavailable: details are in the server's log"  # to a department head


def test_the_event_store_down_is_a_503_with_a_message(env):
    down = {**env, "HALLWATCH_INFLUX_URL": f"http://127.0.0.1:{free_port()}"}
    app = app_for(down)
    html = page(app, status=503)  # this month: today is always read from InfluxDB
    assert "事件库不可用" in html and "Traceback" not in html
    assert "127.0.0.1" in html  # the hall manager may read operations: the detail helps them
    # A department head is told it is unavailable, not where InfluxDB lives or what it said.
    head = page(app, user=("civil-head", "pw-civil"), status=503)
    assert "事件库不可用" in head and "详情已记入服务器日志" in head
    assert "127.0.0.1" not in head and "8086" not in head
    this_month = str(Month.of(datetime.now(HALL_TZ).date()))  # today is read from InfluxDB
    api = get(app, "/api/reports/departments", ("civil-head", "pw-civil"), 503, month=this_month)
    assert api.get_json() == {"error": STORE_DOWN}


def test_every_kind_of_page_answers_the_event_store_down_with_a_503(env):
    """One error handler: a download in plain text, a day's page in its own frame."""
    app = app_for({**env, "HALLWATCH_INFLUX_URL": f"http://127.0.0.1:{free_port()}"})
    head = ("civil-head", "pw-civil")
    this_month = str(Month.of(datetime.now(HALL_TZ).date()))
    csv = get(app, f"/reports/{this_month}.csv", head, 503)
    assert csv.mimetype == "text/plain"
    assert csv.get_data(as_text=True) == STORE_DOWN + "\n"
    for path, title in (("/windows/W01", "1号窗口"), ("/departments/civil", "民政局")):
        html = get(app, path, head, 503).get_data(as_text=True)
        assert f"<title>{title} · " in html and "事件库不可用:详情已记入服务器日志" in html
    live = get(app, "/api/live", head, 503).get_json()
    assert live == {"error": STORE_DOWN}


def test_every_drill_down_link_of_the_report_answers(app):
    html = page(app, month=str(MONTH))
    main = html[html.index("<main>") :]
    links = {html_lib.unescape(m[1]) for m in HREF.finditer(main)}
    links = {link for link in links if link.startswith(("/windows/", "/departments/", "/reports?"))}
    assert any(link.startswith(f"/windows/W01?day={DAY}") for link in links)
    assert f"/reports?month={MONTH}&department=civil" in links
    assert f"/departments/civil?day={MONTH.last}" in links
    client = app.test_client()
    for link in sorted(links):
        response = client.get(link, headers=basic("boss", "pw-boss"))
        assert response.status_code == 200, (link, response.get_data(as_text=True)[:500])
    # A person in the list of those to watch leads to their row of the calendar.
    watch = re.search(r'<section class="attention">.*?</section>', html, re.S)[0]
    href = html_lib.unescape(re.search(r'href="([^"]+#staff-s002)"', watch)[1])
    target = client.get(href.split("#")[0], headers=basic("boss", "pw-boss"))
    assert target.status_code == 200 and 'id="staff-s002"' in target.get_data(as_text=True)


def test_the_public_ranking_shows_last_month_without_any_person(app):
    response = get(app, "/public/ranking", user=None)
    html = response.get_data(as_text=True)
    assert f"{MONTH.year}年{MONTH.month}月" in html
    rows = re.findall(r'<td class="n">([^<]+)</td>\s*<td class="name">([^<]+)</td>', html)
    expected = [(str(r["rank"]), r["name"]) for r in api_ranking(app)]
    assert [(rank, html_lib.unescape(name)) for rank, name in rows] == expected
    for name in STAFF_NAMES:
        assert name not in html, name
    for user, _role, _password, _department in USERS:
        assert user not in html, user
    assert "未签到次数</th>" not in html and "被抽回次数</th>" not in html
    assert "数据覆盖率</th>" in html and "系统未采集数据的工作日" in html
    assert f"/public/ranking.csv?month={MONTH}" in html
    assert response.headers["Cache-Control"] in ("public, max-age=300", "max-age=300, public")
    again = app.test_client().get(
        "/public/ranking", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_a_logged_in_visitor_of_the_public_ranking_is_not_named_nor_cached_for_others(app):
    client = app.test_client()
    response = client.get("/public/ranking", headers=basic("boss", "pw-boss"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "boss" not in html and "退出" not in html
    # A browser with a session cookie: only its own cache may keep the page.
    client.get("/public/ranking?lang=zh")
    cookied = client.get("/public/ranking")
    assert "private" in cookied.headers["Cache-Control"]


@pytest.mark.parametrize("month", ["this", "older", "bad"])
def test_the_public_ranking_shows_only_ended_months_of_the_last_two_years(app, month):
    this = Month.of(datetime.now(HALL_TZ).date())
    text = {"this": str(this), "older": str(this.plus(-25)), "bad": "soon"}[month]
    response = get(app, "/public/ranking", user=None, status=400, month=text)
    assert "no-store" in response.headers["Cache-Control"]


def test_the_public_ranking_can_be_switched_off(env):
    app = app_for({**env, "HALLWATCH_PUBLIC_RANKING": "off"})
    get(app, "/public/ranking", user=None, status=404)
    assert (
        app_for({**env, "HALLWATCH_PUBLIC_RANKING": "1"})
        .test_client()
        .get("/public/ranking")
        .status_code
        == 200
    )


def test_the_report_needs_a_login_and_lives_in_the_menu(app):
    anonymous = app.test_client().get("/reports")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert 'href="/reports">报表</a>' in page(app, month=str(MONTH))
