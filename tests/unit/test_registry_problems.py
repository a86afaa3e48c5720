"""The registry file parser on bad files: every bad entry is refused, naming entry and key."""

from __future__ import annotations

import pytest

from hallwatch.registry.file import RegistryError
from hallwatch.registry.parse import parse_registry
from hallwatch.registry.values import CARD_FORMS
from tests.unit.registry_file import HALL, edited

BAD_CARD = (
    "staff[0] (id s001): key 'badges': '04ZZ' is not a card number in hex (at most 32 digits); "
    f"write {CARD_FORMS}"
)


def problems_of(text: str) -> list[str]:
    """The problems the parser reports for `text` (it must refuse it)."""
    with pytest.raises(RegistryError) as caught:
        parse_registry(text)
    return caught.value.problems


BAD_LINES = [
    pytest.param(
        "{id: W02, name: 2号窗口, department: tax, position: [1, 2]}",
        "{id: W02, name: 2号窗口, department: xyz, position: [1, 2]}",
        "windows[1] (id W02): key 'department': unknown department 'xyz'",
        id="unknown-department",
    ),
    pytest.param(
        'badges: ["04A1B2C3"]',
        'badges: ["04ZZ"]',
        BAD_CARD,
        id="badge-not-hex",
    ),
    pytest.param(
        'badges: ["04A1B2C4"]',
        'badges: ["04a1b2c3"]',
        "staff[1] (id s002): key 'badges': card '04A1B2C3' is also held by s001",
        id="badge-held-twice",
    ),
    pytest.param(
        '["13:30", "17:30"]',
        '["13:30", "25:00"]',
        "hall: key 'hours': '25:00' is not a time HH:MM",
        id="hour-out-of-range",
    ),
    pytest.param(
        '["13:30", "17:30"]',
        '["11:30", "17:30"]',
        "hall: key 'hours': periods 09:00-12:00 and 11:30-17:30 overlap",
        id="hours-overlap",
    ),
    pytest.param(
        '["13:30", "17:30"]',
        '["17:30", "13:30"]',
        "hall: key 'hours': period 17:30-13:30 does not end after it starts",
        id="hours-backwards",
    ),
    pytest.param(
        "timezone: Asia/Shanghai",
        "timezone: Mars/Olympus",
        "hall: key 'timezone': 'Mars/Olympus' is not a known time zone such as Asia/Shanghai",
        id="bad-timezone",
    ),
    pytest.param(
        "timezone: Asia/Shanghai",
        "timezone: Asia/Shanghai\n  holidays: us",
        "hall: key 'holidays': 'us' is not one of cn, none",
        id="bad-holidays",
    ),
    pytest.param(
        "timezone: Asia/Shanghai",
        'timezone: Asia/Shanghai\n  closed_days: ["2026-02-30"]',
        "hall: key 'closed_days': '2026-02-30' is not a date YYYY-MM-DD",
        id="bad-date",
    ),
    pytest.param(
        "timezone: Asia/Shanghai",
        "timezone: Asia/Shanghai\n  empty_grace_minutes: -5",
        "hall: key 'empty_grace_minutes': '-5' is negative",
        id="negative-grace",
    ),
    pytest.param(
        "timezone: Asia/Shanghai",
        "timezone: Asia/Shanghai\n  offline_after_minutes: soon",
        "hall: key 'offline_after_minutes': 'soon' is not a number of minutes",
        id="grace-not-a-number",
    ),
    pytest.param(
        "timezone: Asia/Shanghai",
        "timezone: Asia/Shanghai\n  colour: blue",
        "hall: key 'colour': unknown key (expected name, timezone, hours, holidays, closed_days,"
        " working_days, empty_grace_minutes, absent_grace_minutes, offline_after_minutes)",
        id="unknown-hall-key",
    ),
    pytest.param(
        "position: [1, 2]}",
        "position: [0, 2]}",
        "windows[1] (id W02): key 'position': must be [row, column] of positive whole numbers,"
        " got [0, 2]",
        id="position-zero",
    ),
    pytest.param(
        "position: [1, 2]}",
        "position: [1, 1]}",
        "windows[1] (id W02): key 'position': [1, 1] is also where W01 is",
        id="position-taken",
    ),
    pytest.param(
        "{id: W02, name: 2号窗口,",
        "{id: W01, name: 2号窗口,",
        "windows[1] (id W01): key 'id': duplicate id 'W01' (also windows[0])",
        id="duplicate-id",
    ),
    pytest.param(
        "{id: tax, name: 税务局}",
        "{id: tax office, name: 税务局}",
        "departments[1] (id tax office): key 'id': 'tax office' is not an id"
        " (1 to 64 of A-Z a-z 0-9 _ -)",
        id="bad-id",
    ),
    pytest.param(
        "{id: W02, name: 2号窗口, department: tax, position: [1, 2]}",
        "{id: W02, department: tax, colour: red}",
        "windows[1] (id W02): key 'name': missing",
        id="missing-name",
    ),
    pytest.param(
        "{id: W02, name: 2号窗口, department: tax, position: [1, 2]}",
        "{id: W02, name: 2号窗口, department: tax, colour: red}",
        "windows[1] (id W02): key 'colour': unknown key (expected id, name, department, position)",
        id="unknown-entry-key",
    ),
    pytest.param(
        "{id: desk-w01-card, kind: badge_reader, window: W01}",
        "{id: desk-w01-card, kind: badge_reader, window: W01, department: civil}",
        "devices[0] (id desk-w01-card): a device sits at exactly one of 'window' or 'department'",
        id="device-at-both",
    ),
    pytest.param(
        "{id: desk-w01-card, kind: badge_reader, window: W01}",
        "{id: desk-w01-card, kind: badge_reader}",
        "devices[0] (id desk-w01-card): a device sits at exactly one of 'window' or 'department'",
        id="device-nowhere",
    ),
    pytest.param(
        "{id: desk-w01-card, kind: badge_reader, window: W01}",
        "{id: desk-w01-card, kind: camera, window: W01}",
        "devices[0] (id desk-w01-card): key 'kind': 'camera' is not one of badge_reader,"
        " presence_sensor",
        id="device-kind",
    ),
    pytest.param(
        "{id: office-civil, kind: badge_reader,",
        "{id: office-civil, kind: presence_sensor,",
        "devices[2] (id office-civil): key 'department': a presence sensor sits at a window,"
        " not at a department",
        id="sensor-in-office",
    ),
    pytest.param(
        "{id: desk-w01-card, kind: badge_reader, window: W01}",
        "{id: desk-w01-card, kind: badge_reader, window: W09}",
        "devices[0] (id desk-w01-card): key 'window': unknown window 'W09'",
        id="device-unknown-window",
    ),
    pytest.param(
        "{id: desk-w01-card, kind: badge_reader, window: W01}",
        "{id: desk-w01-card, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}",
        "devices[1] (id desk-w01-seat): key 'zigbee2mqtt': 'seat_w01' is also device desk-w01-card",
        id="zigbee-name-twice",
    ),
    pytest.param(
        "{id: desk-w01-card, kind: badge_reader, window: W01}",
        "{id: desk-w01-card, kind: badge_reader, window: W01, tasmota: civil_door}",
        "devices[2] (id office-civil): key 'tasmota': 'civil_door' is also device desk-w01-card",
        id="tasmota-topic-twice",
    ),
    pytest.param(
        "tasmota: civil_door",
        "tasmota: civil/door",
        "devices[2] (id office-civil): key 'tasmota': 'civil/door' cannot be part of an MQTT"
        " topic (no + # /)",
        id="tasmota-slash",
    ),
    pytest.param(
        "{staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}",
        "{staff: s009, window: W01, days: [mon]}",
        "roster[0] (staff s009): key 'staff': unknown staff member 's009'",
        id="roster-unknown-staff",
    ),
    pytest.param(
        "days: [mon, tue, wed, thu, fri]}",
        "days: []}",
        "roster[0] (staff s001): key 'days': must be a non-empty list of days"
        " (mon, tue, wed, thu, fri, sat, sun)",
        id="roster-no-days",
    ),
    pytest.param(
        "days: [mon, tue, wed, thu, fri]}",
        "days: [mon, fun]}",
        "roster[0] (staff s001): key 'days': 'fun' is not a day"
        " (mon, tue, wed, thu, fri, sat, sun)",
        id="roster-bad-day",
    ),
    pytest.param(
        "days: [mon, tue, wed, thu, fri]}",
        "days: [mon], from: 2026-12-01, until: 2026-11-01}",
        "roster[0] (staff s001): key 'until': 2026-11-01 is before 'from' 2026-12-01",
        id="roster-until-before-from",
    ),
    pytest.param(
        "days: [mon, tue, wed, thu, fri]}",
        'days: [mon], hours: [["9", "12:00"]]}',
        "roster[0] (staff s001): key 'hours': '9' is not a time HH:MM",
        id="roster-bad-hours",
    ),
    pytest.param(
        'until: "2026-11-23T12:00"',
        'until: "2026-11-23T08:00"',
        "leave[0] (staff s001): key 'until': 2026-11-23T08:00+08:00 is not after 'from'"
        " 2026-11-23T09:00+08:00",
        id="leave-backwards",
    ),
    pytest.param(
        'from: "2026-11-23T09:00"',
        'from: "next monday"',
        "leave[0] (staff s001): key 'from': 'next monday' is not a date-time such as"
        " 2026-11-23T09:00",
        id="leave-bad-time",
    ),
    pytest.param(
        "leave:\n",
        "vacations: []\nleave:\n",
        "top level: unknown key 'vacations' (expected hall, departments, windows, staff,"
        " devices, roster, leave, swaps)",
        id="unknown-section",
    ),
    pytest.param(
        "windows:\n",
        "windows: W01\nwindowz:\n",
        "windows: expected a list of entries, got 'W01'",
        id="section-not-a-list",
    ),
]


