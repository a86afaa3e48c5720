"""The registry's history: each change kept as a version, the registry at an instant, and
the one rule for a past day (the registry as it stood at the end of that day)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.registry.apply import apply_deployment
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.load import registry_revision
from hallwatch.registry.parse import parse_deployment
from hallwatch.registry.spec import HallSettings
from hallwatch.registry.versions import (
    RegistryVersionRow,
    end_of_day,
    keep_history,
    load_deployment_at,
    registry_for_day,
    unpack,
)
from tests.helpers import SHANGHAI

HALL = """\
hall: {{name: 示例大厅, timezone: Asia/Shanghai}}
departments:
  - {{id: civil, name: 民政局}}
  - {{id: tax, name: 税务局}}
windows:
  - {{id: W01, name: {window}, department: civil}}
staff:
  - {{id: s001, name: 张三, department: {department}}}
"""
NOV_1 = datetime(2026, 11, 1, 8, 0, tzinfo=SHANGHAI)
DEC_8_NOON = datetime(2026, 12, 8, 12, 0, tzinfo=SHANGHAI)


def hall_file(window: str = "1号窗口", department: str = "civil"):
    return parse_deployment(HALL.format(window=window, department=department))


@pytest.fixture
def sessions(tmp_path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hall.sqlite3'}")
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


def apply(sessions, deployment, now):
    with sessions() as session, session.begin():
        return apply_deployment(session, deployment, now)


def versions(sessions) -> list[RegistryVersionRow]:
    with sessions() as session:
        return list(session.scalars(select(RegistryVersionRow).order_by(RegistryVersionRow.id)))


def window_name(deployment) -> str:
    return deployment.first.window_by_id["W01"].name


def test_each_change_is_a_version_with_its_revision_instant_and_summary(sessions):
    apply(sessions, hall_file(), NOV_1)
    apply(sessions, hall_file(), NOV_1 + timedelta(days=1))  # the same file: no change
    apply(sessions, hall_file("综合窗口"), DEC_8_NOON)
    kept = versions(sessions)
    assert [(v.revision, v.made_at) for v in kept] == [(1, NOV_1), (3, DEC_8_NOON)]
    assert "windows: 1 updated" in kept[1].summary
    assert parse_deployment(unpack(kept[1].body)) == hall_file("综合窗口")


def test_the_registry_at_an_instant_is_the_version_in_effect_then(sessions):
    apply(sessions, hall_file(), NOV_1)
    apply(sessions, hall_file("综合窗口", department="tax"), DEC_8_NOON)
    with sessions() as session:
        then = load_deployment_at(session, DEC_8_NOON - timedelta(seconds=1))
        now = load_deployment_at(session, DEC_8_NOON)
    assert window_name(then) == "1号窗口"
    assert then.first.staff_by_id["s001"].department == "civil"
    assert window_name(now) == "综合窗口"
    assert now.first.staff_by_id["s001"].department == "tax"


def test_an_instant_before_the_first_import_has_the_first_version(sessions):
    """Events of a day before the registry was imported can only be read with it."""
    apply(sessions, hall_file(), DEC_8_NOON)
    with sessions() as session:
        assert window_name(load_deployment_at(session, NOV_1)) == "1号窗口"


def test_a_past_day_uses_the_registry_as_it_stood_at_its_end(sessions):
    apply(sessions, hall_file(), NOV_1)
    evening = datetime(2026, 11, 23, 18, 0, tzinfo=SHANGHAI)
    apply(sessions, hall_file("综合窗口"), evening)  # renamed during the 23rd
    hall = hall_file().first.hall
    with sessions() as session:
        the_22nd = registry_for_day(session, hall, date(2026, 11, 22), DEC_8_NOON)
        the_23rd = registry_for_day(session, hall, date(2026, 11, 23), DEC_8_NOON)
    assert window_name(the_22nd) == "1号窗口"
    assert window_name(the_23rd) == "综合窗口"  # the whole day, morning included


def test_the_end_of_a_day_is_its_last_instant_or_now_if_sooner():
    hall = HallSettings(timezone="Asia/Shanghai")
    midnight = datetime(2026, 11, 24, 0, 0, tzinfo=SHANGHAI)
    assert end_of_day(hall, date(2026, 11, 23), DEC_8_NOON) == midnight - timedelta(microseconds=1)
    assert end_of_day(hall, date(2026, 12, 8), DEC_8_NOON) == DEC_8_NOON


def test_a_database_from_before_versions_gets_its_first_version_lazily(sessions):
    apply(sessions, hall_file(), NOV_1)
    with sessions() as session, session.begin():
        session.execute(delete(RegistryVersionRow))  # as a database from before versions
    with sessions() as session, session.begin():
        first = keep_history(session, registry_revision(session))
        assert first is not None and first.made_at == NOV_1
        assert keep_history(session, registry_revision(session)) is None  # once
    apply(sessions, hall_file("综合窗口"), DEC_8_NOON)
    with sessions() as session:
        assert window_name(load_deployment_at(session, DEC_8_NOON - timedelta(hours=1))) == (
            "1号窗口"
        )


def test_an_import_into_a_database_from_before_versions_keeps_what_was_there(sessions):
    apply(sessions, hall_file(), NOV_1)
    with sessions() as session, session.begin():
        session.execute(delete(RegistryVersionRow))
    apply(sessions, hall_file("综合窗口"), DEC_8_NOON)
    assert [v.made_at for v in versions(sessions)] == [NOV_1, DEC_8_NOON]


def test_an_empty_database_has_no_history_to_keep(sessions):
    with sessions() as session, session.begin():
        assert keep_history(session, 0) is None
        assert load_deployment_at(session, UTC_NOW).first.departments == ()


UTC_NOW = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)


def test_a_day_before_the_first_import_uses_the_registry_of_the_day_it_was_imported(sessions):
    """A hall set up today, with events of last week: today's corrections count for them."""
    morning = datetime(2026, 12, 8, 9, 0, tzinfo=SHANGHAI)
    apply(sessions, hall_file(), morning)
    apply(sessions, hall_file("综合窗口"), DEC_8_NOON)  # corrected the same day
    apply(sessions, hall_file("改名窗口"), DEC_8_NOON + timedelta(days=1))  # the day after
    hall = hall_file().first.hall
    later = DEC_8_NOON + timedelta(days=2)
    with sessions() as session:
        last_week = registry_for_day(session, hall, date(2026, 12, 1), later)
        assert window_name(last_week) == "综合窗口"
        assert window_name(load_deployment_at(session, NOV_1)) == "1号窗口"  # an instant: the first


def test_two_databases_never_share_a_parsed_version(tmp_path):
    """The parsed versions are kept by their file's digest, not by the row's id."""
    names = []
    for index, window in enumerate(("东1号窗口", "西1号窗口")):
        engine = make_engine(f"sqlite:///{tmp_path / f'hall-{index}.sqlite3'}")
        create_schema(engine)
        factory = make_session_factory(engine)
        apply(factory, hall_file(window), NOV_1)  # version 1 in each
        with factory() as session:
            names.append(window_name(load_deployment_at(session, DEC_8_NOON)))
        engine.dispose()
    assert names == ["东1号窗口", "西1号窗口"]
