"""Two halls on one deployment, on real services: Shanghai and Urumqi, each with its own hours.

The collector stores both (each device's clock read in its own hall's time zone),
/api/live answers per hall, a hall manager of one hall gets 404 for the other's
hall, windows and pages, the province overview ranks both, and `hallwatch check`
judges each hall by its own hours without touching the other's alerts. (`hallwatch report`,
`provision` and `simulate` on the two halls: test_multi_hall_commands.)
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from alerts.scheduler import AlertService
from hallwatch.events import BadgeRead, Heartbeat, Rejection
from hallwatch.influx.eventstore import event_point, rejection_point
from hallwatch.metrics.jobs import BACKFILL_DAYS, refresh_days
from hallwatch.metrics.store import DaySummaryRow
from hallwatch.registry.alerting import AlertRow, OutboxRow
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.importing import import_file
from hallwatch.registry.load import load_deployment
from hallwatch.registry.users import add_user
from tests.conftest import database_url_for
from tests.halls import CONTRACT_EXAMPLE, SHANGHAI, URUMQI, two_halls_deployment, two_halls_yaml
from tests.helpers import hallwatch, wait_until
from tests.mqtt_helpers import publish, publisher
from tests.web_helpers import app_for, basic

HOOK = "http://127.0.0.1:9/hook"  # nothing listens: messages stay in the outbox


@pytest.fixture
def database_url(tmp_path: Path):
    yield from database_url_for("sqlite", tmp_path)


@pytest.fixture
def deployment(tmp_path: Path, mosquitto, influx_db, database_url):
    """The two halls imported with the CLI, and a user of each kind."""
    return two_halls_deployment(tmp_path, mosquitto.url, influx_db, database_url)


def get(client, path: str, who: str, **query):
    return client.get(path, query_string=query, headers=basic(who, f"pw-{who}"))


def window_ids(body: dict) -> list[str]:
    return [w["id"] for w in body["windows"]]


def test_the_collector_stores_both_halls_each_in_its_own_time(
    deployment, collector_process, mosquitto
):
    pub = publisher(mosquitto.url)
    now = datetime.now(UTC)
    # Clocks without an offset are hall time: 10:00 in Shanghai is 02:00Z, in Urumqi 04:00Z.
    # Two days ago: a device time is trusted within 30 days of now, so never a fixed date.
    day = datetime.combine((now - timedelta(days=2)).date(), datetime.min.time(), UTC)
    for device, uid in (("e01-card", "04A1B2C3"), ("x01-card", "04A1B2C4")):
        badge = {"type": "badge", "uid": uid, "ts": f"{day.date()}T10:00:00"}
        publish(pub, f"hallwatch/devices/{device}/events", badge)
    for device in ("e01-seat", "x01-seat"):
        seat = {"type": "presence", "occupied": True, "ts": now.isoformat()}
        publish(pub, f"hallwatch/devices/{device}/events", seat)
    pub.loop_stop()
    app = app_for(deployment)
    store = app.extensions["hallwatch"].store

    def badges() -> dict[str, datetime]:
        return {e.device: e.at for e in store.events_between(day, day + timedelta(days=1))}

    wait_until(lambda: len(badges()) == 2, timeout=20, message=badges)
    assert badges() == {
        "e01-card": day + timedelta(hours=2),
        "x01-card": day + timedelta(hours=4),
    }
    client = app.test_client()

    def east() -> dict:
        return get(client, "/api/live", "boss", hall="east").get_json()

    wait_until(lambda: east()["windows"][0]["state"] == "staffed", timeout=20, message=east)
    assert window_ids(east()) == ["E01"]
    assert east()["at"].endswith("+08:00")
    west = get(client, "/api/live", "boss", hall="west").get_json()
    assert window_ids(west) == ["X01"]
    assert west["at"].endswith("+06:00")
    assert window_ids(get(client, "/api/live", "boss").get_json()) == ["E01"]  # the first hall
    runtime = app.extensions["hallwatch"]
    for hall in ("east", "west"):  # each hall's day in memory holds its own devices' events
        registry = runtime.registry(hall=hall)
        heard = {e.device for e in runtime.history(registry, datetime.now(UTC))}
        assert heard and heard <= set(registry.device_by_id), (hall, heard)


def test_a_hall_manager_of_one_hall_never_sees_the_other(deployment):
    client = app_for(deployment).test_client()
    assert window_ids(get(client, "/api/live", "east_mgr").get_json()) == ["E01"]
    for path, query in (
        ("/api/live", {"hall": "west"}),
        ("/", {"hall": "west"}),
        ("/windows/X01", {}),
        ("/departments/tax", {}),
        ("/api/alerts", {"hall": "west"}),
    ):
        answer = get(client, path, "east_mgr", **query)
        assert answer.status_code == 404, (path, query, answer.status_code)
    assert get(client, "/windows/E01", "east_mgr").status_code == 200
    day = {"from": "2026-11-24T00:00:00+08:00", "to": "2026-11-25T00:00:00+08:00"}
    report = get(client, "/api/reports/windows", "boss", hall="west", **day).get_json()
    assert [r["window"] for r in report] == ["X01"]
    assert get(client, "/api/live", "boss", hall="nowhere").status_code == 404
    # A department head is in their department's hall only.
    assert window_ids(get(client, "/api/live", "west_tax").get_json()) == ["X01"]
    assert get(client, "/api/live", "west_tax", hall="east").status_code == 404
    # Someone with several halls gets a switcher; the page and its links stay in the hall.
    page = get(client, "/", "boss", hall="west").get_data(as_text=True)
    assert "西1号窗口" in page and "东1号窗口" not in page
    assert 'href="/?hall=east"' in page and "/api/live?hall=west" in page
    assert "西城大厅" not in get(client, "/", "east_mgr").get_data(as_text=True)  # no switcher


def test_kept_rejections_and_unknown_cards_stay_in_their_hall(deployment, influx_db):
    """A user limited to one hall sees only the rejections whose topic names one of its
    devices, and only the unknown cards read at its readers; an admin sees every hall's."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    second = timedelta(seconds=1)  # rejections have no tags: one instant holds one of them
    rejections = [
        Rejection("hallwatch/devices/e01-seat/events", b"{bad json", "bad JSON", now),
        Rejection("hallwatch/devices/x01-seat/events", b"{bad json", "bad JSON", now + second),
        Rejection("hallwatch/devices/nobody/events", b"{}", "unknown device", now + 2 * second),
    ]
    unknown = [BadgeRead("e01-card", now, "0A0B0C0D"), BadgeRead("x01-card", now, "0E0F0A0B")]
    points = [rejection_point(r) for r in rejections] + [event_point(e, None) for e in unknown]
    influx_db.write("\n".join(p.to_line() for p in points), precision="ns")
    client = app_for(deployment).test_client()

    def topics(who: str) -> set[str]:
        return {r["topic"] for r in get(client, "/api/rejected", who).get_json()}

    assert topics("east_mgr") == {"hallwatch/devices/e01-seat/events"}
    assert topics("boss") == {r.topic for r in rejections}  # sees every hall, and no hall's
    page = get(client, "/ops/rejected", "east_mgr").get_data(as_text=True)
    assert "e01-seat" in page and "x01-seat" not in page and "nobody" not in page

    def readers(who: str, **query) -> set[str]:
        return {r["device"] for r in get(client, "/api/unknown-cards", who, **query).get_json()}

    assert readers("east_mgr") == {"e01-card"}
    assert readers("boss", hall="west") == {"x01-card"}
    assert get(client, "/api/unknown-cards", "east_mgr", hall="west").status_code == 404


