"""JSON API, appeals (申诉): list them, file one, decide one, withdraw one.

Scope is applied in the query (hallwatch.registry.appeals.visible_to): another
department's appeal is simply not found, 404, like an unknown id. A decided
appeal answers 409 to any further decision or withdrawal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from hallwatch.metrics.appeal_records import appeal_json
from hallwatch.metrics.appeals import to_microseconds
from hallwatch.registry.appeals import (
    PENDING,
    AppealDecided,
    AppealRefused,
    decide,
    file_appeal,
    find,
    visible_to,
    withdraw,
)
from hallwatch.registry.models import AppealRow
from web.alerts_api import _basic_api_client
from web.appeal_filing import NotInScope, episode_filing, snapshot, window_filing
from web.audit_trail import note_appeal
from web.auth import csrf
from web.roles import permission_required
from web.timeparam import BadInstant, parse_instant

bp = Blueprint("appeals_api", __name__)
STATUSES = ("pending", "accepted", "rejected", "withdrawn", "all")
MAX_LISTED = 1000
DECISIONS = ("accept", "reject")


def _runtime():
    return current_app.extensions["hallwatch"]


def _scope() -> list:
    return visible_to(current_user, _runtime().registry().hall.id)


def _csrf_refused():
    """A browser session must send the CSRF token; an HTTP Basic client need not."""
    if current_app.config.get("WTF_CSRF_ENABLED", True) and not _basic_api_client():
        try:
            csrf.protect()
        except CSRFError as exc:
            return jsonify(error=f"CSRF check failed: {exc.description}"), 400
    return None


def _csrf_first(view):
    """Check the CSRF token before the role, as the pages' forms are (CSRFProtect)."""

    @wraps(view)
    def checked(*args, **kwargs):
        if (refused := _csrf_refused()) is not None:
            return refused
        return view(*args, **kwargs)

    return checked


def _body() -> dict:
    body = request.get_json(silent=True) if request.is_json else request.form
    return dict(body or {})


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string")
    return value


@bp.get("/api/appeals")
@permission_required("read_hall")
def list_appeals():
    """The appeals the user may see in this hall, newest first: `status=` one of STATUSES."""
    status = request.args.get("status", "all")
    if status not in STATUSES:
        return jsonify(error=f"'status' must be one of {', '.join(STATUSES)}, got {status!r}"), 400
    query = select(AppealRow).where(*_scope())
    if status != "all":
        query = query.where(AppealRow.status == status)
    query = query.order_by(AppealRow.filed_at.desc(), AppealRow.id.desc()).limit(MAX_LISTED)
    with _runtime().sessions() as db:
        rows = list(db.scalars(query))
    tz = _runtime().registry().hall.tz
    return jsonify([appeal_json(row, tz) for row in rows])


def _filing(body: dict, now: datetime):
    registry = _runtime().registry()
    subject = _text(body, "subject")
    reason, reason_text = _text(body, "reason"), _text(body, "reason_text")
    if subject == "window":
        try:
            start = parse_instant(_text(body, "start"), registry.hall.tz)
            end = parse_instant(_text(body, "end"), registry.hall.tz)
        except BadInstant:
            raise ValueError(
                "'start' and 'end' must be ISO-8601 times such as 2026-11-23T10:00:00+08:00"
            ) from None
        window = _text(body, "window")
        return window_filing(current_user, registry, window, start, end, reason, reason_text, now)
    if subject in ("absence", "pulled_back"):
        alert = body.get("alert")
        if not isinstance(alert, int) and not (isinstance(alert, str) and alert.isdigit()):
            raise ValueError("'alert' must be the id of the absence or pull-back alert")
        filing = episode_filing(current_user, registry, int(alert), reason, reason_text)
        if filing.subject != subject:
            raise ValueError(f"alert {alert} is not a {subject}")
        return filing
    raise ValueError("'subject' must be one of window, absence, pulled_back")


@bp.post("/api/appeals")
@csrf.exempt  # checked by _csrf_first: required for browser sessions
@_csrf_first
@permission_required("appeal")
def file():
    """File an appeal: JSON {subject, window, start, end | alert, reason, reason_text}."""
    now = datetime.now(UTC)
    try:
        filing = _filing(_body(), now)
        with _runtime().sessions() as db:
            row = file_appeal(db, filing, current_user.username, now)
            note_appeal(db, row, "appeal.file", now)
            db.commit()
    except NotInScope as exc:
        return jsonify(error=str(exc)), 404
    except AppealRefused as exc:
        return jsonify(error=str(exc)), 409
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(appeal_json(row, _runtime().registry().hall.tz)), 201


@bp.post("/api/appeals/<int:appeal_id>/decide")
@csrf.exempt
@_csrf_first
@permission_required("decide_appeals")
def decide_appeal(appeal_id: int):
    """Accept or reject a pending appeal: JSON {decision: accept | reject, note}."""
    body = _body()
    try:
        decision, note = _text(body, "decision"), _text(body, "note")
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    if decision not in DECISIONS:
        return jsonify(error="'decision' must be accept or reject"), 400
    try:
        row = settle(appeal_id, decision == "accept", note)
    except AppealDecided as exc:
        return jsonify(error=str(exc)), 409
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    if row is None:
        return jsonify(error=f"no appeal {appeal_id}"), 404
    return jsonify(appeal_json(row, _runtime().registry().hall.tz))


def settle(appeal_id: int, accept: bool, note: str) -> AppealRow | None:
    """Decide an appeal in the user's scope, taking the snapshot when accepting.

    None: no such appeal. AppealDecided: decided already. ValueError: a bad note.
    QueryError: the event store is away (nothing is decided then).
    """
    runtime = _runtime()
    registry = runtime.registry()
    now = datetime.now(UTC)
    scope = _scope()
    if not note.strip():
        raise ValueError("'note' is required")
    with runtime.sessions() as db:
        row = find(db, appeal_id, scope)
        if row is None:
            return None
        if row.status != PENDING:
            raise AppealDecided(f"appeal {appeal_id} is already {row.status}")
        minutes, count = snapshot(registry, row, now) if accept else (None, None)
        stored = to_microseconds(minutes) if minutes is not None else None
        row = decide(db, appeal_id, accept, current_user.username, note, now, scope, stored, count)
        if row is not None:
            note_appeal(db, row, f"appeal.{'accept' if accept else 'reject'}", now)
        db.commit()
    return row


@bp.post("/api/appeals/<int:appeal_id>/withdraw")
@csrf.exempt
@_csrf_first
@permission_required("appeal")
def withdraw_appeal(appeal_id: int):
    """Withdraw a pending appeal the user filed."""
    try:
        with _runtime().sessions() as db:
            now = datetime.now(UTC)
            row = withdraw(db, appeal_id, current_user.username, now, _scope())
            if row is not None:
                note_appeal(db, row, "appeal.withdraw", now)
            db.commit()
    except AppealDecided as exc:
        return jsonify(error=str(exc)), 409
    if row is None:
        return jsonify(error=f"no appeal {appeal_id} of yours"), 404
    return jsonify(appeal_json(row, _runtime().registry().hall.tz))
