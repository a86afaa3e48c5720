"""The audit trail on a real app (SQLite and PostgreSQL): logins, changes, acknowledgements,
appeals and downloads each leave a record with who, from where, what and before/after; the
page for admins and inspectors, its filters, pages and CSV; `hallwatch audit verify`."""

from __future__ import annotations

import csv
import getpass
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from hallwatch.config import Settings
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.audit import AuditRow, head, head_text, record, verify
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.models import UserRow
from tests.audit_helpers import drop_append_only_triggers
from tests.conftest import database_url_for
from tests.helpers import hallwatch
from tests.integration.deployments import hall_deployment
from tests.report_hall import REPORT_HALL, USERS, at
from tests.web_helpers import basic
from web import create_app

pytestmark = pytest.mark.integration

ADMIN = ("root", "admin", "pw-root-admin", None)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
W01_STRETCH = {
    "subject": "window",
    "window": "W01",
    "start": "2026-11-23T10:00:00+08:00",
    "end": "2026-11-23T10:30:00+08:00",
    "reason": "sensor_fault",
    "reason_text": "座位传感器电池没电",
}


@pytest.fixture(params=BACKENDS)
def app(request, influxd, tmp_path):
    """The report hall with an admin, forms without CSRF tokens (posted as a script would)."""
    for url in database_url_for(request.param, tmp_path):
        with hall_deployment(influxd.url, tmp_path, REPORT_HALL, [*USERS, ADMIN], [], url) as (
            env,
            _app,
        ):
            settings = Settings.from_env(
                {k: v for k, v in env.items() if k.startswith("HALLWATCH_")}
            )
            yield create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})


def records(app, action: str | None = None) -> list[AuditRow]:
    with app.extensions["hallwatch"].sessions() as db:
        query = select(AuditRow).order_by(AuditRow.seq)
        if action:
            query = query.where(AuditRow.action == action)
        return list(db.scalars(query))


def only(app, action: str) -> AuditRow:
    [row] = records(app, action)
    return row


def log_in(app, name: str, password: str):
    client = app.test_client()
    client.post("/login", data={"username": name, "password": password})
    return client


def test_logins_and_failed_logins_say_who_from_where_and_why(app):
    client = log_in(app, "boss", "pw-boss")
    log_in(app, "boss", "wrong")
    log_in(app, "nobody", "whatever")
    client.post("/logout")
    good = only(app, "login")
    assert (good.actor, good.address, good.target, good.after) == (
        "boss",
        "127.0.0.1",
        "boss",
        {"via": "form"},
    )
    failed = [(r.actor, r.address, r.after["reason"]) for r in records(app, "login.failed")]
    assert failed == [
        ("boss", "127.0.0.1", "bad password"),
        ("nobody", "127.0.0.1", "unknown user"),
    ]
    assert only(app, "logout").actor == "boss"


def test_a_locked_name_is_recorded_as_locked(app):
    for _ in range(12):
        response = app.test_client().post("/login", data={"username": "tax", "password": "no"})
        if response.status_code == 429:
            break
    assert response.status_code == 429  # the failure that locks the name is a bad password
    again = app.test_client().post("/login", data={"username": "tax", "password": "pw-tax"})
    assert again.status_code == 429
    reasons = [r.after["reason"] for r in records(app, "login.failed")]
    assert reasons[-2:] == ["bad password", "locked"]


def test_a_user_change_records_before_and_after_but_never_a_password(app):
    admin = log_in(app, "root", "pw-root-admin")
    added = admin.post(
        "/ops/users",
        data={
            "username": "clerk",
            "role": "inspector",
            "password": "pw-clerk-1",
            "confirm": "pw-clerk-1",
        },
    )
    assert added.status_code == 302, added.get_data(as_text=True)
    with app.extensions["hallwatch"].sessions() as db:
        clerk = db.scalars(select(UserRow).where(UserRow.username == "clerk")).one()
    changed = admin.post(
        f"/ops/users/{clerk.id}",
        data={"role": "hall_manager", "password": "pw-clerk-2", "confirm": "pw-clerk-2"},
    )
    assert changed.status_code == 302, changed.get_data(as_text=True)
    assert admin.post(f"/ops/users/{clerk.id}/delete").status_code == 302
    add, change, delete = (only(app, a) for a in ("user.add", "user.change", "user.delete"))
    assert (add.actor, add.address, add.target, add.before) == (
        "root",
        "127.0.0.1",
        "user clerk",
        None,
    )
    assert add.after == {
        "username": "clerk",
        "role": "inspector",
        "department": None,
        "halls": [],
        "password": "set",
    }
    assert (change.before["role"], change.after["role"]) == ("inspector", "hall_manager")
    assert change.after["password"] == "changed"
    assert (delete.before["role"], delete.after) == ("hall_manager", None)
    for row in (add, change, delete):
        assert "scrypt" not in str(row.before) + str(row.after)


