"""A registry with history, on real InfluxDB and a real registry database (SQLite and
PostgreSQL): renaming a window and moving a clerk today leaves last month's report (the
command's CSV and workbook, the JSON reports API) byte-identical, and a replay of last month
(the API, the floor view, `hallwatch check --at`) unchanged; today takes the change at once."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from hallwatch.influx.eventstore import event_point
from hallwatch.registry.day_summaries import DaySummaryRow
from hallwatch.registry.importing import import_file
from hallwatch.registry.users import add_user
from tests.helpers import SHANGHAI, InfluxDB, deployment_env, hallwatch, influx_admin
from tests.report_hall import MONDAY, MONDAY_EVENTS, REPORT_HALL, USERS
from tests.web_helpers import app_for, basic

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

BOSS = ("boss", "pw-boss")
RENAMED = REPORT_HALL.replace("{id: W01, name: 1号窗口,", "{id: W01, name: 综合受理窗口,").replace(
    "{id: s002, name: 李四, department: civil,", "{id: s002, name: 李四, department: tax,"
)


def last_months_monday():
    """The second Monday of the month before this one (hall time), and that month."""
    first = (datetime.now(SHANGHAI).date().replace(day=1) - timedelta(days=1)).replace(day=1)
    return first + timedelta(days=(7 - first.weekday()) % 7 + 7), first


@pytest.fixture
def hall(database_url, influxd, tmp_path):
    """The report hall, imported before last month began, with a Monday of last month."""
    monday, first = last_months_monday()
    events = [(replace(e, at=e.at + (monday - MONDAY)), staff) for e, staff in MONDAY_EVENTS]
    influx = InfluxDB(influxd.url, f"hw_test_{tmp_path.name[-8:].replace('-', '_')}")
    influx_admin(influx.url, f'CREATE DATABASE "{influx.db}"')
    env = deployment_env(database_url, "mqtt://127.0.0.1:1883", influx)
    runtime = app_for(env).extensions["hallwatch"]
    (tmp_path / "hall.yaml").write_text(REPORT_HALL, encoding="utf-8")
    imported = datetime.combine(first - timedelta(days=3), time(9), tzinfo=SHANGHAI)
    import_file(runtime.sessions, tmp_path / "hall.yaml", now=imported)
    with runtime.sessions() as db:
        for name, role, password, department in USERS:
            add_user(db, name, role, password, department)
        db.commit()
    runtime.influx.write([event_point(e, staff).to_line() for e, staff in events])
    try:
        yield env, tmp_path, monday
    finally:
        influx_admin(influx.url, f'DROP DATABASE "{influx.db}"')


def workbook_parts(data: bytes) -> dict[str, bytes]:
    """Every part of an xlsx but its save time (docProps/core.xml)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return {n: book.read(n) for n in book.namelist() if n != "docProps/core.xml"}


def last_months_report(env: dict, home: Path, monday) -> dict[str, bytes]:
    """Last month as the command writes it (CSV, workbook) and as the API answers it, and a
    replay of an instant of its Monday: each as bytes."""
    month = f"{monday:%Y-%m}"
    found: dict[str, bytes] = {}
    out = home / f"csv-{len(list(home.glob('csv-*')))}"
    hallwatch("report", "--month", month, "--format", "csv", "--out", str(out), env=env)
    found |= {f"csv/{p.name}": p.read_bytes() for p in sorted(out.iterdir())}
    book = home / f"book-{len(list(home.glob('book-*')))}.xlsx"
    hallwatch("report", "--month", month, "--format", "xlsx", "--out", str(book), env=env)
    found |= {f"xlsx/{n}": data for n, data in workbook_parts(book.read_bytes()).items()}
    start = datetime.combine(monday.replace(day=1), time(0), tzinfo=SHANGHAI)
    whole = {"from": start.isoformat(), "to": (start + timedelta(days=28)).isoformat()}
    replayed = datetime.combine(monday, time(10, 25), tzinfo=SHANGHAI).isoformat()
    client = app_for(env).test_client()
    for path, query in [
        ("/api/reports/departments", {"month": month}),
        ("/api/reports/windows", whole),
        ("/api/reports/staff", whole),
        ("/api/live", {"at": replayed}),
    ]:
        response = client.get(path, query_string=query, headers=basic(*BOSS))
        assert response.status_code == 200, response.get_data(as_text=True)
        found[path] = response.get_data()
    found["/ (replay)"] = replay_names(client, replayed)
    checked = hallwatch("check", "--at", replayed, "--dry-run", env=env)
    found["check --at"] = json.dumps(
        [{k: v for k, v in alert.items() if k != "id"} for alert in json.loads(checked.stdout)],
        ensure_ascii=False,
    ).encode()
    return found


def replay_names(client, at: str) -> bytes:
    """The window names the floor view shows at `at` (the page carries the time it was made)."""
    response = client.get("/", query_string={"at": at}, headers=basic(*BOSS))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return "|".join(n for n in ("1号窗口", "综合受理窗口") if n in page).encode()


def test_last_months_report_is_byte_identical_after_a_rename_and_a_move_today(hall):
    env, home, monday = hall
    before = last_months_report(env, home, monday)
    assert any("1号窗口".encode() in data for name, data in before.items() if "xlsx" in name)
    assert before["/ (replay)"] == "1号窗口".encode()
    assert '"kind": "empty_window"' in before["check --at"].decode()  # W01, empty at 10:25
    (home / "renamed.yaml").write_text(RENAMED, encoding="utf-8")
    done = hallwatch("import", str(home / "renamed.yaml"), env=env)
    assert "W01" in done.stdout and "s002" in done.stdout  # what changed, by id
    assert last_months_report(env, home, monday) == before
    # Recomputed from the events (no stored day), last month is still counted as it was.
    runtime = app_for(env).extensions["hallwatch"]
    with runtime.sessions() as session, session.begin():
        session.execute(delete(DaySummaryRow))
    assert last_months_report(env, home, monday) == before


def test_today_takes_the_change_at_once(hall):
    env, home, _ = hall
    (home / "renamed.yaml").write_text(RENAMED, encoding="utf-8")
    hallwatch("import", str(home / "renamed.yaml"), env=env)
    client = app_for(env).test_client()
    live = client.get("/api/live", headers=basic(*BOSS)).get_json()
    assert {w["id"]: w["name"] for w in live["windows"]}["W01"] == "综合受理窗口"
    today = datetime.combine(datetime.now(SHANGHAI).date(), time(0), tzinfo=SHANGHAI)
    span = {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    staff = client.get("/api/reports/staff", query_string=span, headers=basic(*BOSS)).get_json()
    assert {s["staff"]: s["department"] for s in staff}["s002"] == "tax"