@pytest.mark.parametrize(("old", "new", "problem"), BAD_LINES)
def test_a_bad_entry_is_refused_naming_entry_and_key(old, new, problem):
    assert problem in problems_of(edited(old, new))


def test_every_problem_is_reported_at_once():
    text = (
        HALL.replace('["13:30", "17:30"]', '["13:30", "25:00"]')
        .replace("department: tax, position", "department: xyz, position")
        .replace('badges: ["04A1B2C3"]', 'badges: ["04ZZ"]')
        .replace("window: W01}", "window: W01, department: civil}")
    )

    assert problems_of(text) == [
        "hall: key 'hours': '25:00' is not a time HH:MM",
        "windows[1] (id W02): key 'department': unknown department 'xyz'",
        BAD_CARD,
        "devices[0] (id desk-w01-card): a device sits at exactly one of 'window' or 'department'",
    ]


def test_a_yaml_syntax_error_names_the_line():
    (problem,) = problems_of(HALL.replace("  - {id: tax, name: 税务局}", "  - {id: tax, name: [}"))

    assert problem.startswith("YAML syntax error at line 6,")


def test_a_key_given_twice_is_refused_with_its_line():
    (problem,) = problems_of(HALL.replace("  hours:", "  timezone: UTC\n  hours:"))

    assert problem.startswith("YAML syntax error at line 3,")
    assert "duplicate key 'timezone'" in problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the file is empty"),
        ("- hall\n", "top level: expected a mapping"),
        ("windows:\n  - W01\n", "windows[0]: expected a mapping, got 'W01'"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(text, problem):
    assert any(p.startswith(problem) for p in problems_of(text))


def test_registry_error_is_a_value_error_listing_the_problems():
    with pytest.raises(ValueError, match="3 problem"):
        parse_registry(HALL.replace("W01}", "W09}").replace("department: tax,", "department: x,"))
