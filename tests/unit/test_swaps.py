"""Shift swaps (调班): two people exchange a day's duties, or two windows their people."""

from dataclasses import replace
from datetime import date

import pytest

from hallwatch.registry.deployment import Deployment
from hallwatch.registry.dump import deployment_yaml
from hallwatch.registry.file import RegistryError
from hallwatch.registry.parse import parse_registry
from hallwatch.registry.spec import Leave, RosterEntry, Swap
from hallwatch.schedule import DaySchedule
from tests.unit.hall import MONDAY, WEEKDAYS, at, hall

TUESDAY = date(2026, 11, 24)
SATURDAY = date(2026, 11, 28)  # a plain Saturday: the hall is closed


def who_is_where(registry, day=MONDAY, when="10:00"):
    schedule = DaySchedule(registry, day)
    moment = at(when, day)
    return {w: schedule.rostered_at(w, moment) for w in ("W01", "W02", "W03")}


def test_two_people_swapping_work_each_others_window_that_day_only():
    registry = replace(hall(), swaps=(Swap(MONDAY, staff=("s001", "s002")),))
    assert who_is_where(registry) == {"W01": ["s002"], "W02": ["s001"], "W03": []}
    assert who_is_where(registry, TUESDAY) == {"W01": ["s001"], "W02": ["s002"], "W03": []}


def test_a_person_swapping_takes_the_others_hours_too():
    base = hall()
    morning = ((at("09:00").time(), at("12:00").time()),)
    roster = (RosterEntry("s001", "W01", WEEKDAYS, hours=morning), base.roster[1])
    registry = replace(base, roster=roster, swaps=(Swap(MONDAY, staff=("s001", "s002")),))
    schedule = DaySchedule(registry, MONDAY)
    assert schedule.rostered_at("W01", at("10:00")) == ["s002"]
    assert schedule.rostered_at("W01", at("15:00")) == []  # W01's own hours, now 李四's
    assert schedule.rostered_at("W02", at("15:00")) == ["s001"]


def test_a_window_swap_moves_the_people_rostered_at_the_two_windows():
    registry = replace(hall(), swaps=(Swap(MONDAY, windows=("W01", "W03")),))
    assert who_is_where(registry) == {"W01": [], "W02": ["s002"], "W03": ["s001"]}


def test_a_swap_with_someone_not_rostered_that_day_hands_the_duty_over():
    registry = replace(hall(), swaps=(Swap(MONDAY, staff=("s001", "s003")),))
    assert who_is_where(registry) == {"W01": ["s003"], "W02": ["s002"], "W03": []}
    assert DaySchedule(registry, MONDAY).duties_of("s001") == []


def test_a_swap_with_someone_on_leave_leaves_the_window_they_take_closed():
    leave = Leave("s002", at("00:00"), at("23:59"), "病假", "sick")
    registry = replace(hall(), leave=(leave,), swaps=(Swap(MONDAY, staff=("s001", "s002")),))
    schedule = DaySchedule(registry, MONDAY)
    assert schedule.rostered_at("W02", at("10:00")) == ["s001"]
    assert schedule.rostered_at("W01", at("10:00")) == []
    assert schedule.on_leave_at("W01", at("10:00")) == ["s002"]
    assert schedule.open_intervals["W01"] == []


def test_a_swap_on_a_day_the_hall_is_closed_changes_nothing():
    registry = replace(hall(), swaps=(Swap(SATURDAY, staff=("s001", "s002")),))
    assert DaySchedule(registry, SATURDAY).duties == ()
    assert who_is_where(registry) == who_is_where(hall())


FILE = """
hall: {name: 测试大厅}
departments: [{id: civil, name: 民政局}]
windows: [{id: W01, name: 1号窗口, department: civil}, {id: W02, name: 2号窗口, department: civil}]
staff: [{id: s001, name: 张三, department: civil}, {id: s002, name: 李四, department: civil}]
roster:
  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}
  - {staff: s002, window: W02, days: [mon, tue, wed, thu, fri]}
leave:
  - {staff: s001, from: "2026-11-25", until: "2026-11-25", type: sick, reason: 发烧}
swaps:
  - {date: "2026-11-23", staff: [s001, s002]}
  - {date: 2026-11-24, windows: [W01, W02]}
"""


def test_the_file_reads_leave_types_and_swaps_and_writes_them_back():
    registry = parse_registry(FILE)
    assert registry.leave[0].type == "sick"
    assert registry.swaps == (
        Swap(MONDAY, staff=("s001", "s002")),
        Swap(TUESDAY, windows=("W01", "W02")),
    )
    text = deployment_yaml(Deployment((registry,)))
    assert '- {date: "2026-11-23", staff: [s001, s002]}' in text
    assert "type: sick" in text
    assert parse_registry(text) == registry


def test_a_file_without_types_or_swaps_is_still_read():
    registry = parse_registry(FILE.split("leave:")[0])
    assert registry.swaps == ()


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('{date: "2026-11-23"}', "swaps[0] (date 2026-11-23): a swap names exactly one of"),
        (
            '{date: "2026-11-23", staff: [s001, s002], windows: [W01, W02]}',
            "a swap names exactly one of",
        ),
        ('{date: "2026-11-23", staff: [s001]}', "key 'staff': expected a list of two ids"),
        ('{date: "2026-11-23", staff: [s001, s001]}', "key 'staff': 's001' twice"),
        ('{date: "2026-11-23", windows: [W01, W09]}', "key 'windows': unknown window 'W09'"),
        ('{date: "23.11.2026", staff: [s001, s002]}', "key 'date':"),
        ('{date: "2026-11-23", staff: [s001, s002], why: x}', "key 'why': unknown key"),
    ],
)
def test_a_bad_swap_is_refused_naming_the_entry_and_key(entry, problem):
    with pytest.raises(RegistryError) as refused:
        parse_registry(FILE.split("swaps:")[0] + f"swaps:\n  - {entry}\n")
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_the_same_swap_twice_and_an_unknown_leave_type_are_refused():
    text = (
        FILE.replace("type: sick", "type: holiday")
        + '  - {date: "2026-11-23", staff: [s001, s002]}\n'
    )
    with pytest.raises(RegistryError) as refused:
        parse_registry(text)
    problems = "\n".join(refused.value.problems)
    assert "swaps[2] (date 2026-11-23): the same swap as swaps[0]" in problems
    assert "leave[0] (staff s001): key 'type':" in problems
