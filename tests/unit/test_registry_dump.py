"""A deployment written back as a registry file reads back as the same deployment.

Table-driven over docs/REGISTRY.md's example, the demo hall, the unit tests' hall, a file of
several halls and the awkward corners (clock changes, firmware settings, names YAML would
misread); then Hypothesis over halls built the way the parser could have read them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallwatch.cards import card_hex
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.dump import deployment_yaml, dump_deployment
from hallwatch.registry.parse import parse_deployment
from hallwatch.registry.spec import (
    LEAVE_TYPES,
    WEEKDAYS,
    Department,
    Device,
    HallSettings,
    Leave,
    Registry,
    RosterEntry,
    StaffMember,
    Swap,
    Window,
)
from simulator import DEMO_HALL
from tests.unit.hall import MONDAY, at, hall, with_leave

# docs/REGISTRY.md, as written there.
CONTRACT_EXAMPLE = """\
hall:
  name: 示例县政务服务大厅
  timezone: Asia/Shanghai
  hours: [["09:00", "12:00"], ["13:30", "17:30"]]
  holidays: cn
  closed_days: []
  working_days: []
  empty_grace_minutes: 10
  absent_grace_minutes: 15
  offline_after_minutes: 10
departments:
  - {id: civil, name: 民政局}
windows:
  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04A1B2C3", "dec:0009357203"]}
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}
  - {id: office-civil, kind: badge_reader, department: civil, tasmota: civil_door}
roster:
  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}
leave:
  - {staff: s001, from: "2026-11-23T09:00", until: "2026-11-23T12:00", reason: 培训}
"""
TWO_HALLS = """\
halls:
  - id: east
    name: 东城区政务服务大厅
    hours: [["09:00", "12:00"], ["13:30", "17:30"]]
    closed_days: ["2026-12-31", "2026-12-30"]
    departments:
      - {id: civil, name: 民政局}
    windows:
      - {id: E01, name: 1号窗口, department: civil, position: [1, 1]}
    staff:
      - {id: e001, name: 张三, department: civil, badges: ["04A1B2C3"]}
    devices:
      - {id: e01-card, kind: badge_reader, window: E01, uid_reversed: true}
    leave:
      - {staff: e001, from: "2026-11-23", until: "2026-11-24"}
  - id: kashi
    name: 喀什市政务服务中心
    timezone: Asia/Urumqi
    hours: [["10:00", "13:30"], ["16:00", "19:30"]]
    holidays: none
    working_days: ["2026-12-26"]
    offline_after_minutes: 2.5
    departments:
      - {id: kashi-tax, name: 税务局}
    windows:
      - {id: K01, name: 1号窗口, department: kashi-tax}
    staff:
      - {id: k001, name: 李四, department: kashi-tax, badges: ["dec:0009357203"]}
      - {id: k002, name: 王五, department: kashi-tax}
    devices:
      - {id: k01-card, kind: badge_reader, window: K01, uid_decimal: yes}
      - {id: k-door, kind: badge_reader, department: kashi-tax, esphome: kashi-door/card}
    roster:
      - {staff: k001, window: K01, days: [sat, mon], from: 2026-12-01, until: "2026-12-31"}
      - {staff: k002, window: K01, days: [sun], hours: [["16:00", "19:30"]]}
    leave:
      - {staff: k002, from: "2026-11-23T10:00:30+06:00", until: "2026-11-23T12:00", reason: 体检}
"""
AWKWARD = """\
hall:
  name: "null"
  timezone: Europe/Berlin
  empty_grace_minutes: 0.0000001
  absent_grace_minutes: 1234567.125
departments:
  - {id: "001", name: "yes"}
  - {id: "true", name: "- 办公室: #1 [旧], {新}"}
  - {id: "null", name: "'引号' \\"双\\" & *星 !感叹 %百分"}
windows:
  - {id: "0x10", name: "~", department: "001", position: ["2", "3"]}
staff:
  - {id: "1e3", name: "\\uFEFF名\\u200b字", department: "true", badges: ["00", "dec:1"]}
