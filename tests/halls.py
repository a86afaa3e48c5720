"""Halls the integration tests build: the hall of the shared test deployment (HALL_YAML, in
a zone where it is about noon), a hall with a user of each role (built_hall), a registry
file in the contract's example form (CONTRACT_EXAMPLE), and two halls in Shanghai and Urumqi
on one deployment (two_halls_yaml, two_halls_deployment)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask

from hallwatch.access import ADMIN, DEPT_HEAD, HALL_MANAGER, INSPECTOR
from hallwatch.registry.users import add_user
from tests.helpers import InfluxDB, deployment_env, hallwatch, influx_admin, midday_zone
from tests.web_helpers import add_alert, app_for, password_of

# A zone where it is about noon whenever the tests run, so nothing "a while ago" is yesterday.
HALL_TZ = midday_zone()


HALL_YAML = """
hall:
  name: 测试大厅
  timezone: ZONE
  hours: [["00:00", "23:59"]]
  holidays: none
  working_days: [{today}]
  empty_grace_minutes: 10
departments:
  - {{id: civil, name: 民政局}}
  - {{id: tax, name: 税务局}}
windows:
  - {{id: W01, name: 1号窗口, department: civil, position: [1, 1]}}
  - {{id: W02, name: 2号窗口, department: civil, position: [1, 2]}}
  - {{id: W03, name: 3号窗口, department: tax, position: [1, 3]}}
staff:
  - {{id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}}
  - {{id: s002, name: 李四, department: civil, badges: ["04A1B2C4"]}}
  - {{id: s003, name: 王五, department: tax, badges: ["04A1B2C5"]}}
devices:
  - {{id: desk-w01-card, kind: badge_reader, window: W01}}
  - {{id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}}
  - {{id: desk-w02-card, kind: badge_reader, window: W02, tasmota: w02_reader}}
  - {{id: desk-w03-card, kind: badge_reader, window: W03}}
  - {{id: office-civil, kind: badge_reader, department: civil, tasmota: civil_door}}
roster:
  - {{staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s002, window: W02, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s003, window: W03, days: [mon, tue, wed, thu, fri]}}
""".replace("ZONE", HALL_TZ.key)


ROLES = (ADMIN, HALL_MANAGER, DEPT_HEAD, INSPECTOR)  # and, as user names, the users of each


@contextmanager
def built_hall(tmp: Path, mosquitto, influxd) -> Iterator[tuple[dict, Flask, dict[str, int], int]]:
    """A registry, a user of each role (password `pw-ROLE`), a spare user and an alert per
    department; gives the environment, an app, the alert ids and the spare user's id."""
    influx = InfluxDB(influxd.url, f"hw_matrix_{uuid.uuid4().hex[:8]}")
    influx_admin(influx.url, f'CREATE DATABASE "{influx.db}"')
    env = deployment_env(f"sqlite:///{tmp / 'hallwatch.sqlite3'}", mosquitto.url, influx)
    hall_file = tmp / "hall.yaml"
    hall_file.write_text(HALL_YAML.format(today=datetime.now(HALL_TZ).date()), encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    app = app_for(env)
    with app.extensions["hallwatch"].sessions() as db:
        for role in ROLES:
            department = "tax" if role == DEPT_HEAD else None
            add_user(db, role, role, password_of(role), department)
        spare = add_user(db, "spare", "inspector", password_of("spare")).id
        alerts = {"civil": add_alert(db, "civil", "W01"), "tax": add_alert(db, "tax", "W03")}
        db.commit()
    try:
        yield env, app, alerts, spare
    finally:
        influx_admin(influx.url, f'DROP DATABASE "{influx.db}"')


# docs/REGISTRY.md, verbatim.
CONTRACT_EXAMPLE = """\
hall:
  name: 示例县政务服务大厅
  timezone: Asia/Shanghai
  hours: [["09:00", "12:00"], ["13:30", "17:30"]]   # opening periods of a working day
  holidays: cn                # cn: mainland China statutory holidays and make-up workdays; none: weekends only
  closed_days: []             # extra dates closed, e.g. ["2026-12-31"]
  working_days: []            # extra dates open
  empty_grace_minutes: 10     # a seat empty this long during hours is an empty window
  absent_grace_minutes: 15    # a rostered person not signed in this long after a period starts is absent
  offline_after_minutes: 10   # a device silent this long is offline
departments:
  - {id: civil, name: 民政局}
windows:
  - {id: W01, name: 1号窗口, department: civil, position: [1, 1]}   # position: row, column on the floor view (optional)
staff:
  - {id: s001, name: 张三, department: civil, badges: ["04A1B2C3", "dec:0009357203"]}   # see "Cards" below
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}
  - {id: office-civil, kind: badge_reader, department: civil, tasmota: civil_door}
roster:
  - {staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}   # optional: from, until (dates); hours (overrides hall hours)
leave:
  - {staff: s001, from: "2026-11-23T09:00", until: "2026-11-23T12:00", reason: 培训}
"""  # noqa: E501 - the example as written


# Two halls on one deployment: Shanghai and Urumqi, each with its own hours.
SHANGHAI, URUMQI = ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Urumqi")
TWO_HALLS = """
halls:
  - id: east
    name: 东城大厅
    timezone: Asia/Shanghai
    hours: [["00:00", "23:59"]]
    working_days: [{east_today}]
    departments:
      - {{id: civil, name: 民政局}}
    windows:
      - {{id: E01, name: 东1号窗口, department: civil, position: [1, 1]}}
    staff:
      - {{id: e001, name: 张三, department: civil, badges: ["04A1B2C3"]}}
    devices:
      - {{id: e01-card, kind: badge_reader, window: E01}}
      - {{id: e01-seat, kind: presence_sensor, window: E01}}
    roster:
      - {{staff: e001, window: E01, days: [mon, tue, wed, thu, fri]}}
  - id: west
    name: 西城大厅
    timezone: Asia/Urumqi
    hours: [["10:00", "13:30"], ["16:00", "19:30"]]
    working_days: [{west_today}]
    departments:
      - {{id: tax, name: 税务局}}
    windows:
      - {{id: X01, name: 西1号窗口, department: tax, position: [1, 1]}}
    staff:
      - {{id: x001, name: 李四, department: tax, badges: ["04A1B2C4"]}}
    devices:
      - {{id: x01-card, kind: badge_reader, window: X01}}
      - {{id: x01-seat, kind: presence_sensor, window: X01}}
    roster:
      - {{staff: x001, window: X01, days: [mon, tue, wed, thu, fri]}}
"""


TWO_HALLS_USERS = [  # name, role, department, halls
    ("boss", "admin", None, ()),
    ("east_mgr", "hall_manager", None, ("east",)),
    ("west_tax", "dept_head", "tax", ()),
]


def two_halls_yaml() -> str:
    now = datetime.now(UTC)
    return TWO_HALLS.format(
        east_today=now.astimezone(SHANGHAI).date(), west_today=now.astimezone(URUMQI).date()
    )


def two_halls_deployment(
    home: Path, broker_url: str, influx_db: InfluxDB, database_url: str
) -> dict:
    """The two halls imported with the CLI, and a user of each kind; the environment."""
    env = deployment_env(database_url, broker_url, influx_db)
    hall_file = home / "halls.yaml"
    hall_file.write_text(two_halls_yaml(), encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    for name, role, department, halls in TWO_HALLS_USERS:
        args = ["user", "add", name, "--role", role, "--password", f"pw-{name}"]
        args += ["--department", department] if department else []
        for hall in halls:
            args += ["--hall", hall]
        hallwatch(*args, env=env)
    return env
