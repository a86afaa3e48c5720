"""Precomputed closed days on real InfluxDB and a real database: stored once, read back,
recomputed when the registry or the day's points change, and the reports follow."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from hallwatch.events import BadgeRead
from hallwatch.influx.eventstore import event_point
from hallwatch.metrics import day_summary
from hallwatch.metrics.jobs import LATE_DAYS, refresh_days
from hallwatch.metrics.store import (
    DaySummaryRow,
    Receipts,
    load_summaries,
    save_summary,
    summary_from_json,
)
from hallwatch.registry.importing import import_file
from hallwatch.registry.users import add_user
from hallwatch.schedule import local_midnight
from tests.conftest import database_url_for
from tests.helpers import SHANGHAI, InfluxDB, deployment_env, influx_admin
from tests.report_hall import MONDAY, MONDAY_EVENTS, REPORT_HALL, THE_DAY, at
from tests.web_helpers import app_for, basic
from web.reports_api import bp as reports_bp

HALL_TZ = SHANGHAI  # the zone this module's hall file names

BACKENDS = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
TUESDAY = MONDAY + timedelta(days=1)
NEXT_MORNING = at("02:00") + timedelta(days=1)  # the jobs' `now`: Monday is closed
MONDAY_LEAVE = """
leave:
  - {staff: s003, from: "2026-11-23T16:30", until: "2026-11-23T17:30", reason: 培训}
  - {staff: s001, from: "2026-11-23T09:00", until: "2026-11-23T10:00", reason: 体检}
"""
WEDNESDAY_LEAVE = """
leave:
  - {staff: s003, from: "2026-11-23T16:30", until: "2026-11-23T17:30", reason: 培训}
  - {staff: s001, from: "2026-11-25T09:00", until: "2026-11-25T10:00", reason: 体检}
