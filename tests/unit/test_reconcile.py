"""Alert records from episodes: opened once, resolved once, never doubled (SQLite in tmp_path)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

import alerts.evaluate
import alerts.records
from alerts.channels import add_channel
from alerts.evaluate import Evaluator
from alerts.records import acknowledge, alert_json, reconcile
from hallwatch.access import ADMIN, DEPT_HEAD, HALL_MANAGER
from hallwatch.alert_kinds import Episode
from hallwatch.config import Settings
from hallwatch.registry.alerting import AlertRow, OutboxRow
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.models import DepartmentRow
from hallwatch.registry.users import add_user
from tests.unit.hall import TZ, at, hall

REGISTRY = hall()
NOW = at("10:30")
CONTRACT_FIELDS = [
    "id",
    "kind",
    "window",
    "department",
    "staff",
    "opened_at",
    "resolved_at",
    "status",
    "message",
]


def empty_w01(resolved_at: datetime | None = None) -> Episode:
    """W01's seat empty since 10:00, the alert opened at 10:10 (the grace)."""
    return Episode(
        "empty_window",
        "empty_window:W01:2026-11-23T10:00:00+08:00",
        opened_at=at("10:10"),
        since=at("10:00"),
        resolved_at=resolved_at,
        window="W01",
        department="civil",
        resolution="occupied" if resolved_at else None,
    )


def absent_s003(resolved_at: datetime | None = None) -> Episode:
    """王五 (tax) not signed in at W03 by 09:15; no department given: it comes from the person."""
    return Episode(
        "absent",
        "absent:s003:W03:2026-11-23T09:00:00+08:00",
        opened_at=at("09:15"),
        since=at("09:00"),
        resolved_at=resolved_at,
        window="W03",
        staff="s003",
        resolution="signed_in" if resolved_at else None,
    )


def sessions_for(url: str):
    engine = make_engine(url)
    create_schema(engine)
    return make_session_factory(engine)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hallwatch.sqlite3'}"


@pytest.fixture
def sessions(db_url):
    return sessions_for(db_url)


def count(sessions, model=AlertRow) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def run(sessions, episodes, now=NOW):
    with sessions() as session:
        result = reconcile(session, episodes, REGISTRY, now)
        session.commit()
        return result


def test_an_episode_is_recorded_once_and_rerunning_changes_nothing(sessions):
    first = run(sessions, [empty_w01()])
    assert [r.key for r in first.opened] == [empty_w01().key]
    assert first.resolved == [] and first.recorded == []
    row = first.opened[0]
    assert (row.kind, row.window_id, row.department_id, row.status) == (
        "empty_window",
        "W01",
        "civil",
        "open",
    )
    assert "1号窗口" in row.message and "10:00" in row.message

    again = run(sessions, [empty_w01()], now=at("10:32"))
    assert (again.opened, again.resolved, again.recorded) == ([], [], [])
    assert count(sessions) == 1


def test_a_cleared_episode_resolves_its_alert_once(sessions):
    run(sessions, [empty_w01()])
    cleared = run(sessions, [empty_w01(resolved_at=at("10:40"))], now=at("10:41"))
    [row] = cleared.resolved
    assert (row.status, row.resolved_at, row.resolution) == ("resolved", at("10:40"), "occupied")
    assert cleared.opened == []
    assert run(sessions, [empty_w01(resolved_at=at("10:40"))]).resolved == []


def test_a_resolved_alert_is_never_reopened(sessions):
    run(sessions, [empty_w01(resolved_at=at("10:40"))], now=at("10:41"))
    later = run(sessions, [empty_w01()], now=at("10:42"))
    assert (later.opened, later.resolved) == ([], [])
    with sessions() as session:
        assert session.scalars(select(AlertRow)).one().status == "resolved"


def test_an_episode_already_over_is_recorded_but_not_for_notifying(sessions):
    result = run(sessions, [absent_s003(resolved_at=at("09:40"))], now=at("10:00"))
    assert result.opened == []
    [row] = result.recorded
    assert (row.status, row.department_id, row.staff_id) == ("resolved", "tax", "s003")


