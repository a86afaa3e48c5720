"""The public ranking (/public/ranking): each department's month, no login, no person at all.

What the hall publishes (MISSION: "the public may see the published monthly
ranking of departments"): rank, staffed ratio, days a department left its
windows and empty minutes, the same numbers the report ranks on. Absences and
pull-backs stay inside: a department of one window worker would name them.
Only ended months are shown (default: the last one), back PUBLIC_MONTHS. Off
with HALLWATCH_PUBLIC_RANKING=0: a 404, as if it did not exist.

Cache-friendly but correct: an ETag of the page (a repeat visit is a 304) and
a short max-age, since late events or a registry change may still move a
number; shared caches only for a request that carries no cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import format_date, gettext

from hallwatch.influx.client import QueryError
from hallwatch.metrics import add_up, department_rows
from hallwatch.metrics.appeals import published
from hallwatch.metrics.month import Month
from hallwatch.schedule import day_of
from web.month_text import (
    BadMonth,
    day_label,
    export_url,
    minutes_text,
    month_label,
    month_summaries,
    parse_month,
    percent,
)
from web.reports_api import appeals_of

bp = Blueprint("public_ranking", __name__)

PUBLIC_MONTHS = 24  # how far back the notices go
MAX_AGE_S = 300  # a browser or proxy may keep the page this long without asking


def public_months(hall, now: datetime) -> tuple[Month, Month]:
    """The months published as of `now`: the ended ones, back PUBLIC_MONTHS (oldest, newest)."""
    latest = Month.of(day_of(hall, now)).previous()
    return latest.plus(1 - PUBLIC_MONTHS), latest


def _runtime():
    return current_app.extensions["hallwatch"]


@bp.get("/public/ranking")
def ranking():
    """`?month=YYYY-MM`, an ended month (default: the last one)."""
    runtime = _runtime()
    if not runtime.settings.public_ranking_enabled():
        abort(404)
    registry = runtime.registry()
    hall = registry.hall
    now = datetime.now(UTC)
    earliest, latest = public_months(hall, now)
    page = {"hall": hall, "latest": latest, "month": None, "month_text": None}
    try:
        month = parse_month(request.args.get("month"), latest, latest, earliest)
    except BadMonth as exc:
        return _uncached(render_template("public_ranking.html", **page, error=str(exc)), 400)
    page.update(month=month, month_text=month_label(month))
    registry = runtime.registry_through(month.bounds(hall)[1], now, hall.id)  # its names then
    try:
        summaries = month_summaries(runtime, registry, month, now)
    except QueryError:
        error = gettext("数据暂时无法读取,请稍后再试。")
        return _uncached(render_template("public_ranking.html", **page, error=error), 503)
    totals = add_up(summaries)
    adjustments, _ = appeals_of(registry, *month.bounds(hall))
    rows = [
        {
            "rank": row["rank"],
            "name": row["name"],
            "percent": percent(row["staffed_ratio"]),
            "coverage": percent(row["coverage"]),
            "low_coverage": row["staffed_ratio"] is not None and row["rank"] is None,
            "withdrawn_days": row["withdrawn_days"],
            "empty_text": minutes_text(row["empty_minutes"]),
            "appealed": row["appealed"],
            "original_percent": percent(row["original"]["staffed_ratio"])
            if row["appealed"]
            else None,
        }
        for row in published(department_rows, "department", registry, totals, adjustments)
    ]
    html = render_template(
        "public_ranking.html",
        **page,
        error=None,
        rows=rows,
        not_collected=[day_label(d) for d in sorted(totals.not_collected)],
        collected=any(s.collected for s in summaries),
        period=(month.first.isoformat(), month.last.isoformat()),
        as_of=format_date(day_of(hall, now)),  # a day, not a minute: the ETag holds all day
        previous_month=_url(month.previous()) if month > earliest else None,
        next_month=_url(month.next()) if month < latest else None,
        csv=export_url(
            "report_downloads.public_ranking",
            f"/public/ranking.csv?month={month}",
            month=str(month),
        ),
    )
    response = current_app.make_response(html)
    shared = not request.cookies and "lang" not in request.args  # no session rides along
    response.cache_control.public = shared
    response.cache_control.private = not shared
    response.cache_control.max_age = MAX_AGE_S
    response.vary.add("Cookie")  # the language lives in the session
    response.add_etag()
    return response.make_conditional(request)


def _url(month: Month) -> str:
    return url_for(".ranking", month=str(month))


def _uncached(html: str, status: int):
    response = current_app.make_response((html, status))
    response.cache_control.no_store = True
    return response
