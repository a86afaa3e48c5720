"""The report API (docs/API.md) on real InfluxDB and a real registry: one hand-built Monday."""

from __future__ import annotations

import pytest

from hallwatch.events import BadgeRead, DeviceStatus, PresenceReport
from hallwatch.influx.eventstore import event_point
from tests.helpers import SHANGHAI
from tests.integration.deployments import hall_deployment
from tests.report_hall import MONDAY_EVENTS, REPORT_HALL, THE_DAY, USERS, at
from tests.web_helpers import basic

HALL_TZ = SHANGHAI  # the zone this module's hall file names


@pytest.fixture(scope="module")
def app(influxd, tmp_path_factory):
    """One deployment for the module: the tests only read, and the past day never changes."""
    home = tmp_path_factory.mktemp("reports")
    lines = [event_point(e, staff).to_line() for e, staff in MONDAY_EVENTS]
    with hall_deployment(influxd.url, home, REPORT_HALL, USERS, lines) as (_, app):
        yield app


def get(app, path, user=("boss", "pw-boss"), status=200, **query):
    response = app.test_client().get(path, query_string=query, headers=basic(*user))
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def by(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


def test_window_minutes_of_a_hand_built_day(app):
    rows = get(app, "/api/reports/windows", **THE_DAY)
    assert [r["window"] for r in rows] == ["W01", "W02", "W03"]
    assert rows == [
        {
            "window": "W01",
            "department": "civil",
            "scheduled_minutes": 420.0,
            "staffed_minutes": 390.0,
            "away_minutes": 10.0,
            "empty_minutes": 20.0,
            "unknown_minutes": 0.0,
            "staffed_ratio": 0.929,
            "coverage": 1.0,
            "appealed": False,  # no accepted appeal (docs/APPEALS.md)
            "original": None,
        },
        {
            # away 09:00–09:05; staffed until the office read at 10:20; then away for the
            # grace and empty, the afternoon likewise from 13:30.
            "window": "W02",
            "department": "civil",
            "scheduled_minutes": 420.0,
            "staffed_minutes": 75.0,
            "away_minutes": 25.0,
            "empty_minutes": 320.0,
            "unknown_minutes": 0.0,
            "staffed_ratio": 0.179,
            "coverage": 1.0,
            "appealed": False,  # no accepted appeal (docs/APPEALS.md)
            "original": None,
        },
        {
            "window": "W03",
            "department": "tax",
            "scheduled_minutes": 360.0,  # closed during 王五's leave
            "staffed_minutes": 360.0,
            "away_minutes": 0.0,
            "empty_minutes": 0.0,
            "unknown_minutes": 0.0,
            "staffed_ratio": 1.0,
            "coverage": 1.0,
            "appealed": False,  # no accepted appeal (docs/APPEALS.md)
            "original": None,
        },
    ]


def test_a_range_may_cut_the_day_anywhere(app):
    rows = get(
        app, "/api/reports/windows", **{"from": "2026-11-23T09:30", "to": "2026-11-23T10:15"}
    )
    w01 = by(rows, "window")["W01"]
    assert (w01["scheduled_minutes"], w01["staffed_minutes"]) == (45.0, 30.0)
    assert (w01["away_minutes"], w01["empty_minutes"]) == (10.0, 5.0)


def test_staff_counts_of_a_hand_built_day(app):
    rows = by(get(app, "/api/reports/staff", **THE_DAY), "staff")
    assert rows["s001"] == {
        "staff": "s001",
        "department": "civil",
        "rostered_minutes": 420.0,
        "leave_minutes": 0.0,
        "late_sign_ins": 1,
        "absences": 1,
        "pulled_back": 0,
        "appealed": False,
        "original": None,
    }
    assert {k: rows["s002"][k] for k in ("late_sign_ins", "absences", "pulled_back")} == {
        "late_sign_ins": 1,  # 09:05
        "absences": 1,  # not back for the afternoon
        "pulled_back": 1,
    }
    assert (rows["s003"]["rostered_minutes"], rows["s003"]["leave_minutes"]) == (420.0, 60.0)
    assert rows["s003"]["late_sign_ins"] == rows["s003"]["absences"] == 0


def test_the_month_ranks_departments_best_first(app):
    rows = get(app, "/api/reports/departments", month="2026-11")
    assert rows == [
        {
            "department": "tax",
            "name": "税务局",
            "rank": 1,
            "staffed_ratio": 1.0,
            "coverage": 1.0,
            "empty_minutes": 0.0,
            "absences": 0,
            "pulled_back": 0,
            "withdrawn_days": 0,
            "appealed": False,  # no accepted appeal (docs/APPEALS.md)
            "original": None,
        },
        {
            "department": "civil",
            "name": "民政局",
            "rank": 2,
            # (390 + 75) / 840; the days without any event are not scheduled for anyone
            "staffed_ratio": 0.554,
            "coverage": 1.0,
            "empty_minutes": 340.0,
            "absences": 2,
            "pulled_back": 1,
            "withdrawn_days": 0,
            "appealed": False,  # no accepted appeal (docs/APPEALS.md)
            "original": None,
        },
    ]
    assert get(app, "/api/reports/departments", month="2026-11") == rows  # from the cache


def test_the_days_hallwatch_was_not_collecting_are_listed_apart(app):
    gaps = get(app, "/api/reports/coverage", **{"from": "2026-11-23", "to": "2026-11-28"})
    # Only Monday had events: Tuesday to Friday are listed, not counted as unknown minutes.
    assert gaps == {
        "not_collected": ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"],
        "offline": [],
    }


# 张三's seat sensor says it is going offline at 10:00 and is back only at 15:00.
UNPLUGGED = [
    (DeviceStatus("desk-w01-seat", at("08:00"), True), None),
    (PresenceReport("desk-w01-seat", at("09:00"), True), None),
    (BadgeRead("desk-w01-card", at("09:00"), "04A1B2C3"), "s001"),
    (BadgeRead("desk-w02-card", at("09:00"), "04A1B2C4"), "s002"),
    (BadgeRead("desk-w03-card", at("09:00"), "04A1B2C5"), "s003"),
    (DeviceStatus("desk-w01-seat", at("10:00"), False), None),
    (DeviceStatus("desk-w01-seat", at("15:00"), True), None),
    (PresenceReport("desk-w01-seat", at("15:00"), True), None),
]


def test_an_unplugged_sensor_does_not_lift_a_department_into_the_ranking(influxd, tmp_path):
    lines = [event_point(e, staff).to_line() for e, staff in UNPLUGGED]
    with hall_deployment(influxd.url, tmp_path, REPORT_HALL, USERS, lines) as (_, app):
        [tax, civil] = get(app, "/api/reports/departments", month="2026-11")
        w01 = by(get(app, "/api/reports/windows", **THE_DAY), "window")["W01"]
        gaps = get(app, "/api/reports/coverage", **THE_DAY)
    # W01 was unknown 10:00–12:00 and 13:30–15:00 (210 of its 420 minutes): its ratio is over
    # what was seen, so civil "scores" 100 % — and is not ranked: coverage (210 + 420) / 840.
    assert (w01["unknown_minutes"], w01["staffed_ratio"], w01["coverage"]) == (210.0, 1.0, 0.5)
    assert (civil["department"], civil["staffed_ratio"], civil["coverage"]) == ("civil", 1.0, 0.75)
    assert civil["rank"] is None and tax["rank"] == 1  # listed after the ranked ones
    seat = {"device": "desk-w01-seat", "window": "W01", "department": "civil"}
    assert gaps["offline"] == [  # the reason, longest first, within opening hours
        {
            **seat,
            "from": "2026-11-23T10:00:00+08:00",
            "to": "2026-11-23T12:00:00+08:00",
            "minutes": 120.0,
        },
        {
            **seat,
            "from": "2026-11-23T13:30:00+08:00",
            "to": "2026-11-23T15:00:00+08:00",
            "minutes": 90.0,
        },
    ]


def test_a_department_head_sees_only_their_department(app):
    windows = get(app, "/api/reports/windows", user=("tax", "pw-tax"), **THE_DAY)
    assert [r["window"] for r in windows] == ["W03"]
    staff = get(app, "/api/reports/staff", user=("civil-head", "pw-civil"), **THE_DAY)
    assert [r["staff"] for r in staff] == ["s001", "s002"]
    [civil] = get(app, "/api/reports/departments", user=("civil-head", "pw-civil"), month="2026-11")
    assert (civil["department"], civil["rank"]) == ("civil", 2)  # its rank in the whole hall
    everything = get(
        app, "/api/reports/departments", user=("inspector", "pw-inspector"), month="2026-11"
    )
    assert [r["department"] for r in everything] == ["tax", "civil"]


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("/api/reports/windows", {"to": THE_DAY["to"]}, "'from' is required"),
        ("/api/reports/staff", {"from": THE_DAY["from"], "to": "tomorrow"}, "'to' must be an ISO"),
        (
            "/api/reports/windows",
            {"from": THE_DAY["to"], "to": THE_DAY["from"]},
            "'to' must be later",
        ),
        ("/api/reports/staff", {"from": "2025-01-01", "to": "2026-11-24"}, "at most 366 days"),
        (
            "/api/reports/windows",
            {"from": "1999-12-31", "to": "2000-01-02"},
            "'from' must not be before",
        ),
        ("/api/reports/departments", {}, "'month' must be a month"),
        ("/api/reports/departments", {"month": "2026-13"}, "'month' must be a month"),
        ("/api/reports/departments", {"month": "2026-11-01"}, "'month' must be a month"),
        ("/api/reports/departments", {"month": "0000-01"}, "'month' must not be before"),
        ("/api/reports/departments", {"month": "2999-01"}, "has not begun"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(app, path, query, named):
    body = get(app, path, status=400, **query)
    assert named in body["error"]


def test_reports_need_credentials(app):
    assert app.test_client().get("/api/reports/departments?month=2026-11").status_code == 401
