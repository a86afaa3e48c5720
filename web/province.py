"""The province overview: every hall the user may see, ranked (`/province`, `/api/province`).

Per hall: windows staffed now, today's and the month's staffed ratio, and open
alerts; ranked by `hallwatch.metrics.province`. For those who watch many halls
(admin, hall managers, inspectors), each limited to the halls they may see.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, render_template
from flask_login import current_user
from sqlalchemy import select

from hallwatch.influx.client import QueryError
from hallwatch.metrics import add_up
from hallwatch.metrics.appeals import adjust, within
from hallwatch.metrics.month import Month
from hallwatch.metrics.province import HallStanding, hall_coverage, hall_ratio, rank_halls
from hallwatch.metrics.source import DaySummaries
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.spec import Registry
from hallwatch.schedule import day_of, local_midnight
from web.halls import allowed_halls
from web.reports_api import SUMMARIES, appeals_of
from web.roles import permission_required
from web.unavailable import store_down_text

bp = Blueprint("province", __name__)


def _runtime():
    return current_app.extensions["hallwatch"]


def _open_alerts(deployment: Deployment) -> Counter[str]:
    """Unresolved alerts per hall (by their department's hall)."""
    with _runtime().sessions() as db:
        departments = db.scalars(
            select(AlertRow.department_id).where(AlertRow.resolved_at.is_(None))
        )
        return Counter(deployment.hall_of_department.get(d or "") for d in departments)


def _standing(registry: Registry, now: datetime, open_alerts: int) -> HallStanding:
    """One hall's figures as of `now` (its own day and month, in its own time zone)."""
    runtime = _runtime()
    summaries = current_app.extensions.setdefault(SUMMARIES, DaySummaries())
    hall = registry.hall
    today = day_of(hall, now)
    _, state = runtime.hall_state(now, hall=hall.id)
    day_start = local_midnight(hall, today)
    day_totals = add_up(summaries.between(runtime, registry, day_start, now, now))
    month_start, month_end = Month.of(today).bounds(hall)
    month_totals = add_up(summaries.between(runtime, registry, month_start, month_end, now))
    appeals, _ = appeals_of(registry, month_start, month_end)
    day_totals = adjust(day_totals, within(appeals, day_start, now))
    month_totals = adjust(month_totals, appeals)
    return HallStanding(
        hall=hall.id,
        name=hall.name,
        windows=len(registry.windows),
        staffed_now=sum(1 for w in state.windows if w.state == "staffed"),
        today_ratio=hall_ratio(registry, day_totals),
        month_ratio=hall_ratio(registry, month_totals),
        open_alerts=open_alerts,
        month_coverage=hall_coverage(registry, month_totals),
        appealed=bool(appeals),
    )


def province_rows(now: datetime) -> list[dict]:
    """The ranked rows of the halls the current user may see."""
    deployment = _runtime().deployment()
    alerts = _open_alerts(deployment)
    halls = allowed_halls(current_user, deployment)
    return rank_halls([_standing(deployment.by_id[h], now, alerts[h]) for h in halls])


@bp.get("/api/province")
@permission_required("read_operations")
def province_api():
    """The halls ranked, as JSON."""
    return jsonify(province_rows(datetime.now(UTC)))


@bp.get("/province")
@permission_required("read_operations")
def overview():
    """The halls ranked, as a page."""
    now = datetime.now(UTC)
    try:
        rows, error = province_rows(now), None
    except QueryError as exc:
        rows, error = [], store_down_text(exc)
    return render_template("province.html", rows=rows, error=error)
