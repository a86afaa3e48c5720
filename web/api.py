"""JSON API, first part: the live hall and the health check (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import text

from collector.spool import DEFAULT_SPOOL_DIR
from collector.status import spool_summary
from hallwatch.cards import printed_number
from hallwatch.schedule import calendar_warning, day_of
from hallwatch.state import HallState, WindowState
from web.halls import rejections_seen_by
from web.roles import can, permission_required
from web.scope import visible_windows
from web.timeparam import BadInstant, parse_instant

bp = Blueprint("api", __name__)
MQTT_CHECK_TIMEOUT_S = 2.0
MQTT_CHECK_REUSE_S = 2.0  # a broker check answers every /healthz for this long
_MQTT_CHECKS: dict[tuple[str, int], tuple[float, str]] = {}  # (host, port) → (when, result)
_MQTT_CHECKS_LOCK = threading.Lock()  # one check at a time; the others wait for its answer
MAX_LOOKBACK_HOURS = 24 * 31
MAX_LISTED = 500


def _runtime():
    return current_app.extensions["hallwatch"]


def iso(at: datetime, tz) -> str:
    return at.astimezone(tz).isoformat(timespec="seconds")


def window_json(state: WindowState, registry, tz) -> dict:
    window = registry.window_by_id[state.window]
    staff = registry.staff_by_id
    return {
        "id": window.id,
        "name": window.name,
        "department": window.department,
        "position": list(window.position) if window.position else None,
        "state": state.state,
        "since": iso(state.since, tz),
        "signed_in": [
            {"id": s.staff, "name": staff[s.staff].name, "since": iso(s.at, tz)}
            for s in state.signed_in
            if s.staff in staff
        ],
        "rostered": list(state.rostered),
        "on_leave": list(state.on_leave),
    }


def live_json(hall: HallState, registry, allowed: set[str]) -> dict:
    tz = registry.hall.tz
    windows = [w for w in hall.windows if w.window in allowed]
    counts = dict.fromkeys(("staffed", "away", "empty", "closed", "unknown"), 0)
    for w in windows:
        counts[w.state] += 1
    body = {
        "at": iso(hall.at, tz),
        "windows": [window_json(w, registry, tz) for w in windows],
        "counts": counts,
    }
    if hall.warning:
        body["warnings"] = [hall.warning]
    return body


@bp.get("/api/live")
@permission_required("read_hall")
def live():
    runtime = _runtime()
    registry = runtime.registry()
    at = datetime.now(UTC)
    if "at" in request.args:
        try:
            at = parse_instant(request.args["at"], registry.hall.tz)
        except BadInstant as exc:
            return jsonify(error=str(exc)), 400
    registry, hall = runtime.hall_state(at)
    return jsonify(live_json(hall, registry, visible_windows(current_user, registry)))


def _lookback() -> tuple[datetime, datetime]:
    """The [start, end] of `?hours=` (default 24) back from now; ValueError names the problem."""
    try:
        hours = float(request.args.get("hours", "24"))
    except ValueError:
        raise ValueError("'hours' must be a number") from None
    if not 0 < hours <= MAX_LOOKBACK_HOURS:
        raise ValueError(f"'hours' must be between 0 and {MAX_LOOKBACK_HOURS}")
    end = datetime.now(UTC)
    return end - timedelta(hours=hours), end


@bp.get("/api/rejected")
@permission_required("read_operations")
def rejected():
    """Messages the collector could not understand, newest first, with the reason."""
    try:
        start, end = _lookback()
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    runtime = _runtime()
    rows = runtime.store.rejected(start, end, limit=MAX_LISTED)
    rows = rejections_seen_by(current_user, runtime.deployment(), rows)
    return jsonify([{**r, "time": r["time"].isoformat()} for r in rows])


@bp.get("/api/unknown-cards")
@permission_required("read_operations")
def unknown_cards():
    """Badge reads of cards nobody in the registry holds, newest first."""
    try:
        start, end = _lookback()
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    runtime = _runtime()
    registry = runtime.registry()
    devices = runtime.hall_devices(registry)  # the hall's own readers (None: one hall, all)
    rows = [
        r
        for r in runtime.store.unknown_cards(start, end)
        if devices is None or r["device"] in devices
    ][:MAX_LISTED]
    return jsonify(
        [{**r, "printed": printed_number(r["uid"]), "time": r["time"].isoformat()} for r in rows]
    )


@bp.get("/healthz")
def healthz():
    """The checks for anyone (a load balancer, a monitor); the collectors' error texts and
    file names only for those who may read operations (they name hosts, users, paths)."""
    runtime = _runtime()
    checks = {
        "database": _check_database(runtime),
        "influx": "ok" if runtime.influx.ping() else "down",
        "mqtt": _check_mqtt(runtime),
    }
    body: dict = dict(checks)
    try:
        registry = runtime.registry()
        warning = calendar_warning(registry.hall, day_of(registry.hall, datetime.now(UTC)))
        if warning:
            body["warnings"] = [warning]
    except Exception:  # the database check above already reports this
        pass
    detail = _spool_depth()
    body.update(detail if can(current_user, "read_operations") else _public(detail))
    healthy = all(v == "ok" for v in checks.values())
    if not healthy:
        body["down"] = [k for k, v in checks.items() if v != "ok"]
    return jsonify(body), 200 if healthy else 503


_HEALTH_KEYS = {  # the rest: spool_<key>
    "write_errors": "collector_write_errors",
    "registry_errors": "collector_registry_errors",
}


def _spool_depth() -> dict:
    """The collectors' disk spool as their status files report it (nothing when none does).

    Information, not a check: a spool in use means InfluxDB was away, and that check says so.
    """
    root = (
        current_app.config.get("HALLWATCH_SPOOL_DIR")
        or os.environ.get("HALLWATCH_SPOOL_DIR")
        or DEFAULT_SPOOL_DIR
    )
    depth = spool_summary(root)
    if depth is None:
        return {}
    return {_HEALTH_KEYS.get(key, f"spool_{key}"): value for key, value in depth.items()}


def _public(detail: dict) -> dict:
    """The spool's figures as anyone may see them: numbers, and which problems there are
    (`problems`), without their texts or file names."""
    shown = {k: v for k, v in detail.items() if not isinstance(v, list)}
    problems = sorted(k for k, v in detail.items() if isinstance(v, list) and v)
    if problems:
        shown["problems"] = problems
        shown["details"] = "log in as an operator for the details (/ops/devices)"
    return shown


def _check_database(runtime) -> str:
    try:
        with runtime.sessions() as db:
            db.execute(text("SELECT 1"))
        return "ok"
    except Exception:
        return "down"


def _check_mqtt(runtime) -> str:
    """Whether the broker accepts a TCP connection: tried at most once per MQTT_CHECK_REUSE_S
    per broker and process, so a flood of /healthz cannot become a flood of connections."""
    target = runtime.settings.mqtt_target()
    key = (target.host, target.port)
    with _MQTT_CHECKS_LOCK:
        checked = _MQTT_CHECKS.get(key)
        if checked is not None and time.monotonic() - checked[0] < MQTT_CHECK_REUSE_S:
            return checked[1]
        try:
            with socket.create_connection(key, MQTT_CHECK_TIMEOUT_S):
                result = "ok"
        except OSError:
            result = "down"
        _MQTT_CHECKS[key] = (time.monotonic(), result)
        return result
