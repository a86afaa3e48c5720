"""Logging in, on real services: the new session and its cookies, where a login leads, and
CSRF on logging in and out (failed logins: test_login_failures)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hallwatch.config import ConfigError, Settings
from tests.halls import built_hall
from tests.integration.login_hall import Clock, fresh_app, log_in, make_app, token_of
from tests.web_helpers import CSRF_TOKEN, password_of, session_data
from web import SESSION_IDLE_LIMIT
from web.auth import safe_next


@pytest.fixture(scope="module")
def hall_env(tmp_path_factory, mosquitto, influxd) -> Iterator[dict]:
    with built_hall(tmp_path_factory.mktemp("login"), mosquitto, influxd) as built:
        yield built[0]


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def app(hall_env, clock):
    """An app on the module's hall, seeing `clock`; each test starts with no failures."""
    return fresh_app(hall_env, clock)


# --- the session -----------------------------------------------------------------------


def test_logging_in_starts_a_new_session(app):
    client = app.test_client()
    client.get("/login?lang=en")  # a language chosen before logging in is kept
    with client.session_transaction() as planted:
        planted["planted"] = "by someone else"
    before = client.get_cookie("session").value
    assert log_in(client, "admin", password_of("admin")).status_code == 302
    after = client.get_cookie("session").value
    assert after != before
    data = session_data(app, after)
    assert "planted" not in data and data["lang"] == "en" and data["_user_id"]
    assert data.get("csrf_token") != session_data(app, before)["csrf_token"]
    stale = app.test_client()
    stale.set_cookie("session", before)
    assert stale.get("/").status_code == 302  # the cookie from before logging in is nobody


def set_cookie_header(response, name: str = "session") -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}="))


def test_the_session_cookie_is_httponly_lax_and_expires_after_idling(app, clock):
    response = log_in(app.test_client(), "admin", password_of("admin"))
    cookie = set_cookie_header(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the default base URL is plain http (the demo)
    expires = re.search(r"Expires=([^;]+)", cookie)[1]
    left = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert abs(left - datetime.now(UTC) - SESSION_IDLE_LIMIT) < timedelta(minutes=1)


def test_a_page_left_open_keeps_its_session_alive(app):
    client = app.test_client()
    log_in(client, "hall_manager", password_of("hall_manager"))
    poll = client.get("/api/live")
    assert poll.status_code == 200
    assert "Expires=" in set_cookie_header(poll)  # every poll renews the idle limit


@pytest.mark.parametrize(
    ("variables", "secure"),
    [
        ({"HALLWATCH_SECURE_COOKIES": "true"}, True),
        ({"HALLWATCH_BASE_URL": "https://hall.example.gov.cn"}, True),
        (
            {"HALLWATCH_BASE_URL": "https://hall.example.gov.cn", "HALLWATCH_SECURE_COOKIES": "0"},
            False,
        ),
        ({}, False),
    ],
)
def test_cookies_are_secure_when_configured(hall_env, clock, variables, secure):
    app = make_app(hall_env, clock, **variables)
    assert app.config["SESSION_COOKIE_SECURE"] is secure
    assert app.config["REMEMBER_COOKIE_SECURE"] is secure
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    if secure:
        client = app.test_client()
        base = "https://localhost"
        token = CSRF_TOKEN.search(client.get(f"{base}/login").get_data(as_text=True))[1]
        form = {"username": "admin", "password": password_of("admin"), "csrf_token": token}
        response = client.post(f"{base}/login", data=form, headers={"Referer": f"{base}/login"})
        assert response.status_code == 302, response.get_data(as_text=True)
        assert "Secure" in set_cookie_header(response)


def test_a_bad_secure_cookies_value_names_the_variable():
    with pytest.raises(ConfigError, match="HALLWATCH_SECURE_COOKIES"):
        Settings.from_env({"HALLWATCH_SECURE_COOKIES": "maybe"})


# --- where a login leads ---------------------------------------------------------------

EVIL = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https://evil.example/",
    "%2F%2Fevil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "",
]


@pytest.mark.parametrize("target", EVIL)
def test_a_login_never_leads_off_the_site(app, target):
    response = log_in(app.test_client(), "admin", password_of("admin"), next_=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_raw_encoded_next_is_refused_too(app):
    client = app.test_client()
    form = {"username": "admin", "password": password_of("admin"), "csrf_token": token_of(client)}
    response = client.post("/login?next=%2F%2Fevil.example", data=form)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/windows/W01?day=2026-11-23", "/ops/users", "/?at=x%2Fy"])
def test_a_login_returns_to_the_page_asked_for(app, target):
    response = log_in(app.test_client(), "admin", password_of("admin"), next_=target)
    assert response.headers["Location"] == target


def test_safe_next_alone(app):
    with app.test_request_context():
        assert [safe_next(t) for t in EVIL] == ["/"] * len(EVIL)
        assert safe_next(None) == "/"
        assert safe_next("/departments/tax") == "/departments/tax"


def test_being_sent_to_log_in_remembers_the_page(app):
    client = app.test_client()
    sent = client.get("/windows/W01?day=2026-11-23")
    assert sent.status_code == 302
    location = sent.headers["Location"]
    assert location.startswith("/login?next=")
    form = {"username": "admin", "password": password_of("admin"), "csrf_token": token_of(client)}
    assert client.post(location, data=form).headers["Location"] == "/windows/W01?day=2026-11-23"


# --- CSRF on logging in and out --------------------------------------------------------


def test_the_login_form_needs_its_csrf_token(app):
    client = app.test_client()
    form = {"username": "admin", "password": password_of("admin")}
    assert client.post("/login", data=form).status_code == 400
    foreign = token_of(app.test_client())  # a token of another browser's session
    assert client.post("/login", data={**form, "csrf_token": foreign}).status_code == 400
    assert client.get("/api/live").status_code == 401


def test_logging_out_needs_a_post_with_the_token(app):
    client = app.test_client()
    log_in(client, "admin", password_of("admin"))
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still logged in
    out = client.post("/logout", data={"csrf_token": token_of(client, "/")})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
