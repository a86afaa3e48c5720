"""Department scope and IDOR (S9): a department head (tax) asking for anything of another
department (civil) gets 403/404 and none of its data, through ids in paths, filters in
query strings, lists, reports and downloads. A route with a path parameter that is not
in ID_ROUTES fails `test_every_route_with_a_parameter_is_covered`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hallwatch.registry.alerting import AlertRow
from tests.security.hostile_hall import HOSTILE_USER, HostileHall, path_of, texts

OTHER = "CIVILX"  # every civil name carries it; the dept_head is in tax


# endpoint → (method, what a dept_head gets for another department's id).
# "contents": the id is not a department's (a month); the answer must hold none of civil.
ID_ROUTES: dict[str, tuple[str, str]] = {
    "window.show": ("GET", "404"),
    "department.show": ("GET", "404"),
    "alert_pages.ack": ("POST", "404"),
    "alerts_api.acknowledge_alert": ("POST", "404"),
    "appeals_api.decide_appeal": ("POST", "403"),  # a department head decides nothing
    "appeals_api.withdraw_appeal": ("POST", "404"),
    "appeal_pages.decide": ("POST", "403"),
    "appeal_pages.withdraw_appeal": ("POST", "404"),
    "ops.edit_user": ("POST", "403"),
    "ops.delete_user": ("POST", "403"),
    "report_downloads.workbook": ("GET", "contents"),
    "report_downloads.ranking": ("GET", "contents"),
    "report_downloads.csv_archive": ("GET", "contents"),
    "staffing.decide_request": ("POST", "403"),  # a department head decides nothing
    "staffing.withdraw_request": ("POST", "404"),
    # The registry's pages are for operations: a department head gets none of them.
    "ops.registry_preview": ("GET", "403"),
    **{f"ops_staff.{name}": ("POST", "403") for name in ("rename", "move", "add_card")},
    **{f"ops_staff.{name}": ("GET", "403") for name in ("show", "retire")},
    "ops_staff.remove_card": ("POST", "403"),
    **{f"ops_places.{name}": ("GET", "403") for name in ("window", "device")},
    **{f"ops_places.retire_{name}": ("GET", "403") for name in ("window", "device")},
    **{
        f"ops_places.{verb}_{name}": ("POST", "403")
        for verb in ("edit", "move")
        for name in ("window", "device")
    },
    "ops_roster.show": ("GET", "403"),
    **{f"ops_roster.{name}": ("POST", "403") for name in ("edit", "end")},
}
NOT_DATA = {"static"}  # path parameters that name no department's data
PUBLIC = {"public_ranking.ranking", "report_downloads.public_ranking"}  # names are published


def test_every_route_with_a_parameter_is_covered(hall):
    with_ids = {r.endpoint for r in hall.app.url_map.iter_rules() if r.arguments} - NOT_DATA
    assert with_ids - set(ID_ROUTES) == set(), "add the new route to ID_ROUTES"


@pytest.mark.parametrize("endpoint", sorted(ID_ROUTES))
def test_another_departments_id_gives_nothing(hall, endpoint):
    method, expected = ID_ROUTES[endpoint]
    client = hall.client("dept_head")
    headers = {"X-CSRFToken": hall.token("dept_head")} if method == "POST" else {}
    answer = client.open(path_of(hall, endpoint, "civil"), method=method, headers=headers)
    body = texts(answer)
    assert OTHER not in body, endpoint
    if expected == "contents":
        assert answer.status_code == 200, body[:300]
        own = client.get(path_of(hall, endpoint, "tax"))
        assert "TAXX" in texts(own)  # the download does hold the department's own data
    else:
        assert answer.status_code == int(expected), body[:300]


def test_a_refused_acknowledgement_changed_nothing(hall):
    client = hall.client("dept_head")
    headers = {"X-CSRFToken": hall.token("dept_head")}
    for path in (f"/alerts/{hall.alerts['civil']}/ack", f"/api/alerts/{hall.alerts['civil']}/ack"):
        client.post(path, headers=headers, data={"note": "mine now"})
    with hall.app.extensions["hallwatch"].sessions() as db:
        row = db.scalars(select(AlertRow).where(AlertRow.id == hall.alerts["civil"])).one()
        assert row.acknowledged_by == HOSTILE_USER and row.ack_note != "mine now"


FILTERS = [
    "/alerts?department=civil",
    "/alerts?department=civil&status=all",
    "/reports?department=civil",
    "/api/alerts?status=all&department=civil",
    "/api/live?window=W01",
    "/?department=civil",
    "/departments?department=civil",
]


def every_get(hall: HostileHall) -> list[str]:
    return [
        path_of(hall, rule.endpoint, "tax")
        for rule in hall.app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint not in NOT_DATA | PUBLIC
    ]


def test_nothing_a_department_head_reads_holds_another_department(hall):
    client = hall.client("dept_head")
    seen = []
    for path in every_get(hall) + FILTERS:
        answer = client.get(path)
        assert answer.status_code < 500, path
        assert OTHER not in texts(answer), f"{path} shows civil data to the tax head"
        seen.append((path, answer.status_code))
    assert client.get("/reports?department=civil").status_code in (403, 404)
    shown = texts(client.get("/"))
    assert "TAXX5" in shown  # the floor does show the head's own window


def test_http_basic_is_scoped_too(hall):
    from tests.web_helpers import basic, password_of

    client = hall.app.test_client()
    auth = basic("dept_head", password_of("dept_head"))
    for path in [p for p in every_get(hall) if p.startswith("/api/")]:
        assert OTHER not in texts(client.get(path, headers=auth)), path
    ack = client.post(f"/api/alerts/{hall.alerts['civil']}/ack", headers=auth)
    assert ack.status_code == 404
