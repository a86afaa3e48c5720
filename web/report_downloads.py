"""Report downloads (docs/API.md as files): the month as a workbook, CSV, and the public ranking.

- `/reports/<YYYY-MM>.xlsx` — the workbook (汇总, 窗口逐日, 人员, 说明);
- `/reports/<YYYY-MM>.csv` — the department ranking alone, as the summary sheet;
- `/reports/<YYYY-MM>.zip` — all three tables as CSV files;
- `/public/ranking.csv[?month=YYYY-MM]` — what /public/ranking shows, for anyone: the whole
  hall's ranking without absences and pull-backs, of an ended month (default the last one,
  back `PUBLIC_MONTHS`); only while the public ranking is on (HALLWATCH_PUBLIC_RANKING),
  else 404.

A department head gets only their own department's rows, with its rank in the whole hall
(`web.scope`, as the report API). The days come from the same `DaySummaries` as the API.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, request
from flask_login import current_user

from hallwatch.influx.client import QueryError
from hallwatch.metrics.export_csv import csv_zip, ranking_csv
from hallwatch.metrics.export_rows import MonthReport, month_report
from hallwatch.metrics.export_workbook import workbook_bytes
from hallwatch.metrics.month import Month
from hallwatch.metrics.source import DaySummaries
from hallwatch.registry.spec import Registry
from web.audit_trail import note_download
from web.public_ranking import public_months
from web.reports_api import SUMMARIES, appeals_of
from web.roles import permission_required
from web.scope import visible_departments, visible_windows
from web.unavailable import store_message

bp = Blueprint("report_downloads", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
ZIP = "application/zip"
NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')  # Windows refuses these


class Refused(Exception):
    """The download cannot be made: an HTTP status and a message saying why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@bp.errorhandler(Refused)
def _refused(exc: Refused):
    return Response(str(exc) + "\n", exc.status, mimetype="text/plain")


@bp.errorhandler(QueryError)
def _store_down(exc: QueryError):
    return _refused(Refused(503, store_message(exc)))


def content_disposition(name: str, fallback: str) -> str:
    """`attachment` with a UTF-8 file name (RFC 5987 `filename*`) and a plain ASCII fallback."""
    name = NOT_IN_FILE_NAMES.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _download(data: bytes, mimetype: str, name: str, fallback: str, public: bool = False):
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(name, fallback)
    # Names of people must not linger in shared caches; the public ranking may.
    response.headers["Cache-Control"] = "public, max-age=300" if public else "private, no-store"
    return response


def _month(text: str) -> Month:
    """The month in the URL; Refused (400) naming what is wrong."""
    try:
        return Month.of_report(text)
    except ValueError as exc:
        raise Refused(400, f"'month' {exc}") from None


def _report(month: Month, scoped: bool) -> MonthReport:
    """The month's report as of now, limited to what the user may see when `scoped`."""
    runtime = current_app.extensions["hallwatch"]
    registry = runtime.registry()
    now = datetime.now(UTC)
    if month > Month.of(now.astimezone(registry.hall.tz).date()):  # before bounds: 9999-12
        raise Refused(400, f"'month' {month} has not begun yet")
    start, end = month.bounds(registry.hall)
    registry = runtime.registry_through(end, now, registry.hall.id)  # its names then
    summaries = current_app.extensions.setdefault(SUMMARIES, DaySummaries())
    days = summaries.between(runtime, registry, start, end, now)
    scope = _scope(registry) if scoped else (None, None)
    adjustments, decided = appeals_of(registry, start, end)
    return month_report(
        registry, month.first, days, min(end, now), *scope, appeals=adjustments, decided=decided
    )


def _scope(registry: Registry) -> tuple[set[str], set[str]]:
    return visible_departments(current_user, registry), visible_windows(current_user, registry)


def _name(report: MonthReport, what: str) -> str:
    """e.g. 示例县政务服务大厅-民政局-2026-11-在岗情况报表 (the department only when scoped)."""
    parts = [report.hall.name, report.scope, f"{report.month:%Y-%m}", what]
    return "-".join(p for p in parts if p)


@bp.get("/reports/<month>.xlsx")
@permission_required("read_hall")
def workbook(month: str):
    """The month as an Excel workbook."""
    report = _report(_month(month), scoped=True)
    fallback = f"hallwatch-report-{report.month:%Y-%m}.xlsx"
    name = _name(report, "在岗情况报表.xlsx")
    data = workbook_bytes(report)
    note_download("workbook", name, month=f"{report.month:%Y-%m}")
    return _download(data, XLSX, name, fallback)


@bp.get("/reports/<month>.csv")
@permission_required("read_hall")
def ranking(month: str):
    """The month's department ranking as CSV (UTF-8 with BOM)."""
    report = _report(_month(month), scoped=True)
    data = ranking_csv(report.departments, public=False)
    fallback = f"hallwatch-ranking-{report.month:%Y-%m}.csv"
    name = _name(report, "部门排名.csv")
    note_download("ranking", name, month=f"{report.month:%Y-%m}")
    return _download(data, CSV, name, fallback)


@bp.get("/reports/<month>.zip")
@permission_required("read_hall")
def csv_archive(month: str):
    """The month's three tables as CSV files in one zip."""
    report = _report(_month(month), scoped=True)
    fallback = f"hallwatch-report-{report.month:%Y-%m}-csv.zip"
    name = _name(report, "在岗情况报表-CSV.zip")
    data = csv_zip(report)
    note_download("csv_archive", name, month=f"{report.month:%Y-%m}")
    return _download(data, ZIP, name, fallback)


@bp.get("/public/ranking.csv")
def public_ranking():
    """The published ranking of an ended month (`?month=`, default the last), for anyone."""
    runtime = current_app.extensions["hallwatch"]
    if not runtime.settings.public_ranking_enabled():
        abort(404)
    report = _report(_public_month(runtime.registry()), scoped=False)
    data = ranking_csv(report.departments, public=True)
    fallback = f"hallwatch-ranking-{report.month:%Y-%m}.csv"
    name = _name(report, "部门排名.csv")
    note_download("public_ranking", name, month=f"{report.month:%Y-%m}")
    return _download(data, CSV, name, fallback, public=True)


def _public_month(registry: Registry) -> Month:
    """`?month=`: a month the public page shows (default: the last ended one)."""
    earliest, latest = public_months(registry.hall, datetime.now(UTC))
    text = request.args.get("month", "").strip()
    if not text:
        return latest
    month = _month(text)
    if not earliest <= month <= latest:
        raise Refused(
            400, f"'month' must be an ended month from {earliest} to {latest}, got {text!r}"
        )
    return month
