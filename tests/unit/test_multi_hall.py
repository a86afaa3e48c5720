"""Several halls on one deployment: the `halls:` form, ids unique across halls, who sees what."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from alerts.evaluate import foreign_departments
from hallwatch.access import ADMIN, DEPT_HEAD, HALL_MANAGER, INSPECTOR
from hallwatch.metrics.province import HallStanding, rank_halls
from hallwatch.registry.file import RegistryError
from hallwatch.registry.parse import parse_deployment, parse_registry
from hallwatch.registry.spec import DEFAULT_HALL_ID
from hallwatch.runtime import _keeping_unchanged_halls
from tests.halls import CONTRACT_EXAMPLE
from web.halls import allowed_halls
from web.scope import visible_departments, visible_windows

TWO_HALLS = """\
halls:
  - id: east
    name: 东城大厅
    timezone: Asia/Shanghai
    hours: [["09:00", "12:00"], ["13:30", "17:30"]]
    departments:
      - {id: civil, name: 民政局}
    windows:
      - {id: E01, name: 1号窗口, department: civil, position: [1, 1]}
    staff:
      - {id: e001, name: 张三, department: civil, badges: ["04A1B2C3"]}
    devices:
      - {id: e01-card, kind: badge_reader, window: E01}
      - {id: e01-seat, kind: presence_sensor, window: E01, zigbee2mqtt: seat_e01}
    roster:
      - {staff: e001, window: E01, days: [mon, tue, wed, thu, fri]}
    leave:
      - {staff: e001, from: "2026-11-23T09:00", until: "2026-11-23T12:00"}
  - id: west
    name: 乌鲁木齐大厅
    timezone: Asia/Urumqi
    hours: [["10:00", "13:30"], ["16:00", "19:30"]]
    holidays: none
    departments:
      - {id: tax, name: 税务局}
    windows:
      - {id: X01, name: 1号窗口, department: tax, position: [1, 1]}
    staff:
      - {id: x001, name: 李四, department: tax, badges: ["04A1B2C4"]}
    devices:
      - {id: x01-card, kind: badge_reader, window: X01}
    roster:
      - {staff: x001, window: X01, days: [mon, tue, wed, thu, fri]}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        parse_deployment(text)
    return caught.value.problems


def test_a_contract_file_is_one_hall_called_main():
    deployment = parse_deployment(CONTRACT_EXAMPLE)
    assert deployment.single
    assert deployment.ids == (DEFAULT_HALL_ID,)
    assert deployment.first == parse_registry(CONTRACT_EXAMPLE)


def test_each_hall_has_its_own_settings_and_entries():
    deployment = parse_deployment(TWO_HALLS)
    east, west = deployment.halls
    assert deployment.ids == ("east", "west")
    assert (east.hall.name, east.hall.timezone) == ("东城大厅", "Asia/Shanghai")
    assert (west.hall.timezone, west.hall.holidays) == ("Asia/Urumqi", "none")
    assert [w.id for w in west.windows] == ["X01"]
    # A time without an offset is in its own hall's time zone.
    assert east.leave[0].start == datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert deployment.hall_of_device == {"e01-card": "east", "e01-seat": "east", "x01-card": "west"}
    assert deployment.hall_of_window == {"E01": "east", "X01": "west"}
    assert deployment.hall_of_department == {"civil": "east", "tax": "west"}


def test_a_message_is_converted_with_its_own_halls_time_zone():
    deployment = parse_deployment(TWO_HALLS)
    assert deployment.for_device("x01-card").hall.timezone == "Asia/Urumqi"
    assert deployment.for_device("e01-card").hall.timezone == "Asia/Shanghai"
    assert "x01-card" in deployment.combined.device_by_id  # found whichever hall it is in
    assert deployment.for_device("nobody") is deployment.combined


def test_a_file_of_several_halls_is_not_read_as_one():
    with pytest.raises(RegistryError, match="2 halls where one was expected"):
        parse_registry(TWO_HALLS)


