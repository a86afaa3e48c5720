"""The HallWatch web app: `create_app()` builds it; nothing connects at import time."""

from __future__ import annotations

from flask import Flask

from hallwatch.config import Settings
from hallwatch.runtime import Runtime


def create_app(settings: Settings | None = None, test_config: dict | None = None) -> Flask:
    """Build the app from Settings (default: the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.web_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.config.update(test_config or {})
    app.extensions["hallwatch"] = Runtime.from_settings(settings)

    from web import alerts_api, api, auth, pages

    auth.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(alerts_api.bp)
    app.register_blueprint(pages.bp)
    return app