devices:
  - {id: seat, kind: presence_sensor, window: "0x10", zigbee2mqtt: "2楼/座位 1",
     zigbee2mqtt_base: hall2/zigbee2mqtt, offline_after_minutes: 30}
  - {id: door, kind: badge_reader, department: "null", tasmota: door,
     tasmota_full_topic: "hall2/%prefix%/%topic%"}
leave:
  # The clocks go back at 03:00 on 2026-10-25: 02:30 is there twice (this is the first).
  - {staff: "1e3", from: "2026-10-25T02:30", until: "2026-10-25T02:45"}
  # The clocks go forward at 02:00 on 2026-03-29: 02:30 does not happen that day.
  - {staff: "1e3", from: "2026-03-29T02:30", until: "2026-03-29T05:00"}
  # The second 02:30 of 2026-10-25, by its offset.
  - {staff: "1e3", from: "2026-10-25T02:30+01:00", until: "2026-10-25T04:00+01:00"}
"""
FILES = {
    "contract": CONTRACT_EXAMPLE,
    "demo": DEMO_HALL.read_text(encoding="utf-8"),
    "two halls": TWO_HALLS,
    "awkward": AWKWARD,
}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def round_trip(deployment: Deployment) -> Deployment:
    return parse_deployment(deployment_yaml(deployment))


@pytest.mark.parametrize("text", FILES.values(), ids=FILES.keys())
def test_a_file_read_and_written_reads_back_the_same(text):
    deployment = parse_deployment(text)
    assert round_trip(deployment) == deployment


@pytest.mark.parametrize(
    "registry",
    [
        hall(),
        with_leave(hall(), "s001", at("09:00"), at("12:00") + timedelta(seconds=7)),
        hall(empty_grace_minutes=2.5, holidays="none", closed_days=frozenset({MONDAY})),
    ],
    ids=["hall", "with leave", "with settings"],
)
def test_the_unit_tests_hall_reads_back_the_same(registry):
    assert round_trip(Deployment((registry,))) == Deployment((registry,))


def test_one_hall_called_main_is_written_in_the_contracts_form():
    written = yaml.safe_load(deployment_yaml(parse_deployment(CONTRACT_EXAMPLE)))
    assert list(written) == [
        "hall",
        "departments",
        "windows",
        "staff",
        "devices",
        "roster",
        "leave",
    ]
    assert written["staff"] == [
        {"id": "s001", "name": "张三", "department": "civil", "badges": ["04A1B2C3", "8EC793"]}
    ]


def test_the_entries_are_one_a_line_as_the_contract_writes_them():
    text = deployment_yaml(parse_deployment(CONTRACT_EXAMPLE))
    assert '  hours: [["09:00", "12:00"], ["13:30", "17:30"]]\n' in text
    assert "  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}\n" in text
    assert (
        '  - {staff: s001, from: "2026-11-23T09:00+08:00", until: "2026-11-23T12:00+08:00", '
        "reason: 培训}\n"
    ) in text


def test_several_halls_or_one_not_called_main_are_written_as_halls():
    two = dump_deployment(parse_deployment(TWO_HALLS))
    assert list(two) == ["halls"] and [h["id"] for h in two["halls"]] == ["east", "kashi"]
    only = Registry(hall=HallSettings(id="west"))
    assert dump_deployment(Deployment((only,)))["halls"][0]["id"] == "west"
    assert round_trip(Deployment((only,))) == Deployment((only,))


def test_defaults_are_left_out_of_entries():
    written = dump_deployment(parse_deployment(CONTRACT_EXAMPLE))
    assert written["devices"][0] == {"id": "desk-w01-card", "kind": "badge_reader", "window": "W01"}
    assert written["roster"][0] == {"staff": "s001", "window": "W01", "days": list(WEEKDAYS[:5])}


def test_leave_is_written_in_hall_time_with_its_offset():
    registry = with_leave(hall(), "s001", datetime(2026, 11, 23, 1, 0, tzinfo=UTC), at("12:00"))
    (leave,) = dump_deployment(Deployment((registry,)))["leave"]
    assert leave == {
        "staff": "s001",
        "from": "2026-11-23T09:00+08:00",
        "until": "2026-11-23T12:00+08:00",
        "reason": "培训",
    }


# --- any hall the parser could have read ---------------------------------------------------

BOUNDED = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ in the tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ZONES = ("Asia/Shanghai", "Asia/Urumqi", "Europe/Berlin", "America/New_York", "UTC")
# One line of text, as the parser keeps it: stripped, without controls or line separators.
TEXT = (
    st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp", "Cs")), min_size=1, max_size=24)
    .map(str.strip)
    .filter(bool)
)
# A Zigbee2MQTT friendly name: no control, format or space character but the inner space.
FRIENDLY = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Zs")),
    min_size=1,
    max_size=24,
)
IDS = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
LEAVE_TYPE = st.none() | st.sampled_from(tuple(LEAVE_TYPES))
MINUTES = st.one_of(
    st.integers(0, 600).map(float),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 1e-07, 2.5]),
)
DAYS = st.frozensets(st.dates(date(2020, 1, 1), date(2035, 12, 31)), max_size=3)


@st.composite
def periods(draw) -> tuple[tuple[time, time], ...]:
    """Sorted, non-overlapping HH:MM periods (touching is allowed)."""
    marks = sorted(draw(st.sets(st.integers(0, 24 * 60 - 1), min_size=2, max_size=6)))
    pairs = list(zip(marks[::2], marks[1::2], strict=False))
    return tuple((time(*divmod(a, 60)), time(*divmod(b, 60))) for a, b in pairs)


@st.composite
def settings_of(draw, hall_id: str) -> HallSettings:
    closed = draw(DAYS)
    return HallSettings(
        id=hall_id,
        name=draw(TEXT),
        timezone=draw(st.sampled_from(ZONES)),
        hours=draw(periods()),
        holidays=draw(st.sampled_from(["cn", "none"])),
        closed_days=closed,
        working_days=draw(DAYS) - closed,
        empty_grace_minutes=draw(MINUTES),
        absent_grace_minutes=draw(MINUTES),
        offline_after_minutes=draw(MINUTES),
    )


@st.composite
def instants(draw, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A leave's (from, until): in hall time as written without an offset, or at an offset."""
    start = draw(st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31)))
    length = draw(st.timedeltas(timedelta(minutes=1), timedelta(days=90)))
    if draw(st.booleans()):
        zone = tz
    else:
        zone = timezone(timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60))))
    return start.replace(tzinfo=zone), (start + length).replace(tzinfo=zone)


