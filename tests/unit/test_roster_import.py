"""Rosters imported from the workbook: compared first (lines added, changed, removed, nothing
applied), then applied on confirmation as one audited registry change; a roster changed
since the preview, or a hall the user does not manage, is refused and changes nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.registry.audit import AuditRow
from hallwatch.registry.changes import Change, change_registry, find_entry
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.file import RegistryError
from hallwatch.registry.importing import import_file
from hallwatch.registry.load import load_deployment
from hallwatch.registry.roster_import import (
    apply_roster,
    line_words,
    lines_from_json,
    lines_json,
    read_and_compare,
)
from hallwatch.registry.workbook import registry_workbook

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
HALLS = """\
halls:
  - id: east
    name: 东城大厅
    departments: [{id: civil, name: 民政局}]
    windows:
      - {id: E01, name: 东1号窗口, department: civil}
      - {id: E02, name: 东2号窗口, department: civil}
    staff:
      - {id: e001, name: 张三, department: civil}
      - {id: e002, name: 王五, department: civil}
    roster:
      - {staff: e001, window: E01, days: [mon, tue, wed, thu, fri]}
      - {staff: e002, window: E02, days: [mon]}
  - id: west
    name: 西城大厅
    departments: [{id: tax, name: 税务局}]
    windows: [{id: X01, name: 西1号窗口, department: tax}]
    staff: [{id: x001, name: 李四, department: tax}]
    roster: [{staff: x001, window: X01, days: [mon, tue, wed, thu, fri]}]
"""
EAST_MANAGER = Change("east_mgr", "roster.import", "roster.xlsx", "10.0.0.7", halls=("east",))


@pytest.fixture
def sessions(tmp_path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hall.sqlite3'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    (tmp_path / "halls.yaml").write_text(HALLS, encoding="utf-8")
    import_file(factory, tmp_path / "halls.yaml", now=NOW)
    yield factory
    engine.dispose()


def workbook_of(sessions, edit=None, halls=("east",)) -> bytes:
    """The workbook of `halls` (as the east manager downloads it; None: every hall), its
    排班 sheet edited as a manager would."""
    with sessions() as db:
        deployment = load_deployment(db)
    if halls:
        deployment = Deployment(tuple(r for r in deployment.halls if r.hall.id in halls))
    book: Workbook = registry_workbook(deployment)
    if edit:
        edit(book["排班"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rosters(sessions) -> dict[str, list]:
    with sessions() as db:
        return {r.hall.id: sorted(r.roster, key=repr) for r in load_deployment(db).halls}


def east_week_changed(roster) -> None:
    """Rows: 1 headers, 2 keys, 3 e001@E01, 4 e002@E02."""
    roster["E3"] = "一三五"  # e001: changed
    roster.delete_rows(4)  # e002: removed
    roster.append(["e002", "", "东1号窗口", "", "周六", "2026-12-05", "2026-12-05"])


def test_a_workbook_is_compared_first_and_nothing_is_applied(sessions):
    before = rosters(sessions)
    found = read_and_compare(sessions, workbook_of(sessions, east_week_changed), EAST_MANAGER, NOW)
    with sessions() as db:
        deployment = load_deployment(db)
    assert [line_words(i, deployment) for i in found.changes.added] == [
        "东城大厅 · 王五(e002) · 东1号窗口(E01) · 周六 · 2026-12-05 起 · 至 2026-12-05"
    ]
    ((old, new),) = found.changes.changed
    assert (old["entry"]["days"], new["entry"]["days"]) == (
        ["mon", "tue", "wed", "thu", "fri"],
        ["mon", "wed", "fri"],
    )
    assert [i["entry"]["window"] for i in found.changes.removed] == ["E02"]
    assert rosters(sessions) == before


def test_a_confirmed_import_replaces_the_halls_roster_in_one_audited_change(sessions):
    data = workbook_of(sessions, east_week_changed)
    found = read_and_compare(sessions, data, EAST_MANAGER, NOW)
    lines = lines_from_json(lines_json(found.lines))  # as the confirmation form carries them
    apply_roster(sessions, lines, EAST_MANAGER, NOW, found.revision)
    after = rosters(sessions)
    assert [(e.staff, e.window, sorted(e.days)) for e in after["east"]] == [
        ("e001", "E01", ["fri", "mon", "wed"]),
        ("e002", "E01", ["sat"]),
    ]
    assert len(after["west"]) == 1
    with sessions() as db:
        (row,) = db.scalars(select(AuditRow)).all()
    assert (row.actor, row.action, row.target) == ("east_mgr", "roster.import", "roster.xlsx")
    again = read_and_compare(sessions, workbook_of(sessions), EAST_MANAGER, NOW)
    assert again.changes.count == 0 and again.changes.unchanged == 2


def test_a_roster_changed_since_the_preview_refuses_the_confirmation(sessions):
    found = read_and_compare(sessions, workbook_of(sessions, east_week_changed), EAST_MANAGER, NOW)

    def someone_else(mapping):
        find_entry(mapping, "windows", "E02")[1]["name"] = "综合窗口"
        mapping["halls"][0]["roster"][1]["days"] = ["tue"]

    change_registry(sessions, Change("boss", "roster.edit"), someone_else, NOW)
    with pytest.raises(RegistryError, match="预览之后已被修改"):
        apply_roster(sessions, found.lines, EAST_MANAGER, NOW, found.revision)
    assert [sorted(e.days) for e in rosters(sessions)["east"]][1] == ["tue"]


def test_a_hall_manager_cannot_import_another_halls_roster(sessions):
    with pytest.raises(RegistryError) as refused:
        read_and_compare(sessions, workbook_of(sessions, halls=None), EAST_MANAGER, NOW)
    assert refused.value.problems == ["排班 第 5 行 B 列:人员“x001”不在您管理的大厅"]

    found = read_and_compare(sessions, workbook_of(sessions), EAST_MANAGER, NOW)
    assert found.changes.count == 0 and found.changes.unchanged == 2


def test_a_sheet_sorted_otherwise_in_excel_changes_nothing(sessions):
    def sorted_by_window_backwards(roster):
        roster.move_range("A3:H3", rows=2)  # e001 after e002
        roster.delete_rows(3)

    data = workbook_of(sessions, sorted_by_window_backwards)
    found = read_and_compare(sessions, data, EAST_MANAGER, NOW)
    assert [line.entry["staff"] for line in found.lines] == ["e002", "e001"]
    assert found.changes.count == 0 and found.summary.changes == 0
