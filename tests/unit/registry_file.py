"""A small hall's registry file in block style, to which each bad case of the parser tests
appends or swaps one line, and `edited`: that file with one line changed."""

from __future__ import annotations

# A small hall in block style, to which each bad case appends or swaps one line.
HALL = """\
hall:
  timezone: Asia/Shanghai
  hours: [["09:00", "12:00"], ["13:30", "17:30"]]
departments:
  - {id: civil, name: 民政局}
  - {id: tax, name: 税务局}
windows:
  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}
  - {id: W02, name: 2号窗口, department: tax, position: [1, 2]}
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}
  - {id: s002, name: 李四, department: tax, badges: ["04A1B2C4"]}
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}
  - {id: office-civil, kind: badge_reader, department: civil, tasmota: civil_door}
roster:
  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}
leave:
  - {staff: s001, from: "2026-11-23T09:00", until: "2026-11-23T12:00", reason: 培训}
"""


def edited(old: str, new: str) -> str:
    """HALL with one line changed."""
    assert old in HALL, old
    return HALL.replace(old, new, 1)
