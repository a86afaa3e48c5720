"""The appeal store: filed once, decided once, never edited after (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.access import DEPT_HEAD, HALL_MANAGER, INSPECTOR
from hallwatch.metrics.appeal_records import accepted_between
from hallwatch.metrics.appeals import to_microseconds
from hallwatch.metrics.day import WindowMinutes
from hallwatch.registry.appeals import (
    AppealDecided,
    AppealRefused,
    Filing,
    decide,
    decided_between,
    file_appeal,
    visible_to,
    withdraw,
)
from hallwatch.registry.models import AppealRow
from tests.unit.hall import MONDAY, at

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # a week after the Monday appealed
BOSS = SimpleNamespace(role=HALL_MANAGER, department_id=None, halls=())
CIVIL_HEAD = SimpleNamespace(role=DEPT_HEAD, department_id="civil", halls=())
TAX_HEAD = SimpleNamespace(role=DEPT_HEAD, department_id="tax", halls=())
STRETCH = Filing(
    hall="main",
    department="civil",
    subject="window",
    day=MONDAY,
    start=at("10:00"),
    end=at("10:30"),
    reason="sensor_fault",
    reason_text="座位传感器电池没电",
    window="W01",
)
ABSENCE = Filing(
    hall="main",
    department="civil",
    subject="absence",
    day=MONDAY,
    start=at("13:45"),
    reason="errand",
    reason_text="经批准外出送件",
    staff="s002",
    episode_key="absent:s002:W02:2026-11-23T13:30:00+08:00",
)
SNAPSHOT = WindowMinutes(timedelta(minutes=30), empty=timedelta(minutes=30))


@pytest.fixture
def sessions(databases) -> sessionmaker[Session]:
    return databases


def filed(sessions, filing: Filing = STRETCH) -> int:
    with sessions() as db:
        row = file_appeal(db, filing, "civil-head", NOW)
        db.commit()
        return row.id


def accept(db, appeal_id: int, note="核实属实", **kwargs):
    return decide(db, appeal_id, True, "boss", note, NOW, visible_to(BOSS), **kwargs)


def test_an_accepted_appeal_keeps_who_decided_when_and_its_snapshot(sessions):
    appeal = filed(sessions)
    with sessions() as db:
        row = accept(db, appeal, minutes_us=to_microseconds(SNAPSHOT))
        db.commit()
        assert (row.status, row.decided_by, row.decided_at, row.note) == (
            "accepted",
            "boss",
            NOW,
            "核实属实",
        )
    with sessions() as db:
        [adjustment] = accepted_between(db, "main", at("00:00"), at("23:59"))
        assert (adjustment.appeal, adjustment.window, adjustment.minutes) == (
            appeal,
            "W01",
            SNAPSHOT,
        )
        assert accepted_between(db, "other-hall", at("00:00"), at("23:59")) == []
        assert [r.id for r in decided_between(db, "main", at("00:00"), at("23:59"))] == [appeal]


def test_a_decided_appeal_is_never_decided_again(sessions):
    appeal = filed(sessions)
    with sessions() as db:
        decide(db, appeal, False, "boss", "无依据", NOW, visible_to(BOSS))
        db.commit()
    with sessions() as db, pytest.raises(AppealDecided, match="already rejected"):
        accept(db, appeal, minutes_us=to_microseconds(SNAPSHOT))
    with sessions() as db, pytest.raises(AppealDecided):
        withdraw(db, appeal, "civil-head", NOW, visible_to(CIVIL_HEAD))
    with sessions() as db:
        assert db.get(AppealRow, appeal).status == "rejected"


def test_the_store_refuses_an_edit_of_a_decided_appeal(sessions):
    appeal = filed(sessions)
    with sessions() as db:
        accept(db, appeal, minutes_us=to_microseconds(SNAPSHOT))
        db.commit()
    with sessions() as db:
        row = db.get(AppealRow, appeal)
        row.note = "改过的备注"
        with pytest.raises(AppealDecided):
            db.commit()
    with sessions() as db:
        row = db.get(AppealRow, appeal)
        row.status = "pending"
        with pytest.raises(AppealDecided):
            db.flush()
    with sessions() as db:
        assert db.get(AppealRow, appeal).note == "核实属实"


def test_a_pending_appeal_may_be_edited_only_by_withdrawing_it(sessions):
    appeal = filed(sessions)
    with sessions() as db:
        assert withdraw(db, appeal, "someone-else", NOW, visible_to(BOSS)) is None
        row = withdraw(db, appeal, "civil-head", NOW, visible_to(CIVIL_HEAD))
        db.commit()
        assert row.status == "withdrawn"
    with sessions() as db, pytest.raises(AppealDecided):
        accept(db, appeal)


def test_a_note_is_required_to_decide(sessions):
    appeal = filed(sessions)
    with sessions() as db, pytest.raises(ValueError, match="note"):
        accept(db, appeal, note="  ")


def test_no_two_open_appeals_cover_the_same_minutes_or_episode(sessions):
    first = filed(sessions)
    overlapping = replace(STRETCH, start=at("09:50"), end=at("10:10"))
    with sessions() as db, pytest.raises(AppealRefused, match=f"appeal {first}"):
        file_appeal(db, overlapping, "civil-head", NOW)
    filed(sessions, replace(STRETCH, start=at("10:30"), end=at("11:00")))  # adjacent is fine
    filed(sessions, ABSENCE)
    with sessions() as db, pytest.raises(AppealRefused):
        file_appeal(db, ABSENCE, "civil-head", NOW)
    with sessions() as db:
        withdraw(db, first, "civil-head", NOW, visible_to(CIVIL_HEAD))
        db.commit()
    filed(sessions, overlapping)  # a withdrawn appeal covers nothing


def test_a_filing_says_what_is_wrong(sessions):
    for bad, word in [
        (replace(STRETCH, reason="weather"), "reason"),
        (replace(STRETCH, reason_text=" "), "reason_text"),
        (replace(STRETCH, end=at("09:00")), "end"),
        (replace(ABSENCE, episode_key=None), "episode"),
    ]:
        with sessions() as db, pytest.raises(ValueError, match=word):
            file_appeal(db, bad, "civil-head", NOW)


def test_department_heads_see_their_own_and_decide_nothing_of_others(sessions):
    appeal = filed(sessions)
    with sessions() as db:
        assert db.scalars(select(AppealRow).where(*visible_to(TAX_HEAD))).all() == []
        assert decide(db, appeal, True, "x", "n", NOW, visible_to(TAX_HEAD)) is None
        assert len(db.scalars(select(AppealRow).where(*visible_to(CIVIL_HEAD))).all()) == 1
        limited = SimpleNamespace(role=INSPECTOR, department_id=None, halls=("north",))
        assert db.scalars(select(AppealRow).where(*visible_to(limited))).all() == []
