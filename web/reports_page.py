"""The monthly report page: the department ranking, two bar charts and each person's days.

`/reports?month=YYYY-MM` (default this month, hall time) adds up the month's
day summaries as the report API (docs/API.md) does (`DaySummaries`, shared with it), ranks the
departments on the whole hall and shows a department head only their own
department. `&department=ID` narrows the windows and the calendar to one
department: where a ranking row leads. Charts are SVG drawn here with
presentation attributes only, since the Content-Security-Policy allows no
script and no inline style; every bar also carries its number as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import format_datetime, gettext, lazy_gettext
from flask_login import current_user

from hallwatch.access import DEPT_HEAD
from hallwatch.metrics import add_up, department_rows, window_rows
from hallwatch.metrics.appeals import Adjustment, adjust, published
from hallwatch.metrics.day import DaySummary
from hallwatch.metrics.month import Month, worst_days
from hallwatch.metrics.report import RANKED_COVERAGE, Totals, coverage_gaps
from hallwatch.registry.spec import Registry
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
from web.report_appeals import APPEALED, decided_list, original_text
from web.report_calendar import LEGEND, MARK_ICONS, MARK_WORDS, people_calendar
from web.reports_api import appeals_of
from web.roles import permission_required
from web.scope import visible_departments, visible_windows
from web.unavailable import frame_if_store_down

bp = Blueprint("report_page", __name__)

EARLIEST = Month(2000, 1)  # nothing older is stored (as the report API)
WINDOW_BARS = 30  # the worst windows charted; the table lists them all
ATTENTION_SHOWN = 10  # people with the most incidents, linked to their calendar row
OFFLINE_SHOWN = 20  # the longest device outages listed as the reason for low coverage
BAR_ROW_PX = 34  # one chart row: its label line and its bar
BAR_TEXT_Y, BAR_Y, BAR_HEIGHT = 13, 18, 10  # within a row
NO_REPORT_NOW = lazy_gettext("事件库不可用,暂时无法生成报表:%(reason)s")


def _rank_text(rank: int | None) -> str:
    return str(rank) if rank else gettext("未排名")


def _count_text(count: int) -> str:
    return str(count)


# What a ranking row and a window row show of their original when an appeal changed them.
RANKING_FIGURES = (
    ("rank", lazy_gettext("名次"), _rank_text),
    ("staffed_ratio", lazy_gettext("在岗率"), lambda r: percent(r)),
    ("coverage", lazy_gettext("数据覆盖率"), lambda r: percent(r)),
    ("empty_minutes", lazy_gettext("空岗分钟"), lambda m: minutes_text(m)),
    ("absences", lazy_gettext("未签到次数"), _count_text),
    ("pulled_back", lazy_gettext("被抽回次数"), _count_text),
)
WINDOW_FIGURES = (
    ("scheduled_minutes", lazy_gettext("应在岗分钟"), lambda m: minutes_text(m)),
    ("empty_minutes", lazy_gettext("空岗分钟"), lambda m: minutes_text(m)),
    ("staffed_ratio", lazy_gettext("在岗率"), lambda r: percent(r)),
    ("unknown_minutes", lazy_gettext("状态未知分钟"), lambda m: minutes_text(m)),
    ("coverage", lazy_gettext("数据覆盖率"), lambda r: percent(r)),
)


@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart: label and value above, the bar below."""

    y: int
    label: str
    value: str
    width: float  # percent of the chart's width
    kind: str  # the CSS class of the bar

    @property
    def text_y(self) -> int:
        return self.y + BAR_TEXT_Y

    @property
    def bar_y(self) -> int:
        return self.y + BAR_Y


def bars(rows: list[tuple[str, str, float, str]]) -> dict:
    """(label, value, width %, kind) rows as a chart: its bars and height in px."""
    found = [
        Bar(n * BAR_ROW_PX, label, value, round(max(0.0, min(100.0, width)), 2), kind)
        for n, (label, value, width, kind) in enumerate(rows)
    ]
    return {"bars": found, "height": len(found) * BAR_ROW_PX, "bar_height": BAR_HEIGHT}


def downloads(month: Month) -> list[tuple[str, str]]:
    """(label, URL) of the month's files, as the export routes make them."""
    found = [
        (
            gettext("下载 Excel"),
            export_url("report_downloads.workbook", f"/reports/{month}.xlsx", month=str(month)),
        ),
        (
            gettext("下载排名 CSV"),
            export_url("report_downloads.ranking", f"/reports/{month}.csv", month=str(month)),
        ),
    ]
    if "report_downloads.csv_archive" in current_app.view_functions:
        found.append(
            (
                gettext("下载全部 CSV(zip)"),
                url_for("report_downloads.csv_archive", month=str(month)),
            )
        )
    return found


