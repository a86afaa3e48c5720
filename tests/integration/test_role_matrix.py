"""Who may call what: every route of the app × anonymous and each role, on real services.

EXPECTED is written out by hand, one row per endpoint: a route added without a row
fails `test_the_table_covers_every_route`, and a route whose decorator drifts from its
row fails the matrix. "Allowed" means not refused (not 401/403, not sent to log in):
pages still being built may answer 501, a bad form 400, an id out of scope 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from flask import Flask, url_for

from hallwatch.access import ADMIN, DEPT_HEAD, HALL_MANAGER, INSPECTOR
from tests.halls import HALL_TZ, ROLES, built_hall
from tests.web_helpers import basic, password_of, sign_in

WHO = ("anonymous", *ROLES)
READERS = frozenset(ROLES)  # read_hall: everyone logged in (a dept_head within scope)
OPS_READERS = frozenset({ADMIN, HALL_MANAGER, INSPECTOR})
OPERATORS = frozenset({ADMIN, HALL_MANAGER})
ACKNOWLEDGERS = frozenset({ADMIN, HALL_MANAGER, DEPT_HEAD})
ADMINS = frozenset({ADMIN})
APPELLANTS = frozenset({DEPT_HEAD})
REQUESTERS = frozenset({DEPT_HEAD, HALL_MANAGER})  # request_staffing


@dataclass(frozen=True)
class Public:
    """Anyone, logged in or not, gets this status."""

    status: int


# endpoint → method → the roles allowed, or Public. HEAD is checked like GET.
EXPECTED: dict[str, dict[str, frozenset[str] | Public]] = {
    "api.healthz": {"GET": Public(200)},
    # No login: Prometheus scrapes it; the test client is loopback and no token is set.
    "metrics.metrics": {"GET": Public(200)},
    "api.live": {"GET": READERS},
    "api.rejected": {"GET": OPS_READERS},
    "api.unknown_cards": {"GET": OPS_READERS},
    "alerts_api.list_alerts": {"GET": READERS},
    "alerts_api.acknowledge_alert": {"POST": ACKNOWLEDGERS},
    "reports_api.windows_report": {"GET": READERS},
    "reports_api.staff_report": {"GET": READERS},
    "reports_api.departments_report": {"GET": READERS},
    "reports_api.coverage_report": {"GET": READERS},
    "report_downloads.workbook": {"GET": READERS},
    "report_downloads.ranking": {"GET": READERS},
    "report_downloads.csv_archive": {"GET": READERS},
    "report_downloads.public_ranking": {"GET": Public(200)},  # HALLWATCH_PUBLIC_RANKING on
    "report_page.month_report": {"GET": READERS},
    "public_ranking.ranking": {"GET": Public(200)},  # HALLWATCH_PUBLIC_RANKING on
    "auth.login": {"GET": Public(200), "POST": Public(302)},  # POST: with good credentials
    "auth.logout": {"POST": Public(302)},
    "static": {"GET": Public(200)},
    "pages.floor": {"GET": READERS},
    "department.index": {"GET": READERS},
    "department.show": {"GET": READERS},
    "window.show": {"GET": READERS},
    "alert_pages.index": {"GET": READERS},
    "alert_pages.ack": {"POST": ACKNOWLEDGERS},
    "appeals_api.list_appeals": {"GET": READERS},
    "appeals_api.file": {"POST": APPELLANTS},  # without a subject: 400
    "appeals_api.decide_appeal": {"POST": OPERATORS},  # no such appeal: 404
    "appeals_api.withdraw_appeal": {"POST": APPELLANTS},
    "appeal_pages.index": {"GET": READERS},
    "appeal_pages.file_window": {"POST": APPELLANTS},  # an empty form: 400
    "appeal_pages.file_episode": {"POST": APPELLANTS},
    "appeal_pages.decide": {"POST": OPERATORS},
    "appeal_pages.withdraw_appeal": {"POST": APPELLANTS},
    "ops.devices": {"GET": OPS_READERS},
    "ops.rejected": {"GET": OPS_READERS},
    "ops.unknown_cards": {"GET": OPS_READERS},
    "ops.register_card": {"POST": OPERATORS},  # without a card and a person: 400
    "ops.registry": {"GET": OPERATORS, "POST": OPERATORS},
    "ops.registry_yaml": {"GET": OPERATORS},
    "ops.registry_preview": {"GET": OPERATORS, "POST": OPERATORS},  # no such upload: 404
    "ops.users": {"GET": ADMINS},
    "ops.add_user": {"POST": ADMINS},
    "ops.edit_user": {"POST": ADMINS},
    "ops.delete_user": {"POST": ADMINS},
    "province.overview": {"GET": OPS_READERS},
    "province.province_api": {"GET": OPS_READERS},
    "ops_files.registry_xlsx": {"GET": OPS_READERS},
    "ops_files.roster_import": {"GET": OPERATORS},
    "ops_files.roster_preview": {"POST": OPERATORS},  # without a workbook: 400
    "ops_files.roster_confirm": {"POST": OPERATORS},  # an empty form: 400
    "ops_staff.index": {"GET": OPS_READERS},
    "ops_staff.add": {"POST": OPERATORS},  # an empty form: 400
    "ops_staff.show": {"GET": OPS_READERS},
    "ops_staff.rename": {"POST": OPERATORS},
    "ops_staff.move": {"POST": OPERATORS},
    "ops_staff.retire": {"GET": OPERATORS, "POST": OPERATORS},  # POST unconfirmed: 400
    "ops_staff.add_card": {"POST": OPERATORS},
    "ops_staff.remove_card": {"POST": OPERATORS},
    "ops_places.index": {"GET": OPS_READERS},
    "ops_places.add_window": {"POST": OPERATORS},
    "ops_places.window": {"GET": OPS_READERS},
    "ops_places.edit_window": {"POST": OPERATORS},
    "ops_places.move_window": {"POST": OPERATORS},
    "ops_places.retire_window": {"GET": OPERATORS, "POST": OPERATORS},
    "ops_places.add_device": {"POST": OPERATORS},
    "ops_places.device": {"GET": OPS_READERS},
    "ops_places.edit_device": {"POST": OPERATORS},
    "ops_places.move_device": {"POST": OPERATORS},
    "ops_places.retire_device": {"GET": OPERATORS, "POST": OPERATORS},
    "ops_roster.index": {"GET": OPS_READERS},
    "ops_roster.add": {"POST": OPERATORS},
    "ops_roster.show": {"GET": OPS_READERS},  # no such line: 404
    "ops_roster.edit": {"POST": OPERATORS},
    "ops_roster.end": {"POST": OPERATORS},
    "ops_audit.index": {"GET": frozenset({ADMIN, INSPECTOR})},
    "ops_audit.export": {"GET": frozenset({ADMIN, INSPECTOR})},
    "staffing.index": {"GET": READERS},
    "staffing.file_leave": {"POST": REQUESTERS},  # an empty form: 400
    "staffing.file_swap": {"POST": REQUESTERS},
    "staffing.file_replacement": {"POST": REQUESTERS},
    "staffing.decide_request": {"POST": OPERATORS},  # without a note: 400
    "staffing.withdraw_request": {"POST": REQUESTERS},  # no such request: 404
}
IGNORED_METHODS = {"HEAD", "OPTIONS"}  # HEAD follows GET; OPTIONS is Flask's own
CASES = [
    pytest.param(endpoint, method, who, id=f"{endpoint}-{method}-{who}")
    for endpoint, methods in EXPECTED.items()
    for declared in methods
    for method in ((declared, "HEAD") if declared == "GET" else (declared,))
    for who in WHO
]
POST_ENDPOINTS = [e for e, methods in EXPECTED.items() if "POST" in methods]
API_ENDPOINTS = [
    e for e in EXPECTED if e.startswith(("api.", "alerts_api.", "reports_api.", "appeals_api."))
]


@dataclass
class Hall:
    """The module's hall: the app, the ids of what is in it, and a signed-in browser per role."""

    app: Flask
    alerts: dict[str, int]  # department → an alert of it
    spare_user: int  # the target of the user-editing routes (admins may delete it)
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # who → (cookie, token)

    def args(self, who: str, department: str | None = None) -> dict:
        """Real values for every path argument, from `who`'s own department by default."""
        department = department or ("tax" if who == DEPT_HEAD else "civil")
        return {
            "window_id": {"civil": "W01", "tax": "W03"}[department],
            "dept_id": department,
            "alert_id": self.alerts[department],
            "appeal_id": 1,  # none: the routes answer 404 to whoever may ask
            "request_id": 1,  # none either
            "user_id": self.spare_user,
            "filename": "floor.js",
            "month": f"{datetime.now(HALL_TZ):%Y-%m}",
            "staff_id": {"civil": "s001", "tax": "s003"}[department],
            "device_id": {"civil": "desk-w01-card", "tax": "desk-w03-card"}[department],
            "line": "no-such-line",  # roster lines are named by a digest: 404 to whoever may ask
            "digest": "0" * 64,  # no such upload
        }

    def path(self, endpoint: str, who: str, department: str | None = None) -> str:
        rule = next(self.app.url_map.iter_rules(endpoint))
        args = {k: v for k, v in self.args(who, department).items() if k in rule.arguments}
        with self.app.test_request_context():
            return url_for(endpoint, **args)

    def client(self, who: str):
        """A fresh browser carrying `who`'s session cookie (anonymous: one with a CSRF token)."""
        client = self.app.test_client()
        cookie, _token = self.sessions[who]
        client.set_cookie("session", cookie)
        return client

    def token(self, who: str) -> str:
        return self.sessions[who][1]


