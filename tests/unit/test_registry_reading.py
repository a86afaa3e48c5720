"""The registry file parser on good files: the format's own example and the demo hall read."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from hallwatch.registry.parse import parse_registry
from hallwatch.registry.spec import DEFAULT_HOURS, Device, HallSettings, RosterEntry
from tests.halls import CONTRACT_EXAMPLE
from tests.unit.registry_file import edited

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS_MON_FRI = ("mon", "tue", "wed", "thu", "fri")


def test_the_contract_example_reads_as_written():
    registry = parse_registry(CONTRACT_EXAMPLE)

    assert registry.hall == HallSettings(name="示例县政务服务大厅", timezone="Asia/Shanghai")
    assert registry.window_by_id["W01"].position == (1, 1)
    assert registry.staff_by_badge["04A1B2C3"].name == "张三"
    assert registry.holder_of("dec:0009357203").name == "张三"  # the example's second badge
    assert registry.zigbee2mqtt_names["zigbee2mqtt"]["seat_w01"].window == "W01"
    assert registry.tasmota_topics["%prefix%/%topic%/"]["civil_door"] == Device(
        "office-civil", "badge_reader", department="civil", tasmota="civil_door"
    )
    assert registry.roster == (RosterEntry("s001", "W01", frozenset(WEEKDAYS_MON_FRI)),)
    (leave,) = registry.leave
    assert leave.start == datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
    assert leave.end == datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
    assert leave.reason == "培训"


def test_the_shipped_demo_hall_reads():
    from simulator import DEMO_HALL

    registry = parse_registry(DEMO_HALL.read_text(encoding="utf-8"))

    assert len(registry.windows) == 30
    assert registry.staff_by_id["s014"].badges == ("609E467A", "637D6EFA")


def test_unquoted_times_dates_and_ids_stay_what_they_look_like():
    text = """\
hall:
  hours: [[09:00, 12:00], [13:30, 17:30]]
  closed_days: [2026-12-31]
  working_days: [2026-10-10]
  empty_grace_minutes: 7.5
departments:
  - {id: 001, name: 民政局}
windows:
  - {id: 010, name: 10号窗口, department: 001}
staff:
  - {id: 007, name: 张三, department: 001, badges: [00001234, 04a1:b2:c3]}
roster:
  - staff: 007
    window: 010
    days: [Mon]
    from: 2026-11-01
    until: 2026-11-30
    hours: [[9:00, 11:00]]
leave:
  - {staff: 007, from: 2026-11-23 09:00, until: 2026-11-23T12:00+08:00}
"""
    registry = parse_registry(text)

    assert registry.hall.hours == DEFAULT_HOURS
    assert registry.hall.closed_days == {date(2026, 12, 31)}
    assert registry.hall.working_days == {date(2026, 10, 10)}
    assert registry.hall.empty_grace_minutes == 7.5
    assert registry.windows[0].department == "001"
    assert registry.staff[0].id == "007"
    assert registry.staff[0].badges == ("1234", "04A1B2C3")  # cards are numbers
    entry = registry.roster[0]
    assert (entry.staff, entry.window, entry.days) == ("007", "010", {"mon"})
    assert (entry.from_date, entry.until_date) == (date(2026, 11, 1), date(2026, 11, 30))
    assert entry.hours == ((time(9, 0), time(11, 0)),)
    assert registry.leave[0].start == registry.leave[0].end.replace(hour=9)


def test_hall_section_is_optional_and_defaults_apply():
    registry = parse_registry("departments:\n  - {id: civil, name: 民政局}\n")

    assert registry.hall == HallSettings()
    assert registry.windows == ()


def test_leave_given_as_dates_covers_whole_days_in_hall_time():
    text = edited(
        'from: "2026-11-23T09:00", until: "2026-11-23T12:00"',
        "from: 2026-11-23, until: 2026-11-24",
    )
    (leave,) = parse_registry(text).leave

    assert leave.start == datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI)
    assert leave.end == datetime(2026, 11, 25, 0, 0, tzinfo=SHANGHAI)


def test_hours_are_sorted_and_touching_periods_allowed():
    text = edited('["13:30", "17:30"]]', '["08:00", "09:00"], ["12:00", "17:00"]]')

    assert parse_registry(text).hall.hours == (
        (time(8, 0), time(9, 0)),
        (time(9, 0), time(12, 0)),
        (time(12, 0), time(17, 0)),
    )