def test_the_province_overview_ranks_the_halls_each_user_may_see(deployment):
    client = app_for(deployment).test_client()
    rows = get(client, "/api/province", "boss").get_json()
    assert {r["hall"] for r in rows} == {"east", "west"}
    for row in rows:
        assert set(row) >= {"rank", "staffed_now", "windows", "today_staffed_ratio"}
        assert row["windows"] == 1
    assert [r["hall"] for r in get(client, "/api/province", "east_mgr").get_json()] == ["east"]
    page = get(client, "/province", "boss").get_data(as_text=True)
    assert "东城大厅" in page and "西城大厅" in page
    assert get(client, "/province", "west_tax").status_code == 403


def test_an_admin_gives_a_user_halls_on_the_users_page(deployment):
    app = app_for(deployment)
    app.config["WTF_CSRF_ENABLED"] = False  # tests/integration/test_operations_users.py has CSRF
    client = app.test_client()
    page = get(client, "/ops/users", "boss").get_data(as_text=True)
    assert "限于大厅" in page and "西城大厅 · " in page  # departments named with their hall
    form = {"username": "west_mgr", "password": "long-enough", "confirm": "long-enough"}
    form |= {"role": "hall_manager", "department": "", "halls": ["west"]}
    added = client.post("/ops/users", data=form, headers=basic("boss", "pw-boss"))
    assert added.status_code == 302, added.get_data(as_text=True)
    mine = client.get("/api/live", headers=basic("west_mgr", "long-enough"))
    assert window_ids(mine.get_json()) == ["X01"]
    other = client.get("/api/live?hall=east", headers=basic("west_mgr", "long-enough"))
    assert other.status_code == 404
    bad = client.post(
        "/ops/users",
        data=form | {"username": "x", "halls": ["nowhere"]},
        headers=basic("boss", "pw-boss"),
    )
    assert bad.status_code == 400 and "nowhere" in bad.get_data(as_text=True)


