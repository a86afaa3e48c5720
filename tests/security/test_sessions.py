"""Sessions beyond tests/integration/test_login_security.py (flags, fixation, CSRF, idle
expiry live there): a copied cookie is worth nothing after logout, a new password or the
user's deletion, and the server keeps only a hash of the session's token."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from hallwatch.registry.models import UserRow
from hallwatch.registry.sessions import WebSessionRow
from hallwatch.registry.users import add_user, delete_user, update_user
from tests.security.hostile_hall import HostileHall
from tests.web_helpers import session_data, sign_in
from web.auth import SESSION_TOKEN


@pytest.fixture
def person(hall: HostileHall) -> Iterator[tuple[str, int]]:
    """A user of their own for one test (name, id), password `pw-<name>`."""
    name = f"guard-{uuid.uuid4().hex[:8]}"
    with hall.app.extensions["hallwatch"].sessions() as db:
        user_id = add_user(db, name, "hall_manager", f"pw-{name}").id
        db.commit()
    yield name, user_id
    with hall.app.extensions["hallwatch"].sessions() as db:
        if db.get(UserRow, user_id) is not None:
            delete_user(db, user_id)
            db.commit()


def browser(hall: HostileHall, cookie: str):
    client = hall.app.test_client()
    client.set_cookie("session", cookie)
    return client


def signed_in(client) -> bool:
    return client.get("/").status_code == 200 and client.get("/api/live").status_code == 200


def log_in_as(hall: HostileHall, name: str) -> tuple[str, str]:
    """Through the login form: (the session cookie, its CSRF token)."""
    return sign_in(hall.app, name)


def test_a_cookie_copied_before_logout_is_nobody_after_it(hall, person):
    cookie, token = log_in_as(hall, person[0])
    client, copy = browser(hall, cookie), browser(hall, cookie)
    assert signed_in(client) and signed_in(copy)
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 302
    assert copy.get("/").status_code == 302  # sent to log in
    assert copy.get("/api/live").status_code == 401


def test_logging_out_ends_only_that_browser(hall, person):
    (first, token), (second, _) = log_in_as(hall, person[0]), log_in_as(hall, person[0])
    browser(hall, first).post("/logout", data={"csrf_token": token})
    assert not signed_in(browser(hall, first))
    assert signed_in(browser(hall, second))


def test_a_new_password_ends_every_session(hall, person):
    cookie, _ = log_in_as(hall, person[0])
    assert signed_in(browser(hall, cookie))
    with hall.app.extensions["hallwatch"].sessions() as db:
        update_user(db, person[1], "hall_manager", None, password="a new one")
        db.commit()
    assert not signed_in(browser(hall, cookie))


def test_a_deleted_users_session_ends(hall, person):
    cookie, _ = log_in_as(hall, person[0])
    with hall.app.extensions["hallwatch"].sessions() as db:
        delete_user(db, person[1])
        db.commit()
        assert (
            db.scalars(select(WebSessionRow).where(WebSessionRow.user_id == person[1])).all() == []
        )
    assert not signed_in(browser(hall, cookie))


def test_a_signed_cookie_without_a_live_token_is_nobody(hall, person):
    """What a cookie minted before the upgrade, or forged with a leaked key, looks like."""
    cookie, _ = log_in_as(hall, person[0])
    data = session_data(hall.app, cookie)
    serializer = hall.app.session_interface.get_signing_serializer(hall.app)
    for token in (None, "", "guess", data[SESSION_TOKEN] + "x"):
        forged = {k: v for k, v in data.items() if k != SESSION_TOKEN}
        if token is not None:
            forged[SESSION_TOKEN] = token
        assert not signed_in(browser(hall, serializer.dumps(forged))), token
    other = dict(data, _user_id=str(person[1] + 10_000))  # another user's id, this token
    assert not signed_in(browser(hall, serializer.dumps(other)))


def test_only_a_hash_of_the_token_is_stored(hall, person):
    cookie, _ = log_in_as(hall, person[0])
    token = session_data(hall.app, cookie)[SESSION_TOKEN]
    with hall.app.extensions["hallwatch"].sessions() as db:
        stored = db.scalars(select(WebSessionRow.token_hash)).all()
    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored


def test_http_basic_needs_no_session(hall, person):
    from tests.web_helpers import basic

    answer = hall.app.test_client().get("/api/live", headers=basic(person[0], f"pw-{person[0]}"))
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers or SESSION_TOKEN not in session_data(
        hall.app, answer.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    )
