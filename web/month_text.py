"""What the month pages (the report page, the public ranking) say and parse: the month,
its days, percentages and minutes."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app, request, url_for
from flask_babel import format_decimal, gettext

from hallwatch.metrics.day import DaySummary
from hallwatch.metrics.month import Month
from hallwatch.metrics.source import DaySummaries
from hallwatch.registry.spec import Registry
from web.reports_api import SUMMARIES


class BadMonth(ValueError):
    """`?month=` is not a month the page can show; the message says why, in the page's language."""


def parse_month(text: str | None, default: Month, latest: Month, earliest: Month) -> Month:
    """`?month=YYYY-MM` (default `default`) within [earliest, latest], or BadMonth."""
    if text is None or not text.strip():
        return default
    shown = text[:40]
    try:
        month = Month.parse(text)
    except ValueError:
        raise BadMonth(
            gettext(
                "月份格式不正确,应为 YYYY-MM(例如 %(example)s):%(month)s",
                example=str(default),
                month=shown,
            )
        ) from None
    if month < earliest:
        raise BadMonth(
            gettext("月份不能早于 %(earliest)s:%(month)s", earliest=earliest, month=shown)
        )
    if month > latest:
        raise BadMonth(gettext("月份不能晚于 %(latest)s:%(month)s", latest=latest, month=shown))
    return month


def month_summaries(runtime, registry: Registry, month: Month, now: datetime) -> list[DaySummary]:
    """The month's days up to `now` (QueryError passes: the event store is down)."""
    summaries = current_app.extensions.setdefault(SUMMARIES, DaySummaries())
    return summaries.between(runtime, registry, *month.bounds(registry.hall), now)


def month_label(month: Month) -> str:
    return gettext("%(year)s年%(month)s月", year=month.year, month=month.month)


def day_label(day: date) -> str:
    return gettext("%(month)s月%(day)s日", month=day.month, day=day.day)


def percent(ratio: float | None) -> str:
    """A published staffed_ratio as "92.9%", or a dash when there is nothing to measure."""
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def minutes_text(value: float) -> str:
    return format_decimal(value, "#,##0.#")


def export_url(endpoint: str, path: str, **args) -> str:
    """The export route's URL (`web.report_downloads`), or its documented path if not there."""
    if endpoint in current_app.view_functions:
        return url_for(endpoint, **args)
    return request.script_root + path