@pytest.fixture(scope="module")
def hall(tmp_path_factory, mosquitto, influxd) -> Iterator[Hall]:
    with built_hall(tmp_path_factory.mktemp("matrix"), mosquitto, influxd) as built:
        _env, app, alerts, spare = built
        hall = Hall(app, alerts, spare)
        hall.sessions = {who: sign_in(app, who) for who in WHO}
        yield hall


def request(hall: Hall, endpoint: str, method: str, who: str, token: bool = True):
    """One call as `who` with a CSRF token on POST (unless `token` is False)."""
    client, own_token = hall.client(who), hall.token(who)
    if endpoint == "auth.logout":  # logging out ends its session: never the shared one
        client = hall.app.test_client()
        cookie, own_token = sign_in(hall.app, who)
        client.set_cookie("session", cookie)
    headers, data = {}, None
    if method == "POST":
        if token:
            headers["X-CSRFToken"] = own_token
        if endpoint == "auth.login":  # good credentials: anonymous logs in as the admin
            name = "admin" if who == "anonymous" else who
            data = {"username": name, "password": password_of(name)}
    return client.open(hall.path(endpoint, who), method=method, headers=headers, data=data)


def sent_to_login(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def check(response, endpoint: str, method: str, who: str, path: str) -> None:
    """The response agrees with EXPECTED for `who`."""
    rule = EXPECTED[endpoint]["GET" if method == "HEAD" else method]
    status = response.status_code
    body = response.get_data()[:300].decode("utf-8", "replace")  # downloads are binary
    said = f"{method} {path} as {who}: {status} {body}"
    assert status != 500, said
    if isinstance(rule, Public):
        assert status == rule.status, said
    elif who == "anonymous" and path.startswith("/api/"):
        assert status == 401, said
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    elif who == "anonymous":
        assert sent_to_login(response), said
    elif who in rule:
        assert status not in (401, 403) and not sent_to_login(response), said
    else:
        assert status == 403, said


def test_the_table_covers_every_route(hall):
    routes = {
        (rule.endpoint, method)
        for rule in hall.app.url_map.iter_rules()
        for method in rule.methods - IGNORED_METHODS
    }
    table = {(endpoint, method) for endpoint, methods in EXPECTED.items() for method in methods}
    assert routes - table == set(), "routes without a row in EXPECTED"
    assert table - routes == set(), "rows in EXPECTED for routes that are gone"
    for rule in hall.app.url_map.iter_rules():
        assert rule.arguments <= set(hall.args("admin")), f"no value for {rule.rule}"


@pytest.mark.parametrize(("endpoint", "method", "who"), CASES)
def test_each_route_answers_each_role_as_the_table_says(hall, endpoint, method, who):
    path = hall.path(endpoint, who)
    check(request(hall, endpoint, method, who), endpoint, method, who, path)


@pytest.mark.parametrize("endpoint", API_ENDPOINTS)
@pytest.mark.parametrize("who", ROLES)
def test_the_api_answers_http_basic_clients_alike(hall, endpoint, who):
    (method,) = EXPECTED[endpoint]
    path = hall.path(endpoint, who)
    client = hall.app.test_client()
    response = client.open(path, method=method, headers=basic(who, password_of(who)))
    check(response, endpoint, method, who, path)


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_a_post_without_the_csrf_token_is_refused(hall, endpoint):
    response = request(hall, endpoint, "POST", "admin", token=False)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "CSRF" in response.get_data(as_text=True)


def test_logout_is_post_only(hall):
    assert hall.client("admin").get("/logout").status_code == 405


SCOPED = [
    ("window.show", "GET"),
    ("department.show", "GET"),
    ("alert_pages.ack", "POST"),
    ("alerts_api.acknowledge_alert", "POST"),
]


@pytest.mark.parametrize(("endpoint", "method"), SCOPED)
def test_a_department_head_finds_nothing_of_another_department(hall, endpoint, method):
    client = hall.client("dept_head")
    headers = {"X-CSRFToken": hall.token("dept_head")} if method == "POST" else {}
    own = client.open(hall.path(endpoint, "dept_head"), method=method, headers=headers)
    if own.status_code == 501:
        pytest.skip(f"{endpoint} is still a stub")
    assert 200 <= own.status_code < 400, own.get_data(as_text=True)[:300]
    other = client.open(hall.path(endpoint, "dept_head", "civil"), method=method, headers=headers)
    assert other.status_code == 404, other.get_data(as_text=True)[:300]


def test_a_department_head_lists_only_their_alerts(hall):
    response = hall.client("dept_head").get("/api/alerts?status=all")
    assert [a["department"] for a in response.get_json()] == ["tax"]
    everyone = hall.client("inspector").get("/api/alerts?status=all").get_json()
    assert {a["department"] for a in everyone} == {"civil", "tax"}
