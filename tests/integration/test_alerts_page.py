"""The alerts page `/alerts` on real services: filters, pages, acknowledging, roles, escaping."""

from __future__ import annotations

import html as html_lib
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from hallwatch.config import Settings
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.users import add_user
from tests.halls import HALL_TZ
from tests.web_helpers import app_for, basic
from web import create_app

BOSS, TAX, AUDIT = ("boss", "pw-boss"), ("tax", "pw-tax"), ("audit", "pw-audit")
SCRIPT = "<script>alert(1)</script>"
NOTE_MAX = 500
DEFAULT_DAYS = 7  # the page shows today and the six days before


@pytest.fixture
def app(deployment):
    """The deployment's app with an inspector besides the test hall's manager and tax head."""
    app = app_for(deployment)
    with app.extensions["hallwatch"].sessions() as db:
        add_user(db, "audit", "inspector", "pw-audit")
        db.commit()
    return app


@pytest.fixture
def basic_app(app, deployment):
    """The same deployment without CSRF checks: HTTP Basic posts, for the rules beyond them."""
    settings = Settings.from_env(
        {k: v for k, v in deployment.items() if k.startswith("HALLWATCH_")}
    )
    return create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})


def today() -> date:
    return datetime.now(HALL_TZ).date()


def noon(days_ago: int = 0, minutes: int = 0) -> datetime:
    """Noon in the hall `days_ago` days ago (plus `minutes`), as an aware instant."""
    day = today() - timedelta(days=days_ago)
    return datetime.combine(day, time(12), tzinfo=HALL_TZ) + timedelta(minutes=minutes)


def add_alert(app, kind="absent", opened=None, **fields) -> int:
    """An alert row written straight into the app's database; its id."""
    opened = opened or noon()
    values = {
        "window_id": "W03",
        "department_id": "tax",
        "staff_id": "s003",
        "since": opened - timedelta(minutes=15),
        "message": f"{kind} at {opened:%H:%M}",
        **fields,
    }
    row = AlertRow(
        key=f"{kind}:{uuid.uuid4().hex}",
        kind=kind,
        opened_at=opened,
        created_at=datetime.now(UTC),
        **values,
    )
    with app.extensions["hallwatch"].sessions() as db:
        db.add(row)
        db.commit()
        return row.id


def get(app, user=BOSS, expect=200, **query) -> str:
    response = app.test_client().get("/alerts", query_string=query, headers=basic(*user))
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def listed(page: str) -> list[int]:
    """The alert ids of the table, in order."""
    return [int(i) for i in re.findall(r'<tr data-alert-id="(\d+)"', page)]


def row_of(page: str, alert_id: int) -> str:
    found = re.search(rf'<tr data-alert-id="{alert_id}".*?</tr>', page, re.S)
    assert found, f"alert {alert_id} is not on the page"
    return found[0]


def stored(app, alert_id: int) -> AlertRow:
    with app.extensions["hallwatch"].sessions() as db:
        return db.scalars(select(AlertRow).where(AlertRow.id == alert_id)).one()


def test_unhandled_alerts_of_the_last_week_are_listed_newest_first(app):
    open_now = add_alert(app, opened=noon(0))
    acked = add_alert(
        app,
        "empty_window",
        opened=noon(1),
        staff_id=None,
        acknowledged_at=noon(1, 5),
        acknowledged_by="boss",
        ack_note="已电话联系",
    )
    resolved = add_alert(app, opened=noon(0, -60), resolved_at=noon(0, -30), resolution="signed_in")
    too_old = add_alert(app, opened=noon(DEFAULT_DAYS))
    page = get(app)
    assert listed(page) == [open_now, acked]  # unresolved ones only, newest first
    assert resolved not in listed(page) and too_old not in listed(page)
    assert f'name="from" value="{today() - timedelta(days=DEFAULT_DAYS - 1)}"' in page
    assert f'name="to" value="{today()}"' in page

    row = row_of(page, open_now)
    assert "未签到" in row and "3号窗口" in row and "王五" in row and "税务局" in row
    assert "待确认" in row
    assert f"{noon(0, -15):%Y-%m-%d %H:%M}" in row and f"{noon(0):%Y-%m-%d %H:%M}" in row
    assert 'href="/windows/W03"' in row
    replay = html_lib.unescape(re.search(r'<a class="replay" href="([^"]+)"', row)[1])
    assert urlsplit(replay).path == "/"
    assert parse_qs(urlsplit(replay).query) == {"at": [noon(0, -15).isoformat()]}
    assert f'<form class="ack" method="post" action="/alerts/{open_now}/ack">' in row
    assert 'name="csrf_token"' in row and '<textarea name="note" maxlength="500"' in row

    row = row_of(page, acked)
    assert "空岗" in row and "已确认" in row and "boss" in row and "已电话联系" in row
    assert f"{noon(1, 5):%Y-%m-%d %H:%M}" in row
    assert '<form class="ack"' not in row  # acknowledged already


