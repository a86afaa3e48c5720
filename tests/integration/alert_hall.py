"""The hall of the alert tests (test_alerts, test_alert_schedulers): two windows open all
day in a zone where it is about noon, imported with the CLI with a user of each role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from hallwatch.events import Heartbeat
from hallwatch.influx.eventstore import event_point
from hallwatch.registry.db import make_engine, make_session_factory
from tests.helpers import InfluxDB, deployment_env, hallwatch

HALL_YAML = """
hall:
  name: 告警测试大厅
  timezone: {tz}
  hours: [["00:00", "23:59"]]
  holidays: none
  working_days: [{today}]
  empty_grace_minutes: 10
  absent_grace_minutes: 15
  offline_after_minutes: 10
departments:
  - {{id: civil, name: 民政局}}
  - {{id: tax, name: 税务局}}
windows:
  - {{id: W01, name: 1号窗口, department: civil}}
  - {{id: W03, name: 3号窗口, department: tax}}
staff:
  - {{id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}}
  - {{id: s003, name: 王五, department: tax, badges: ["04A1B2C5"]}}
devices:
  - {{id: desk-w01-card, kind: badge_reader, window: W01}}
  - {{id: desk-w01-seat, kind: presence_sensor, window: W01}}
  - {{id: desk-w03-card, kind: badge_reader, window: W03}}
  - {{id: office-civil, kind: badge_reader, department: civil}}
roster:
  - {{staff: s001, window: W01, days: [mon, tue, wed, thu, fri]}}
  - {{staff: s003, window: W03, days: [mon, tue, wed, thu, fri]}}
"""


def alert_hall(
    tmp_path: Path, broker_url: str, influx_db: InfluxDB, database_url: str, hall_tz: ZoneInfo
) -> dict:
    """The test hall imported with the CLI, a user of each role, the processes' environment."""
    env = deployment_env(database_url, broker_url, influx_db)
    hall_file = tmp_path / "hall.yaml"
    today = datetime.now(hall_tz).date()
    hall_file.write_text(HALL_YAML.format(tz=hall_tz.key, today=today), encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    # The hall was collecting today: a reader's heartbeat just after midnight. (A day
    # without any device event raises no alert: it means HallWatch was not running.)
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=hall_tz)
    influx_db.write(
        event_point(Heartbeat("desk-w03-card", midnight + timedelta(minutes=1))).to_line(), "ns"
    )
    for name, role, department in (
        ("boss", "hall_manager", None),
        ("tax", "dept_head", "tax"),
        ("audit", "inspector", None),
    ):
        extra = ["--department", department] if department else []
        hallwatch("user", "add", name, "--role", role, *extra, "--password", f"pw-{name}", env=env)
    return env


def sessions_of(env: dict) -> Iterator[sessionmaker[Session]]:
    """Sessions on the deployment's database, for looking at what the processes wrote."""
    engine = make_engine(env["HALLWATCH_DATABASE_URL"])
    yield make_session_factory(engine)
    engine.dispose()
