"""JSON API, alerts (docs/API.md): list them, acknowledge one.

A department head's scope is applied in the query (alerts.records.visible_to),
so an alert of another department is simply not found: 404, like an unknown id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request, session
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from alerts.records import acknowledge, alert_json, visible_to
from hallwatch.registry.alerting import AlertRow
from web.audit_trail import note_acknowledged
from web.auth import csrf
from web.halls import selected_hall
from web.roles import permission_required
from web.timeparam import BadInstant, parse_instant

bp = Blueprint("alerts_api", __name__)
STATUSES = ("open", "all")  # open: not yet resolved (open or acknowledged)
MAX_LISTED = 1000  # newest first; use `since` to look further back in pieces
NOTE_MAX_CHARS = 500
SAFE_FETCH_SITES = ("same-origin", "none")  # Sec-Fetch-Site values of a request not cross-site


def _runtime():
    return current_app.extensions["hallwatch"]


@bp.get("/api/alerts")
@permission_required("read_hall")
def list_alerts():
    """Alerts the user may see, newest first: `status=open` (default) or `all`, `since=ISO`."""
    tz = _runtime().registry().hall.tz
    status = request.args.get("status", "open")
    if status not in STATUSES:
        return jsonify(error=f"'status' must be one of {', '.join(STATUSES)}, got {status!r}"), 400
    query = select(AlertRow).where(*visible_to(current_user, selected_hall()))
    if status == "open":
        query = query.where(AlertRow.resolved_at.is_(None))
    if "since" in request.args:
        try:
            since = parse_instant(request.args["since"], tz)
        except BadInstant:
            text = request.args["since"]
            return jsonify(
                error=f"'since' must be an ISO-8601 time such as 2026-11-23T09:00:00+08:00, "
                f"got {text!r}"
            ), 400
        query = query.where(AlertRow.opened_at >= since)
    query = query.order_by(AlertRow.opened_at.desc(), AlertRow.id.desc()).limit(MAX_LISTED)
    with _runtime().sessions() as db:
        rows = list(db.scalars(query))
    return jsonify([alert_json(row, tz) for row in rows])


def _basic_api_client() -> bool:
    """Whether HTTP Basic (not a session cookie) authenticated this request, from no other site.

    Such a request carries its credentials itself, so there is no cookie for a forged
    request to ride on. A browser that cached Basic credentials would attach them to a
    cross-site form post too; browsers mark those (Origin, Sec-Fetch-Site), so they
    still need the token.
    """
    auth = request.authorization
    if auth is None or auth.type != "basic" or session.get("_user_id"):
        return False
    if request.headers.get("Sec-Fetch-Site", "none") not in SAFE_FETCH_SITES:
        return False
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")


def _note() -> str | None:
    """The optional "note" of a JSON or form body; ValueError names what is wrong."""
    body = request.get_json(silent=True) if request.is_json else request.form
    note = (body or {}).get("note")
    if note is None:
        return None
    if not isinstance(note, str):
        raise ValueError("'note' must be a string")
    if len(note) > NOTE_MAX_CHARS:
        raise ValueError(f"'note' may have at most {NOTE_MAX_CHARS} characters")
    return note.strip() or None


@bp.post("/api/alerts/<int:alert_id>/ack")
@csrf.exempt  # checked below: required for browser sessions, not for HTTP Basic clients
@permission_required("acknowledge")
def acknowledge_alert(alert_id: int):
    """Acknowledge one alert the user may see (the first acknowledgement stands)."""
    if current_app.config.get("WTF_CSRF_ENABLED", True) and not _basic_api_client():
        try:
            csrf.protect()
        except CSRFError as exc:
            return jsonify(error=f"CSRF check failed: {exc.description}"), 400
    try:
        note = _note()
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    runtime = _runtime()
    with runtime.sessions() as db:
        now = datetime.now(UTC)
        row = acknowledge(db, alert_id, current_user, note, now)
        if row is None:
            return jsonify(error=f"no alert {alert_id}"), 404
        note_acknowledged(db, row, now)
        db.commit()
    return jsonify(alert_json(row, runtime.registry().hall.tz))
