"""The daily edits of the registry (staff, cards, windows, devices, roster): each one leaves
a mapping the parser reads back as it reads a file, and each refusal names entry and key."""

from __future__ import annotations

from datetime import date

import pytest

from hallwatch.registry import edits, roster_edits
from hallwatch.registry.dump import dump_deployment, registry_yaml
from hallwatch.registry.file import RegistryError
from hallwatch.registry.parse import parse_deployment

HALL = """\
hall:
  name: 测试大厅
departments:
  - {id: civil, name: 民政局}
  - {id: tax, name: 税务局}
windows:
  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}
  - {id: W02, name: 2号窗口, department: tax}
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}
  - {id: s002, name: 李四, department: tax}
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01, sensing: pir}
roster:
  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}
  - {staff: s002, window: W02, days: [mon], from: "2026-12-01"}
leave:
  - {staff: s001, from: "2026-12-20T09:00", until: "2026-12-20T12:00", reason: 培训}
"""


@pytest.fixture
def hall() -> dict:
    return dump_deployment(parse_deployment(HALL))


def read_back(mapping: dict):
    """The edited mapping as the import reads it (RegistryError if a file could not say it)."""
    return parse_deployment(registry_yaml(mapping)).first


def refused(edit, *args, match: str, **kwargs) -> None:
    with pytest.raises(RegistryError, match=match):
        edit(*args, **kwargs)


# --- staff and cards ---


def test_a_person_is_added_with_a_card(hall):
    edits.add_person(hall, "main", "s003", "王五", "tax", ["dec:0009357203"])
    registry = read_back(hall)
    assert registry.staff_by_id["s003"].department == "tax"
    assert registry.holder_of("8EC793").id == "s003"


def test_an_id_in_use_or_malformed_is_refused_naming_the_id(hall):
    refused(edits.add_person, hall, "main", "s001", "王五", "tax", match=r"key 'id'.*already used")
    refused(
        edits.add_person, hall, "main", "s 3", "王五", "tax", match=r"staff \(id s 3\): key 'id'"
    )


def test_an_unknown_department_is_left_to_the_parser_which_names_it(hall):
    edits.add_person(hall, "main", "s003", "王五", "nowhere")
    refused(read_back, hall, match=r"key 'department': unknown department 'nowhere'")


def test_a_person_is_renamed_and_moved(hall):
    edits.rename_person(hall, "s001", "张叁")
    assert edits.move_person(hall, "s001", "tax") == "civil"
    person = read_back(hall).staff_by_id["s001"]
    assert (person.name, person.department) == ("张叁", "tax")
    refused(edits.move_person, hall, "s001", "tax", match=r"key 'department': already in")
    refused(edits.rename_person, hall, "nobody", "x", match=r"staff \(id nobody\): key 'id'")


def test_a_retired_person_takes_their_roster_lines_and_leave(hall):
    gone = edits.retire_person(hall, "s001")
    assert [e.get("window") or "leave" for e in gone] == ["W01", "leave"]
    registry = read_back(hall)
    assert "s001" not in registry.staff_by_id
    assert [r.staff for r in registry.roster] == ["s002"]
    assert registry.leave == ()


def test_cards_are_added_and_removed_however_they_are_written(hall):
    edits.add_card(hall, "s002", "8ec793")
    refused(edits.add_card, hall, "s002", "dec:9357203", match=r"already one of their cards")
    refused(edits.add_card, hall, "s002", "xyz", match=r"staff \(id s002\): key 'badges'")
    edits.remove_card(hall, "s001", "04:a1:b2:c3")
    registry = read_back(hall)
    assert registry.staff_by_id["s001"].badges == ()
    assert registry.holder_of("8EC793").id == "s002"
    refused(edits.remove_card, hall, "s001", "04A1B2C3", match=r"not one of their cards")


def test_a_card_someone_else_holds_is_refused_by_the_parser(hall):
    edits.add_card(hall, "s002", "04a1b2c3")
    refused(read_back, hall, match=r"key 'badges'.*also held by s001")


# --- windows ---


def test_a_window_is_added_edited_and_moved(hall):
    edits.add_window(hall, "main", "W03", "3号窗口", "civil", [2, 1])
    edits.edit_window(hall, "W01", "综合窗口", None)
    assert edits.move_window(hall, "W02", "civil") == "tax"
    registry = read_back(hall)
    assert registry.window_by_id["W03"].position == (2, 1)
    assert (registry.window_by_id["W01"].name, registry.window_by_id["W01"].position) == (
        "综合窗口",
        None,
    )
    assert registry.window_by_id["W02"].department == "civil"


def test_two_windows_in_one_cell_are_refused_by_the_parser(hall):
    edits.add_window(hall, "main", "W03", "3号窗口", "civil", [1, 1])
    refused(read_back, hall, match=r"key 'position'")


def test_a_window_in_use_is_retired_only_with_what_points_at_it(hall):
    refused(
        edits.retire_window,
        hall,
        "W01",
        match=r"windows \(id W01\): key 'id': still in use by device desk-w01-card, "
        r"device desk-w01-seat, roster line of s001",
    )
    gone = edits.retire_window(hall, "W01", with_dependents=True)
    assert len(gone) == 3
    registry = read_back(hall)
    assert "W01" not in registry.window_by_id
    assert registry.devices == ()
    edits.retire_window(hall, "W02", with_dependents=True)
    assert read_back(hall).roster == ()


