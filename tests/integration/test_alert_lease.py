"""The scheduler's lease and the alert records on each database backend, under contention."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from alerts.lease import release, try_acquire
from alerts.records import reconcile
from hallwatch.alert_kinds import Episode
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from tests.helpers import BACKENDS
from tests.unit.hall import hall


@pytest.fixture
def bare_sessions(database_url):
    engine = make_engine(database_url)
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


@BACKENDS
def test_the_lease_has_one_holder_until_it_expires(bare_sessions):
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert try_acquire(bare_sessions, "job", "a", 15, t0)
    assert not try_acquire(bare_sessions, "job", "b", 15, t0 + timedelta(seconds=5))
    assert try_acquire(bare_sessions, "job", "a", 15, t0 + timedelta(seconds=10))  # renewed
    assert not try_acquire(bare_sessions, "job", "b", 15, t0 + timedelta(seconds=20))
    assert try_acquire(bare_sessions, "job", "b", 15, t0 + timedelta(seconds=26))  # a went quiet
    assert not try_acquire(bare_sessions, "job", "a", 15, t0 + timedelta(seconds=27))
    assert not release(bare_sessions, "job", "a")
    assert release(bare_sessions, "job", "b")
    assert try_acquire(bare_sessions, "job", "a", 15, t0 + timedelta(seconds=28))


@BACKENDS
def test_many_taking_a_free_lease_at_once_give_it_to_one(bare_sessions):
    now = datetime.now(UTC)
    start = threading.Barrier(6)
    won: list[str] = []

    def contend(name: str) -> None:
        start.wait()
        if try_acquire(bare_sessions, "race", name, 15, now):
            won.append(name)

    threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(won) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_racing_evaluations_record_each_alert_once_on_postgresql(bare_sessions):
    registry = hall()
    now = datetime.now(UTC)
    found = [
        Episode("absent", f"absent:s00{i}:W0{i}:x", now, now, window=f"W0{i}", staff=f"s00{i}")
        for i in (1, 2)
    ]
    start = threading.Barrier(4)
    opened: list[int] = []

    def evaluate() -> None:
        with bare_sessions() as session:
            start.wait()
            result = reconcile(session, found, registry, now)
            session.commit()
            opened.append(len(result.opened))

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(opened) == 2
    with bare_sessions() as session:
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 2
