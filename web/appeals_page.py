"""The appeals page (考核申诉): department heads file, hall managers decide, all in scope read.

Rendered whole on the server (no JavaScript). A bad field is shown back beside
it (Flask-WTF); another department's appeal, window or alert is simply not
found, 404. Decided appeals show who decided, when and why, and offer no form.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectChoice, SelectField, SubmitField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from alerts.messages import department_name, staff_name, window_name
from hallwatch.influx.client import QueryError
from hallwatch.metrics.appeals import from_microseconds
from hallwatch.metrics.report import minutes
from hallwatch.registry.appeals import (
    NOTE_MAX_CHARS,
    PENDING,
    REASON_MAX_CHARS,
    REASONS,
    AppealDecided,
    AppealRefused,
    file_appeal,
    visible_to,
    withdraw,
)
from hallwatch.registry.models import AppealRow
from hallwatch.registry.spec import Registry
from web.appeal_filing import NotInScope, appealable_alerts, episode_filing, window_filing
from web.appeals_api import settle
from web.audit_trail import note_appeal
from web.pages import ALERT_KIND_WORDS
from web.roles import can, permission_required
from web.scope import visible_windows
from web.unavailable import store_reason

bp = Blueprint("appeal_pages", __name__)

STAMP = "yyyy-MM-dd HH:mm"  # Babel pattern, hall time
SUBJECT_WORDS = {
    "window": lazy_gettext("窗口时段"),
    "absence": lazy_gettext("未签到"),
    "pulled_back": lazy_gettext("被抽回"),
}
REASON_WORDS = {
    "sensor_fault": lazy_gettext("设备故障"),
    "errand": lazy_gettext("经批准的公务外出"),
    "outage": lazy_gettext("系统故障"),
}
STATUS_WORDS = {
    "pending": lazy_gettext("待处理"),
    "accepted": lazy_gettext("已接受"),
    "rejected": lazy_gettext("已驳回"),
    "withdrawn": lazy_gettext("已撤回"),
}
STATUS_FILTER = ("all", *STATUS_WORDS)
MAX_LISTED = 500


def _reason_field() -> SelectField:
    return SelectField(
        lazy_gettext("申诉原因"),
        choices=[SelectChoice(r, REASON_WORDS[r]) for r in REASONS],
        validators=[InputRequired(message=lazy_gettext("请选择申诉原因"))],
        validate_choice=True,
    )


def _reason_text_field() -> TextAreaField:
    return TextAreaField(
        lazy_gettext("申诉说明"),
        validators=[
            DataRequired(message=lazy_gettext("请写明申诉理由")),
            Length(
                max=REASON_MAX_CHARS,
                message=lazy_gettext("申诉说明最多 %(n)s 个字", n=REASON_MAX_CHARS),
            ),
        ],
    )


class WindowAppealForm(FlaskForm):
    """A stretch of one window's day."""

    window = SelectField(lazy_gettext("窗口"), validate_choice=True)
    day = DateField(
        lazy_gettext("日期"),
        validators=[InputRequired(message=lazy_gettext("请输入日期,如 2026-11-23"))],
    )
    start = TimeField(
        lazy_gettext("开始时间"),
        validators=[InputRequired(message=lazy_gettext("请输入开始时间,如 10:00"))],
    )
    end = TimeField(
        lazy_gettext("结束时间"),
        validators=[InputRequired(message=lazy_gettext("请输入结束时间,如 10:30"))],
    )
    reason = _reason_field()
    reason_text = _reason_text_field()

    def validate_end(self, field) -> None:
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError(gettext("结束时间须晚于开始时间"))


class EpisodeAppealForm(FlaskForm):
    """One absence or pull-back, picked from the department's alerts."""

    alert = SelectField(lazy_gettext("未签到或被抽回告警"), coerce=int, validate_choice=True)
    reason = _reason_field()
    reason_text = _reason_text_field()


class DecideForm(FlaskForm):
    note = TextAreaField(
        lazy_gettext("处理意见"),
        validators=[
            DataRequired(message=lazy_gettext("请填写处理意见")),
            Length(
                max=NOTE_MAX_CHARS,
                message=lazy_gettext("处理意见最多 %(n)s 个字", n=NOTE_MAX_CHARS),
            ),
        ],
    )
    accept = SubmitField(lazy_gettext("接受申诉"))
    reject = SubmitField(lazy_gettext("驳回申诉"))


class WithdrawForm(FlaskForm):
    submit = SubmitField(lazy_gettext("撤回申诉"))


