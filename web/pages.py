"""Pages, first part: a plain floor view (the full pages come with the pages issue)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from hallwatch.influx.client import QueryError
from web.api import live_json
from web.scope import visible_windows
from web.timeparam import BadInstant, parse_instant

bp = Blueprint("pages", __name__)

STATE_WORDS = {
    "staffed": ("在岗", "✔"),
    "away": ("暂离", "…"),
    "empty": ("空岗", "✖"),
    "closed": ("非办公时间", "☾"),
    "unknown": ("状态未知", "?"),
}


@bp.get("/")
@login_required
def floor():
    runtime = current_app.extensions["hallwatch"]
    registry = runtime.registry()
    at, error = datetime.now(UTC), None
    if request.args.get("at"):
        try:
            at = parse_instant(request.args["at"], registry.hall.tz)
        except BadInstant as exc:
            error = str(exc)
    try:
        registry, hall = runtime.hall_state(at)
        live = live_json(hall, registry, visible_windows(current_user, registry))
    except QueryError as exc:
        live, error = None, f"事件库不可用:{exc}"
    return render_template(
        "floor.html",
        live=live,
        error=error,
        hall=registry.hall,
        words=STATE_WORDS,
        departments=registry.department_by_id,
        replay="at" in request.args,
    )
