"""The audit trail's page (/ops/audit, admins and inspectors): the chain's state, the
records newest first with filters and pages, each record's changes key by key, and the
chosen records as CSV (a download that is itself recorded)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext, lazy_gettext

from hallwatch.metrics.export_csv import CSV_ENCODING, FORMULA_STARTS
from hallwatch.registry.audit import AuditRow, head, verify
from hallwatch.registry.audit_query import (
    AuditFilter,
    actions,
    count,
    describe,
    key_changes,
    newest_first,
    page,
    shown,
)
from web.audit_trail import note_download
from web.report_downloads import content_disposition
from web.roles import permission_required

bp = Blueprint("ops_audit", __name__)

PAGE_SIZE = 50  # records per page
CSV_MAX_ROWS = 100_000  # records in one CSV; narrow the filters for more
CSV_HEADERS = ("序号", "时间", "操作人", "地址", "操作", "对象", "变更", "变更前", "变更后", "哈希")


ACTION_WORDS = {
    "login": lazy_gettext("登录"),
    "login.failed": lazy_gettext("登录失败"),
    "logout": lazy_gettext("退出登录"),
    "user.add": lazy_gettext("添加用户"),
    "user.change": lazy_gettext("修改用户"),
    "user.delete": lazy_gettext("删除用户"),
    "channel.add": lazy_gettext("添加通知渠道"),
    "channel.remove": lazy_gettext("删除通知渠道"),
    "alert.acknowledge": lazy_gettext("确认告警"),
    "appeal.file": lazy_gettext("提交申诉"),
    "appeal.accept": lazy_gettext("接受申诉"),
    "appeal.reject": lazy_gettext("驳回申诉"),
    "appeal.withdraw": lazy_gettext("撤回申诉"),
    "card.register": lazy_gettext("登记卡片"),
    "download.workbook": lazy_gettext("下载报表(Excel)"),
    "download.ranking": lazy_gettext("下载排名(CSV)"),
    "download.csv_archive": lazy_gettext("下载报表(CSV 压缩包)"),
    "download.public_ranking": lazy_gettext("下载公开排名"),
    "download.registry": lazy_gettext("下载名册文件"),
    "download.audit": lazy_gettext("导出审计日志"),
    "export.registry": lazy_gettext("下载名册(Excel)"),
    "registry.import": lazy_gettext("导入名册"),
    "roster.import": lazy_gettext("从 Excel 导入排班"),
    "staff.add": lazy_gettext("添加人员"),
    "staff.edit": lazy_gettext("修改人员"),
    "staff.move": lazy_gettext("调动人员"),
    "staff.retire": lazy_gettext("停用人员"),
    "card.add": lazy_gettext("添加工卡"),
    "card.remove": lazy_gettext("移除工卡"),
    "window.add": lazy_gettext("添加窗口"),
    "window.edit": lazy_gettext("修改窗口"),
    "window.move": lazy_gettext("窗口改属部门"),
    "window.retire": lazy_gettext("停用窗口"),
    "device.add": lazy_gettext("添加设备"),
    "device.edit": lazy_gettext("修改设备"),
    "device.move": lazy_gettext("移动设备"),
    "device.retire": lazy_gettext("停用设备"),
    "roster.add": lazy_gettext("添加排班"),
    "roster.edit": lazy_gettext("修改排班"),
    "roster.end": lazy_gettext("结束排班"),
    "leave.request": lazy_gettext("提交请假报备"),
    "leave.approve": lazy_gettext("批准请假"),
    "leave.reject": lazy_gettext("驳回请假"),
    "leave.withdraw": lazy_gettext("撤回请假"),
    "swap.request": lazy_gettext("提交调班申请"),
    "swap.approve": lazy_gettext("批准调班"),
    "swap.reject": lazy_gettext("驳回调班"),
    "swap.withdraw": lazy_gettext("撤回调班"),
    "replacement.request": lazy_gettext("提交人员更换申请"),
    "replacement.approve": lazy_gettext("批准人员更换"),
    "replacement.reject": lazy_gettext("驳回人员更换"),
    "replacement.withdraw": lazy_gettext("撤回人员更换"),
}  # an action not named here (a newer one) is shown by its code alone
BREAK_WORDS = {
    "missing": lazy_gettext("记录缺失(被删除)"),
    "out_of_chain": lazy_gettext("与前一条记录接不上"),
    "edited": lazy_gettext("内容与哈希不符(被改动)"),
}


@dataclass
class Filters:
    """The filters as typed (shown back in the form), the filter they make, and errors by field."""

    typed: dict[str, str]
    chosen: AuditFilter
    errors: dict[str, str] = field(default_factory=dict)


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def read_filters(args, tz) -> Filters:
    """`?actor=&action=&from=&until=&target=` (dates in hall time, both days included)."""
    typed = {k: args.get(k, "").strip() for k in ("actor", "action", "from", "until", "target")}
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for key in ("from", "until"):
        try:
            days[key] = _day(typed[key])
        except ValueError:
            errors[key] = gettext("请输入日期,如 2026-11-23")
            days[key] = None
    start, until = days["from"], days["until"]
    if start and until and until < start:
        errors["until"] = gettext("结束日期不能早于开始日期")
    chosen = AuditFilter(
        actor=typed["actor"],
        action=typed["action"],
        start=datetime.combine(start, time(), tzinfo=tz) if start else None,
        end=datetime.combine(until + timedelta(days=1), time(), tzinfo=tz) if until else None,
        target=typed["target"],
    )
    return Filters(typed, chosen, errors)


@bp.app_template_filter("audit_value")
def audit_value(value) -> str:
    """A before/after value as text ("—" for none)."""
    return shown(value) or "—"


def _runtime():
    return current_app.extensions["hallwatch"]


def _page_number() -> int:
    text = request.args.get("page", "1")
    return int(text) if text.isdigit() and int(text) >= 1 else 1


def _row_view(row: AuditRow) -> dict:
    return {
        "seq": row.seq,
        "at": row.at,
        "actor": row.actor,
        "address": row.address,
        "action": row.action,
        "target": row.target,
        "changes": key_changes(row.before, row.after),
    }


@bp.get("/ops/audit")
@permission_required("read_audit")
def index():
    """The chain's state, then one page of the chosen records, newest first."""
    tz = _runtime().registry().hall.tz
    filters = read_filters(request.args, tz)
    number = _page_number()
    with _runtime().sessions() as db:
        total, breaks = verify(db)
        newest = head(db)
        present = actions(db)
        matching = 0 if filters.errors else count(db, filters.chosen)
        pages = max(1, -(-matching // PAGE_SIZE))
        number = min(number, pages)
        chosen = (
            [] if filters.errors else page(db, filters.chosen, (number - 1) * PAGE_SIZE, PAGE_SIZE)
        )
        rows = [_row_view(r) for r in chosen]
    query = {k: v for k, v in filters.typed.items() if v}
    return render_template(
        "ops_audit.html",
        total=total,
        breaks=breaks,
        break_words=BREAK_WORDS,
        action_words=ACTION_WORDS,
        head=newest,
        actions=present,
        typed=filters.typed,
        errors=filters.errors,
        rows=rows,
        matching=matching,
        number=number,
        pages=pages,
        query=query,
    ), 400 if filters.errors else 200


def _cell(value) -> str | int:
    """Text Excel would run as a formula is quoted, as the report CSVs do."""
    if isinstance(value, int):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def audit_csv(rows, tz) -> bytes:
    """Records as CSV: UTF-8 with BOM, CRLF, Chinese headers, formula-looking text quoted."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    for row in rows:
        changes = describe(key_changes(row.before, row.after))
        at = row.at.astimezone(tz).isoformat(timespec="seconds")
        cells = (row.seq, at, row.actor, row.address, row.action, row.target, changes)
        writer.writerow([_cell(c) for c in (*cells, shown(row.before), shown(row.after), row.hash)])
    return out.getvalue().encode(CSV_ENCODING)


@bp.get("/ops/audit.csv")
@permission_required("read_audit")
def export():
    """The chosen records (all pages, newest first) as CSV; the download is recorded."""
    tz = _runtime().registry().hall.tz
    filters = read_filters(request.args, tz)
    if filters.errors:
        return Response("\n".join(filters.errors.values()) + "\n", 400, mimetype="text/plain")
    with _runtime().sessions() as db:
        rows = db.scalars(newest_first(filters.chosen).limit(CSV_MAX_ROWS))
        data = audit_csv(rows, tz)
    name = f"hallwatch-audit-{datetime.now(tz):%Y%m%d-%H%M}.csv"
    note_download("audit", name, **{k: v for k, v in filters.typed.items() if v})
    response = Response(data, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = content_disposition(name, name)
    response.headers["Cache-Control"] = "private, no-store"
    return response