def _runtime():
    return current_app.extensions["hallwatch"]


@bp.get("/reports")
@permission_required("read_hall")
def month_report():
    """`?month=YYYY-MM` (default this month) and `&department=ID` for one department's detail."""
    runtime = _runtime()
    registry = runtime.registry()
    hall = registry.hall
    now = datetime.now(UTC)
    today = day_of(hall, now)
    this_month = Month.of(today)
    allowed = visible_departments(current_user, registry)
    page = {
        "hall": hall,
        "this_month": this_month,
        "month": None,
        "month_text": None,
        "department": None,
    }
    try:
        month = parse_month(request.args.get("month"), this_month, this_month, EARLIEST)
    except BadMonth as exc:
        return render_template("reports.html", **page, error=str(exc)), 400
    registry = runtime.registry_through(month.bounds(hall)[1], now, hall.id)  # its names then
    allowed = visible_departments(current_user, registry)
    department = _chosen_department(registry, allowed)
    page.update(month=month, month_text=month_label(month), department=department)
    frame_if_store_down("reports.html", saying=NO_REPORT_NOW, **page)
    summaries = month_summaries(runtime, registry, month, now)
    original = add_up(summaries)
    adjustments, decided = appeals_of(registry, *month.bounds(hall))
    totals = adjust(original, adjustments)
    last_day = min(today, month.last)
    return render_template(
        "reports.html",
        **page,
        error=None,
        collected=any(s.collected for s in summaries),
        in_progress=month == this_month,
        as_of=format_datetime(now, "yyyy-MM-dd HH:mm"),
        previous_month=_month_url(month.previous(), department) if month > EARLIEST else None,
        next_month=_month_url(month.next(), department) if month < this_month else None,
        downloads=downloads(month),
        ranking=_ranking(registry, original, adjustments, allowed, month, last_day),
        windows=_windows(registry, original, adjustments, summaries, department, last_day),
        coverage=_coverage(registry, totals, department, last_day),
        attention=_attention(registry, totals, allowed, department, month),
        calendar=people_calendar(
            registry, month, summaries, allowed, department, today, adjustments
        ),
        appeals=decided_list(decided, allowed, department),
        appealed_word=APPEALED,
        departments=[d for d in registry.departments if d.id in allowed],
        legend=[(key, MARK_ICONS[key], MARK_WORDS[key]) for key in LEGEND],
        dept_head=current_user.role == DEPT_HEAD,
    )


def _chosen_department(registry: Registry, allowed: set[str]) -> str | None:
    """`?department=` (a department head: always their own); out of scope or unknown: 404."""
    chosen = request.args.get("department", "").strip()
    if not chosen:
        return next(iter(allowed)) if current_user.role == DEPT_HEAD and allowed else None
    if chosen not in allowed or chosen not in registry.department_by_id:
        abort(404)
    return chosen


def _month_url(month: Month, department: str | None) -> str:
    args = {"department": department} if department else {}
    return url_for(".month_report", month=str(month), **args)


def _ranking(
    registry: Registry,
    totals: Totals,
    adjustments: list[Adjustment],
    allowed: set[str],
    month: Month,
    last_day: date,
) -> dict:
    """The ranking rows the user may see (ranks of the whole hall, the accepted appeals
    applied, each with its original) and the staffed-ratio chart."""
    rows = []
    for row in published(department_rows, "department", registry, totals, adjustments):
        if row["department"] not in allowed:
            continue
        rows.append(
            {
                **row,
                "percent": percent(row["staffed_ratio"]),
                "coverage_text": percent(row["coverage"]),
                "low_coverage": row["staffed_ratio"] is not None and row["rank"] is None,
                "empty_text": minutes_text(row["empty_minutes"]),
                "original_text": original_text(row, RANKING_FIGURES),
                "detail": _month_url(month, row["department"]) + "#windows",
                "page": url_for(
                    "department.show", dept_id=row["department"], day=last_day.isoformat()
                ),
            }
        )
    chart = bars(
        [
            (
                f"{r['rank']}. {r['name']}" if r["rank"] else r["name"],
                r["percent"] if r["staffed_ratio"] is not None else gettext("无数据"),
                (r["staffed_ratio"] or 0.0) * 100,
                "ratio",
            )
            for r in rows
        ]
    )
    return {"rows": rows, "chart": chart}