def device(draw, ident: str, windows: list[str], departments: list[str]) -> Device:
    kind = draw(st.sampled_from(["badge_reader", "presence_sensor"]))
    at_window = kind == "presence_sensor" or not departments or draw(st.booleans())
    place = (
        {"window": draw(st.sampled_from(windows))}
        if at_window
        else {"department": draw(st.sampled_from(departments))}
    )
    firmware = draw(st.sampled_from(["native", "zigbee2mqtt", "tasmota", "esphome"]))
    extra: dict = {}
    if firmware == "zigbee2mqtt":
        friendly = re.sub(r"/+", "/", draw(FRIENDLY).replace("+", "").replace("#", ""))
        # No empty topic level (a leading or double /): the parser refuses those, rightly.
        extra["zigbee2mqtt"] = f"{ident} 座/{friendly.lstrip('/')}x"
        extra["zigbee2mqtt_base"] = draw(st.sampled_from(["zigbee2mqtt", "hall2/zb", "z"]))
    elif firmware == "tasmota":
        extra["tasmota"] = f"t_{ident}"
        extra["tasmota_full_topic"] = draw(
            st.sampled_from(["%prefix%/%topic%/", "hall2/%prefix%/%topic%/", "%topic%/%prefix%/"])
        )
    elif firmware == "esphome":
        extra["esphome"] = f"node-{ident}/entity_1"
    if kind == "badge_reader":
        extra["uid_reversed"] = draw(st.booleans())
        extra["uid_decimal"] = draw(st.booleans())
    minutes = draw(st.none() | MINUTES.filter(lambda m: m > 0))
    return Device(ident, kind, **place, **extra, offline_after_minutes=minutes)


