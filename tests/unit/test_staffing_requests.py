"""Staffing requests: leave, swaps and replacements asked for, decided once, and only an
approval changes the registry (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.access import DEPT_HEAD, HALL_MANAGER, Scope
from hallwatch.registry.apply import apply_registry
from hallwatch.registry.audit import AuditRow, verify
from hallwatch.registry.file import RegistryError
from hallwatch.registry.load import load_registry
from hallwatch.registry.spec import Swap
from hallwatch.registry.staffing import (
    Decision,
    Filed,
    RequestDecided,
    decide,
    file_request,
    pending_leave,
    visible_to,
    withdraw,
)
from hallwatch.registry.staffing_rules import (
    StaffingRefused,
    leave_request,
    replacement_request,
    swap_request,
)
from hallwatch.schedule import DaySchedule
from tests.unit.hall import MONDAY, at, hall

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # the Friday before the Monday asked for
BOSS = SimpleNamespace(role=HALL_MANAGER, department_id=None, halls=())
CIVIL_HEAD = SimpleNamespace(role=DEPT_HEAD, department_id="civil", halls=())
TAX_HEAD = SimpleNamespace(role=DEPT_HEAD, department_id="tax", halls=())
NEXT_MONDAY = date(2026, 11, 30)


@pytest.fixture
def sessions(databases) -> sessionmaker[Session]:
    """The test hall in an empty database."""
    with databases() as db:
        apply_registry(db, hall(), NOW)
        db.commit()
    return databases


def filer(user, name="civil-head") -> Filed:
    return Filed(hall(), Scope.of(user), name, NOW)


def filed(sessions, row) -> int:
    with sessions() as db:
        stored = file_request(db, filer(CIVIL_HEAD), row)
        db.commit()
        return stored.id


def settle(sessions, request_id: int, approve=True, who=BOSS, note="同意"):
    with sessions() as db:
        decision = Decision("boss", approve, note, NOW, visible_to(who))
        row = decide(db, request_id, decision)
        db.commit()
        return row


def sick_monday():
    return leave_request(filer(CIVIL_HEAD), "s001", at("00:00"), at("23:59"), "sick", "发烧")


def schedule(sessions, day=MONDAY) -> DaySchedule:
    with sessions() as db:
        return DaySchedule(load_registry(db), day)


def test_approved_leave_is_leave_with_its_type_and_pending_leave_is_not(sessions):
    request = filed(sessions, sick_monday())
    assert schedule(sessions).rostered_at("W01", at("10:00")) == ["s001"]
    with sessions() as db:
        [pending] = pending_leave(db, "main", at("00:00"), at("23:59"))
        assert pending.id == request
    row = settle(sessions, request)
    assert (row.status, row.decided_by, row.note) == ("approved", "boss", "同意")
    with sessions() as db:
        [leave] = load_registry(db).leave
        assert (leave.staff, leave.type, leave.reason) == ("s001", "sick", "发烧")
        assert pending_leave(db, "main", at("00:00"), at("23:59")) == []
        actions = [r.action for r in db.scalars(select(AuditRow).order_by(AuditRow.seq))]
        assert actions == ["leave.request", "leave.approve"]
        assert verify(db) == (2, [])
    assert schedule(sessions).on_leave_at("W01", at("10:00")) == ["s001"]


def test_a_rejected_request_changes_nothing_and_cannot_be_decided_again(sessions):
    request = filed(sessions, sick_monday())
    assert settle(sessions, request, approve=False, note="人手不足").status == "rejected"
    with pytest.raises(RequestDecided):
        settle(sessions, request)
    with sessions() as db:
        assert load_registry(db).leave == ()


def test_a_swap_approved_is_in_the_registry_and_the_day_follows_it(sessions):
    request = filed(sessions, swap_request(filer(CIVIL_HEAD), MONDAY, ("s001", "s002"), None))
    settle(sessions, request)
    with sessions() as db:
        assert load_registry(db).swaps == (Swap(MONDAY, staff=("s001", "s002")),)
    day = schedule(sessions)
    assert (day.rostered_at("W01", at("10:00")), day.rostered_at("W02", at("10:00"))) == (
        ["s002"],
        ["s001"],
    )


def test_a_replacement_by_a_newcomer_hands_over_the_roster_from_the_date(sessions):
    newcomer = ("s009", "赵六", "dec:0009357203")
    row = replacement_request(filer(CIVIL_HEAD), "W01", "s001", NEXT_MONDAY, newcomer=newcomer)
    settle(sessions, filed(sessions, row))
    with sessions() as db:
        registry = load_registry(db)
    assert registry.staff_by_id["s009"].department == "civil"
    assert registry.staff_by_id["s009"].badges == ("8EC793",)
    assert schedule(sessions).rostered_at("W01", at("10:00")) == ["s001"]
    later = DaySchedule(registry, NEXT_MONDAY)
    assert later.rostered_at("W01", at("10:00", NEXT_MONDAY)) == ["s009"]


def test_a_refused_registry_change_leaves_the_request_pending(sessions):
    row = replacement_request(filer(CIVIL_HEAD), "W01", "s001", NEXT_MONDAY, coming="s002")
    request = filed(sessions, row)
    with sessions() as db:
        apply_registry(db, _without_roster(), NOW)
        db.commit()
    with pytest.raises(RegistryError):
        settle(sessions, request)
    with sessions() as db:
        assert db.get(type(row), request).status == "pending"


def _without_roster():
    from dataclasses import replace

    return replace(hall(), roster=())


def test_only_the_filer_withdraws_and_only_while_pending(sessions):
    request = filed(sessions, sick_monday())
    with sessions() as db:
        assert withdraw(db, request, "someone-else", NOW, visible_to(CIVIL_HEAD)) is None
        row = withdraw(db, request, "civil-head", NOW, visible_to(CIVIL_HEAD))
        db.commit()
        assert row.status == "withdrawn"
        actions = [r.action for r in db.scalars(select(AuditRow).order_by(AuditRow.seq))]
        assert actions == ["leave.request", "leave.withdraw"]
    with pytest.raises(RequestDecided):
        settle(sessions, request)


def test_another_departments_head_neither_sees_nor_decides(sessions):
    request = filed(sessions, sick_monday())
    assert settle(sessions, request, who=TAX_HEAD) is None
    with sessions() as db:
        assert withdraw(db, request, "civil-head", NOW, visible_to(TAX_HEAD)) is None


@pytest.mark.parametrize(
    ("build", "field", "code"),
    [
        (
            lambda f: leave_request(f, "s003", at("09:00"), at("12:00"), "sick", ""),
            "staff",
            "not_yours",
        ),
        (
            lambda f: leave_request(f, "s001", at("12:00"), at("09:00"), "sick", ""),
            "until",
            "order",
        ),
        (
            lambda f: leave_request(f, "s001", at("09:00"), at("12:00"), "holiday", ""),
            "type",
            "type",
        ),
        (lambda f: swap_request(f, MONDAY, ("s001", "s001"), None), "second", "same"),
        (lambda f: swap_request(f, MONDAY, None, ("W01", "W03")), "second", "not_yours"),
        (
            lambda f: replacement_request(f, "W01", "s002", MONDAY, coming="s001"),
            "leaving",
            "not_rostered",
        ),
        (
            lambda f: replacement_request(f, "W01", "s001", MONDAY, coming="s003"),
            "coming",
            "not_yours",
        ),
        (
            lambda f: replacement_request(f, "W01", "s001", MONDAY, newcomer=("s002", "x", "")),
            "new_id",
            "taken",
        ),
        (
            lambda f: replacement_request(f, "W01", "s001", MONDAY, newcomer=("s9", "x", "zz")),
            "new_card",
            "card",
        ),
    ],
)
def test_a_department_head_asks_only_for_their_own_and_sound_things(build, field, code):
    with pytest.raises(StaffingRefused) as refused:
        build(filer(CIVIL_HEAD))
    assert (refused.value.field, refused.value.code) == (field, code)


def test_a_hall_manager_may_ask_for_any_department():
    row = swap_request(filer(BOSS, "boss"), MONDAY, None, ("W01", "W03"))
    assert (row.window_id, row.other_window_id, row.department_id) == ("W01", "W03", "civil")