def _runtime():
    return current_app.extensions["hallwatch"]


def _stamp(at: datetime | None) -> str:
    return format_datetime(at, STAMP) if at else ""


def _clock(at: datetime | None, registry: Registry) -> str:
    return at.astimezone(registry.hall.tz).strftime("%H:%M") if at else ""


def _window_choices(registry: Registry) -> list[SelectChoice]:
    visible = visible_windows(current_user, registry)
    return [SelectChoice(w.id, w.name) for w in registry.windows if w.id in visible]


def _alert_choices(registry: Registry) -> list[SelectChoice]:
    with _runtime().sessions() as db:
        rows = list(db.scalars(appealable_alerts(current_user, registry)))
    return [
        SelectChoice(
            row.id,
            f"#{row.id} {_stamp(row.opened_at)} {ALERT_KIND_WORDS.get(row.kind, row.kind)} "
            f"{staff_name(registry, row.staff_id) if row.staff_id else ''}",
        )
        for row in rows
    ]


def _forms(registry: Registry) -> tuple[WindowAppealForm, EpisodeAppealForm]:
    window_form = WindowAppealForm(prefix="w")
    window_form.window.choices = _window_choices(registry)
    episode_form = EpisodeAppealForm(prefix="e")
    episode_form.alert.choices = _alert_choices(registry)
    return window_form, episode_form


def _excused_text(row: AppealRow) -> str:
    """What an accepted appeal took out of the reports (its original figure)."""
    if row.status != "accepted":
        return ""
    if row.subject == "window":
        m = from_microseconds(row.minutes_us)
        return gettext(
            "应在岗 %(scheduled)s 分钟(在岗 %(staffed)s、暂离 %(away)s、空岗 %(empty)s、"
            "未知 %(unknown)s)",
            scheduled=minutes(m.scheduled),
            staffed=minutes(m.staffed),
            away=minutes(m.away),
            empty=minutes(m.empty),
            unknown=minutes(m.unknown),
        )
    return gettext("%(n)s 次", n=row.excused_count or 0)


def _what(row: AppealRow, registry: Registry) -> str:
    if row.subject == "window":
        return gettext(
            "%(window)s %(day)s %(start)s–%(end)s",
            window=window_name(registry, row.window_id),
            day=row.day.isoformat(),
            start=_clock(row.start, registry),
            end=_clock(row.end, registry),
        )
    return gettext(
        "%(person)s %(day)s %(at)s",
        person=staff_name(registry, row.staff_id),
        day=row.day.isoformat(),
        at=_clock(row.start, registry),
    )


def _row_view(row: AppealRow, registry: Registry, decide_form: DecideForm | None) -> dict:
    pending = row.status == PENDING
    may_decide = pending and can(current_user, "decide_appeals")
    return {
        "id": row.id,
        "subject": SUBJECT_WORDS.get(row.subject, row.subject),
        "what": _what(row, registry),
        "department": department_name(registry, row.department_id),
        "reason": REASON_WORDS.get(row.reason, row.reason),
        "reason_text": row.reason_text,
        "status": row.status,
        "status_word": STATUS_WORDS.get(row.status, row.status),
        "filed_by": row.filed_by,
        "filed_at": _stamp(row.filed_at),
        "decided_by": row.decided_by or "",
        "decided_at": _stamp(row.decided_at),
        "note": row.note or "",
        "excused": _excused_text(row),
        "decide_form": (decide_form or DecideForm(formdata=None)) if may_decide else None,
        "withdrawable": pending and row.filed_by == current_user.username,
    }


def _render(window_form=None, episode_form=None, failed: tuple[int, DecideForm] | None = None):
    """The page; a form that failed is passed in to be shown back with its errors."""
    registry = _runtime().registry()
    status = request.args.get("status", "all")
    if status not in STATUS_FILTER:
        status = "all"
    fresh_window, fresh_episode = _forms(registry)
    window_form = window_form or fresh_window
    episode_form = episode_form or fresh_episode
    query = select(AppealRow).where(*visible_to(current_user, registry.hall.id))
    if status != "all":
        query = query.where(AppealRow.status == status)
    query = query.order_by(AppealRow.filed_at.desc(), AppealRow.id.desc()).limit(MAX_LISTED)
    with _runtime().sessions() as db:
        rows = list(db.scalars(query))
    views = [
        _row_view(r, registry, failed[1] if failed and failed[0] == r.id else None) for r in rows
    ]
    code = 400 if (window_form.errors or episode_form.errors or failed) else 200
    return render_template(
        "appeals.html",
        rows=views,
        status=status,
        statuses=[("all", gettext("全部")), *STATUS_WORDS.items()],
        may_file=can(current_user, "appeal"),
        window_form=window_form,
        episode_form=episode_form,
        withdraw_form=WithdrawForm(formdata=None),
    ), code


