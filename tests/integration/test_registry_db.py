"""The registry and users in a real database: SQLite (a file) and PostgreSQL (a fresh schema)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hallwatch import runtime as runtime_module
from hallwatch.access import DEPT_HEAD, ROLES
from hallwatch.config import Settings
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.file import RegistryError
from hallwatch.registry.importing import import_file
from hallwatch.registry.load import load_registry, registry_revision
from hallwatch.registry.models import REGISTRY_MODELS, LeaveRow, RosterRow, WindowRow
from hallwatch.registry.parse import parse_registry
from hallwatch.registry.users import add_user, authenticate
from hallwatch.registry.values import CARD_FORMS
from hallwatch.runtime import Runtime
from simulator import DEMO_HALL

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=7)
T2 = T1 + timedelta(days=7)

HALL = """\
hall:
  name: 测试大厅
  timezone: Asia/Shanghai
  hours: [["09:00", "12:00"], ["13:30", "17:30"]]
  closed_days: ["2026-12-31"]
departments:
  - {id: civil, name: 民政局}
  - {id: tax, name: 税务局}
windows:
  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}
  - {id: W02, name: 2号窗口, department: tax, position: [1, 2]}
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04a1b2c3"]}
  - {id: s002, name: 李四, department: tax, badges: ["04A1B2C4", "04A1B2C5"]}
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}
  - {id: desk-w02-card, kind: badge_reader, window: W02, tasmota: card_w02}
  - {id: office-civil, kind: badge_reader, department: civil, tasmota: civil_door}
roster:
  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}
  - {staff: s002, window: W02, days: [mon, wed], from: 2026-11-01, hours: [["09:00", "12:00"]]}
leave:
  - {staff: s001, from: "2026-11-23T09:00", until: "2026-11-23T12:00", reason: 培训}
"""

WITHOUT_W02 = """\
hall:
  name: 测试大厅
  timezone: Asia/Shanghai
  hours: [["09:00", "12:00"], ["13:30", "17:30"]]
  closed_days: ["2026-12-31"]
departments:
  - {id: civil, name: 民政局}
  - {id: tax, name: 税务局}
windows:
  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04a1b2c3"]}
  - {id: s002, name: 李四, department: tax, badges: ["04A1B2C4", "04A1B2C5"]}
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}
  - {id: office-civil, kind: badge_reader, department: civil, tasmota: civil_door}
roster:
  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}
leave:
  - {staff: s001, from: "2026-11-23T09:00", until: "2026-11-23T12:00", reason: 培训}