def test_filters_by_kind_department_status_and_days(app):
    tax_absent = add_alert(app, opened=noon(0))
    civil_offline = add_alert(
        app,
        "device_offline",
        opened=noon(0, -10),
        window_id="W01",
        department_id="civil",
        staff_id=None,
        device_id="desk-w01-seat",
    )
    day_closed = add_alert(app, opened=noon(2), resolved_at=noon(2, 300), resolution="day_closed")
    revised = add_alert(app, opened=noon(2, 1), resolved_at=noon(2, 2), resolution="revised")
    back = add_alert(app, opened=noon(2, 2), resolved_at=noon(2, 9), resolution="signed_in")
    acked = add_alert(app, opened=noon(3), acknowledged_at=noon(3, 1), acknowledged_by="boss")
    old = add_alert(app, opened=noon(20))

    assert listed(get(app, kind="device_offline")) == [civil_offline]
    assert "desk-w01-seat" in row_of(get(app, kind="device_offline"), civil_offline)
    assert listed(get(app, department="civil")) == [civil_offline]
    assert listed(get(app, department="tax")) == [tax_absent, acked]
    assert listed(get(app, status="open")) == [tax_absent, civil_offline]
    assert listed(get(app, status="acknowledged")) == [acked]
    resolved = get(app, status="resolved")
    assert listed(resolved) == [back, revised, day_closed]
    assert "下班结束" in row_of(resolved, day_closed) and "已解除" in row_of(resolved, day_closed)
    assert "已修正" in row_of(resolved, revised)
    assert "已恢复" in row_of(resolved, back)
    assert '<form class="ack"' not in resolved  # nothing left to acknowledge
    everything = [tax_absent, civil_offline, back, revised, day_closed, acked]
    assert listed(get(app, status="all")) == everything
    first, last = (today() - timedelta(days=d) for d in (20, 3))
    assert listed(get(app, status="all", **{"from": first, "to": last})) == [acked, old]
    assert listed(get(app, status="all", kind="all", department="")) == everything
    assert "没有符合条件的告警" in get(app, kind="withdrawn")


def test_alerts_come_fifty_to_a_page(app):
    ids = [add_alert(app, opened=noon(1, minutes)) for minutes in range(60)]
    newest_first = ids[::-1]
    first = get(app)
    assert listed(first) == newest_first[:50]
    assert "共 60 条告警,第 1 / 2 页" in first
    next_link = html_lib.unescape(re.search(r'<a rel="next" href="([^"]+)"', first)[1])
    response = app.test_client().get(next_link, headers=basic(*BOSS))
    second = response.get_data(as_text=True)
    assert listed(second) == newest_first[50:]
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert "status=unhandled" in next_link and "page=2" in next_link
    assert listed(get(app, page=99)) == newest_first[50:]  # past the end: the last page


def test_bad_filter_values_are_shown_back_with_a_message(app):
    add_alert(app)
    for query, words in (
        ({"kind": "nope"}, "没有这种告警类型"),
        ({"department": "police"}, "没有这个部门"),
        ({"status": "closed"}, "没有这种处理状态"),
        ({"from": "soon"}, "日期应为"),
        ({"to": "2026-13-01"}, "日期应为"),
        ({"from": "1900-01-01"}, "日期须在"),
        ({"from": str(today()), "to": str(today() - timedelta(days=1))}, "开始日期不能晚于"),
        ({"page": "0"}, "页码应为正整数"),
        ({"page": "two"}, "页码应为正整数"),
        ({"page": "²"}, "页码应为正整数"),
    ):
        page = get(app, expect=400, **query)
        assert words in page, query
        assert "<tr data-alert-id" not in page
    page = get(app, expect=400, kind="<b>nope</b>")
    assert "<b>nope</b>" not in page and 'value="&lt;b&gt;nope&lt;/b&gt;"' not in page
    assert "&lt;b&gt;nope&lt;/b&gt;" in page  # shown back, escaped


