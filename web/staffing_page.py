"""The staffing page (人员调整): leave, shift swaps and replacements asked for and decided.

Department heads file for their own department (hall managers may file too); hall
managers and admins approve or reject with a note, which changes the registry in the
same transaction; the filer may withdraw a pending request; inspectors read. A bad field
is shown back beside it; what the registry refuses on approval is shown back whole and
nothing is decided. Rendered on the server, no JavaScript.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice

from alerts.messages import department_name
from hallwatch.access import Scope
from hallwatch.registry.file import RegistryError
from hallwatch.registry.spec import Registry
from hallwatch.registry.staffing import (
    PENDING,
    STATUSES,
    Decision,
    Filed,
    RequestDecided,
    StaffingRequestRow,
    decide,
    file_request,
    pending_leave,
    visible_to,
    withdraw,
)
from hallwatch.registry.staffing_rules import (
    StaffingRefused,
    leave_request,
    replacement_request,
    swap_request,
)
from hallwatch.schedule import DaySchedule
from web.roles import can, permission_required
from web.scope import visible_staff, visible_windows
from web.staffing_forms import (
    LEAVE_TYPE_WORDS,
    DecideForm,
    LeaveForm,
    ReplacementForm,
    SwapForm,
    WithdrawForm,
    show_refusal,
)
from web.staffing_notices import notify_decided, notify_filed, what

bp = Blueprint("staffing", __name__)

STAMP = "yyyy-MM-dd HH:mm"  # Babel pattern, hall time
KIND_WORDS = {
    "leave": lazy_gettext("请假报备"),
    "swap": lazy_gettext("调班"),
    "replacement": lazy_gettext("人员更换"),
}
STATUS_WORDS = {
    "pending": lazy_gettext("待审批"),
    "approved": lazy_gettext("已批准"),
    "rejected": lazy_gettext("已驳回"),
    "withdrawn": lazy_gettext("已撤回"),
}
MAX_LISTED = 500


def _runtime():
    return current_app.extensions["hallwatch"]


def _forms(registry: Registry, failed: FlaskForm | None = None) -> dict[str, FlaskForm]:
    """Every filing form with its choices (the user's people and windows); `failed` as
    submitted, in place of its fresh one."""
    people = [
        SelectChoice(s.id, f"{s.name} ({s.id})") for s in visible_staff(current_user, registry)
    ]
    seen = visible_windows(current_user, registry)
    windows = [SelectChoice(w.id, w.name) for w in registry.windows if w.id in seen]
    fresh = {
        "leave": LeaveForm(prefix="leave", formdata=None),
        "staff_swap": SwapForm(prefix="swap", formdata=None, by="staff"),
        "window_swap": SwapForm(prefix="wswap", formdata=None, by="windows"),
        "replacement": ReplacementForm(prefix="repl", formdata=None),
    }
    forms = fresh
    if failed is not None:
        forms[_form_key(failed)] = failed
    forms["leave"].staff.choices = people
    for key, choices in (("staff_swap", people), ("window_swap", windows)):
        forms[key].first.choices = choices
        forms[key].second.choices = choices
    forms["replacement"].window.choices = windows
    forms["replacement"].leaving.choices = people
    forms["replacement"].coming.choices = [SelectChoice("", gettext("新人员(填写下方)")), *people]
    return forms


def _form_key(form: FlaskForm) -> str:
    if isinstance(form, LeaveForm):
        return "leave"
    if isinstance(form, ReplacementForm):
        return "replacement"
    return "window_swap" if form.by.data == "windows" else "staff_swap"


def _stamp(at: datetime | None) -> str:
    return format_datetime(at, STAMP) if at else ""


def _row_view(row: StaffingRequestRow, registry: Registry, failed) -> dict:
    pending = row.status == PENDING
    decide_form = None
    if pending and can(current_user, "decide_staffing"):
        decide_form = failed[1] if failed and failed[0] == row.id else DecideForm(formdata=None)
    return {
        "id": row.id,
        "kind": KIND_WORDS.get(row.kind, row.kind),
        "what": what(row, registry),
        "department": department_name(registry, row.department_id),
        "reason": row.reason,
        "filed_by": row.filed_by,
        "filed_at": _stamp(row.filed_at),
        "status": row.status,
        "status_word": STATUS_WORDS.get(row.status, row.status),
        "decided_by": row.decided_by or "",
        "decided_at": _stamp(row.decided_at),
        "note": row.note or "",
        "decide_form": decide_form,
        "withdrawable": pending and row.filed_by == current_user.username,
    }


def _render(failed_form: FlaskForm | None = None, failed=None, problems=()):
    """The page; a form that failed is shown back with its errors."""
    registry = _runtime().registry()
    status = request.args.get("status", "all")
    status = status if status in STATUSES else "all"
    query = select(StaffingRequestRow).where(*visible_to(current_user, registry.hall.id))
    if status != "all":
        query = query.where(StaffingRequestRow.status == status)
    query = query.order_by(StaffingRequestRow.id.desc()).limit(MAX_LISTED)
    with _runtime().sessions() as db:
        rows = [_row_view(r, registry, failed) for r in db.scalars(query)]
    code = 400 if (failed_form is not None or failed or problems) else 200
    return render_template(
        "staffing.html",
        rows=rows,
        status=status,
        statuses=[("all", gettext("全部")), *STATUS_WORDS.items()],
        may_file=can(current_user, "request_staffing"),
        forms=_forms(registry, failed_form),
        leave_types=LEAVE_TYPE_WORDS,
        problems=problems,
        withdraw_form=WithdrawForm(formdata=None),
    ), code


@bp.get("/staffing")
@permission_required("read_hall")
def index():
    """`?status=all|pending|approved|rejected|withdrawn`, newest first."""
    return _render()


def _filed(form: FlaskForm, build) -> object:
    """Check the request (`build(filed)`), store it and tell the hall managers."""
    registry = _runtime().registry(fresh=True)
    now = datetime.now(UTC)
    filed = Filed(registry, Scope.of(current_user), current_user.username, now)
    try:
        row = build(filed)
    except StaffingRefused as refused:
        show_refusal(form, refused)
        return _render(failed_form=form)
    with _runtime().sessions() as db:
        row = file_request(db, filed, row)
        notify_filed(db, row, registry, now)
        db.commit()
    flash(gettext("已提交申请 #%(id)d,等待大厅负责人审批。", id=row.id), "info")
    return redirect(url_for(".index") + f"#request-{row.id}", 303)


def _validated(form: FlaskForm) -> bool:
    _forms(_runtime().registry(), form)  # the choices, to validate the choice made
    return form.validate_on_submit()


@bp.post("/staffing/leave")
@permission_required("request_staffing")
def file_leave():
    """Leave of one person: from a day (and time) until a day (and time)."""
    form = LeaveForm(prefix="leave")
    if not _validated(form):
        return _render(failed_form=form)
    tz = _runtime().registry().hall.tz
    start = datetime.combine(form.from_day.data, form.from_time.data or time(0), tzinfo=tz)
    if form.until_time.data is not None:
        end = datetime.combine(form.until_day.data, form.until_time.data, tzinfo=tz)
    else:
        end = datetime.combine(form.until_day.data + timedelta(days=1), time(0), tzinfo=tz)
    kind, reason = form.type.data, form.reason.data or ""
    return _filed(form, lambda f: leave_request(f, form.staff.data, start, end, kind, reason))


@bp.post("/staffing/swap")
@permission_required("request_staffing")
def file_swap():
    """Two people (`by=staff`) or two windows (`by=windows`) swap one day."""
    by = request.form.get("swap-by") or request.form.get("wswap-by")
    form = SwapForm(prefix="wswap" if by == "windows" else "swap")
    if not _validated(form):
        return _render(failed_form=form)
    pair = (form.first.data, form.second.data)
    people, windows = (None, pair) if form.by.data == "windows" else (pair, None)
    return _filed(form, lambda f: swap_request(f, form.day.data, people, windows))


@bp.post("/staffing/replacement")
@permission_required("request_staffing")
def file_replacement():
    """From a date, another person of the department, or a new one, works X's window."""
    form = ReplacementForm(prefix="repl")
    if not _validated(form):
        return _render(failed_form=form)
    newcomer = None
    if not form.coming.data:
        newcomer = (form.new_id.data or "", form.new_name.data or "", form.new_card.data or "")
    args = (form.window.data, form.leaving.data, form.day.data, form.coming.data or "")
    return _filed(form, lambda f: replacement_request(f, *args, newcomer=newcomer))


@bp.post("/staffing/<int:request_id>/decide")
@permission_required("decide_staffing")
def decide_request(request_id: int):
    """Approve or reject (the button pressed) with a required note."""
    form = DecideForm()
    if not form.validate_on_submit():
        return _render(failed=(request_id, form))
    runtime = _runtime()
    registry = runtime.registry(fresh=True)
    now = datetime.now(UTC)
    decision = Decision(
        current_user.username,
        bool(form.approve.data),
        form.note.data,
        now,
        visible_to(current_user, registry.hall.id),
        request.remote_addr or "",
        Scope.of(current_user).halls,
    )
    try:
        with runtime.sessions() as db:
            row = decide(db, request_id, decision)
            if row is None:
                abort(404)
            notify_decided(db, row, registry, now)
            db.commit()
    except RequestDecided:
        flash(gettext("申请 #%(id)d 已经处理过,不能再修改。", id=request_id), "error")
        return redirect(url_for(".index") + f"#request-{request_id}", 303)
    except RegistryError as exc:
        form.note.errors = [gettext("名册拒绝了这项调整,申请仍待审批:")]
        return _render(failed=(request_id, form), problems=exc.problems)
    runtime.registry(fresh=True)
    word = STATUS_WORDS[row.status]
    flash(gettext("申请 #%(id)d %(status)s", id=request_id, status=word), "info")
    return redirect(url_for(".index") + f"#request-{request_id}", 303)


@bp.post("/staffing/<int:request_id>/withdraw")
@permission_required("request_staffing")
def withdraw_request(request_id: int):
    """Withdraw a pending request the user filed."""
    if not WithdrawForm().validate_on_submit():
        abort(400)
    registry = _runtime().registry()
    scope = visible_to(current_user, registry.hall.id)
    try:
        with _runtime().sessions() as db:
            row = withdraw(db, request_id, current_user.username, datetime.now(UTC), scope)
            db.commit()
    except RequestDecided:
        flash(gettext("申请 #%(id)d 已经处理过,不能撤回。", id=request_id), "error")
        return redirect(url_for(".index"), 303)
    if row is None:
        abort(404)
    flash(gettext("已撤回申请 #%(id)d", id=request_id), "info")
    return redirect(url_for(".index"), 303)


def pending_leave_marks(registry: Registry, at: datetime, allowed: set[str]) -> dict:
    """Window id → names of people rostered there on `at`'s day whose leave that day is
    asked for and not yet decided (the floor view's 请假待批 marker)."""
    day = DaySchedule(registry, at.astimezone(registry.hall.tz).date())
    with _runtime().sessions() as db:
        rows = pending_leave(db, registry.hall.id, day.start, day.end)
    marks: dict[str, list[str]] = {}
    for row in rows:
        person = registry.staff_by_id.get(row.staff_id or "")
        for duty in day.duties_of(row.staff_id or ""):
            names = marks.setdefault(duty.window, []) if duty.window in allowed else None
            if names is not None and person is not None and person.name not in names:
                names.append(person.name)
    return marks
