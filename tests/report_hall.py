"""The hand-built report hall (Asia/Shanghai) and its Monday 2026-11-23: the registry file,
its users, and the day's events, for the report, export, appeal and day-summary tests."""

from __future__ import annotations

from datetime import date, datetime, time

from hallwatch.events import BadgeRead, DeviceStatus, PresenceReport
from tests.helpers import SHANGHAI

HALL_TZ = SHANGHAI  # the zone the hall file names


MONDAY = date(2026, 11, 23)


REPORT_HALL = """
hall:
  name: 测试大厅
  timezone: Asia/Shanghai
  hours: [["09:00", "12:00"], ["13:30", "17:30"]]
  holidays: none
  empty_grace_minutes: 10
  absent_grace_minutes: 15
departments:
  - {id: civil, name: 民政局}
  - {id: tax, name: 税务局}
windows:
  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}
  - {id: W02, name: 2号窗口, department: civil, position: [1, 2]}
  - {id: W03, name: 3号窗口, department: tax, position: [1, 3]}
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}
  - {id: s002, name: 李四, department: civil, badges: ["04A1B2C4"]}
  - {id: s003, name: 王五, department: tax, badges: ["04A1B2C5"]}
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01}
  - {id: desk-w02-card, kind: badge_reader, window: W02}
  - {id: desk-w03-card, kind: badge_reader, window: W03}
  - {id: office-civil, kind: badge_reader, department: civil}
roster:
  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}
  - {staff: s002, window: W02, days: [mon, tue, wed, thu, fri]}
  - {staff: s003, window: W03, days: [mon, tue, wed, thu, fri]}
leave:
  - {staff: s003, from: "2026-11-23T16:30", until: "2026-11-23T17:30", reason: 培训}
"""


THE_DAY = {"from": "2026-11-23T00:00:00+08:00", "to": "2026-11-24T00:00:00+08:00"}


def at(hhmm: str, seconds: int = 0) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(MONDAY, time(hour, minute, seconds), tzinfo=HALL_TZ)


# 张三 at W01 signs in late (09:20, after the 15-minute grace) and leaves his seat 10:00–10:30;
# 李四 signs in at W02 at 09:05 and is read at the civil office at 10:20, never to return;
# 王五 works W03 from 09:00 until his training leave at 16:30.
MONDAY_EVENTS = [
    (DeviceStatus("desk-w01-seat", at("08:00"), True), None),
    (PresenceReport("desk-w01-seat", at("09:00"), True), None),
    (BadgeRead("desk-w03-card", at("09:00"), "04A1B2C5"), "s003"),
    (BadgeRead("desk-w02-card", at("09:05"), "04A1B2C4"), "s002"),
    (BadgeRead("desk-w01-card", at("09:20"), "04A1B2C3"), "s001"),
    (PresenceReport("desk-w01-seat", at("10:00"), False), None),
    (BadgeRead("office-civil", at("10:20"), "04A1B2C4"), "s002"),
    (PresenceReport("desk-w01-seat", at("10:30"), True), None),
]


USERS = [
    ("boss", "hall_manager", "pw-boss", None),
    ("tax", "dept_head", "pw-tax", "tax"),
    ("civil-head", "dept_head", "pw-civil", "civil"),
    ("inspector", "inspector", "pw-inspector", None),
]