"""
BAD_CARD = (
    "staff[0] (id s001): key 'badges': '04ZZ' is not a card number in hex (at most 32 digits); "
    f"write {CARD_FORMS}"
)


BACKENDS = pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    create_schema(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def write(tmp_path: Path, content: str, name: str = "hall.yaml") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in REGISTRY_MODELS
        }


@BACKENDS
def test_an_imported_hall_loads_back_as_parsed(sessions, tmp_path):
    summary = import_file(sessions, write(tmp_path, HALL), now=T0)

    with sessions() as session:
        loaded = load_registry(session)
    assert loaded == parse_registry(HALL)
    assert loaded.leave[0].start.isoformat() == "2026-11-23T09:00:00+08:00"
    assert loaded.staff_by_badge["04A1B2C3"].id == "s001"
    assert summary.sections["windows"].added == 2
    assert summary.sections["badges"].added == 3
    assert summary.changes == 1 + 2 + 2 + 2 + 3 + 4 + 2 + 1


@BACKENDS
def test_the_shipped_demo_hall_round_trips(sessions):
    import_file(sessions, DEMO_HALL, now=T0)

    with sessions() as session:
        assert load_registry(session) == parse_registry(DEMO_HALL.read_text(encoding="utf-8"))


@BACKENDS
def test_importing_the_same_file_twice_changes_nothing(sessions, tmp_path):
    path = write(tmp_path, HALL)
    import_file(sessions, path, now=T0)

    again = import_file(sessions, path, now=T1)

    assert again.changes == 0
    assert str(again).startswith("no changes")
    with sessions() as session:
        for model in REGISTRY_MODELS:
            stamps = set(session.scalars(select(model.updated_at)))
            assert stamps <= {T0}, model.__tablename__  # empty for a section not in the file


@BACKENDS
def test_a_window_removed_from_the_file_is_retired_not_forgotten(sessions, tmp_path):
    import_file(sessions, write(tmp_path, HALL), now=T0)

    summary = import_file(sessions, write(tmp_path, WITHOUT_W02, "v2.yaml"), now=T1)

    assert summary.sections["windows"].retired == 1
    assert summary.sections["devices"].retired == 1
    assert summary.sections["roster"].retired == 1
    with sessions() as session:
        row = session.get(WindowRow, "W02")
        assert (row.name, row.created_at, row.retired_at) == ("2号窗口", T0, T1)
        now = load_registry(session)
        before = load_registry(session, as_of=T1 - timedelta(minutes=1))
        before_any = load_registry(session, as_of=T0 - timedelta(minutes=1))
    assert "W02" not in now.window_by_id
    assert "desk-w02-card" not in now.device_by_id
    assert now == parse_registry(WITHOUT_W02)
    assert before == parse_registry(HALL)
    assert before_any.windows == ()


@BACKENDS
def test_a_window_back_in_the_file_is_restored(sessions, tmp_path):
    import_file(sessions, write(tmp_path, HALL), now=T0)
    import_file(sessions, write(tmp_path, WITHOUT_W02, "v2.yaml"), now=T1)

    summary = import_file(sessions, write(tmp_path, HALL), now=T2)

    assert summary.sections["windows"].restored == 1
    assert summary.sections["windows"].unchanged == 1
    with sessions() as session:
        row = session.get(WindowRow, "W02")
        assert (row.retired_at, row.updated_at) == (None, T2)
        assert load_registry(session) == parse_registry(HALL)


@BACKENDS
def test_an_edited_entry_is_updated_and_an_edited_roster_line_replaced(sessions, tmp_path):
    import_file(sessions, write(tmp_path, HALL), now=T0)
    edited = (
        HALL.replace("2号窗口", "2号窗口 税务")
        .replace("days: [mon, wed]", "days: [mon, wed, fri]")
        .replace("reason: 培训", "reason: 业务培训")
    )

    summary = import_file(sessions, write(tmp_path, edited, "v2.yaml"), now=T1)

    assert summary.sections["windows"].updated == 1
    assert summary.sections["windows"].unchanged == 1
    assert (summary.sections["roster"].added, summary.sections["roster"].retired) == (1, 1)
    assert summary.sections["leave"].updated == 1
    with sessions() as session:
        assert session.get(WindowRow, "W02").updated_at == T1
        assert session.get(WindowRow, "W01").updated_at == T0
        assert session.scalar(select(func.count()).select_from(RosterRow)) == 3
        assert session.scalar(select(LeaveRow.reason)) == "业务培训"
        assert load_registry(session) == parse_registry(edited)


@BACKENDS
def test_reordering_the_file_is_not_a_change_but_the_order_follows(sessions, tmp_path):
    import_file(sessions, write(tmp_path, HALL), now=T0)
    w01 = "  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}\n"
    w02 = "  - {id: W02, name: 2号窗口, department: tax, position: [1, 2]}\n"
    swapped = HALL.replace(w01 + w02, w02 + w01)

    summary = import_file(sessions, write(tmp_path, swapped, "v2.yaml"), now=T1)

    assert summary.changes == 0
    with sessions() as session:
        assert [w.id for w in load_registry(session).windows] == ["W02", "W01"]


@BACKENDS
def test_a_bad_file_applies_nothing(sessions, tmp_path):
    import_file(sessions, write(tmp_path, HALL), now=T0)
    counts = row_counts(sessions)
    bad = HALL.replace("2号窗口", "二号窗口").replace('["04a1b2c3"]', '["04ZZ"]')

    with pytest.raises(RegistryError) as caught:
        import_file(sessions, write(tmp_path, bad, "bad.yaml"), now=T1)

    assert caught.value.problems == [BAD_CARD]
    assert row_counts(sessions) == counts
    with sessions() as session:
        assert load_registry(session) == parse_registry(HALL)


@BACKENDS
def test_a_bad_first_file_leaves_the_database_empty(sessions, tmp_path):
    with pytest.raises(RegistryError):
        import_file(sessions, write(tmp_path, HALL.replace("W01}", "W09}")), now=T0)

    assert set(row_counts(sessions).values()) == {0}
    with sessions() as session:
        assert load_registry(session).windows == ()


@BACKENDS
def test_the_schema_can_be_created_again(sessions, database_url):
    engine = make_engine(database_url)
    try:
        create_schema(engine)
        create_schema(engine)
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()


@BACKENDS
def test_a_process_rereads_the_registry_only_after_an_import(sessions, tmp_path, monkeypatch):
    loads: list[int] = []
    real_load = runtime_module.load_deployment

    def counted(session):
        loads.append(1)
        return real_load(session)

    monkeypatch.setattr(runtime_module, "load_deployment", counted)
    runtime = Runtime(Settings(), sessions, None, None)  # the registry part only
    import_file(sessions, write(tmp_path, HALL))
    first = runtime.deployment(fresh=True)
    assert runtime.deployment(fresh=True) is first and len(loads) == 1  # nothing new
    import_file(sessions, write(tmp_path, WITHOUT_W02, "v2.yaml"))
    assert [w.id for w in runtime.deployment(fresh=True).first.windows] == ["W01"]
    assert len(loads) == 2
    import_file(sessions, write(tmp_path, WITHOUT_W02, "v2.yaml"))  # counted, changes nothing
    assert runtime.deployment(fresh=True).first.windows == first.first.windows[:1]
    with sessions() as session:
        assert registry_revision(session) == 3


# --- users ---------------------------------------------------------------------------------


@pytest.fixture
def hall_sessions(sessions, tmp_path) -> sessionmaker[Session]:
    import_file(sessions, write(tmp_path, HALL), now=T0)
    return sessions


@BACKENDS
@pytest.mark.parametrize("role", [r for r in ROLES if r != DEPT_HEAD])
def test_a_user_logs_in_with_their_password_only(hall_sessions, role):
    with hall_sessions() as session:
        add_user(session, "wang", role, "correct horse")
        session.commit()

    with hall_sessions() as session:
        user = authenticate(session, "wang", "correct horse")
        assert (user.username, user.role, user.department_id) == ("wang", role, None)
        assert user.password_hash.startswith("scrypt:")
        assert authenticate(session, "wang", "wrong horse") is None
        assert authenticate(session, "nobody", "correct horse") is None


@BACKENDS
def test_adding_a_user_again_updates_them(hall_sessions):
    with hall_sessions() as session:
        first = add_user(session, "li", "inspector", "old password", now=T0)
        session.commit()
        first_id = first.id
    with hall_sessions() as session:
        add_user(session, "li", "dept_head", "new password", department="tax", now=T1)
        session.commit()

    with hall_sessions() as session:
        assert authenticate(session, "li", "old password") is None
        user = authenticate(session, "li", "new password")
        assert (user.id, user.role, user.department_id) == (first_id, "dept_head", "tax")
        assert (user.created_at, user.updated_at) == (T0, T1)


@BACKENDS
@pytest.mark.parametrize(
    ("role", "department", "message"),
    [
        ("dept_head", None, "role dept_head needs a department"),
        ("dept_head", "police", "department 'police' is not in the current registry"),
        ("superuser", None, "unknown role 'superuser'"),
        ("admin", "civil", "role admin has no department"),
    ],
)
def test_a_user_with_a_bad_role_or_department_is_refused(hall_sessions, role, department, message):
    with hall_sessions() as session, pytest.raises(ValueError, match=message):
        add_user(session, "zhao", role, "pw", department=department)


@BACKENDS
def test_a_department_head_needs_a_department_still_in_the_registry(hall_sessions, tmp_path):
    only_civil = "departments:\n  - {id: civil, name: 民政局}\n  - {id: tax2, name: 税务局}\n"
    import_file(hall_sessions, write(tmp_path, only_civil, "v2.yaml"), now=T1)

    with hall_sessions() as session, pytest.raises(ValueError, match="'tax' is not in the current"):
        add_user(session, "zhao", "dept_head", "pw", department="tax")


@BACKENDS
@pytest.mark.parametrize("username", ["", " wang", "wang:1", "x" * 65])
def test_an_unusable_user_name_is_refused(hall_sessions, username):
    with hall_sessions() as session, pytest.raises(ValueError, match="user name"):
        add_user(session, username, "admin", "pw")


def test_a_plain_postgresql_url_means_psycopg_3():
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/test")  # does not connect yet

    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    engine.dispose()