def test_an_open_alert_missing_from_the_episodes_is_left_to_the_rules(sessions):
    run(sessions, [empty_w01()])
    assert run(sessions, [], now=at("11:00")).resolved == []
    with sessions() as session:
        assert session.scalars(select(AlertRow)).one().resolved_at is None


def test_a_rolled_back_reconciliation_leaves_nothing_behind(sessions):
    """The dry run: SAVEPOINTs on pysqlite must not commit the outer transaction."""
    with sessions() as session:
        result = reconcile(session, [empty_w01(), absent_s003()], REGISTRY, NOW)
        assert len(result.opened) == 2
        session.rollback()
    assert count(sessions) == 0


def test_an_alert_another_process_recorded_first_is_not_recorded_again(sessions, monkeypatch):
    run(sessions, [empty_w01()])
    # Our look-up ran before the other process committed: it saw nothing.
    real = alerts.records._existing
    calls = []

    def stale_then_real(session, keys):
        calls.append(keys)
        return {} if len(calls) == 1 else real(session, keys)

    monkeypatch.setattr(alerts.records, "_existing", stale_then_real)
    result = run(sessions, [empty_w01(resolved_at=at("10:40")), absent_s003()])
    assert [r.kind for r in result.opened] == ["absent"]  # theirs is theirs to notify…
    assert [r.key for r in result.resolved] == [empty_w01().key]  # …but it still clears
    assert count(sessions) == 2


def test_two_processes_racing_record_each_alert_once(db_url):
    episodes = [empty_w01(), absent_s003()]
    factories = [sessions_for(db_url), sessions_for(db_url)]
    start = threading.Barrier(2)
    opened: list[int] = []
    errors: list[BaseException] = []

    def evaluate(factory):
        try:
            start.wait()
            with factory() as session:
                result = reconcile(session, episodes, REGISTRY, NOW)
                session.commit()
                opened.append(len(result.opened))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=evaluate, args=(f,)) for f in factories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(opened) == [0, 2]
    assert count(factories[0]) == 2


def test_alert_json_has_the_contract_fields_in_hall_time(sessions):
    [row] = run(sessions, [empty_w01()]).opened
    body = alert_json(row, TZ)
    assert list(body)[: len(CONTRACT_FIELDS)] == CONTRACT_FIELDS
    assert body["opened_at"] == "2026-11-23T10:10:00+08:00"
    assert (body["resolved_at"], body["status"], body["staff"]) == (None, "open", None)
    assert body["since"] == "2026-11-23T10:00:00+08:00"


def user(role: str, department: str | None = None, name: str = "someone"):
    return SimpleNamespace(role=role, department_id=department, username=name)


def test_a_department_head_acknowledges_only_their_departments_alerts(sessions):
    civil, tax = run(sessions, [empty_w01(), absent_s003()]).opened
    with sessions() as session:
        assert acknowledge(session, civil.id, user(DEPT_HEAD, "tax"), None, NOW) is None
        row = acknowledge(session, tax.id, user(DEPT_HEAD, "tax", "taxhead"), " 已处理 ", NOW)
        session.commit()
    assert (row.status, row.acknowledged_by, row.acknowledged_at) == (
        "acknowledged",
        "taxhead",
        NOW,
    )
    with sessions() as session:
        again = acknowledge(session, tax.id, user(HALL_MANAGER, name="boss"), "me too", at("10:45"))
        session.commit()
    assert (again.acknowledged_by, again.acknowledged_at) == ("taxhead", NOW)  # the first stands
    with sessions() as session:
        assert acknowledge(session, 999, user(ADMIN), None, NOW) is None


# --- evaluate: reconcile + notify in one transaction ----------------------------------


class NoEvents:
    """The event store of a hall where nothing was reported (the episodes are given)."""

    def day_history(self, start, end, devices=None):
        return []