"""


@pytest.fixture
def database_url(request, tmp_path: Path):
    yield from database_url_for(getattr(request, "param", "sqlite"), tmp_path)


@pytest.fixture
def influx(influxd):
    db = InfluxDB(influxd.url, f"hw_test_{uuid.uuid4().hex[:8]}")
    influx_admin(db.url, f'CREATE DATABASE "{db.db}"')
    yield db
    influx_admin(db.url, f'DROP DATABASE "{db.db}"')


@pytest.fixture
def make_app(influx, database_url, tmp_path):
    """The web app of a hall whose Monday (2026-11-23) is in InfluxDB; a new app each call."""
    env = deployment_env(database_url, "mqtt://127.0.0.1:1883", influx)

    def make():
        app = app_for(env)
        if "reports_api" not in app.blueprints:
            app.register_blueprint(reports_bp)
        return app

    app = make()
    runtime = app.extensions["hallwatch"]
    import_hall(runtime, tmp_path, REPORT_HALL)
    with runtime.sessions() as db:
        add_user(db, "boss", "hall_manager", "pw-boss", None)
        db.commit()
    runtime.influx.write([event_point(e, staff).to_line() for e, staff in MONDAY_EVENTS])
    return make


def drop_events(influx: InfluxDB) -> None:
    answer = requests.post(
        f"{influx.url}/query",
        params={"db": influx.db},
        data={"q": 'DROP MEASUREMENT "hw_event"'},
        timeout=10,
    )
    assert answer.status_code == 200 and "error" not in answer.text, answer.text


def import_hall(runtime, tmp_path: Path, text: str) -> None:
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(text, encoding="utf-8")
    import_file(runtime.sessions, hall_file)
    runtime.registry(fresh=True)  # not the one read up to REGISTRY_TTL_S ago


def windows(app) -> dict[str, dict]:
    response = app.test_client().get(
        "/api/reports/windows", query_string=THE_DAY, headers=basic("boss", "pw-boss")
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return {row["window"]: row for row in response.get_json()}


def rows(runtime) -> dict:
    with runtime.sessions() as db:
        return {row.day: row for row in db.scalars(select(DaySummaryRow))}


@BACKENDS
def test_a_closed_day_is_stored_once_and_read_back_as_computed(make_app, influx):
    app = make_app()
    runtime = app.extensions["hallwatch"]
    first = windows(app)
    assert (first["W01"]["staffed_minutes"], first["W02"]["staffed_minutes"]) == (390.0, 75.0)
    monday = rows(runtime)[MONDAY]
    assert monday.event_count == len(MONDAY_EVENTS)
    registry = runtime.registry()
    day_start = local_midnight(registry.hall, MONDAY)
    events = runtime.store.day_history(day_start, day_start + timedelta(days=1))
    fresh = day_summary(registry, events, MONDAY, NEXT_MORNING)
    assert summary_from_json(monday.summary, HALL_TZ) == fresh

    # Gone from InfluxDB, a new web process still answers the same from the table.
    drop_events(influx)
    again = make_app()
    assert windows(again) == first
    assert rows(runtime)[MONDAY].computed_at == monday.computed_at  # not computed again


@BACKENDS
def test_a_registry_change_for_the_day_recomputes_it(make_app, tmp_path):
    app = make_app()
    runtime = app.extensions["hallwatch"]
    assert windows(app)["W01"]["scheduled_minutes"] == 420.0
    stored = rows(runtime)[MONDAY]

    import_hall(runtime, tmp_path, REPORT_HALL.split("leave:")[0] + WEDNESDAY_LEAVE)
    assert windows(app)["W01"]["scheduled_minutes"] == 420.0
    assert rows(runtime)[MONDAY].fingerprint == stored.fingerprint  # other days' leave: kept

    import_hall(runtime, tmp_path, REPORT_HALL.split("leave:")[0] + MONDAY_LEAVE)
    assert windows(app)["W01"]["scheduled_minutes"] == 360.0  # 张三 away 09:00–10:00
    assert rows(runtime)[MONDAY].fingerprint != stored.fingerprint


def test_a_stored_day_outlives_its_events_when_the_registry_changes(make_app, influx, tmp_path):
    app = make_app()
    runtime = app.extensions["hallwatch"]
    first = windows(app)
    stored = rows(runtime)[MONDAY]

    # Retention took Monday's events; then a leave for Monday is entered after the fact.
    drop_events(influx)
    import_hall(runtime, tmp_path, REPORT_HALL.split("leave:")[0] + MONDAY_LEAVE)
    assert windows(make_app()) == first  # not turned into a day of unknown minutes
    assert rows(runtime)[MONDAY].computed_at == stored.computed_at


@BACKENDS
def test_a_late_event_for_a_past_day_is_picked_up_by_the_job(make_app):
    app = make_app()
    runtime = app.extensions["hallwatch"]
    assert refresh_days(runtime, NEXT_MORNING, LATE_DAYS) == [MONDAY]  # the day just closed
    assert refresh_days(runtime, NEXT_MORNING, LATE_DAYS) == []  # nothing new
    assert windows(app)["W02"]["staffed_minutes"] == 75.0  # now also in this process's memory

    # 李四 signed in again at 13:30; the reader's backlog reaches InfluxDB days later.
    late = BadgeRead("desk-w02-card", at("13:30"), "04A1B2C4", received=NEXT_MORNING)
    runtime.influx.write([event_point(late, "s002").to_line()])
    later = NEXT_MORNING + timedelta(minutes=5)
    assert refresh_days(runtime, later, LATE_DAYS) == [MONDAY]
    monday = rows(runtime)[MONDAY]
    assert (monday.event_count, monday.newest_received) == (len(MONDAY_EVENTS) + 1, NEXT_MORNING)
    assert windows(app)["W02"]["staffed_minutes"] == 75.0 + 240.0  # 13:30–17:30
    assert refresh_days(runtime, later, LATE_DAYS) == []


@BACKENDS
def test_concurrent_writers_of_a_day_leave_one_row_the_newest(make_app):
    app = make_app()
    runtime = app.extensions["hallwatch"]
    registry = runtime.registry()
    summary = day_summary(registry, [], MONDAY, NEXT_MORNING)
    errors = []

    def write(minutes: int) -> None:
        try:
            when = NEXT_MORNING + timedelta(minutes=minutes)
            save_summary(
                runtime.sessions, "main", summary, f"{minutes:064d}", Receipts(minutes), when
            )
        except Exception as exc:  # noqa: BLE001  (the test reports any)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(m,)) for m in (3, 1, 4, 2, 5, 0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    [(row, back)] = load_summaries(runtime.sessions, "main", [MONDAY, TUESDAY], HALL_TZ).values()
    assert (row.fingerprint, row.receipts) == (f"{5:064d}", Receipts(5))
    assert back == summary
