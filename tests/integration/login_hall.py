"""Logging in on a hall of its own, for test_login_failures and test_login_security: an app
whose clock the tests move, and posting the login form as a browser does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import delete

from hallwatch.config import Settings
from hallwatch.registry.throttle import LoginFailureRow, LoginGoodAddressRow
from tests.web_helpers import CSRF_TOKEN
from web import create_app


@dataclass
class Clock:
    """The time the app sees; tests move it instead of sleeping."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_app(env: dict, clock: Clock, **variables: str):
    """An app on the module's hall, seeing `clock`; extra HALLWATCH_* variables if given."""
    settings = Settings.from_env(
        {**{k: v for k, v in env.items() if k.startswith("HALLWATCH_")}, **variables}
    )
    return create_app(settings, {"TESTING": True, "HALLWATCH_CLOCK": clock})


def fresh_app(env: dict, clock: Clock):
    """An app on the hall of `env`, seeing `clock`, with no login failure remembered."""
    app = make_app(env, clock)
    with app.extensions["hallwatch"].sessions() as db:  # each test starts with no failures
        db.execute(delete(LoginFailureRow))
        db.execute(delete(LoginGoodAddressRow))  # nor addresses known from earlier logins
        db.commit()
    return app


def token_of(client, path: str = "/login") -> str:
    return CSRF_TOKEN.search(client.get(path).get_data(as_text=True))[1]


def log_in(client, username: str, password: str, next_: str | None = None, address=None):
    """POST the login form as a browser does (with a fresh token)."""
    environ = {"REMOTE_ADDR": address} if address else {}
    form = {"username": username, "password": password, "csrf_token": token_of(client)}
    path = f"/login?next={quote(next_, safe='')}" if next_ is not None else "/login"
    return client.post(path, data=form, environ_base=environ)
