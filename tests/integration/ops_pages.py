"""The operations pages' deployment app and its users, and posting to those pages, for
test_operations_pages and test_upload_bounds (the `deployment` is conftest.py's)."""

from __future__ import annotations

from io import BytesIO

from hallwatch.registry.users import add_user
from tests.web_helpers import app_for, basic

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


def upload(app, content: bytes, filename="hall.yaml", user=MANAGER):
    return post(
        app,
        "/ops/registry",
        {"file": (BytesIO(content), filename)},
        user=user,
        content_type="multipart/form-data",
    )