def an_alert(app, window: str = "W01") -> AlertRow:
    with app.extensions["hallwatch"].sessions() as db:
        alert = AlertRow(
            key=f"empty_window:{window}:test",
            kind="empty_window",
            window_id=window,
            department_id="civil",
            since=at("10:00"),
            opened_at=at("10:10"),
            message="窗口空岗",
            created_at=datetime(2026, 11, 23, 2, 10, tzinfo=UTC),
        )
        db.add(alert)
        db.commit()
        return alert


def test_an_acknowledgement_on_the_page_is_recorded(app):
    alert = an_alert(app, "W02")
    page = log_in(app, "civil-head", "pw-civil")
    answer = page.post(f"/alerts/{alert.id}/ack", data={"note": "已到岗"})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    ack = only(app, "alert.acknowledge")
    assert (ack.actor, ack.address, ack.after["note"], ack.after["window"]) == (
        "civil-head",
        "127.0.0.1",
        "已到岗",
        "W02",
    )


def test_an_acknowledgement_and_an_appeal_are_recorded(app):
    alert = an_alert(app)
    client = app.test_client()
    acked = client.post(
        f"/api/alerts/{alert.id}/ack", json={"note": "已电话联系"}, headers=basic("boss", "pw-boss")
    )
    assert acked.status_code == 200, acked.get_data(as_text=True)
    client.post(f"/api/alerts/{alert.id}/ack", json={}, headers=basic("civil-head", "pw-civil"))
    ack = only(app, "alert.acknowledge")  # the second acknowledgement changed nothing
    assert (ack.actor, ack.address, ack.target) == ("boss", "127.0.0.1", f"alert {alert.id}")
    assert (ack.before, ack.after["status"], ack.after["note"]) == (
        {"status": "open"},
        "acknowledged",
        "已电话联系",
    )
    filed = client.post("/api/appeals", json=W01_STRETCH, headers=basic("civil-head", "pw-civil"))
    assert filed.status_code == 201, filed.get_data(as_text=True)
    appeal = only(app, "appeal.file")
    assert (appeal.actor, appeal.target) == ("civil-head", f"appeal {filed.get_json()['id']}")
    assert appeal.after["reason_text"] == "座位传感器电池没电"
    withdrawn = client.post(
        f"/api/appeals/{filed.get_json()['id']}/withdraw", headers=basic("civil-head", "pw-civil")
    )
    assert withdrawn.status_code == 200
    assert only(app, "appeal.withdraw").after == {"status": "withdrawn", "note": None}
    later = {
        **W01_STRETCH,
        "start": "2026-11-23T11:00:00+08:00",
        "end": "2026-11-23T11:30:00+08:00",
    }
    second = client.post("/api/appeals", json=later, headers=basic("civil-head", "pw-civil"))
    assert second.status_code == 201, second.get_data(as_text=True)
    rejected = client.post(
        f"/api/appeals/{second.get_json()['id']}/decide",
        json={"decision": "reject", "note": "无维修记录"},
        headers=basic("boss", "pw-boss"),
    )
    assert rejected.status_code == 200, rejected.get_data(as_text=True)
    decided = only(app, "appeal.reject")
    assert (decided.actor, decided.before, decided.after) == (
        "boss",
        {"status": "pending"},
        {"status": "rejected", "note": "无维修记录"},
    )
    # HTTP Basic clients are recorded when their password is checked.
    assert {"boss", "civil-head"} <= {r.actor for r in records(app, "login")}


