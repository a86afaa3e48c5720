"""The HallWatch web app: `create_app()` builds it; nothing connects at import time."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Flask, current_app, g, request, session
from flask_babel import Babel
from werkzeug.middleware.proxy_fix import ProxyFix

from hallwatch.config import Settings
from hallwatch.runtime import Runtime
from web.limits import MAX_REQUEST_BYTES

log = logging.getLogger(__name__)

DEFAULT_LOCALE = "zh_Hans_CN"  # the users read Chinese; English is switchable
LOCALES = {"zh": DEFAULT_LOCALE, "en": "en"}  # ?lang= value → Babel locale
SECURITY_HEADERS = {
    # 'self' only: no inline scripts, styles or style= attributes anywhere in the pages.
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
}
# Idle time after which a browser must log in again. The session cookie is renewed on
# every request, so a floor page left open (it polls /api/live) stays logged in.
SESSION_IDLE_LIMIT = timedelta(hours=12)


def create_app(settings: Settings | None = None, test_config: dict | None = None) -> Flask:
    """Build the app from Settings (default: the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    secure = settings.cookies_secure()
    app.config.update(
        SECRET_KEY=settings.web_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=SESSION_IDLE_LIMIT,
        SESSION_REFRESH_EACH_REQUEST=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        # A form's token lives as long as its session, so a page open all afternoon still posts.
        WTF_CSRF_TIME_LIMIT=int(SESSION_IDLE_LIMIT.total_seconds()),
        JSON_AS_ASCII=False,
        BABEL_DEFAULT_LOCALE=DEFAULT_LOCALE,
        # Werkzeug refuses a larger body with 413 before reading it (web/pages.py says why).
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    app.json.ensure_ascii = False
    app.config.update(test_config or {})
    _behind_proxies(app, settings)
    _warn_if_the_key_is_per_host(settings)
    app.extensions["hallwatch"] = Runtime.from_settings(settings)
    Babel(app, locale_selector=_locale, timezone_selector=_hall_timezone)
    app.before_request(_start_clock)
    app.before_request(_remember_language)
    app.after_request(_security_headers)
    app.after_request(_server_timing)

    from web import (
        alerts_api,
        alerts_page,
        api,
        appeals_api,
        appeals_page,
        auth,
        department_page,
        halls,
        metrics_route,
        operations,
        ops_audit,
        ops_places,
        ops_registry_files,
        ops_roster,
        ops_staff,
        pages,
        province,
        public_ranking,
        report_downloads,
        reports_api,
        reports_page,
        staffing_page,
        unavailable,
        window_page,
    )

    auth.init_app(app)
    halls.init_app(app)
    metrics_route.init_app(app)
    unavailable.init_app(app)
    for blueprint in (
        api.bp,
        alerts_api.bp,
        pages.bp,
        department_page.bp,
        window_page.bp,
        alerts_page.bp,
        appeals_api.bp,
        appeals_page.bp,
        operations.bp,
        reports_api.bp,
        report_downloads.bp,
        reports_page.bp,
        public_ranking.bp,
        province.bp,
        ops_registry_files.bp,
        ops_staff.bp,
        ops_places.bp,
        ops_roster.bp,
        ops_audit.bp,
        staffing_page.bp,
    ):
        app.register_blueprint(blueprint)
    return app


def _behind_proxies(app: Flask, settings: Settings) -> None:
    """Believe X-Forwarded-For/-Proto/-Host from HALLWATCH_TRUSTED_PROXIES proxies (default none).

    Behind nginx every request comes from the proxy's address: without this the login
    throttle would count all clients as one address, and redirects would say http://.
    """
    hops = settings.trusted_proxies
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _warn_if_the_key_is_per_host(settings: Settings) -> None:
    """A PostgreSQL deployment usually has web processes on several hosts: they need one key."""
    if not settings.secret_key and settings.database_url.startswith("postgresql"):
        log.warning(
            "HALLWATCH_SECRET_KEY is not set: signing with this host's var/secret_key, "
            "so web processes on other hosts will refuse its logins (docs/DEPLOY.md)"
        )


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _server_timing(response):
    """`Server-Timing: app;dur=<ms>`: the handler's own time, for bench/web_speed.py."""
    started = g.get("request_started")
    if started is not None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
    return response


def _remember_language() -> None:
    """`?lang=en` (or `zh`) on any page switches the language for the rest of the session."""
    choice = request.args.get("lang")
    if choice in LOCALES:
        session["lang"] = choice


def _locale() -> str:
    return LOCALES.get(session.get("lang", ""), DEFAULT_LOCALE)


def _hall_timezone() -> str:
    """Dates and times on the pages are the hall's wall-clock time, whoever looks."""
    return current_app.extensions["hallwatch"].registry().hall.timezone


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
