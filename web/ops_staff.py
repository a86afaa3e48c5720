"""Staff and their cards from the browser (/ops/staff): list and search, add, rename, move
to another department, retire after a confirmation, cards added and removed on the
person's page. Each change is the registry edited as its file (hallwatch.registry.edits)
through `change_registry`: the import's validation, one transaction, the audit trail."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from hallwatch.registry import edits
from hallwatch.registry.spec import Registry, StaffMember
from hallwatch.registry.values import MAX_TEXT_LEN
from web.ops_forms import (
    ConfirmForm,
    answered,
    apply,
    confirm_page,
    department_choices,
    errors_of,
    keyed_lines,
    preview,
    runtime,
)
from web.ops_notify import Notice
from web.roles import permission_required

bp = Blueprint("ops_staff", __name__, url_prefix="/ops/staff")

FIELDS = {"id": "staff_id", "badges": "card"}  # registry key → form field, where they differ


def _name_field() -> StringField:
    return StringField(
        lazy_gettext("姓名"),
        validators=[InputRequired(message=lazy_gettext("请输入姓名")), Length(max=MAX_TEXT_LEN)],
    )


def _department_field() -> SelectField:
    return SelectField(
        lazy_gettext("部门"),
        validators=[InputRequired(message=lazy_gettext("请选择部门"))],
        validate_choice=True,
    )


class AddPersonForm(FlaskForm):
    staff_id = StringField(
        lazy_gettext("编号"),
        validators=[InputRequired(message=lazy_gettext("请输入编号")), Length(max=64)],
    )
    name = _name_field()
    department = _department_field()
    card = StringField(lazy_gettext("工卡(可不填)"), validators=[Optional()])


class NameForm(FlaskForm):
    name = _name_field()


class MoveForm(FlaskForm):
    department = _department_field()


class CardForm(FlaskForm):
    card = StringField(
        lazy_gettext("卡号(十六进制,或 dec: 加印刷的十进制号)"),
        validators=[InputRequired(message=lazy_gettext("请输入卡号"))],
    )


class RemoveCardForm(FlaskForm):
    card = HiddenField(validators=[InputRequired()])


def _hall() -> Registry:
    return runtime().registry()


def _person(staff_id: str) -> tuple[Registry, StaffMember]:
    """The person on this hall's registry, or 404."""
    registry = runtime().registry(fresh=True)
    person = registry.staff_by_id.get(staff_id)
    if person is None:
        abort(404)
    return registry, person


def _department_name(registry: Registry, department: str) -> str:
    found = registry.department_by_id.get(department)
    return found.name if found else department


def _matches(person: StaffMember, query: str) -> bool:
    query = query.strip().lower()
    words = [person.id, person.name, person.department, *person.badges]
    return not query or any(query in word.lower() for word in words)


# --- list and add ----------------------------------------------------------------------------


def _list_page(form: AddPersonForm | None = None, top: list[str] | None = None):
    registry = runtime().registry(fresh=True)
    if form is None:
        form = AddPersonForm(formdata=None)
    form.department.choices = department_choices(registry)
    query = request.args.get("q", "")
    lines = {}
    for line in registry.roster:
        lines[line.staff] = lines.get(line.staff, 0) + 1
    people = [p for p in registry.staff if _matches(p, query)]
    page = render_template(
        "ops_staff.html",
        people=people,
        total=len(registry.staff),
        query=query,
        lines=lines,
        departments={d.id: d.name for d in registry.departments},
        form=form,
        top=top or [],
    )
    return page, 400 if errors_of(form) or top else 200


@bp.get("")
@permission_required("read_operations")
def index():
    return _list_page()


@bp.post("")
@permission_required("operate")
def add():
    registry = runtime().registry(fresh=True)
    form = AddPersonForm()
    form.department.choices = department_choices(registry)
    if not form.validate_on_submit():
        return _list_page(form)
    staff_id, card = form.staff_id.data.strip(), (form.card.data or "").strip()

    def edit(mapping: dict) -> None:
        badges = [card] if card else []
        edits.add_person(
            mapping, registry.hall.id, staff_id, form.name.data, form.department.data, badges
        )

    outcome = apply(form, "staff.add", f"staff {staff_id}", edit, FIELDS)
    if not outcome.done:
        return _list_page(form, outcome.top)
    flash(gettext("已添加人员 %(name)s(%(id)s)。", name=form.name.data, id=staff_id), "info")
    return redirect(url_for("ops_staff.show", staff_id=staff_id))


# --- a person's page -------------------------------------------------------------------------