def test_report_downloads_are_recorded_with_the_file_name(app):
    client = app.test_client()
    response = client.get("/reports/2026-11.xlsx", headers=basic("inspector", "pw-inspector"))
    assert response.status_code == 200, response.get_data(as_text=True)
    row = only(app, "download.workbook")
    assert (row.actor, row.address, row.after) == ("inspector", "127.0.0.1", {"month": "2026-11"})
    assert row.target == "测试大厅-2026-11-在岗情况报表.xlsx"
    with app.extensions["hallwatch"].sessions() as db:
        assert verify(db)[1] == []


# --- the page -------------------------------------------------------------------------


def a_hundred_records(app) -> None:
    """120 records over three days: logins of two people, and one change with a formula."""
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 hall time
    with app.extensions["hallwatch"].sessions() as db:
        for i in range(120):
            who = "alice" if i % 2 else "bob"
            record(db, who, "login", who, now=start + timedelta(hours=i * 0.5), address="10.0.0.8")
        record(
            db,
            "alice",
            "staff.change",
            "=HYPERLINK(evil) staff s001",
            now=start + timedelta(days=3),
            before={"name": "张三", "window": "W01"},
            after={"name": "张叁", "window": "W01"},
        )
        db.commit()


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_page_filters_pages_and_shows_changes(app):
    a_hundred_records(app)
    client = log_in(app, "inspector", "pw-inspector")
    page = client.get("/ops/audit").get_data(as_text=True)
    assert "日志链完整" in page
    assert 'rel="next"' in page and page.count('<tr id="audit-') == 50
    assert '张三</span> → <span class="new">张叁' in page  # only the key that changed
    assert "<b>window</b>" not in page
    alice = client.get("/ops/audit?actor=alice&action=login&page=2").get_data(as_text=True)
    assert "符合条件的记录 60 条" in alice and 'rel="prev"' in alice and 'rel="next"' not in alice
    # Hall days: 11-23 09:00 plus 15 hours is 24:00, so 11-23 holds 30 records.
    day = client.get("/ops/audit?from=2026-11-23&until=2026-11-23&action=login")
    assert "符合条件的记录 30 条" in day.get_data(as_text=True)
    target = client.get("/ops/audit?target=HYPERLINK").get_data(as_text=True)
    assert "符合条件的记录 1 条" in target
    bad = client.get("/ops/audit?from=23.11.2026")
    assert bad.status_code == 400 and "请输入日期" in bad.get_data(as_text=True)


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_page_shows_a_broken_chain_in_red(app):
    a_hundred_records(app)
    with app.extensions["hallwatch"].sessions() as db:
        drop_append_only_triggers(db)
        db.execute(text("UPDATE audit_log SET actor = 'carol' WHERE seq = 7"))
        db.commit()
    page = log_in(app, "root", "pw-root-admin").get("/ops/audit").get_data(as_text=True)
    assert '<p class="error audit-broken"><strong>日志链已断裂:第 7 条起' in page
    assert "第 7 条:内容与哈希不符(被改动)" in page


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_csv_is_for_excel_and_its_download_is_recorded(app):
    a_hundred_records(app)
    client = log_in(app, "root", "pw-root-admin")
    response = client.get("/ops/audit.csv?actor=alice")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:6] == ["序号", "时间", "操作人", "地址", "操作", "对象"]
    assert len(rows) == 1 + 61 and {r[2] for r in rows[1:]} == {"alice"}
    newest = rows[1]
    assert newest[5] == "'=HYPERLINK(evil) staff s001"  # shown as typed, never run
    assert newest[6] == "name: 张三 → 张叁"
    assert newest[1] == "2026-11-26T09:00:00+08:00"
    download = only(app, "download.audit")
    assert (download.actor, download.after) == ("root", {"actor": "alice"})
    assert app.test_client().get("/ops/audit.csv").status_code == 302  # to the login