def test_acknowledging_in_a_browser_session_with_its_csrf_token(app, client, login):
    target = add_alert(app)
    other = add_alert(app, opened=noon(0, -5))
    login(BOSS[0])
    page = client.get("/alerts?kind=absent&status=unhandled").get_data(as_text=True)
    form = re.search(
        rf'<form class="ack" method="post" action="/alerts/{target}/ack">.*?</form>', page, re.S
    )[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    back = html_lib.unescape(re.search(r'name="next" value="([^"]+)"', form)[1])

    refused = client.post(f"/alerts/{target}/ack", data={"note": "x", "next": back})
    assert refused.status_code == 400  # no CSRF token
    assert stored(app, target).acknowledged_at is None

    done = client.post(
        f"/alerts/{target}/ack", data={"csrf_token": token, "note": "已到岗\r\n核实", "next": back}
    )
    assert done.status_code == 303
    assert done.headers["Location"] == f"/alerts?kind=absent&status=unhandled#alert-{target}"
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"已确认告警 #{target}" in after
    row = row_of(after, target)
    assert "已确认" in row and "boss" in row and "已到岗\n核实" in row
    assert '<form class="ack"' not in row
    assert '<form class="ack"' in row_of(after, other)
    assert (stored(app, target).acknowledged_by, stored(app, target).ack_note) == (
        "boss",
        "已到岗\n核实",
    )

    # Only a local path of the alerts page is followed back: anything else lands on /alerts.
    for target_url in ("//evil.example/alerts", "https://evil.example/alerts", "/logout"):
        moved = client.post(f"/alerts/{other}/ack", data={"csrf_token": token, "next": target_url})
        assert moved.headers["Location"] == f"/alerts#alert-{other}", target_url
    assert stored(app, other).ack_note is None  # no note: none stored


def test_a_note_too_long_is_refused_and_the_first_acknowledgement_stands(app, basic_app):
    target = add_alert(app)
    client = basic_app.test_client()
    headers = basic(*BOSS)
    refused = client.post(
        f"/alerts/{target}/ack", data={"note": "长" * (NOTE_MAX + 1)}, headers=headers
    )
    assert refused.status_code == 303
    page = client.get(refused.headers["Location"], headers=headers).get_data(as_text=True)
    assert "备注最多 500 个字" in page and stored(app, target).acknowledged_at is None
    assert '<form class="ack"' in row_of(page, target)

    # 500 characters typed with line breaks: a browser sends CRLF, still 500 in the textarea.
    note = ("长" * 99 + "\r\n") * 5
    done = client.post(f"/alerts/{target}/ack", data={"note": note}, headers=headers)
    assert (
        done.status_code == 303
        and stored(app, target).ack_note == note.replace("\r\n", "\n").strip()
    )

    again = client.post(f"/alerts/{target}/ack", data={"note": "晚了"}, headers=basic(*TAX))
    assert again.status_code == 303
    page = client.get("/alerts", headers=basic(*TAX)).get_data(as_text=True)
    assert "已由 boss" in page and stored(app, target).acknowledged_by == "boss"
    assert client.post("/alerts/999999/ack", headers=headers).status_code == 404

    # The page's own query string comes back; anything with whitespace in it does not.
    for sent, location in (
        ("/alerts?department=tax&kind=%E6%9C%AA", "/alerts?department=tax&kind=%E6%9C%AA"),
        (
            "/alerts?department=税务局&page=2",
            "/alerts?department=%E7%A8%8E%E5%8A%A1%E5%B1%80&page=2",
        ),
        ("/alerts?a=1\r\nX-Evil: 1", "/alerts"),
    ):
        moved = client.post(f"/alerts/{target}/ack", data={"next": sent}, headers=headers)
        assert moved.status_code == 303 and "X-Evil" not in moved.headers
        assert moved.headers["Location"] == f"{location}#alert-{target}", sent


def test_inspectors_read_every_alert_but_acknowledge_none(app, basic_app):
    tax = add_alert(app)
    civil = add_alert(app, window_id="W01", department_id="civil", staff_id="s001")
    page = get(app, user=AUDIT)
    assert set(listed(page)) == {tax, civil}
    assert '<form class="ack"' not in page and "<textarea" not in page
    response = basic_app.test_client().post(f"/alerts/{tax}/ack", headers=basic(*AUDIT))
    assert response.status_code == 403
    assert stored(app, tax).acknowledged_at is None


def test_a_department_head_sees_and_acknowledges_only_their_own(app, basic_app):
    tax = add_alert(app)
    civil = add_alert(app, window_id="W01", department_id="civil", staff_id="s001")
    page = get(app, user=TAX)
    assert listed(page) == [tax] and "张三" not in page
    assert '<option value="tax"' in page and '<option value="civil"' not in page
    assert "没有这个部门" in get(app, user=TAX, expect=400, department="civil")
    assert listed(get(app, user=TAX, department="tax", status="all")) == [tax]

    client = basic_app.test_client()
    assert client.post(f"/alerts/{civil}/ack", headers=basic(*TAX)).status_code == 404
    assert stored(app, civil).acknowledged_at is None
    assert client.post(f"/alerts/{tax}/ack", headers=basic(*TAX)).status_code == 303
    assert stored(app, tax).acknowledged_by == "tax"


def test_messages_names_and_notes_are_escaped(app, basic_app):
    alert = add_alert(app, window_id=SCRIPT, staff_id=SCRIPT, device_id=SCRIPT, message=SCRIPT)
    client = basic_app.test_client()
    assert (
        client.post(f"/alerts/{alert}/ack", data={"note": SCRIPT}, headers=basic(*BOSS)).status_code
        == 303
    )
    response = app.test_client().get("/alerts", headers=basic(*BOSS))
    page = response.get_data(as_text=True)
    assert SCRIPT not in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row_of(page, alert)
    assert response.headers["Content-Security-Policy"] == "default-src 'self'"
    assert "<style" not in page and "style=" not in page
    assert 'href="/windows/%3Cscript%3E' in row_of(page, alert)


def test_visitors_must_log_in(app):
    response = app.test_client().get("/alerts")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
