"""The web app in tests: an app for a deployment's environment, HTTP basic headers, and
signing in through the form with its CSRF token."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient

from hallwatch.config import Settings
from hallwatch.registry.alerting import AlertRow
from web import create_app


def basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def app_for(env: dict):
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("HALLWATCH_")})
    return create_app(settings, {"TESTING": True})


CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def password_of(who: str) -> str:
    return f"pw-{who}"


def form_login(client: FlaskClient, who: str, password: str) -> None:
    """Log `client` in through the login form as a browser does, with the form's CSRF token."""
    token = CSRF_TOKEN.search(client.get("/login").get_data(as_text=True))[1]
    form = {"username": who, "password": password, "csrf_token": token}
    response = client.post("/login", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)


def sign_in(app: Flask, who: str) -> tuple[str, str]:
    """Log in through the form as the browser does; the session cookie and its CSRF token."""
    client = app.test_client()
    if who != "anonymous":
        form_login(client, who, password_of(who))
    token = CSRF_TOKEN.search(client.get("/login").get_data(as_text=True))[1]
    return client.get_cookie("session").value, token


def add_alert(session, department: str, window: str) -> int:
    now = datetime.now(UTC)
    row = AlertRow(
        key=f"empty_window:{window}:{uuid.uuid4().hex}",
        kind="empty_window",
        window_id=window,
        department_id=department,
        since=now,
        opened_at=now,
        message=f"{window} empty",
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


LOCKED_WORDS = "登录失败次数过多"


def session_data(app, cookie: str) -> dict:
    return app.session_interface.get_signing_serializer(app).loads(cookie)


REVISION_FIELD = re.compile(r'name="revision"[^>]*value="(\d+)"')


def confirm_preview(client, preview: str, headers: dict, retire: bool = False, token: str = ""):
    """Confirm a registry upload's preview page (its path) as its button does; with `retire`,
    tick the confirmation of an older file's retirements. The response of the confirmation."""
    page = client.get(preview, headers=headers).get_data(as_text=True)
    data = {"revision": REVISION_FIELD.search(page)[1]}
    if retire:
        data["retire"] = "y"
    if token:
        data["csrf_token"] = token
    return client.post(preview, data=data, headers=headers)