@pytest.mark.parametrize(
    "old, new, problem",
    [
        (
            "{id: X01, name: 1号窗口, department: tax",
            "{id: E01, name: 1号窗口, department: tax",
            "halls[1] (id west).windows[0] (id E01): key 'id': duplicate id 'E01' "
            "(also halls[0] (id east).windows[0])",
        ),
        (
            '{id: x001, name: 李四, department: tax, badges: ["04A1B2C4"]}',
            '{id: e001, name: 李四, department: tax, badges: ["04A1B2C4"]}',
            "halls[1] (id west).staff[0] (id e001): key 'id': duplicate id 'e001' "
            "(also halls[0] (id east).staff[0])",
        ),
        (
            '{id: x001, name: 李四, department: tax, badges: ["04A1B2C4"]}',
            '{id: x001, name: 李四, department: tax, badges: ["04a1b2c3"]}',
            "halls[1] (id west).staff[0] (id x001): key 'badges': card '04A1B2C3' "
            "is also held by e001",
        ),
        (
            "{id: x01-card, kind: badge_reader, window: X01}",
            "{id: e01-card, kind: badge_reader, window: X01}",
            "halls[1] (id west).devices[0] (id e01-card): key 'id': duplicate id 'e01-card' "
            "(also halls[0] (id east).devices[0])",
        ),
        (
            "{id: x01-card, kind: badge_reader, window: X01}",
            "{id: x01-card, kind: presence_sensor, window: X01, zigbee2mqtt: seat_e01}",
            "halls[1] (id west).devices[0] (id x01-card): key 'zigbee2mqtt': "
            "'seat_e01' is also device e01-seat",
        ),
        (
            "{id: tax, name: 税务局}",
            "{id: civil, name: 税务局}",
            "halls[1] (id west).departments[0] (id civil): key 'id': duplicate id 'civil' "
            "(also halls[0] (id east).departments[0])",
        ),
        (
            "{id: X01, name: 1号窗口, department: tax",
            "{id: X01, name: 1号窗口, department: civil",
            "halls[1] (id west).windows[0] (id X01): key 'department': unknown department 'civil'",
        ),
        ("  - id: west\n", "  - id: east\n", "halls[1] (id east): key 'id': duplicate id 'east'"),
        ("    timezone: Asia/Urumqi\n", "    timezone: Mars/Base\n", "halls[1] (id west): key "),
        ("    holidays: none\n", "    colour: blue\n", "halls[1] (id west): key 'colour': unknown"),
    ],
    ids=[
        "window-in-two-halls",
        "staff-in-two-halls",
        "card-in-two-halls",
        "device-in-two-halls",
        "zigbee-name-in-two-halls",
        "department-in-two-halls",
        "reference-to-another-hall",
        "hall-id-twice",
        "bad-time-zone",
        "unknown-hall-key",
    ],
)
def test_a_bad_hall_entry_is_refused_naming_hall_entry_and_key(old, new, problem):
    assert old in TWO_HALLS, old
    problems = problems_of(TWO_HALLS.replace(old, new, 1))
    assert any(p.startswith(problem) for p in problems), problems


def test_sections_beside_halls_and_a_hall_without_id_are_refused():
    problems = problems_of(TWO_HALLS.replace("  - id: west\n", "  -\n") + "departments: []\n")
    assert "top level: key 'departments': with 'halls' it belongs inside each hall" in problems
    assert "halls[1]: key 'id': missing" in problems
    assert problems_of("halls: []\n") == ["halls: expected a non-empty list of halls, got a list"]
    assert problems_of("hall: {name: 大厅}\n" + TWO_HALLS) == [
        "top level: key 'hall': a file has either 'hall' (one hall) or 'halls', not both"
    ]


def test_only_the_other_halls_departments_are_foreign():
    deployment = parse_deployment(TWO_HALLS)
    east, west = deployment.halls
    assert foreign_departments(deployment, east) == {"tax"}
    assert foreign_departments(deployment, west) == {"civil"}
    single = parse_deployment(CONTRACT_EXAMPLE)
    assert foreign_departments(single, single.first) == frozenset()


def user(role: str, halls: tuple[str, ...] = (), department: str | None = None):
    return SimpleNamespace(is_authenticated=True, role=role, halls=halls, department_id=department)


def test_a_hall_manager_of_one_hall_sees_nothing_of_another():
    deployment = parse_deployment(TWO_HALLS)
    east, west = deployment.halls
    manager = user(HALL_MANAGER, ("east",))
    assert allowed_halls(manager, deployment) == ["east"]
    assert visible_windows(manager, east) == {"E01"}
    assert visible_windows(manager, west) == set()
    assert visible_departments(manager, west) == set()


def test_unscoped_users_see_every_hall_and_a_department_head_their_departments():
    deployment = parse_deployment(TWO_HALLS)
    assert allowed_halls(user(ADMIN), deployment) == ["east", "west"]
    assert allowed_halls(user(INSPECTOR), deployment) == ["east", "west"]
    assert allowed_halls(user(DEPT_HEAD, department="tax"), deployment) == ["west"]
    assert allowed_halls(SimpleNamespace(is_authenticated=False), deployment) == ["east", "west"]


def standing(
    hall: str,
    month: float | None,
    today: float | None = 0.5,
    alerts: int = 0,
    coverage: float | None = 1.0,
):
    return HallStanding(hall, hall, 10, 5, today, month, alerts, coverage)


def test_halls_rank_by_the_months_ratio_then_today_then_fewer_alerts():
    rows = rank_halls(
        [
            standing("a", 0.8),
            standing("b", 0.9),
            standing("c", 0.8, alerts=2),
            standing("d", 0.8),
            standing("e", None),
        ]
    )
    assert [(r["hall"], r["rank"]) for r in rows] == [
        ("b", 1),
        ("a", 2),
        ("d", 2),
        ("c", 4),
        ("e", None),
    ]
    assert rows[0]["month_staffed_ratio"] == 0.9


def test_a_hall_measured_less_than_95_percent_of_its_time_is_not_ranked():
    rows = rank_halls(
        [
            standing("dark", 1.0, coverage=0.6),
            standing("lit", 0.7),
            standing("dim", 0.99, coverage=0.94),
        ]
    )
    assert [(r["hall"], r["rank"], r["month_coverage"]) for r in rows] == [
        ("lit", 1, 1.0),
        ("dim", None, 0.94),
        ("dark", None, 0.6),
    ]


def test_a_reread_keeps_the_halls_that_did_not_change_as_they_were():
    old = parse_deployment(TWO_HALLS)
    new = parse_deployment(TWO_HALLS.replace("name: 乌鲁木齐大厅", "name: 西城大厅"))
    kept = _keeping_unchanged_halls(old, new)
    assert kept.halls[0] is old.halls[0]  # the live tracker cached for it lives on
    assert kept.halls[1] is new.halls[1] and kept.halls[1].hall.name == "西城大厅"
