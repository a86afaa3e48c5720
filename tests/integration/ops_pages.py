"""The operations pages' deployment app and its users, reading and posting to those pages,
and the test hall's file, for test_operations_pages, test_operations_registry,
test_operations_users and test_upload_bounds (the `deployment` is conftest.py's)."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

from hallwatch.registry.users import add_user
from tests.halls import HALL_TZ, HALL_YAML
from tests.web_helpers import app_for, basic, confirm_preview

ADMIN = ("root", "pw-root-123")


MANAGER = ("boss", "pw-boss")


INSPECTOR = ("eye", "pw-eye-123")


def ops_app(deployment: dict):
    """The deployment's app with an admin and an inspector besides the manager and tax head."""
    app = app_for(deployment)
    with app.extensions["hallwatch"].sessions() as db:
        add_user(db, ADMIN[0], "admin", ADMIN[1])
        add_user(db, INSPECTOR[0], "inspector", INSPECTOR[1])
        db.commit()
    app.config["WTF_CSRF_ENABLED"] = False  # one test below runs with CSRF on
    return app


def post(app, path, data, user=ADMIN, **kwargs):
    return app.test_client().post(path, data=data, headers=basic(*user), **kwargs)


def registry_of(app):
    return app.extensions["hallwatch"].registry(fresh=True)


def upload(app, content: bytes, filename="hall.yaml", user=MANAGER, confirm=True, retire=False):
    """Upload a registry file, and (`confirm`) confirm its preview as the page's button does:
    the last response (a refused upload's own)."""
    client = app.test_client()
    response = client.post(
        "/ops/registry",
        data={"file": (BytesIO(content), filename)},
        headers=basic(*user),
        content_type="multipart/form-data",
    )
    if not confirm or response.status_code != 302:
        return response
    return confirm_preview(client, response.headers["Location"], basic(*user), retire)


def get(app, path, user=MANAGER, status=200, **query):
    response = app.test_client().get(path, query_string=query, headers=basic(*user))
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def hall_yaml(extra_window: str = "", window_name: str = "4号窗口") -> bytes:
    text = HALL_YAML.format(today=datetime.now(HALL_TZ).date())
    if extra_window:
        text = text.replace(
            "staff:\n",
            f'  - {{id: {extra_window}, name: "{window_name}", department: tax}}\nstaff:\n',
        )
    return text.encode()