def _windows(
    registry: Registry,
    totals: Totals,
    adjustments: list[Adjustment],
    summaries: list[DaySummary],
    department: str | None,
    last_day: date,
) -> dict:
    """The windows in view, longest empty first, each linked to its worst day; the chart."""
    visible = visible_windows(current_user, registry)
    shown = {
        w.id for w in registry.windows if w.id in visible and department in (None, w.department)
    }
    worst = worst_days(summaries, shown)
    names = registry.window_by_id
    departments = registry.department_by_id
    order = {w.id: n for n, w in enumerate(registry.windows)}
    rows = []
    for row in published(window_rows, "window", registry, totals, adjustments):
        if row["window"] not in shown:
            continue
        day = worst.get(row["window"], last_day)
        dept = departments.get(row["department"])
        rows.append(
            {
                **row,
                "name": names[row["window"]].name,
                "department_name": dept.name if dept else row["department"],
                "percent": percent(row["staffed_ratio"]),
                "coverage_text": percent(row["coverage"]),
                "low_coverage": (row["coverage"] or 1.0) < RANKED_COVERAGE,
                "empty_text": minutes_text(row["empty_minutes"]),
                "unknown_text": minutes_text(row["unknown_minutes"]),
                "original_text": original_text(row, WINDOW_FIGURES),
                "worst_day": day_label(day) if row["window"] in worst else None,
                "worst_link": url_for("window.show", window_id=row["window"], day=day.isoformat()),
                "link": url_for("window.show", window_id=row["window"], day=last_day.isoformat()),
            }
        )
    rows.sort(key=lambda r: (-r["empty_minutes"], order[r["window"]]))
    charted = [r for r in rows if r["empty_minutes"] > 0][:WINDOW_BARS]
    most = charted[0]["empty_minutes"] if charted else 1.0
    chart = bars(
        [
            (
                r["name"],
                gettext("%(minutes)s 分钟", minutes=r["empty_text"]),
                r["empty_minutes"] / most * 100,
                "empty",
            )
            for r in charted
        ]
    )
    return {"rows": rows, "chart": chart, "more": sum(1 for r in rows if r["empty_minutes"] > 0)}


def _coverage(registry: Registry, totals: Totals, department: str | None, last_day: date) -> dict:
    """Why coverage is short: the days HallWatch was not collecting, and the devices of the
    windows in view that were offline in opening hours, longest first (each linked to
    that window's day)."""
    gaps = coverage_gaps(registry, totals)
    visible = visible_windows(current_user, registry)
    names = registry.window_by_id
    offline = []
    for row in gaps["offline"]:
        window = row["window"]
        if window not in visible or department not in (None, row["department"]):
            continue
        start = datetime.fromisoformat(row["from"]).astimezone(registry.hall.tz)
        end = datetime.fromisoformat(row["to"]).astimezone(registry.hall.tz)
        offline.append(
            {
                **row,
                "window_name": names[window].name,
                "when": f"{day_label(start.date())} {start:%H:%M}–{end:%H:%M}",
                "minutes_text": minutes_text(row["minutes"]),
                "link": url_for("window.show", window_id=window, day=start.date().isoformat()),
            }
        )
    return {
        "not_collected": [day_label(date.fromisoformat(d)) for d in gaps["not_collected"]],
        "offline": offline[:OFFLINE_SHOWN],
        "more": max(0, len(offline) - OFFLINE_SHOWN),
    }


def _attention(
    registry: Registry, totals: Totals, allowed: set[str], department: str | None, month: Month
) -> list[dict]:
    """The people with the most incidents in the month, each linked to their calendar row."""
    found = []
    for person in registry.staff:
        if person.department not in allowed or department not in (None, person.department):
            continue
        c = totals.person(person.id)
        incidents = c.late_sign_ins + c.absences + c.pulled_back
        if incidents:
            found.append((incidents, person, c))
    found.sort(key=lambda f: -f[0])  # stable: registry order among equals
    departments = registry.department_by_id
    return [
        {
            "name": person.name,
            "department": departments[person.department].name
            if person.department in departments
            else person.department,
            "counts": c,
            "link": _month_url(month, person.department) + f"#staff-{person.id}",
        }
        for _, person, c in found[:ATTENTION_SHOWN]
    ]
