"""What an approved request writes into the registry file's mapping (pure)."""

from datetime import date

import pytest

from hallwatch.registry.file import RegistryError
from hallwatch.registry.staffing_edits import add_swap, replace_at_window

DAY = date(2026, 12, 14)


def mapping(*roster):
    return {
        "hall": {"timezone": "Asia/Shanghai"},
        "departments": [{"id": "civil", "name": "民政局"}],
        "windows": [{"id": "W01", "name": "1号窗口", "department": "civil"}],
        "staff": [
            {"id": "s001", "name": "张三", "department": "civil"},
            {"id": "s002", "name": "李四", "department": "civil"},
        ],
        "roster": list(roster),
    }


def line(staff="s001", **dates):
    return {"staff": staff, "window": "W01", "days": ["mon", "wed"], **dates}


def test_a_line_in_force_ends_the_day_before_and_continues_with_the_other():
    edited = mapping(line(**{"from": "2026-01-01"}))
    replace_at_window(edited, "W01", "s001", "s002", DAY)
    assert edited["roster"] == [
        line(**{"from": "2026-01-01", "until": "2026-12-13"}),
        line("s002", **{"from": "2026-12-14"}),
    ]


def test_a_line_over_before_the_date_stays_and_a_later_one_changes_hands():
    edited = mapping(line(until="2026-06-30"), line(**{"from": "2027-01-01"}))
    replace_at_window(edited, "W01", "s001", "s002", DAY)
    assert edited["roster"] == [line(until="2026-06-30"), line("s002", **{"from": "2027-01-01"})]


def test_a_newcomer_joins_the_windows_department_first():
    edited = mapping(line())
    replace_at_window(edited, "W01", "s001", "s009", DAY, {"id": "s009", "name": "赵六"})
    assert edited["staff"][-1] == {"id": "s009", "name": "赵六", "department": "civil"}
    assert edited["roster"][-1] == line("s009", **{"from": "2026-12-14"})


def test_nobody_rostered_there_from_the_date_is_refused():
    with pytest.raises(RegistryError, match="no roster line at window 'W01'"):
        replace_at_window(mapping(line(until="2026-06-30")), "W01", "s001", "s002", DAY)


def test_a_swap_goes_to_the_hall_of_the_two_and_a_gone_person_is_refused():
    edited = mapping()
    add_swap(edited, DAY, "staff", ("s001", "s002"))
    assert edited["swaps"] == [{"date": "2026-12-14", "staff": ["s001", "s002"]}]
    with pytest.raises(RegistryError, match="no entry with id 's007'"):
        add_swap(edited, DAY, "staff", ("s001", "s007"))
