"""Alerts page: filter by kind, department, status and days; acknowledge with a note; history.

Rendered whole on the server: it works without JavaScript. A department head's scope
is applied in the query (alerts.records.visible_to), as in the JSON API, so another
department's alert is simply not found: 404, like an unknown id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from math import ceil
from urllib.parse import urlsplit, urlunsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, gettext, lazy_gettext
from flask_login import current_user
from sqlalchemy import Select, func, select

from alerts.messages import department_name, staff_name, window_name
from alerts.records import acknowledge, visible_to
from hallwatch.alert_kinds import ALERT_KINDS
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.spec import Registry
from hallwatch.schedule import day_of, local_midnight
from web.alerts_api import NOTE_MAX_CHARS
from web.audit_trail import note_acknowledged
from web.auth import safe_next
from web.halls import selected_hall
from web.pages import ALERT_KIND_WORDS
from web.roles import can, permission_required
from web.scope import visible_departments

bp = Blueprint("alert_pages", __name__)

PAGE_SIZE = 50  # alerts per page
DEFAULT_DAYS = 7  # the default range: today and the six days before, hall time
EARLIEST_DAY = date(2000, 1, 1)  # a date range outside these is a typo, not a question
LATEST_DAY = date(2099, 12, 31)
STAMP = "yyyy-MM-dd HH:mm"  # Babel pattern, in the hall's time zone
ANY = ("", "all")  # filter values meaning "do not filter"

STATUS_WORDS = {  # the status filter: its values in the order offered
    "unhandled": lazy_gettext("未处理"),
    "open": lazy_gettext("待确认"),
    "acknowledged": lazy_gettext("已确认"),
    "resolved": lazy_gettext("已解除"),
    "all": lazy_gettext("全部"),
}
DEFAULT_STATUS = "unhandled"  # open or acknowledged, and not yet resolved
ROW_STATUS_WORDS = {  # AlertRow.status
    "open": lazy_gettext("待确认"),
    "acknowledged": lazy_gettext("已确认"),
    "resolved": lazy_gettext("已解除"),
}
RESOLUTION_WORDS = {  # Episode.resolution (hallwatch/rules.py) and records.REVISED
    "occupied": lazy_gettext("已恢复(座位有人)"),
    "signed_in": lazy_gettext("已恢复(已签到)"),
    "reported": lazy_gettext("已恢复(设备已上报)"),
    "day_closed": lazy_gettext("下班结束"),
    "seen": lazy_gettext("已通报"),
    "revised": lazy_gettext("已修正"),
}


@dataclass(frozen=True)
class Filters:
    """What the user asked to see; "" for kind or department means all of them."""

    kind: str
    department: str
    status: str
    first_day: date
    last_day: date
    page: int

    def args(self) -> dict[str, str]:
        """The query string of these filters (without the page)."""
        return {
            "kind": self.kind,
            "department": self.department,
            "status": self.status,
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
        }


def _day(args, name: str, default: date, errors: list[str]) -> date:
    text = args.get(name, "").strip()
    if not text:
        return default
    try:
        value = date.fromisoformat(text)
    except ValueError:
        errors.append(gettext("日期应为 2026-11-23 这样的格式,收到 %(text)s", text=repr(text)))
        return default
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        errors.append(
            gettext(
                "日期须在 %(first)s 与 %(last)s 之间",
                first=EARLIEST_DAY.isoformat(),
                last=LATEST_DAY.isoformat(),
            )
        )
        return default
    return value


def parse_filters(args, departments: set[str], today: date) -> tuple[Filters, list[str]]:
    """The filters of a query string, and what is wrong with it (in the page's language)."""
    errors: list[str] = []
    kind = args.get("kind", "")
    if kind in ANY:
        kind = ""
    elif kind not in ALERT_KINDS:
        errors.append(gettext("没有这种告警类型:%(kind)s", kind=repr(kind)))
    department = args.get("department", "")
    if department in ANY:
        department = ""
    elif department not in departments:
        errors.append(gettext("没有这个部门,或您无权查看:%(dept)s", dept=repr(department)))
    status = args.get("status", DEFAULT_STATUS) or DEFAULT_STATUS
    if status not in STATUS_WORDS:
        errors.append(gettext("没有这种处理状态:%(status)s", status=repr(status)))
    last_day = _day(args, "to", today, errors)
    first_day = _day(args, "from", last_day - timedelta(days=DEFAULT_DAYS - 1), errors)
    if first_day > last_day:
        errors.append(gettext("开始日期不能晚于结束日期"))
    page_text = args.get("page", "1").strip()
    page = int(page_text) if page_text.isdigit() and page_text.isascii() else 0
    if page < 1:
        errors.append(gettext("页码应为正整数,收到 %(text)s", text=repr(page_text)))
    return Filters(kind, department, status, first_day, last_day, max(page, 1)), errors


def _status_clauses(status: str) -> list:
    unresolved = AlertRow.resolved_at.is_(None)
    return {
        "unhandled": [unresolved],
        "open": [unresolved, AlertRow.acknowledged_at.is_(None)],
        "acknowledged": [unresolved, AlertRow.acknowledged_at.is_not(None)],
        "resolved": [AlertRow.resolved_at.is_not(None)],
        "all": [],
    }[status]


def _query(filters: Filters, registry: Registry) -> Select:
    """The alerts the user may see that match `filters`, by when they were opened (hall days)."""
    start = local_midnight(registry.hall, filters.first_day)
    end = local_midnight(registry.hall, filters.last_day + timedelta(days=1))
    query = select(AlertRow).where(
        *visible_to(current_user, selected_hall()),
        AlertRow.opened_at >= start,
        AlertRow.opened_at < end,
        *_status_clauses(filters.status),
    )
    if filters.kind:
        query = query.where(AlertRow.kind == filters.kind)
    if filters.department:
        query = query.where(AlertRow.department_id == filters.department)
    return query


def _stamp(at: datetime | None) -> str:
    return format_datetime(at, STAMP) if at else ""


def _row_view(row: AlertRow, registry: Registry, may_ack: bool) -> dict:
    """What the table shows of one alert, names from the registry (the id if it left)."""
    tz = registry.hall.tz
    return {
        "id": row.id,
        "kind": row.kind,
        "kind_word": ALERT_KIND_WORDS.get(row.kind, row.kind),
        "window": window_name(registry, row.window_id) if row.window_id else "",
        "window_url": url_for("window.show", window_id=row.window_id) if row.window_id else None,
        "staff": staff_name(registry, row.staff_id) if row.staff_id else "",
        "device": row.device_id or "",
        "department": department_name(registry, row.department_id) if row.department_id else "",
        "since": _stamp(row.since),
        "since_iso": row.since.astimezone(tz).isoformat(timespec="seconds"),
        "opened_at": _stamp(row.opened_at),
        "opened_iso": row.opened_at.astimezone(tz).isoformat(timespec="seconds"),
        "floor_url": url_for(
            "pages.floor", at=row.since.astimezone(tz).isoformat(timespec="seconds")
        ),
        "status": row.status,
        "status_word": ROW_STATUS_WORDS[row.status],
        "resolution_word": RESOLUTION_WORDS.get(row.resolution or "", row.resolution or ""),
        "resolved_at": _stamp(row.resolved_at),
        "acknowledged_by": row.acknowledged_by or "",
        "acknowledged_at": _stamp(row.acknowledged_at),
        "ack_note": row.ack_note or "",
        "message": row.message,
        "ackable": may_ack and row.acknowledged_at is None and row.resolved_at is None,
    }


def _form_values(filters: Filters) -> dict[str, str]:
    """The filter form as the user sent it (a bad value is shown back as typed)."""
    values = filters.args()
    for name in values:
        if name in request.args:
            values[name] = request.args[name]
    return values


@bp.get("/alerts")
@permission_required("read_hall")
def index():
    """`?kind=&department=&status=&from=YYYY-MM-DD&to=YYYY-MM-DD&page=N`, newest first."""
    runtime = current_app.extensions["hallwatch"]
    registry = runtime.registry()
    allowed = visible_departments(current_user, registry)
    today = day_of(registry.hall, datetime.now(UTC))
    filters, errors = parse_filters(request.args, allowed, today)
    context = {
        "form": _form_values(filters),
        "errors": errors,
        "kinds": {kind: ALERT_KIND_WORDS[kind] for kind in ALERT_KINDS},
        "departments": [(d.id, d.name) for d in registry.departments if d.id in allowed],
        "statuses": STATUS_WORDS,
        "note_max": NOTE_MAX_CHARS,
        "rows": [],
        "total": 0,
        "page": 1,
        "pages": 1,
    }
    if errors:
        return render_template("alerts.html", **context), 400
    query = _query(filters, registry)
    may_ack = can(current_user, "acknowledge")
    with runtime.sessions() as db:
        total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
        pages = max(1, ceil(total / PAGE_SIZE))
        page = min(filters.page, pages)  # past the end: the last page
        rows = db.scalars(
            query.order_by(AlertRow.opened_at.desc(), AlertRow.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
        context["rows"] = [_row_view(row, registry, may_ack) for row in rows]
    args = filters.args()
    context.update(
        total=total,
        page=page,
        pages=pages,
        previous_url=url_for(".index", **args, page=page - 1) if page > 1 else None,
        next_url=url_for(".index", **args, page=page + 1) if page < pages else None,
        back=request.full_path.rstrip("?"),
    )
    return render_template("alerts.html", **context)


def _back_to(target: str | None, alert_id: int) -> str:
    """The alerts page the form was on (a local path only), scrolled to the alert."""
    index_path = url_for(".index")
    back = index_path
    if target and safe_next(target) == target:
        parts = urlsplit(target)
        if parts.path == index_path:
            back = urlunsplit(("", "", parts.path, parts.query, ""))
    return f"{back}#alert-{alert_id}"


@bp.post("/alerts/<int:alert_id>/ack")
@permission_required("acknowledge")
def ack(alert_id: int):
    """Acknowledge one alert the user may see, with an optional note; back to the list."""
    back = _back_to(request.form.get("next"), alert_id)
    # Browsers send a textarea's line breaks as CRLF; maxlength counts them as one.
    note = request.form.get("note", "").replace("\r\n", "\n").strip()
    if len(note) > NOTE_MAX_CHARS:
        flash(
            gettext(
                "备注最多 %(max)d 个字(收到 %(got)d 个),告警 #%(id)d 未确认。",
                max=NOTE_MAX_CHARS,
                got=len(note),
                id=alert_id,
            ),
            "error",
        )
        return redirect(back, 303)
    with current_app.extensions["hallwatch"].sessions() as db:
        now = datetime.now(UTC)
        row = acknowledge(db, alert_id, current_user, note or None, now)
        if row is None:
            abort(404)
        note_acknowledged(db, row, now)
        db.commit()
        by, at = row.acknowledged_by, row.acknowledged_at
    if by == current_user.username:
        flash(gettext("已确认告警 #%(id)d", id=alert_id), "info")
    else:  # the first acknowledgement stands
        flash(
            gettext(
                "告警 #%(id)d 已由 %(user)s 于 %(at)s 确认,您的备注未保存。",
                id=alert_id,
                user=by,
                at=_stamp(at),
            ),
            "info",
        )
    return redirect(back, 303)
