"""A change from a form: the registry edited as its file, validated whole, applied in one
transaction and audited with the entries before and after; a refused one changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.registry.audit import AuditRow, verify
from hallwatch.registry.changes import (
    Change,
    change_registry,
    differences,
    find_entry,
    preview_change,
    register_card,
)
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.dump import dump_deployment
from hallwatch.registry.file import RegistryError
from hallwatch.registry.importing import import_file
from hallwatch.registry.load import load_deployment
from hallwatch.registry.parse import parse_deployment

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TWO_HALLS = """\
halls:
  - id: east
    name: 东城区政务服务大厅
    departments:
      - {id: civil, name: 民政局}
    windows:
      - {id: E01, name: 1号窗口, department: civil}
    staff:
      - {id: e001, name: 张三, department: civil, badges: ["04A1B2C3"]}
  - id: west
    name: 西城区政务服务大厅
    departments:
      - {id: tax, name: 税务局}
    windows:
      - {id: K01, name: 1号窗口, department: tax}
    staff:
      - {id: k001, name: 李四, department: tax}
"""


@pytest.fixture
def sessions(tmp_path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hall.sqlite3'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    (tmp_path / "halls.yaml").write_text(TWO_HALLS, encoding="utf-8")
    import_file(factory, tmp_path / "halls.yaml", now=NOW)
    yield factory
    engine.dispose()


def test_an_entry_is_found_in_whichever_hall_holds_it():
    written = dump_deployment(parse_deployment(TWO_HALLS))
    part, person = find_entry(written, "staff", "k001")
    assert (part["id"], person["name"]) == ("west", "李四")
    with pytest.raises(RegistryError, match="no entry with id 'nobody'"):
        find_entry(written, "staff", "nobody")


def test_differences_name_the_entries_changed_with_their_hall_and_section():
    before = dump_deployment(parse_deployment(TWO_HALLS))
    after = dump_deployment(parse_deployment(TWO_HALLS.replace("name: 李四", "name: 李肆")))
    was, now = differences(before, after)
    assert was == [
        {
            "hall": "west",
            "section": "staff",
            "entry": {"id": "k001", "name": "李四", "department": "tax"},
        }
    ]
    assert now[0]["entry"]["name"] == "李肆"


def rename(mapping: dict) -> None:
    find_entry(mapping, "windows", "E01")[1]["name"] = "综合窗口"


def test_a_change_is_applied_and_audited_with_before_and_after(sessions):
    change = Change("boss", "window.edit", "window E01", "10.0.0.7")
    summary = change_registry(sessions, change, rename, NOW)
    assert summary.sections["windows"].updated == 1
    with sessions() as db:
        assert load_deployment(db).by_id["east"].window_by_id["E01"].name == "综合窗口"
        (row,) = db.scalars(select(AuditRow)).all()
        assert (row.actor, row.action, row.target, row.address) == (
            "boss",
            "window.edit",
            "window E01",
            "10.0.0.7",
        )
        assert row.before[0]["entry"]["name"] == "1号窗口"
        assert row.after[0]["entry"]["name"] == "综合窗口"
        assert verify(db) == (1, [])


def test_a_change_a_file_could_not_hold_is_refused_and_changes_nothing(sessions):
    def second_holder(mapping: dict) -> None:
        find_entry(mapping, "staff", "k001")[1]["badges"] = ["04A1B2C3"]

    with pytest.raises(RegistryError, match="also held by e001"):
        change_registry(sessions, Change("boss", "staff.edit"), second_holder, NOW)
    with sessions() as db:
        assert load_deployment(db).by_id["west"].staff_by_id["k001"].badges == ()
        assert db.scalars(select(AuditRow)).all() == []


def test_a_user_limited_to_a_hall_cannot_change_another(sessions):
    change = Change("west-boss", "window.edit", "window E01", halls=("west",))
    with pytest.raises(RegistryError, match="hall 'east': not a hall you manage"):
        change_registry(sessions, change, rename, NOW)
    with pytest.raises(RegistryError, match="not in a hall you manage"):
        register_card(sessions, "e001", "0A0B0C0D", NOW, halls=("west",))
    register_card(sessions, "k001", "0A0B0C0D", NOW, halls=("west",), actor="west-boss")
    with sessions() as db:
        assert load_deployment(db).by_id["west"].staff_by_id["k001"].badges == ("0A0B0C0D",)
        assert db.scalars(select(AuditRow.action)).all() == ["card.register"]


def test_a_preview_says_what_would_change_and_changes_nothing(sessions):
    preview = preview_change(sessions, Change("boss", "window.edit"), rename, NOW)
    assert preview.summary.sections["windows"].updated == 1
    assert preview.after[0]["entry"]["name"] == "综合窗口"
    with sessions() as db:
        assert load_deployment(db).by_id["east"].window_by_id["E01"].name == "1号窗口"
        assert db.scalars(select(AuditRow)).all() == []