def open_absences(env: dict, at: str) -> set[str]:
    out = hallwatch("check", "--at", at, env=env).stdout
    return {a["staff"] for a in json.loads(out) if a["kind"] == "absent"}


def test_alerts_follow_each_halls_own_hours_and_time_zone(deployment):
    hallwatch(
        "user", "channel", "add", "east_mgr", "--kind", "webhook", "--target", HOOK, env=deployment
    )
    west_hook = f"{HOOK}?west"
    hallwatch(
        "user", "channel", "add", "west_tax", "--kind", "webhook", "--target", west_hook,
        env=deployment,
    )  # fmt: skip
    # Each hall's seat sensor was heard that morning: both halls were collecting.
    runtime = app_for(deployment).extensions["hallwatch"]
    for device, tz in (("e01-seat", SHANGHAI), ("x01-seat", URUMQI)):
        heard = datetime(2026, 11, 24, 0, 30, tzinfo=tz)
        runtime.influx.write([event_point(Heartbeat(device, heard, received=heard)).to_line()])
    # 10:00 in Shanghai is 08:00 in Urumqi: the east hall is open, the west one not yet.
    assert open_absences(deployment, "2026-11-24T10:00:00+08:00") == {"e001"}
    # 13:00 in Shanghai is 11:00 in Urumqi: the west hall opened at 10:00; and evaluating the
    # west hall leaves the east hall's alert alone.
    assert open_absences(deployment, "2026-11-24T13:00:00+08:00") == {"e001", "x001"}
    # Each alert printed in its own hall's offset.
    printed = json.loads(
        hallwatch("check", "--at", "2026-11-24T13:00:00+08:00", env=deployment).stdout
    )
    offsets = {a["staff"]: a["opened_at"][-6:] for a in printed if a["kind"] == "absent"}
    assert offsets == {"e001": "+08:00", "x001": "+06:00"}
    # A wall-clock time without an offset names no one instant across these halls.
    bare = hallwatch("check", "--at", "2026-11-24T13:00:00", env=deployment, check=False)
    assert bare.returncode == 2 and bare.stdout == ""
    assert "Asia/Shanghai, Asia/Urumqi" in bare.stderr and "+08:00" in bare.stderr
    client = app_for(deployment).test_client()

    def departments(who: str, **query) -> set[str]:
        alerts = get(client, "/api/alerts", who, **query).get_json()
        return {a["department"] for a in alerts}

    assert departments("boss", hall="east") == {"civil"}
    assert departments("boss", hall="west") == {"tax"}
    assert departments("east_mgr") == {"civil"}
    page = get(client, "/alerts", "boss", hall="west", **{"from": "2026-11-24", "status": "all"})
    page = page.get_data(as_text=True)
    assert "李四" in page and "张三" not in page and "e001" not in page

    # The east hall's manager hears of the east hall only: when alerts open, and in the digest.
    def digests(target: str) -> list[str]:
        with runtime.sessions() as db:
            sent = db.scalars(select(OutboxRow).where(OutboxRow.target == target)).all()
            return [row.body for row in sent if row.alert_id is None]

    service = AlertService(runtime)
    service._digest(datetime(2026, 11, 25, 8, 30, tzinfo=SHANGHAI))  # 06:30 in Urumqi
    with runtime.sessions() as db:
        sent = db.scalars(select(OutboxRow).where(OutboxRow.target == HOOK)).all()
        about = {db.get(AlertRow, row.alert_id).department_id for row in sent if row.alert_id}
    assert about == {"civil"}
    east = digests(HOOK)
    assert len(east) == 1 and "东城大厅" in east[0] and "李四" not in east[0]
    assert digests(west_hook) == []  # the west hall's 08:30 has not come yet
    # Each hall's digest when its own 08:30 has passed, once, whoever leads then.
    service._digest(datetime(2026, 11, 25, 8, 30, tzinfo=URUMQI))
    AlertService(runtime)._digest(datetime(2026, 11, 25, 15, 0, tzinfo=URUMQI))
    west = digests(west_hook)
    assert len(west) == 1 and "税务局" in west[0] and "张三" not in west[0]
    assert digests(HOOK) == east
    # Each hall's closed days are stored once, by its own calendar.
    now = datetime.now(UTC)
    refresh_days(runtime, now, BACKFILL_DAYS)
    with runtime.sessions() as db:
        rows = {(r.hall, r.day) for r in db.scalars(select(DaySummaryRow))}
    if now - timedelta(days=BACKFILL_DAYS) < datetime(2026, 11, 24, tzinfo=UTC):
        assert {("east", date(2026, 11, 24)), ("west", date(2026, 11, 24))} <= rows

        # A late point of the east hall makes the east hall's day stale, not the west's.
        def computed() -> dict[str, tuple]:
            with runtime.sessions() as db:
                found = db.scalars(select(DaySummaryRow).where(DaySummaryRow.day == "2026-11-24"))
                return {r.hall: (r.event_count, r.newest_received) for r in found}

        before = computed()
        late = datetime(2026, 11, 24, 3, tzinfo=UTC)
        runtime.influx.write([event_point(Heartbeat("e01-seat", late, received=now)).to_line()])
        assert refresh_days(runtime, now, BACKFILL_DAYS) == [date(2026, 11, 24)]
        after = computed()
        assert after["west"] == before["west"]
        assert after["east"][0] == before["east"][0] + 1 and after["east"][1] > before["east"][1]
    assert refresh_days(runtime, now, BACKFILL_DAYS) == []