@bp.get("/appeals")
@permission_required("read_hall")
def index():
    """`?status=all|pending|accepted|rejected|withdrawn`, newest first."""
    return _render()


def _filed(filing) -> object:
    """File it; a redirect to the list, or None with the reason flashed."""
    try:
        with _runtime().sessions() as db:
            now = datetime.now(UTC)
            row = file_appeal(db, filing, current_user.username, now)
            note_appeal(db, row, "appeal.file", now)
            db.commit()
    except AppealRefused as exc:
        flash(gettext("这段时间或这次告警已有申诉 #%(id)s,不能重复申诉。", id=exc.other), "error")
        return None
    flash(gettext("已提交申诉 #%(id)d,等待大厅负责人处理。", id=row.id), "info")
    return redirect(url_for(".index") + f"#appeal-{row.id}", 303)


@bp.post("/appeals/window")
@permission_required("appeal")
def file_window():
    """File an appeal against a stretch of one window's day."""
    registry = _runtime().registry()
    form, _ = _forms(registry)
    if not form.validate_on_submit():
        return _render(window_form=form)
    tz = registry.hall.tz
    start = datetime.combine(form.day.data, form.start.data, tzinfo=tz)
    end = datetime.combine(form.day.data, form.end.data, tzinfo=tz)
    now = datetime.now(UTC)
    if end > now:
        form.end.errors.append(gettext("只能对已经过去的时段申诉"))
        return _render(window_form=form)
    try:
        filing = window_filing(
            current_user,
            registry,
            form.window.data,
            start,
            end,
            form.reason.data,
            form.reason_text.data,
            now,
        )
    except NotInScope:
        abort(404)
    return _filed(filing) or _render(window_form=form)


@bp.post("/appeals/episode")
@permission_required("appeal")
def file_episode():
    """File an appeal against one absence or pull-back."""
    registry = _runtime().registry()
    _, form = _forms(registry)
    if not form.validate_on_submit():
        return _render(episode_form=form)
    try:
        filing = episode_filing(
            current_user, registry, form.alert.data, form.reason.data, form.reason_text.data
        )
    except NotInScope:
        abort(404)
    return _filed(filing) or _render(episode_form=form)


@bp.post("/appeals/<int:appeal_id>/decide")
@permission_required("decide_appeals")
def decide(appeal_id: int):
    """Accept or reject (the button pressed) with a required note."""
    form = DecideForm()
    if not form.validate_on_submit():
        return _render(failed=(appeal_id, form))
    try:
        row = settle(appeal_id, bool(form.accept.data), form.note.data)
    except AppealDecided:
        flash(gettext("申诉 #%(id)d 已经处理过,不能再修改。", id=appeal_id), "error")
        return redirect(url_for(".index") + f"#appeal-{appeal_id}", 303)
    except QueryError as exc:
        flash(
            gettext("事件库不可用,暂时无法核算该时段:%(reason)s", reason=store_reason(exc)), "error"
        )
        return redirect(url_for(".index") + f"#appeal-{appeal_id}", 303)
    if row is None:
        abort(404)
    word = STATUS_WORDS[row.status]
    flash(gettext("申诉 #%(id)d %(status)s", id=appeal_id, status=word), "info")
    return redirect(url_for(".index") + f"#appeal-{appeal_id}", 303)


@bp.post("/appeals/<int:appeal_id>/withdraw")
@permission_required("appeal")
def withdraw_appeal(appeal_id: int):
    """Withdraw a pending appeal the user filed."""
    if not WithdrawForm().validate_on_submit():
        abort(400)
    registry = _runtime().registry()
    try:
        with _runtime().sessions() as db:
            now = datetime.now(UTC)
            scope = visible_to(current_user, registry.hall.id)
            row = withdraw(db, appeal_id, current_user.username, now, scope)
            if row is not None:
                note_appeal(db, row, "appeal.withdraw", now)
            db.commit()
    except AppealDecided:
        flash(gettext("申诉 #%(id)d 已经处理过,不能撤回。", id=appeal_id), "error")
        return redirect(url_for(".index"), 303)
    if row is None:
        abort(404)
    flash(gettext("已撤回申诉 #%(id)d", id=appeal_id), "info")
    return redirect(url_for(".index"), 303)