def test_a_swap_goes_with_the_person_or_window_it_names(hall):
    hall["swaps"] = [
        {"date": "2026-12-09", "staff": ["s001", "s002"]},
        {"date": "2026-12-10", "windows": ["W01", "W02"]},
    ]
    gone = edits.retire_person(hall, "s002")
    assert {"date": "2026-12-09", "staff": ["s001", "s002"]} in gone
    assert [s.day.isoformat() for s in read_back(hall).swaps] == ["2026-12-10"]
    refused(edits.retire_window, hall, "W02", match=r"still in use by .*swap of 2026-12-10")
    edits.retire_window(hall, "W02", with_dependents=True)
    assert read_back(hall).swaps == ()


# --- devices ---


def test_a_device_is_added_with_its_firmware_name_and_options(hall):
    fields = {
        "kind": "badge_reader",
        "department": "tax",
        "tasmota": "tax_door",
        "tasmota_full_topic": "hall1/%prefix%/%topic%/",
        "uid_decimal": True,
        "offline_after_minutes": 30,
    }
    edits.add_device(hall, "main", "office-tax", fields)
    device = read_back(hall).device_by_id["office-tax"]
    assert (device.department, device.tasmota, device.uid_decimal) == ("tax", "tax_door", True)
    assert device.offline_after_minutes == 30


def test_a_device_changes_firmware_and_kind(hall):
    edits.edit_device(hall, "desk-w01-seat", {"zigbee2mqtt": None, "esphome": "esp-w01/presence"})
    edits.edit_device(hall, "desk-w01-card", {"kind": "presence_sensor", "sensing": "radar"})
    registry = read_back(hall)
    seat = registry.device_by_id["desk-w01-seat"]
    assert (seat.zigbee2mqtt, seat.esphome, seat.sensing) == (None, "esp-w01/presence", "pir")
    assert registry.device_by_id["desk-w01-card"].sensing == "radar"


def test_two_firmware_names_or_a_taken_name_are_refused_by_the_parser(hall):
    edits.add_device(
        hall, "main", "x", {"kind": "presence_sensor", "window": "W02", "zigbee2mqtt": "seat_w01"}
    )
    refused(read_back, hall, match=r"devices\[2\] \(id x\): key 'zigbee2mqtt'")


def test_a_device_moves_between_a_window_and_an_office(hall):
    edits.move_device(hall, "desk-w01-card", department="civil")
    assert read_back(hall).device_by_id["desk-w01-card"].department == "civil"
    edits.move_device(hall, "desk-w01-card", window="W02")
    device = read_back(hall).device_by_id["desk-w01-card"]
    assert (device.window, device.department) == ("W02", None)
    refused(edits.move_device, hall, "desk-w01-card", match=r"key 'window': choose")
    refused(
        lambda: (edits.move_device(hall, "desk-w01-seat", department="civil"), read_back(hall)),
        match=r"key 'department'",
    )


def test_a_device_is_retired(hall):
    edits.retire_device(hall, "desk-w01-seat")
    assert set(read_back(hall).device_by_id) == {"desk-w01-card"}


# --- roster ---


def line_of(mapping: dict, staff: str) -> str:
    return roster_edits.line_key(next(e for e in mapping["roster"] if e["staff"] == staff))


def test_a_roster_line_is_added_with_dates_and_hours(hall):
    roster_edits.add_line(
        hall,
        "s002",
        "W01",
        ["tue", "thu"],
        date(2026, 12, 1),
        date(2026, 12, 31),
        roster_edits.hours_of("09:00-12:00, 13:30-17:30"),
    )
    line = read_back(hall).roster[-1]
    assert (line.window, sorted(line.days), line.until_date) == (
        "W01",
        ["thu", "tue"],
        date(2026, 12, 31),
    )
    assert len(line.hours) == 2


def test_a_roster_line_needs_days_and_a_known_person(hall):
    refused(
        roster_edits.add_line, hall, "s002", "W01", [], match=r"roster \(staff s002\): key 'days'"
    )
    refused(roster_edits.add_line, hall, "nobody", "W01", ["mon"], match=r"key 'id'")
    roster_edits.add_line(hall, "s002", "W01", ["mon"], date(2026, 12, 2), date(2026, 12, 1))
    refused(read_back, hall, match=r"key 'until'")


def test_a_roster_line_is_edited_by_its_key_and_a_stale_key_is_refused(hall):
    key = line_of(hall, "s001")
    roster_edits.edit_line(hall, key, "W02", ["sat"])
    line = read_back(hall).roster[0]
    assert (line.staff, line.window, line.days) == ("s001", "W02", frozenset({"sat"}))
    refused(roster_edits.edit_line, hall, key, "W01", ["mon"], match=r"no longer in the roster")


def test_a_roster_line_ends_on_a_date_or_goes_if_it_had_not_begun(hall):
    roster_edits.end_line(hall, line_of(hall, "s001"), date(2026, 12, 15))
    assert read_back(hall).roster[0].until_date == date(2026, 12, 15)
    refused(
        roster_edits.end_line,
        hall,
        line_of(hall, "s001"),
        date(2026, 12, 20),
        match=r"key 'until': already ends",
    )
    roster_edits.end_line(hall, line_of(hall, "s002"), date(2026, 11, 30))
    assert [r.staff for r in read_back(hall).roster] == ["s001"]


def test_hours_are_read_as_a_form_writes_them():
    assert roster_edits.hours_of(" ") is None
    assert roster_edits.hours_of("09:00–12:00,13:30-17:30") == [
        ["09:00", "12:00"],
        ["13:30", "17:30"],
    ]
    assert roster_edits.hours_text([["09:00", "12:00"]]) == "09:00-12:00"
    with pytest.raises(ValueError, match="not a period"):
        roster_edits.hours_of("09:00")


def test_zero_minutes_are_refused_rather_than_taken_for_the_default(hall):
    edits.edit_device(hall, "desk-w01-card", {"offline_after_minutes": 0})
    refused(read_back, hall, match=r"key 'offline_after_minutes'")
