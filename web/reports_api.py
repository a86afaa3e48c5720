"""JSON API, reports (docs/API.md): minutes per window, counts per person, the department ranking.

Each answer adds up day summaries (`hallwatch.metrics`), which `DaySummaries`
reads from the event store and keeps for closed days. A department head gets
only their own department's rows; the ranks are those of the whole hall (the
ranking is public). Nothing after the moment of the request is counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from hallwatch.metrics import add_up, department_rows, staff_rows, window_rows
from hallwatch.metrics.appeal_records import month_appeals
from hallwatch.metrics.appeals import published
from hallwatch.metrics.month import Month
from hallwatch.metrics.report import Totals, coverage_gaps
from hallwatch.metrics.source import DaySummaries
from hallwatch.registry.spec import Registry
from web.roles import permission_required
from web.scope import visible_departments, visible_windows
from web.timeparam import BadInstant, parse_instant

bp = Blueprint("reports_api", __name__)
SUMMARIES = "hallwatch_day_summaries"  # app.extensions key of the DaySummaries cache
MAX_RANGE = timedelta(days=366)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # nothing older is stored; keeps dates sane
EXAMPLE_INSTANT = "2026-11-01T00:00:00+08:00"


class BadParameter(ValueError):
    """A query parameter is missing or wrong; the message names it."""


@bp.record_once
def _set_up(state) -> None:
    state.app.extensions.setdefault(SUMMARIES, DaySummaries())


def _runtime():
    return current_app.extensions["hallwatch"]


def _instant(name: str, tz) -> datetime:
    text = request.args.get(name, "")
    if not text.strip():
        raise BadParameter(f"'{name}' is required: an ISO-8601 time such as {EXAMPLE_INSTANT}")
    try:
        return parse_instant(text, tz)
    except BadInstant:
        raise BadParameter(
            f"'{name}' must be an ISO-8601 time such as {EXAMPLE_INSTANT}, got {text!r}"
        ) from None


def _range(registry: Registry, now: datetime) -> tuple[datetime, datetime]:
    """[from, to) of the request; BadParameter names what is wrong."""
    tz = registry.hall.tz
    start, end = _instant("from", tz), _instant("to", tz)
    if end <= start:
        raise BadParameter("'to' must be later than 'from'")
    if end - start > MAX_RANGE:
        raise BadParameter(f"'from' to 'to' may span at most {MAX_RANGE.days} days")
    if start < EARLIEST:
        raise BadParameter(f"'from' must not be before {EARLIEST.date().isoformat()}")
    return start, end


def _month(registry: Registry, now: datetime) -> tuple[datetime, datetime]:
    """The hall-time [start, end) of `?month=YYYY-MM`; BadParameter names what is wrong."""
    text = request.args.get("month", "")
    try:
        month = Month.of_report(text)
    except ValueError as exc:
        raise BadParameter(f"'month' {exc}") from None
    if month > Month.of(now.astimezone(registry.hall.tz).date()):  # before bounds: 9999-12
        raise BadParameter(f"'month' {month} has not begun yet")
    start, end = month.bounds(registry.hall)
    return start, end


def _totals(registry: Registry, start: datetime, end: datetime, now: datetime) -> Totals:
    summaries = current_app.extensions.setdefault(SUMMARIES, DaySummaries())
    return add_up(summaries.between(_runtime(), registry, start, end, now))


def appeals_of(registry: Registry, start: datetime, end: datetime) -> tuple[list, list[dict]]:
    """The accepted appeals of [start, end) as adjustments, and the decided ones listed."""
    return month_appeals(getattr(_runtime(), "sessions", None), registry, start, end)


def _report(rows_of, key: str, scope, period, row_key: str):
    """The three views: parse the period, add up the days, apply the accepted appeals (each
    row marked `appealed` with its `original`), keep the rows whose `key` is in scope."""
    registry = _runtime().registry()
    now = datetime.now(UTC)
    try:
        start, end = period(registry, now)
    except BadParameter as exc:
        return jsonify(error=str(exc)), 400
    registry = _runtime().registry_through(end, now, registry.hall.id)  # its names then
    totals = _totals(registry, start, end, now)
    adjustments, _ = appeals_of(registry, start, end)
    rows = published(rows_of, row_key, registry, totals, adjustments)
    allowed = scope(current_user, registry)
    return jsonify([row for row in rows if row[key] in allowed])


@bp.get("/api/reports/windows")
@permission_required("read_hall")
def windows_report():
    """Per window: scheduled minutes split by state and the staffed ratio, for [from, to)."""
    return _report(window_rows, "window", visible_windows, _range, "window")


@bp.get("/api/reports/staff")
@permission_required("read_hall")
def staff_report():
    """Per person: rostered and leave minutes, late sign-ins, absences, pull-backs."""
    return _report(staff_rows, "department", visible_departments, _range, "staff")


@bp.get("/api/reports/coverage")
@permission_required("read_hall")
def coverage_report():
    """Why coverage is short in [from, to): the working days HallWatch was not collecting
    and the devices' offline stretches in opening hours (a dept_head: their own)."""
    registry = _runtime().registry()
    now = datetime.now(UTC)
    try:
        start, end = _range(registry, now)
        registry = _runtime().registry_through(end, now, registry.hall.id)
        totals = _totals(registry, start, end, now)
    except BadParameter as exc:
        return jsonify(error=str(exc)), 400
    gaps = coverage_gaps(registry, totals)
    allowed = visible_departments(current_user, registry)
    gaps["offline"] = [r for r in gaps["offline"] if r["department"] in allowed]
    return jsonify(gaps)


@bp.get("/api/reports/departments")
@permission_required("read_hall")
def departments_report():
    """Per department for `month=YYYY-MM`, best first, with its rank in the whole hall."""
    return _report(department_rows, "department", visible_departments, _month, "department")
