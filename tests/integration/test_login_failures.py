"""Failed logins on real services: throttling by name and by address, and no enumeration."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hallwatch.registry.models import UserRow
from hallwatch.registry.throttle import ADDRESS_POLICY, USER, USER_POLICY, LoginFailureRow
from hallwatch.registry.users import add_user
from tests.halls import built_hall
from tests.integration.login_hall import Clock, fresh_app, log_in, token_of
from tests.web_helpers import basic, password_of

WRONG_WORDS = "用户名或密码错误"


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


# --- throttling ------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_name_until_the_wait_is_over(app, clock):
    client = app.test_client()
    for _ in range(USER_POLICY.max_failures - 1):
        answer = log_in(client, "admin", "wrong")
        assert answer.status_code == 401 and WRONG_WORDS in answer.get_data(as_text=True)
    locked = log_in(client, "admin", "wrong")
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "60"
    assert "登录失败次数过多,请 1 分钟后再试" in locked.get_data(as_text=True)
    # While locked even the right password is refused, unchecked.
    assert log_in(client, "admin", password_of("admin")).status_code == 429
    clock.advance(timedelta(seconds=30))
    assert log_in(client, "admin", password_of("admin")).headers["Retry-After"] == "30"
    clock.advance(timedelta(seconds=31))
    assert log_in(client, "admin", password_of("admin")).status_code == 302


def test_a_new_password_set_by_an_admin_unlocks_the_name(app):
    client = app.test_client()
    for _ in range(USER_POLICY.max_failures):
        log_in(client, "admin", "wrong")
    assert log_in(client, "admin", password_of("admin")).status_code == 429
    with app.extensions["hallwatch"].sessions() as db:
        add_user(db, "admin", "admin", "a-new-password")
        db.commit()
    assert log_in(client, "admin", "a-new-password").status_code == 302
    with app.extensions["hallwatch"].sessions() as db:  # as the other tests expect it
        add_user(db, "admin", "admin", password_of("admin"))
        db.commit()


def test_the_wait_grows_with_each_failure_after_it(app, clock):
    client = app.test_client()
    for _ in range(USER_POLICY.max_failures):
        log_in(client, "inspector", "wrong")
    clock.advance(timedelta(minutes=1))
    again = log_in(client, "inspector", "wrong")
    assert again.status_code == 429 and again.headers["Retry-After"] == "120"
    assert "请 2 分钟后再试" in again.get_data(as_text=True)


def test_a_success_clears_the_name(app, clock):
    client = app.test_client()
    for _ in range(USER_POLICY.max_failures - 1):
        log_in(client, "admin", "wrong")
    assert log_in(client, "admin", password_of("admin")).status_code == 302
    other = app.test_client()
    for _ in range(USER_POLICY.max_failures - 1):
        assert log_in(other, "admin", "wrong").status_code == 401  # counting from zero again


def test_the_name_is_locked_from_every_address(app):
    client = app.test_client()
    for _ in range(USER_POLICY.max_failures):
        log_in(client, "admin", "wrong", address="10.0.0.1")
    moved = log_in(app.test_client(), "admin", password_of("admin"), address="10.0.0.2")
    assert moved.status_code == 429
    others = log_in(app.test_client(), "inspector", password_of("inspector"), address="10.0.0.1")
    assert others.status_code == 302  # the address itself is under its own cap


def test_parallel_guesses_are_counted_before_any_is_checked(app):
    """Twelve wrong passwords at once: only the first five may be checked, the rest wait."""
    start = threading.Barrier(12)

    def guess(_: int) -> int:
        client = app.test_client()
        form = {"username": "inspector", "password": "wrong", "csrf_token": token_of(client)}
        start.wait()
        return client.post(
            "/login", data=form, environ_base={"REMOTE_ADDR": "10.5.5.5"}
        ).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(guess, range(12)))
    assert set(answers) <= {401, 429} and 429 in answers
    with app.extensions["hallwatch"].sessions() as db:
        checked = db.scalar(
            select(func.count())
            .select_from(LoginFailureRow)
            .where(LoginFailureRow.scope == USER, LoginFailureRow.key == "inspector")
        )
    # Each counted failure is a password that was checked; the others were refused unchecked.
    assert checked == USER_POLICY.max_failures


def test_a_locked_name_still_lets_its_owner_in_from_an_address_it_used_before(app):
    office, attacker, elsewhere = "10.1.1.1", "10.6.6.6", "10.7.7.7"
    assert (
        log_in(app.test_client(), "admin", password_of("admin"), address=office).status_code == 302
    )
    for _ in range(USER_POLICY.max_failures):
        log_in(app.test_client(), "admin", "wrong", address=attacker)
    assert (
        log_in(app.test_client(), "admin", password_of("admin"), address=elsewhere).status_code
        == 429
    )
    # The admin's own office is not locked out by someone else's guesses.
    assert (
        log_in(app.test_client(), "admin", password_of("admin"), address=office).status_code == 302
    )
    # A guesser there is still under the address's own cap, and every failure still counts.
    assert log_in(app.test_client(), "admin", "wrong", address=office).status_code == 401


def test_many_names_from_one_address_lock_the_address(app, clock):
    client = app.test_client()
    for i in range(ADDRESS_POLICY.max_failures - 1):
        assert log_in(client, f"guess{i}", "wrong", address="10.9.9.9").status_code == 401
    assert log_in(client, "guess-last", "wrong", address="10.9.9.9").status_code == 429
    refused = log_in(app.test_client(), "admin", password_of("admin"), address="10.9.9.9")
    assert refused.status_code == 429
    elsewhere = log_in(app.test_client(), "admin", password_of("admin"), address="10.9.9.8")
    assert elsewhere.status_code == 302
    clock.advance(ADDRESS_POLICY.first_delay)
    later = log_in(app.test_client(), "admin", password_of("admin"), address="10.9.9.9")
    assert later.status_code == 302


def test_http_basic_failures_count_and_a_locked_client_gets_429_json(app, clock):
    client = app.test_client()
    for _ in range(USER_POLICY.max_failures - 1):
        assert client.get("/api/live", headers=basic("admin", "wrong")).status_code == 401
    locked = client.get("/api/live", headers=basic("admin", "wrong"))
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "60"
    assert "too many failed logins" in locked.get_json()["error"]
    good = client.get("/api/live", headers=basic("admin", password_of("admin")))
    assert good.status_code == 429  # the right password waits too
    assert log_in(app.test_client(), "admin", password_of("admin")).status_code == 429
    clock.advance(timedelta(minutes=1))
    good = client.get("/api/live", headers=basic("admin", password_of("admin")))
    assert good.status_code == 200


def test_form_and_basic_failures_add_up(app):
    client = app.test_client()
    for _ in range(USER_POLICY.max_failures - 1):
        client.get("/api/alerts", headers=basic("inspector", "wrong"))
    assert log_in(client, "inspector", "wrong").status_code == 429


# --- account enumeration ---------------------------------------------------------------


def without_token(html: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', html)


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(app):
    wrong = log_in(app.test_client(), "admin", "wrong")
    unknown = log_in(app.test_client(), "nobody-here", "wrong")
    assert wrong.status_code == unknown.status_code == 401
    wrong_page = without_token(wrong.get_data(as_text=True)).replace("admin", "NAME")
    unknown_page = without_token(unknown.get_data(as_text=True)).replace("nobody-here", "NAME")
    assert wrong_page == unknown_page
    client = app.test_client()
    wrong_basic = client.get("/api/live", headers=basic("admin", "wrong"))
    unknown_basic = client.get("/api/live", headers=basic("nobody-here", "wrong"))
    assert wrong_basic.status_code == unknown_basic.status_code == 401
    assert wrong_basic.get_json() == unknown_basic.get_json()


def test_an_unknown_name_is_locked_like_a_real_one(app):
    client = app.test_client()
    answers = [log_in(client, "nobody-here", "wrong").status_code for _ in range(5)]
    assert answers == [401, 401, 401, 401, 429]


def test_an_unknown_name_takes_as_long_as_a_wrong_password(app):
    """Both hash a password (scrypt, about 0.1 s); without the dummy hash unknown is ~50x faster."""
    client = app.test_client()

    def fastest(names: list[str]) -> float:
        times = []
        for name in names:
            started = time.perf_counter()
            answer = client.get("/api/live", headers=basic(name, "wrong"))
            times.append(time.perf_counter() - started)
            assert answer.status_code == 401
        return min(times)

    fastest(["nobody-0"])  # warm up: the dummy hash is made on first use
    unknown = fastest([f"nobody-{i}" for i in range(1, 4)])
    assert unknown > 0.5 * fastest(["spare"] * 3)


def test_the_stored_hash_is_scrypt(app):
    with app.extensions["hallwatch"].sessions() as db:
        hashes = db.scalars(select(UserRow.password_hash)).all()
    assert hashes and all(h.startswith("scrypt:") for h in hashes)


def test_failures_are_logged_without_the_password(app, caplog):
    caplog.set_level(logging.INFO, logger="web.auth")
    log_in(app.test_client(), "admin", "s3cret-guess")
    app.test_client().get("/api/live", headers=basic("admin", "other-guess"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "'admin'" in text and "(form)" in text and "(basic)" in text
    assert "s3cret-guess" not in text and "other-guess" not in text