# --- hallwatch audit verify -------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def trail(request, tmp_path) -> Iterator[tuple[dict, object]]:
    """A database with five records, and the environment of the CLI."""
    for url in database_url_for(request.param, tmp_path):
        engine = make_engine(url)
        create_schema(engine)
        sessions = make_session_factory(engine)
        with sessions() as db:
            for i in range(5):
                record(db, "boss", "login", "boss", now=datetime(2026, 12, 1, 1, i, tzinfo=UTC))
            db.commit()
        env = {**os.environ, "HALLWATCH_DATABASE_URL": url, "HALLWATCH_SECRET_KEY": "test"}
        try:
            yield env, sessions
        finally:
            engine.dispose()


def audit_verify(env, *args):
    return hallwatch("audit", "verify", *args, env=env, check=False)


def test_verify_passes_an_intact_chain_and_prints_its_head(trail):
    env, sessions = trail
    with sessions() as db:
        noted = head_text(*head(db))
    done = audit_verify(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "records: 5" in done.stdout and f"head: {noted}" in done.stdout
    assert audit_verify(env, "--expect-head", noted).returncode == 0


def test_verify_fails_after_an_edit_behind_the_back(trail):
    env, sessions = trail
    with sessions() as db:
        drop_append_only_triggers(db)
        db.execute(text("UPDATE audit_log SET address = '10.9.9.9' WHERE seq = 3"))
        db.commit()
    done = audit_verify(env)
    assert done.returncode == 1
    assert "broken at record 3: its content does not match its hash (edited)" in done.stdout


def test_verify_fails_after_a_deletion(trail):
    env, sessions = trail
    with sessions() as db:
        drop_append_only_triggers(db)
        db.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        db.commit()
    done = audit_verify(env)
    assert done.returncode == 1
    assert "broken at record 3: record 2 is missing" in done.stdout


def test_the_noted_head_catches_a_cut_off_tail(trail):
    env, sessions = trail
    with sessions() as db:
        noted = head_text(*head(db))
        drop_append_only_triggers(db)
        db.execute(text("DELETE FROM audit_log WHERE seq >= 4"))
        db.commit()
    assert audit_verify(env).returncode == 0  # the chain alone cannot tell
    done = audit_verify(env, "--expect-head", noted)
    assert done.returncode == 1
    assert "the noted head is gone: the trail ends at record 3" in done.stdout


@pytest.mark.parametrize("trail", ["sqlite"], indirect=True)
def test_the_console_records_users_and_channels_as_its_os_user(trail):
    env, sessions = trail
    hallwatch("user", "add", "ops", "--role", "admin", "--password", "pw-ops-1", env=env)
    hallwatch("user", "add", "ops", "--role", "inspector", "--password", "pw-ops-2", env=env)
    hook = "https://hooks.example.cn/notify?token=SECRET-TOKEN"
    hallwatch("user", "channel", "add", "ops", "--kind", "webhook", "--target", hook, env=env)
    listed = hallwatch("user", "channel", "list", "ops", env=env).stdout
    channel = listed.split('"id": ')[1].split(",")[0]
    hallwatch("user", "channel", "remove", "ops", channel, env=env)
    with sessions() as db:
        rows = list(db.scalars(select(AuditRow).where(AuditRow.seq > 5).order_by(AuditRow.seq)))
    assert [r.action for r in rows] == ["user.add", "user.change", "channel.add", "channel.remove"]
    assert {r.actor for r in rows} == {f"cli:{getpass.getuser()}"}
    assert (rows[1].before["role"], rows[1].after["role"]) == ("admin", "inspector")
    assert rows[1].after["password"] == "changed"
    assert rows[2].after == {"kind": "webhook", "target": "hooks.example.cn", "signed": False}
    assert rows[3].before == rows[2].after
    assert "SECRET" not in str([(r.before, r.after) for r in rows])
    assert "scrypt" not in str([(r.before, r.after) for r in rows])


def test_verify_says_so_when_it_cannot_read_the_trail():
    """Exit 2, never 1: monitoring must not take a database outage for a broken chain."""
    url = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    env = {**os.environ, "HALLWATCH_DATABASE_URL": url, "HALLWATCH_SECRET_KEY": "test"}
    done = audit_verify(env)
    assert done.returncode == 2
    assert "cannot read the audit trail" in done.stderr