def _person_page(staff_id: str, forms: dict | None = None, top: list[str] | None = None):
    registry, person = _person(staff_id)
    forms = forms or {}
    name = forms.get("name") or NameForm(formdata=None, data={"name": person.name})
    move = forms.get("move") or MoveForm(formdata=None, data={"department": person.department})
    move.department.choices = department_choices(registry)
    card = forms.get("card") or CardForm(formdata=None)
    page = render_template(
        "ops_person.html",
        person=person,
        department=_department_name(registry, person.department),
        windows=registry.window_by_id,
        roster=[
            (k, line) for k, line in keyed_lines(registry.hall.id) if line["staff"] == staff_id
        ],
        name_form=name,
        move_form=move,
        card_form=card,
        remove_form=RemoveCardForm(formdata=None),
        top=top or [],
    )
    return answered(page, forms, top)


@bp.get("/<staff_id>")
@permission_required("read_operations")
def show(staff_id: str):
    return _person_page(staff_id)


@bp.post("/<staff_id>")
@permission_required("operate")
def rename(staff_id: str):
    _person(staff_id)
    form = NameForm()
    if not form.validate_on_submit():
        return _person_page(staff_id, {"name": form})

    def edit(mapping: dict) -> None:
        edits.rename_person(mapping, staff_id, form.name.data)

    outcome = apply(form, "staff.edit", f"staff {staff_id}", edit)
    if not outcome.done:
        return _person_page(staff_id, {"name": form}, outcome.top)
    flash(gettext("已保存 %(name)s 的姓名。", name=form.name.data), "info")
    return redirect(url_for("ops_staff.show", staff_id=staff_id))


@bp.post("/<staff_id>/move")
@permission_required("operate")
def move(staff_id: str):
    registry, person = _person(staff_id)
    form = MoveForm()
    form.department.choices = department_choices(registry)
    if not form.validate_on_submit():
        return _person_page(staff_id, {"move": form})

    def edit(mapping: dict) -> None:
        edits.move_person(mapping, staff_id, form.department.data)

    new = _department_name(registry, form.department.data)
    old = _department_name(registry, person.department)
    notice = Notice(
        (person.department, form.department.data),
        registry.hall.id,
        f"人员调动:{person.name}",
        f"{person.name}({person.id})已由{old}调至{new}。",
    )
    outcome = apply(form, "staff.move", f"staff {staff_id}", edit, notice=notice)
    if not outcome.done:
        return _person_page(staff_id, {"move": form}, outcome.top)
    flash(gettext("已将 %(name)s 调至 %(department)s。", name=person.name, department=new), "info")
    return redirect(url_for("ops_staff.show", staff_id=staff_id))


@bp.route("/<staff_id>/retire", methods=["GET", "POST"])
@permission_required("operate")
def retire(staff_id: str):
    registry, person = _person(staff_id)
    form = ConfirmForm()

    def edit(mapping: dict) -> None:
        edits.retire_person(mapping, staff_id)

    if request.method == "POST" and form.validate_on_submit():
        notice = Notice(
            (person.department,),
            registry.hall.id,
            f"人员停用:{person.name}",
            f"{person.name}({person.id})已停用,其排班与请假一并移除。",
        )
        outcome = apply(form, "staff.retire", f"staff {staff_id}", edit, notice=notice)
        if outcome.done:
            flash(gettext("已停用 %(name)s。", name=person.name), "info")
            return redirect(url_for("ops_staff.index"))
        form.confirm.errors = outcome.top
    return confirm_page(
        gettext("停用人员 %(name)s", name=person.name),
        gettext("停用后,此人的排班和请假一并移除;过去的日子仍按当时的名册统计。"),
        preview("staff.retire", f"staff {staff_id}", edit),
        form,
        url_for("ops_staff.show", staff_id=staff_id),
    )


# --- cards -----------------------------------------------------------------------------------


@bp.post("/<staff_id>/cards")
@permission_required("operate")
def add_card(staff_id: str):
    _, person = _person(staff_id)
    form = CardForm()
    if not form.validate_on_submit():
        return _person_page(staff_id, {"card": form})
    card = form.card.data.strip()

    def edit(mapping: dict) -> None:
        edits.add_card(mapping, staff_id, card)

    outcome = apply(form, "card.add", f"staff {staff_id}", edit, FIELDS)
    if not outcome.done:
        return _person_page(staff_id, {"card": form}, outcome.top)
    flash(gettext("已为 %(name)s 登记卡 %(card)s。", name=person.name, card=card), "info")
    return redirect(url_for("ops_staff.show", staff_id=staff_id))


@bp.post("/<staff_id>/cards/remove")
@permission_required("operate")
def remove_card(staff_id: str):
    _, person = _person(staff_id)
    form = RemoveCardForm()
    if not form.validate_on_submit():
        return _person_page(staff_id, top=[gettext("请选择要移除的卡")])

    def edit(mapping: dict) -> None:
        edits.remove_card(mapping, staff_id, form.card.data)

    outcome = apply(None, "card.remove", f"staff {staff_id}", edit)
    if not outcome.done:
        return _person_page(staff_id, top=outcome.top)
    flash(gettext("已移除 %(name)s 的卡 %(card)s。", name=person.name, card=form.card.data), "info")
    return redirect(url_for("ops_staff.show", staff_id=staff_id))