LEGACY_DAY_SUMMARIES = """
CREATE TABLE day_summaries (
    day DATE PRIMARY KEY, fingerprint VARCHAR(64), computed_at TIMESTAMP,
    newest_received TIMESTAMP, event_count INTEGER, summary TEXT
)"""
LEGACY_ROW = "'2026-11-23', 'f', '2026-11-24 02:00:00', NULL, 3, '{}'"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_older_database_takes_a_file_of_several_halls(backend, tmp_path):
    for url in database_url_for(backend, tmp_path):
        engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        sessions = make_session_factory(engine)
        create_schema(engine)
        single = tmp_path / "hall.yaml"
        single.write_text(CONTRACT_EXAMPLE, encoding="utf-8")
        import_file(sessions, single)
        with engine.begin() as db:  # as a version from before several halls left it
            db.execute(text("ALTER TABLE departments DROP COLUMN hall_code"))
            db.execute(text("ALTER TABLE hall DROP COLUMN code"))
            db.execute(text("DROP TABLE hall_day_summaries"))
            db.execute(text(LEGACY_DAY_SUMMARIES))
            db.execute(text(f"INSERT INTO day_summaries VALUES ({LEGACY_ROW})"))
        create_schema(engine)
        create_schema(engine)  # again: nothing moved twice
        with sessions() as session:
            moved = session.execute(select(DaySummaryRow.hall, DaySummaryRow.day)).all()
            assert moved == [("main", date(2026, 11, 23))]
            assert session.execute(text("SELECT count(*) FROM day_summaries")).scalar() == 0
        with sessions() as session:
            old = load_deployment(session)
        assert old.ids == ("main",) and [d.id for d in old.first.departments] == ["civil"]
        halls = tmp_path / "halls.yaml"
        halls.write_text(two_halls_yaml(), encoding="utf-8")
        summary = import_file(sessions, halls)
        assert summary.sections["hall"].retired == 1  # `main` left the file
        with sessions() as session:
            new = load_deployment(session)
            assert new.ids == ("east", "west")
            assert [w.id for w in new.hall("west").windows] == ["X01"]
            manager = add_user(session, "m", "hall_manager", "pw", halls=["west"])
            session.commit()
            assert manager.hall_codes == ("west",)
        assert import_file(sessions, halls).changes == 0  # idempotent
        engine.dispose()
