"""User administration (/ops/users, admins only): list, add, change role or department,
reset a password, delete. The rules (hashing, departments, never without an admin) live
in hallwatch.registry.users; the forms here say in words what is wrong, field by field."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from alerts.channels import channels_of
from hallwatch.access import ADMIN, DEPT_HEAD, HALL_MANAGER, INSPECTOR, ROLES
from hallwatch.registry.audit_facts import PASSWORD_CHANGED, PASSWORD_SET, user_facts, with_password
from hallwatch.registry.models import ID_LEN, UserRow
from hallwatch.registry.users import (
    UserChangeRefused,
    create_user,
    delete_user,
    list_users,
    set_user_halls,
    update_user,
    valid_username,
)
from web.audit_trail import note

MIN_PASSWORD_CHARS = 8  # for passwords set on the page; the CLI leaves this to the operator

ROLE_WORDS = {
    ADMIN: lazy_gettext("管理员"),
    HALL_MANAGER: lazy_gettext("大厅负责人"),
    DEPT_HEAD: lazy_gettext("部门负责人"),
    INSPECTOR: lazy_gettext("督查"),
}
CHANNEL_WORDS = {
    "email": lazy_gettext("邮件"),
    "dingtalk": lazy_gettext("钉钉"),
    "wecom": lazy_gettext("企业微信"),
    "webhook": lazy_gettext("Webhook"),
}
REFUSED_WORDS = {
    "exists": lazy_gettext("该用户名已存在"),
    "own_role": lazy_gettext("不能更改自己的角色"),
    "last_admin": lazy_gettext("这是最后一位管理员,必须至少保留一位管理员"),
    "self": lazy_gettext("不能删除自己"),
}


def _username(form, field) -> None:
    if field.data and not valid_username(field.data):
        raise ValidationError(
            gettext("用户名须为 1 至 %(n)s 个字符,首尾不能有空格,不能含冒号或控制字符", n=ID_LEN)
        )


def _department_iff_dept_head(form, field) -> None:
    if form.role.data == DEPT_HEAD and not field.data:
        raise ValidationError(gettext("部门负责人必须选择所属部门"))
    if form.role.data != DEPT_HEAD and field.data:
        raise ValidationError(gettext("只有部门负责人属于某个部门,请留空"))


def _password_fields(required: bool) -> tuple[PasswordField, PasswordField]:
    first = [DataRequired(message=lazy_gettext("请输入密码"))] if required else [Optional()]
    length = Length(
        min=MIN_PASSWORD_CHARS,
        message=lazy_gettext("密码至少 %(n)s 个字符", n=MIN_PASSWORD_CHARS),
    )
    label = lazy_gettext("密码") if required else lazy_gettext("新密码(不改请留空)")
    return (
        PasswordField(label, validators=[*first, length]),
        PasswordField(
            lazy_gettext("再次输入密码"),
            validators=[EqualTo("password", message=lazy_gettext("两次输入的密码不一致"))],
        ),
    )


def _role_field() -> SelectField:
    return SelectField(
        lazy_gettext("角色"),
        choices=[SelectChoice(role, ROLE_WORDS[role]) for role in ROLES],
        validators=[InputRequired(message=lazy_gettext("请选择角色"))],
        validate_choice=True,
    )


def _department_field() -> SelectField:
    # Choices are the current departments, filled in per request (_with_departments).
    return SelectField(
        lazy_gettext("部门"),
        validators=[_department_iff_dept_head],
        validate_choice=True,
        default="",
    )


def _halls_field() -> SelectMultipleField:
    # Choices are the deployment's halls, filled in per request (_with_choices); shown only
    # when there are several. None chosen: every hall.
    return SelectMultipleField(
        lazy_gettext("限于大厅(不选即全部大厅)"), validate_choice=True, default=[]
    )


class UserForm(FlaskForm):
    role = _role_field()
    department = _department_field()
    halls = _halls_field()


class AddUserForm(UserForm):
    username = StringField(
        lazy_gettext("用户名"),
        validators=[DataRequired(message=lazy_gettext("请输入用户名")), _username],
    )
    password, confirm = _password_fields(required=True)


class EditUserForm(UserForm):
    password, confirm = _password_fields(required=False)


def _runtime():
    return current_app.extensions["hallwatch"]


def _departments() -> dict[str, str]:
    """Every department of the deployment, id → name (with its hall's when there are several)."""
    deployment = _runtime().deployment()
    if deployment.single:
        return {d.id: d.name for d in deployment.first.departments}
    return {d.id: f"{r.hall.name} · {d.name}" for r in deployment.halls for d in r.departments}


def _halls() -> dict[str, str]:
    """The deployment's halls, id → name; empty on a single hall (nothing to choose)."""
    deployment = _runtime().deployment()
    return {} if deployment.single else {r.hall.id: r.hall.name for r in deployment.halls}


def _with_departments(form: UserForm, departments: dict[str, str]) -> UserForm:
    form.department.choices = [
        SelectChoice("", gettext("(无)")),
        *(SelectChoice(ident, name) for ident, name in departments.items()),
    ]
    form.halls.choices = [SelectChoice(ident, name) for ident, name in _halls().items()]
    return form


def _save_halls(db, user, form: UserForm) -> None:
    """A department head's hall is their department's; the others are limited as chosen."""
    if _halls():
        set_user_halls(db, user, [] if form.role.data == DEPT_HEAD else form.halls.data)


def _channel_target(kind: str, target: str) -> str:
    """An e-mail address in full; for robots and hooks only the host (their URLs hold tokens)."""
    return target if kind == "email" else urlsplit(target).netloc or target


def _render(add_form=None, edited: tuple[int, EditUserForm] | None = None, errors=None, status=200):
    """The users page; a bound form (with its errors) replaces the blank one it stands for."""
    departments = _departments()
    halls = _halls()
    add_form = _with_departments(add_form or AddUserForm(formdata=None), departments)
    rows = []
    with _runtime().sessions() as db:
        for user in list_users(db):
            if edited and edited[0] == user.id:
                form = edited[1]
            else:
                data = {
                    "role": user.role,
                    "department": user.department_id or "",
                    "halls": list(user.hall_codes),
                }
                form = EditUserForm(formdata=None, data=data)
            channels = [
                {
                    "kind": CHANNEL_WORDS.get(c.kind, c.kind),
                    "target": _channel_target(c.kind, c.target),
                    "signed": bool(c.secret),
                }
                for c in channels_of(db, user.id)
            ]
            rows.append(
                {
                    "id": user.id,
                    "username": user.username,
                    "role": ROLE_WORDS.get(user.role, user.role),
                    "department": departments.get(user.department_id or "", user.department_id),
                    "halls": [halls.get(code, code) for code in user.hall_codes],
                    "channels": channels,
                    "form": _with_departments(form, departments),
                    "errors": (errors or {}).get(user.id, []),
                    "me": user.id == current_user.user_id,
                }
            )
    page = render_template("ops_users.html", add_form=add_form, users=rows, several=bool(halls))
    return page, status


def _facts_of(db, user_id: int) -> dict | None:
    """The user as the audit trail records them, before a change (None: no such user)."""
    user = db.get(UserRow, user_id)
    return None if user is None else user_facts(user)


def list_page():
    return _render()


def add():
    form = _with_departments(AddUserForm(), _departments())
    if form.validate_on_submit():
        with _runtime().sessions() as db:
            try:
                user = create_user(
                    db,
                    form.username.data,
                    form.role.data,
                    form.password.data,
                    form.department.data or None,
                )
                _save_halls(db, user, form)
                after = with_password(user_facts(user), PASSWORD_SET)
                note(db, "user.add", f"user {user.username}", after=after)
                db.commit()
            except UserChangeRefused as exc:
                form.username.errors.append(REFUSED_WORDS.get(exc.reason, str(exc)))
            except ValueError as exc:  # the registry changed under the form (a department left)
                form.department.errors.append(str(exc))
            else:
                flash(gettext("已添加用户 %(name)s。", name=form.username.data))
                return redirect(url_for("ops.users"))
    return _render(add_form=form, status=400)


def edit(user_id: int):
    form = _with_departments(EditUserForm(), _departments())
    if form.validate_on_submit():
        with _runtime().sessions() as db:
            try:
                before = _facts_of(db, user_id)
                user = update_user(
                    db,
                    user_id,
                    form.role.data,
                    form.department.data or None,
                    form.password.data or None,
                    acting_user_id=current_user.user_id,
                )
                _save_halls(db, user, form)
                name = user.username
                password = PASSWORD_CHANGED if form.password.data else None
                after = with_password(user_facts(user), password)
                note(db, "user.change", f"user {name}", before=before, after=after)
                db.commit()
            except UserChangeRefused as exc:
                if exc.reason == "missing":
                    abort(404)
                form.role.errors.append(REFUSED_WORDS.get(exc.reason, str(exc)))
            except ValueError as exc:  # the registry changed under the form (a department left)
                form.department.errors.append(str(exc))
            else:
                flash(gettext("已保存用户 %(name)s。", name=name))
                return redirect(url_for("ops.users"))
    return _render(edited=(user_id, form), status=400)


def delete(user_id: int):
    with _runtime().sessions() as db:
        try:
            before = _facts_of(db, user_id)
            name = delete_user(db, user_id, acting_user_id=current_user.user_id)
            note(db, "user.delete", f"user {name}", before=before)
            db.commit()
        except UserChangeRefused as exc:
            if exc.reason == "missing":
                abort(404)
            return _render(errors={user_id: [REFUSED_WORDS.get(exc.reason, str(exc))]}, status=400)
    flash(gettext("已删除用户 %(name)s。", name=name))
    return redirect(url_for("ops.users"))
