"""The audit trail's chain: appended in order, and any edit or gap made behind the
application's back found (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.registry.audit import GENESIS, AuditRow, head, record, verify
from tests.audit_helpers import drop_append_only_triggers

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def sessions(databases) -> sessionmaker[Session]:
    return databases


def three_records(sessions) -> None:
    with sessions() as db:
        record(db, "boss", "login", now=NOW, address="10.0.0.7")
        record(
            db,
            "boss",
            "staff.rename",
            "s001",
            now=NOW,
            before={"name": "张三"},
            after={"name": "张叁"},
        )
        record(db, "clerk", "login.failed", now=NOW + timedelta(seconds=1), address="10.0.0.9")
        db.commit()


def test_records_are_numbered_and_chained(sessions):
    three_records(sessions)
    with sessions() as db:
        rows = db.query(AuditRow).order_by(AuditRow.seq).all()
        assert [r.seq for r in rows] == [1, 2, 3]
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:2]]
        assert rows[1].after == {"name": "张叁"}
        assert verify(db) == (3, [])


def test_the_application_cannot_change_or_delete_a_record(sessions):
    three_records(sessions)
    with sessions() as db:
        row = db.query(AuditRow).filter_by(seq=2).one()
        row.actor = "someone-else"
        with pytest.raises(PermissionError, match="append-only"):
            db.flush()
        db.rollback()
        db.delete(db.query(AuditRow).filter_by(seq=2).one())
        with pytest.raises(PermissionError, match="append-only"):
            db.flush()


def test_the_database_refuses_a_plain_update_or_delete(sessions):
    three_records(sessions)
    statements = [
        "UPDATE audit_log SET target = 's002' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log",
    ]
    if sessions.kw["bind"].dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with sessions() as db:
            with pytest.raises(DBAPIError, match="append-only"):
                db.execute(text(statement))
            db.rollback()
    with sessions() as db:
        assert verify(db) == (3, [])


def test_the_head_is_the_newest_record(sessions):
    with sessions() as db:
        assert head(db) == (0, GENESIS)
    three_records(sessions)
    with sessions() as db:
        newest = db.query(AuditRow).filter_by(seq=3).one()
        assert head(db) == (3, newest.hash)


def test_an_edit_in_the_database_is_found(sessions):
    three_records(sessions)
    with sessions() as db:
        drop_append_only_triggers(db)
        db.execute(text("UPDATE audit_log SET target = 's002' WHERE seq = 2"))
        db.commit()
        count, found = verify(db)
    assert count == 3
    assert [(b.seq, b.problem) for b in found] == [
        (2, "its content does not match its hash (edited)")
    ]


def test_a_deleted_record_leaves_a_gap_that_is_found(sessions):
    three_records(sessions)
    with sessions() as db:
        drop_append_only_triggers(db)
        db.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        db.commit()
        count, found = verify(db)
    assert count == 2
    assert [(b.seq, b.problem) for b in found] == [(3, "record 2 is missing")]
