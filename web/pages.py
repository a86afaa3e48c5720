"""Pages: the floor view of the hall's windows, live or replayed (docs/OPERATIONS.md).

The page is rendered whole on the server (it works without JavaScript) and then
kept current by web/static/floor.js, which polls /api/live and /api/alerts and
rebuilds the same markup. Words the script shows come from here, translated,
in data- attributes: the Content-Security-Policy allows no inline script.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import format_datetime, get_locale, gettext, lazy_gettext
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from alerts.records import alert_json, visible_to
from hallwatch.influx.client import QueryError
from hallwatch.registry.alerting import AlertRow
from web.api import live_json
from web.halls import selected_hall
from web.limits import MAX_UPLOAD_BYTES
from web.roles import can
from web.scope import visible_departments, visible_windows
from web.staffing_page import pending_leave_marks
from web.timeparam import BadInstant, parse_instant
from web.unavailable import store_down_text

bp = Blueprint("pages", __name__)

POLL_INTERVAL_S = 5
ALERTS_SHOWN = 50  # beside the grid; the full list is /api/alerts
# In replay the browser asks /api/alerts for those opened this far before the instant.
REPLAY_ALERT_LOOKBACK = timedelta(days=7)
STATES = ("staffed", "away", "empty", "closed", "unknown")
STATE_WORDS = {
    "staffed": lazy_gettext("在岗"),
    "away": lazy_gettext("暂离"),
    "empty": lazy_gettext("空岗"),
    "closed": lazy_gettext("非办公时间"),
    "unknown": lazy_gettext("状态未知"),
}
STATE_ICONS = {"staffed": "✔", "away": "…", "empty": "✖", "closed": "☾", "unknown": "?"}
ALERT_KIND_WORDS = {
    "empty_window": lazy_gettext("空岗"),
    "absent": lazy_gettext("未签到"),
    "pulled_back": lazy_gettext("被抽回"),
    "device_offline": lazy_gettext("设备离线"),
    "withdrawn": lazy_gettext("全天无人"),
}


def grid_order(windows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Windows with a position sorted by (row, column), and the rest in registry order."""
    placed = sorted((w for w in windows if w["position"]), key=lambda w: tuple(w["position"]))
    return placed, [w for w in windows if not w["position"]]


def _words() -> dict:
    """Every word floor.js shows, in the page's language."""
    return {
        "states": {k: str(v) for k, v in STATE_WORDS.items()},
        "icons": STATE_ICONS,
        "kinds": {k: str(v) for k, v in ALERT_KIND_WORDS.items()},
        "since": gettext("自"),
        "nobody": gettext("无人签到"),
        "live": gettext("当前时刻"),
        "replay": gettext("回放时刻"),
        "stale": gettext("连接中断,显示的是最后一次成功更新的数据"),
        "no_alerts": gettext("没有未处理的告警"),
    }


def _names(registry, windows: set[str]) -> dict:
    """Names of what the user may see, for labelling alerts in the browser."""
    departments = visible_departments(current_user, registry)
    return {
        "windows": {w.id: w.name for w in registry.windows if w.id in windows},
        "staff": {s.id: s.name for s in registry.staff if s.department in departments},
        "departments": {d.id: d.name for d in registry.departments if d.id in departments},
    }


def _open_alerts(at: datetime, replay: bool, tz) -> list[dict]:
    """Alerts the user may see that were unresolved at `at` (now: still unresolved)."""
    scope = visible_to(current_user, selected_hall())
    query = select(AlertRow).where(*scope, AlertRow.opened_at <= at)
    if replay:
        query = query.where(or_(AlertRow.resolved_at.is_(None), AlertRow.resolved_at > at))
    else:
        query = query.where(AlertRow.resolved_at.is_(None))
    query = query.order_by(AlertRow.opened_at.desc(), AlertRow.id.desc()).limit(ALERTS_SHOWN)
    with current_app.extensions["hallwatch"].sessions() as db:
        return [alert_json(row, tz) for row in db.scalars(query)]


@bp.app_template_filter("clock")
def clock(iso_text: str | None) -> str:
    """An ISO-8601 instant as hall wall-clock HH:MM (empty for none)."""
    return format_datetime(datetime.fromisoformat(iso_text), "HH:mm") if iso_text else ""


@bp.get("/")
@login_required
def floor():
    runtime = current_app.extensions["hallwatch"]
    registry = runtime.registry()
    tz = registry.hall.tz
    replay = "at" in request.args
    at, error = datetime.now(UTC), None
    if replay:
        try:
            at = parse_instant(request.args["at"], tz)
        except BadInstant as exc:
            error = str(exc)
    live = None
    try:
        registry, hall = runtime.hall_state(at)
    except QueryError as exc:
        hall, error = None, store_down_text(exc)
    allowed = visible_windows(current_user, registry)  # once: the grid and the names
    if hall is not None:
        live = live_json(hall, registry, allowed)
    names = _names(registry, allowed)
    placed, unplaced = grid_order(live["windows"]) if live else ([], [])
    pending = pending_leave_marks(registry, at, allowed)
    local = at.astimezone(tz)
    return render_template(
        "floor.html",
        live=live,
        placed=placed,
        unplaced=unplaced,
        alerts=_open_alerts(at, replay, tz),
        error=error,
        hall=registry.hall,
        states=STATES,
        words=STATE_WORDS,
        icons=STATE_ICONS,
        kinds=ALERT_KIND_WORDS,
        names=names,
        replay=replay,
        pending_leave=pending,
        wall=request.args.get("wall") == "1",
        day=local.date().isoformat(),
        minute=local.hour * 60 + local.minute,
        client={
            "live": url_for("api.live"),
            "alerts": url_for("alerts_api.list_alerts"),
            "window_url": url_for("window.show", window_id="__ID__"),
            "replay": replay,
            "at": local.isoformat(timespec="seconds"),
            "poll_ms": POLL_INTERVAL_S * 1000,
            "replay_lookback_days": REPLAY_ALERT_LOOKBACK.days,
            "words": _words(),
            "names": names,
            "pending_leave": pending,
            "pending_word": gettext("请假待批"),
        },
    )


@bp.app_errorhandler(404)
def not_found(error):
    """404 in the user's language (JSON for the API); the same for "not yours" and "no such"."""
    if request.path.startswith("/api/"):
        return jsonify(error=getattr(error, "description", "not found")), 404
    return render_template("not_found.html"), 404


@bp.app_errorhandler(413)
def too_large(error):
    """A body over MAX_CONTENT_LENGTH, refused unread: say the limit, in the user's language."""
    mib = MAX_UPLOAD_BYTES // (1024 * 1024)
    message = gettext("文件太大:最大 %(mib)s MiB", mib=mib)
    if request.path.startswith("/api/"):
        return jsonify(error=message), 413
    return render_template("too_large.html", message=message), 413


@bp.app_context_processor
def language() -> dict:
    """`language` of the page ("zh" or "en") and `lang_url(code)`: this page in another one."""

    def lang_url(code: str) -> str:
        args = {k: v for k, v in request.args.items() if k != "lang"}
        return url_for(
            request.endpoint or "pages.floor", **(request.view_args or {}), **args, lang=code
        )

    return {
        "language": get_locale().language,
        "lang_url": lang_url,
        "can": can,
        "hall": current_app.extensions["hallwatch"].registry().hall,
    }
