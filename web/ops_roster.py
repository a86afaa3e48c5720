"""The roster from the browser (/ops/roster): each person's weekly pattern at a window, with
an optional date range and hours; list and search, add, edit, end a line on a date. A line
is named by its key (hallwatch.registry.roster_edits.line_key). The department heads of
the person and of the window hear of each change (web/ops_notify.py)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import InputRequired, Optional, ValidationError

from hallwatch.registry import roster_edits, values
from hallwatch.registry.spec import WEEKDAYS, Registry
from web.ops_forms import apply, errors_of, keyed_lines, runtime, staff_choices, window_choices
from web.ops_notify import Notice
from web.roles import permission_required

bp = Blueprint("ops_roster", __name__, url_prefix="/ops/roster")

DAY_WORDS = {
    "mon": lazy_gettext("周一"),
    "tue": lazy_gettext("周二"),
    "wed": lazy_gettext("周三"),
    "thu": lazy_gettext("周四"),
    "fri": lazy_gettext("周五"),
    "sat": lazy_gettext("周六"),
    "sun": lazy_gettext("周日"),
}
FIELDS = {"from": "start", "until": "until", "hours": "hours"}


def _some_day(form, field) -> None:
    if not field.data:
        raise ValidationError(gettext("请至少选择一天"))


class LineForm(FlaskForm):
    window = SelectField(
        lazy_gettext("窗口"),
        validators=[InputRequired(message=lazy_gettext("请选择窗口"))],
        validate_choice=True,
    )
    days = SelectMultipleField(
        lazy_gettext("工作日"),
        choices=[SelectChoice(day, DAY_WORDS[day]) for day in WEEKDAYS],
        default=["mon", "tue", "wed", "thu", "fri"],
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validators=[_some_day],  # not InputRequired: a browser would then demand every box
    )
    start = DateField(lazy_gettext("自(可不填)"), validators=[Optional()])
    until = DateField(lazy_gettext("至(可不填)"), validators=[Optional()])
    hours = StringField(lazy_gettext("时段(可不填,如 09:00-12:00, 13:30-17:30)"))

    def validate_hours(self, field: StringField) -> None:
        try:
            roster_edits.hours_of(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def values(self) -> dict:
        return {
            "window": self.window.data,
            "days": [d for d in WEEKDAYS if d in self.days.data],
            "start": self.start.data,
            "until": self.until.data,
            "hours": roster_edits.hours_of(self.hours.data),
        }


class AddLineForm(LineForm):
    staff = SelectField(
        lazy_gettext("人员"),
        validators=[InputRequired(message=lazy_gettext("请选择人员"))],
        validate_choice=True,
    )


class EndForm(FlaskForm):
    last_day = DateField(
        lazy_gettext("最后一天"), validators=[InputRequired(message=lazy_gettext("请选择日期"))]
    )


def _with_choices(registry: Registry, form: LineForm) -> LineForm:
    form.window.choices = window_choices(registry)
    if hasattr(form, "staff"):
        form.staff.choices = staff_choices(registry)
    return form


def _matches(line: dict, registry: Registry, query: str) -> bool:
    query = query.strip().lower()
    person = registry.staff_by_id.get(line["staff"])
    window = registry.window_by_id.get(line["window"])
    words = [line["staff"], line["window"], person and person.name, window and window.name]
    return not query or any(query in (w or "").lower() for w in words)


def _departments(registry: Registry, staff: str, *windows: str) -> set[str]:
    """The departments a roster change concerns: the person's and each window's."""
    found = {getattr(registry.staff_by_id.get(staff), "department", None)}
    found |= {getattr(registry.window_by_id.get(w), "department", None) for w in windows}
    return {d for d in found if d}


def _notice(registry: Registry, staff: str, windows: tuple[str, ...], what: str) -> Notice:
    person = registry.staff_by_id.get(staff)
    name = person.name if person else staff
    return Notice(
        _departments(registry, staff, *windows),
        registry.hall.id,
        f"排班变更:{name}",
        f"{name}({staff})的排班已变更:{what}",
    )


# --- list and add ----------------------------------------------------------------------------


def _list_page(form: AddLineForm | None = None, top: list[str] | None = None):
    registry = runtime().registry(fresh=True)
    form = _with_choices(registry, form or AddLineForm(formdata=None))
    query = request.args.get("q", "")
    if query and not form.staff.data and query in registry.staff_by_id:
        form.staff.data = query  # come from a person's page: theirs is the line to add
    lines = [
        (k, line) for k, line in keyed_lines(registry.hall.id) if _matches(line, registry, query)
    ]
    page = render_template(
        "ops_roster.html",
        lines=lines,
        query=query,
        staff=registry.staff_by_id,
        windows=registry.window_by_id,
        day_words=DAY_WORDS,
        form=form,
        top=top or [],
    )
    return page, 400 if top or errors_of(form) else 200


@bp.get("")
@permission_required("read_operations")
def index():
    return _list_page()


@bp.post("")
@permission_required("operate")
def add():
    registry = runtime().registry(fresh=True)
    form = _with_choices(registry, AddLineForm())
    if not form.validate_on_submit():
        return _list_page(form)
    staff, values = form.staff.data, form.values()

    def edit(mapping: dict) -> None:
        roster_edits.add_line(mapping, staff, **values)

    what = f"新增 {values['window']} {' '.join(values['days'])}"
    notice = _notice(registry, staff, (values["window"],), what)
    outcome = apply(form, "roster.add", f"staff {staff}", edit, FIELDS, notice)
    if not outcome.done:
        return _list_page(form, outcome.top)
    flash(gettext("已添加排班。"), "info")
    return redirect(url_for("ops_roster.index", q=staff))


# --- one line --------------------------------------------------------------------------------


def _line(key: str) -> tuple[Registry, dict]:
    registry = runtime().registry(fresh=True)
    for found, line in keyed_lines(registry.hall.id):
        if found == key:
            return registry, line
    abort(404)


def _line_page(key: str, form: LineForm | None = None, end: EndForm | None = None, top=None):
    registry, line = _line(key)
    data = {
        "window": line["window"],
        "days": line["days"],
        "start": values.iso_date(line["from"]) if line.get("from") else None,
        "until": values.iso_date(line["until"]) if line.get("until") else None,
        "hours": roster_edits.hours_text(line.get("hours")),
    }
    form = _with_choices(registry, form or LineForm(formdata=None, data=data))
    page = render_template(
        "ops_roster_line.html",
        key=key,
        line=line,
        person=registry.staff_by_id.get(line["staff"]),
        window=registry.window_by_id.get(line["window"]),
        form=form,
        end_form=end or EndForm(formdata=None),
        top=top or [],
    )
    failed = top or errors_of(form) or (end is not None and errors_of(end))
    return page, 400 if failed else 200


@bp.get("/<line>")
@permission_required("read_operations")
def show(line: str):
    return _line_page(line)


@bp.post("/<line>")
@permission_required("operate")
def edit(line: str):
    registry, entry = _line(line)
    form = _with_choices(registry, LineForm())
    if not form.validate_on_submit():
        return _line_page(line, form)
    values = form.values()

    def change(mapping: dict) -> None:
        roster_edits.edit_line(mapping, line, **values)

    windows = (entry["window"], values["window"])
    what = f"{values['window']} {' '.join(values['days'])}"
    notice = _notice(registry, entry["staff"], windows, what)
    outcome = apply(form, "roster.edit", f"staff {entry['staff']}", change, FIELDS, notice)
    if not outcome.done:
        return _line_page(line, form, top=outcome.top)
    flash(gettext("已保存排班。"), "info")
    return redirect(url_for("ops_roster.index", q=entry["staff"]))


@bp.post("/<line>/end")
@permission_required("operate")
def end(line: str):
    registry, entry = _line(line)
    form = EndForm()
    if not form.validate_on_submit():
        return _line_page(line, end=form)
    last_day = form.last_day.data

    def change(mapping: dict) -> None:
        roster_edits.end_line(mapping, line, last_day)

    notice = _notice(
        registry, entry["staff"], (entry["window"],), f"{entry['window']} 至 {last_day} 止"
    )
    fields = {"until": "last_day"}
    outcome = apply(form, "roster.end", f"staff {entry['staff']}", change, fields, notice)
    if not outcome.done:
        return _line_page(line, end=form, top=outcome.top)
    flash(gettext("排班将于 %(day)s 之后结束。", day=last_day.isoformat()), "info")
    return redirect(url_for("ops_roster.index", q=entry["staff"]))