@st.composite
def halls(draw, hall_id: str, prefix: str, cards: set[int]) -> Registry:
    """A hall whose ids start with `prefix` (unique across halls) and whose cards are new."""
    settings = draw(settings_of(hall_id))
    departments = [
        Department(f"{prefix}{i}-{draw(IDS)}", draw(TEXT)) for i in range(draw(st.integers(0, 3)))
    ]
    department_ids = [d.id for d in departments]
    windows, staff, devices, roster, leave = [], [], [], [], []
    if department_ids:
        positions = draw(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), unique=True))
        for i in range(draw(st.integers(0, 4))):
            position = positions[i] if i < len(positions) else None
            windows.append(
                Window(f"{prefix}W{i}", draw(TEXT), draw(st.sampled_from(department_ids)), position)
            )
        for i in range(draw(st.integers(0, 4))):
            numbers = [
                n for n in draw(st.lists(st.integers(0, 2**80), max_size=3)) if n not in cards
            ]
            cards.update(numbers)
            badges = tuple(dict.fromkeys(card_hex(n) for n in numbers))
            staff.append(
                StaffMember(
                    f"{prefix}s{i}", draw(TEXT), draw(st.sampled_from(department_ids)), badges
                )
            )
    window_ids = [w.id for w in windows]
    if window_ids:
        for i in range(draw(st.integers(0, 4))):
            devices.append(device(draw, f"{prefix}d{i}", window_ids, department_ids))
    if window_ids and staff:
        for person in draw(st.lists(st.sampled_from(staff), max_size=4)):
            entry = RosterEntry(
                person.id,
                draw(st.sampled_from(window_ids)),
                draw(st.frozensets(st.sampled_from(WEEKDAYS), min_size=1)),
                draw(st.none() | st.dates(date(2020, 1, 1), date(2030, 12, 31))),
                None,
                draw(st.none() | periods()),
            )
            if entry.from_date and draw(st.booleans()):
                entry = replace(entry, until_date=entry.from_date)
            if entry not in roster:
                roster.append(entry)
    for person in draw(st.lists(st.sampled_from(staff), max_size=3)) if staff else ():
        start, end = draw(instants(settings.tz))
        reason = draw(st.just("") | TEXT)
        if not any((v.staff, v.start, v.end) == (person.id, start, end) for v in leave):
            leave.append(Leave(person.id, start, end, reason, draw(LEAVE_TYPE)))
    swaps = draw(swap_lists([s.id for s in staff], window_ids))
    lists = (departments, windows, staff, devices, roster, leave, swaps)
    return Registry(settings, *map(tuple, lists))


@st.composite
def swap_lists(draw, staff_ids: list[str], window_ids: list[str]) -> list[Swap]:
    """Distinct one-day swaps of two different people or two different windows."""
    swaps: list[Swap] = []
    for section, ids in (("staff", staff_ids), ("windows", window_ids)):
        if len(ids) < 2:
            continue
        for _ in range(draw(st.integers(0, 2))):
            pair = tuple(draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True)))
            swap = Swap(draw(st.dates(date(2020, 1, 1), date(2030, 12, 31))), **{section: pair})
            if swap not in swaps:
                swaps.append(swap)
    return swaps


@st.composite
def deployments(draw) -> Deployment:
    cards: set[int] = set()
    count = draw(st.integers(1, 3))
    hall_ids = draw(st.lists(IDS, min_size=count, max_size=count, unique=True))
    if count == 1 and draw(st.booleans()):
        hall_ids = ["main"]  # the single `hall:` form
    return Deployment(
        tuple(draw(halls(hall_id, f"h{i}", cards)) for i, hall_id in enumerate(hall_ids))
    )


@BOUNDED
@given(deployments())
def test_any_deployment_reads_back_the_same(deployment):
    assert round_trip(deployment) == deployment