@pytest.fixture
def runtime(sessions):
    """A runtime on the SQLite file; the boss (hall manager) has a webhook channel."""
    with sessions() as session:
        session.add_all(
            DepartmentRow(id=d, name=n, created_at=NOW, updated_at=NOW)
            for d, n in (("civil", "民政局"), ("tax", "税务局"))
        )
        add_user(session, "boss", HALL_MANAGER, "pw", now=NOW)
        add_channel(session, "boss", "webhook", "http://127.0.0.1:9/hook", now=NOW)
        session.commit()
    return SimpleNamespace(
        settings=Settings(),
        sessions=sessions,
        store=NoEvents(),
        registry=lambda fresh=False: REGISTRY,
        history=lambda registry, at: [],
        stored_history=lambda registry, start, end: [],
    )


def given(monkeypatch, *episodes):
    monkeypatch.setattr(alerts.evaluate, "episodes", lambda registry, events, now: list(episodes))


def outbox_alerts(sessions) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(OutboxRow.alert_id).order_by(OutboxRow.id)))


def test_evaluate_notifies_an_opened_alert_once(runtime, monkeypatch):
    given(monkeypatch, empty_w01())
    evaluator = Evaluator(runtime)
    [row] = evaluator.evaluate(NOW)
    assert outbox_alerts(runtime.sessions) == [row.id]
    assert [r.id for r in evaluator.evaluate(at("10:31"))] == [row.id]
    assert outbox_alerts(runtime.sessions) == [row.id]


def test_evaluate_records_an_episode_already_over_without_notifying(runtime, monkeypatch):
    given(monkeypatch, absent_s003(resolved_at=at("09:40")))
    assert alerts.evaluate.evaluate(runtime, NOW) == []
    assert count(runtime.sessions) == 1
    assert outbox_alerts(runtime.sessions) == []


def test_a_dry_run_shows_what_would_be_open_and_changes_nothing(runtime, monkeypatch):
    given(monkeypatch, empty_w01(), replace(absent_s003(), department="tax"))
    shown = alerts.evaluate.evaluate(runtime, NOW, dry_run=True)
    assert sorted(r.kind for r in shown) == ["absent", "empty_window"]
    assert alert_json(shown[0], TZ)["status"] == "open"
    assert count(runtime.sessions) == 0
    assert count(runtime.sessions, OutboxRow) == 0


def test_evaluating_a_day_closes_yesterday_once(runtime, monkeypatch):
    """Started on Tuesday morning: Monday is evaluated (its verdicts recorded) once."""
    tuesday = at("09:05", day=date(2026, 11, 24))
    seen: list = []

    def of_day(registry, events, day, now):
        seen.append(day)
        return [empty_w01(resolved_at=at("17:30"))]

    monkeypatch.setattr(alerts.evaluate, "episodes_of_day", of_day)
    given(monkeypatch)
    evaluator = Evaluator(runtime)
    evaluator.evaluate(tuesday)
    evaluator.evaluate(tuesday.replace(minute=6))
    assert [str(d) for d in seen] == ["2026-11-23"]
    assert count(runtime.sessions) == 1


MONDAY_BOUNDS = (at("00:00"), at("00:00") + timedelta(days=1))


def revise(sessions, episodes, now):
    with sessions() as session:
        result = reconcile(session, episodes, REGISTRY, now, MONDAY_BOUNDS)
        session.commit()
        return result


def test_an_alert_the_whole_days_events_no_longer_support_is_revised_then_reopened(sessions):
    """Opened on incomplete data (the collector catching up), then seen with all of it."""
    [opened] = revise(sessions, [empty_w01()], NOW).opened
    result = revise(sessions, [], at("10:31"))
    assert [(r.key, r.resolution) for r in result.resolved] == [(opened.key, "revised")]
    revise(sessions, [empty_w01()], at("10:32"))  # the store had answered with less
    with sessions() as session:
        rows = session.scalars(select(AlertRow)).all()
    assert len(rows) == 1 and rows[0].resolved_at is None and rows[0].resolution is None


def test_revision_only_touches_the_evaluated_day(sessions):
    run(sessions, [empty_w01()])
    tuesday = (at("00:00") + timedelta(days=1), at("00:00") + timedelta(days=2))
    with sessions() as session:
        result = reconcile(session, [], REGISTRY, at("10:31"), tuesday)
        session.commit()
    assert result.resolved == []
