"""The floor view `/` on real services: language, grid order, replay, scope, and escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hallwatch.events import BadgeRead, PresenceReport
from hallwatch.influx.eventstore import event_point
from tests.halls import HALL_TZ
from tests.helpers import hallwatch
from tests.web_helpers import app_for, basic

STATE_WORDS = ("在岗", "暂离", "空岗", "非办公时间", "状态未知")
SCRIPT = "<script>alert(1)</script>"
XSS_YAML = """
hall:
  name: 测试大厅
  timezone: {zone}
  hours: [["00:00", "23:59"]]
  holidays: none
  working_days: [{today}]
departments:
  - {{id: civil, name: 民政局}}
windows:
  - {{id: W09, name: "{script}", department: civil, position: [1, 1]}}
staff:
  - {{id: s009, name: "{script}", department: civil, badges: ["0409"]}}
devices:
  - {{id: desk-w09-card, kind: badge_reader, window: W09}}
  - {{id: desk-w09-seat, kind: presence_sensor, window: W09}}
roster:
  - {{staff: s009, window: W09, days: [mon, tue, wed, thu, fri, sat, sun]}}
"""


def page(app, path="/", user=("boss", "pw-boss"), **query):
    response = app.test_client().get(path, query_string=query, headers=basic(*user))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def cards(html: str) -> list[str]:
    """The window names on the page, in document order."""
    return re.findall(r'<h3 class="name"><a href="/windows/[^"]*">([^<]*)</a></h3>', html)


def test_the_floor_is_chinese_first_with_every_state_word(app):
    html = page(app).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    for word in STATE_WORDS:
        assert word in html
    assert "状态未知" in re.search(r'<article class="win unknown".*?</article>', html, re.S)[0]
    assert "当前时刻" in html and "English" in html


def test_english_is_switched_on_and_kept_in_the_session(client):
    english = client.get("/?lang=en", headers=basic("boss", "pw-boss")).get_data(as_text=True)
    assert '<html lang="en">' in english
    for word in ("Staffed", "Away", "Empty", "Closed", "Unknown", "Open alerts"):
        assert word in english
    assert "在岗" not in english and "中文" in english
    again = client.get("/", headers=basic("boss", "pw-boss")).get_data(as_text=True)
    assert "Staffed" in again  # no ?lang this time: the session remembers
    back = client.get("/?lang=zh", headers=basic("boss", "pw-boss")).get_data(as_text=True)
    assert "在岗" in back


def test_windows_follow_their_positions(app):
    html = page(app).get_data(as_text=True)
    assert cards(html) == ["1号窗口", "2号窗口", "3号窗口"]
    assert 'data-row="1" data-col="3"' in html
    assert 'id="unplaced-title" hidden' in html  # every window of this hall has a position


def test_a_past_instant_is_replayed_without_auto_update(app):
    at = datetime.now(HALL_TZ).replace(hour=10, minute=20, second=0, microsecond=0)
    html = page(app, at=at.isoformat()).get_data(as_text=True)
    assert "回放时刻" in html and "10:20" in html
    assert '"replay": true' in html.replace("&#34;", '"')
    assert 'value="620"' in html  # the slider stands at 10:20
    live = page(app, "/").get_data(as_text=True)
    assert '"replay": false' in live.replace("&#34;", '"')


def test_a_signed_in_worker_shows_with_the_time_of_sign_in(app):
    runtime = app.extensions["hallwatch"]
    signed = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    events = [
        BadgeRead("desk-w01-card", signed, "04A1B2C3"),
        PresenceReport("desk-w01-seat", signed, True),
    ]
    runtime.influx.write([event_point(e).to_line() for e in events])
    hm = signed.astimezone(HALL_TZ).strftime("%H:%M")
    html = page(app, at=(signed + timedelta(minutes=5)).isoformat()).get_data(as_text=True)
    card = re.search(r'<article class="win staffed".*?</article>', html, re.S)
    assert card and "1号窗口" in card[0] and "张三" in card[0] and hm in card[0]
    assert "在岗" in card[0]


def test_a_department_head_sees_only_their_windows(app):
    html = page(app, user=("tax", "pw-tax")).get_data(as_text=True)
    assert cards(html) == ["3号窗口"]
    assert "1号窗口" not in html and "张三" not in html  # not even in the script's name list


def test_anonymous_visitors_are_sent_to_the_login(app):
    response = app.test_client().get("/?at=2026-01-05T10:00")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_security_headers_on_every_page(app):
    for response in (app.test_client().get("/login"), page(app)):
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        html = response.get_data(as_text=True)
        assert "<style" not in html and "style=" not in html
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
            assert " src=" in attributes and not body.strip()  # no inline script


def test_names_are_escaped_everywhere(deployment, tmp_path):
    hall_file = tmp_path / "xss.yaml"
    hall_file.write_text(
        XSS_YAML.format(today=datetime.now(HALL_TZ).date(), script=SCRIPT, zone=HALL_TZ.key),
        encoding="utf-8",
    )
    hallwatch("import", str(hall_file), env=deployment)
    app = app_for(deployment)
    now = datetime.now(UTC) - timedelta(minutes=1)
    app.extensions["hallwatch"].influx.write(
        [event_point(BadgeRead("desk-w09-card", now, "0409")).to_line()]
    )
    response = page(app, at=datetime.now(UTC).isoformat())
    html = response.get_data(as_text=True)
    assert SCRIPT not in html
    assert "<script>" not in html and "alert(1)</script>" not in html
    assert '">&lt;script&gt;alert(1)&lt;/script&gt;</a></h3>' in html
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt; <span" in html  # signed in
    assert response.headers["Content-Security-Policy"] == "default-src 'self'"
