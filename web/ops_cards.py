"""Registering an unknown card to a person, from /ops/unknown-cards.

The card goes in as an import would take it: the registry in the database is written out
as a registry file (hallwatch.registry.dump), the card added to the person's badges, and
that file read by `parse_deployment` and applied by `apply_deployment` in one transaction.
So the validation is the import's own: a card someone else holds is refused, its problem
shown next to the form, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app, flash, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import HiddenField, SelectField
from wtforms.validators import InputRequired, ValidationError

from hallwatch.access import Scope
from hallwatch.cards import printed_number
from hallwatch.registry import values
from hallwatch.registry.changes import register_card
from hallwatch.registry.file import RegistryError
from hallwatch.registry.spec import Device, Registry, StaffMember
from web.ops_registry import problem_rows
from web.scope import visible_staff

# Each form lists everyone the user may register a card to: past this many rows the page
# would grow with rows × staff, so later (older) rows show the card without a form.
REGISTER_FORMS_MAX = 50


class RegisterCardForm(FlaskForm):
    card = HiddenField(validators=[InputRequired()])
    staff = SelectField(
        lazy_gettext("登记给"),
        validators=[InputRequired(message=lazy_gettext("请选择持卡人"))],
    )

    def validate_card(self, field: HiddenField) -> None:
        """The card as a registry file may write it, made canonical (hex)."""
        try:
            field.data = values.card(field.data)
        except values.Invalid as exc:
            raise ValidationError(str(exc)) from None


@dataclass
class StaffGroup:
    """The people of one department, as one <optgroup> of the form."""

    department: str
    name: str
    people: list[StaffMember] = field(default_factory=list)


@dataclass
class Refusal:
    """Why a card was not registered: the form's errors or the import's problems."""

    card: str
    staff: str  # who it was to go to, chosen again on the page shown back
    errors: list[str]
    problems: list[dict]


def _runtime():
    return current_app.extensions["hallwatch"]


def staff_groups(registry: Registry) -> list[StaffGroup]:
    """The people the current user may register a card to, by department in registry order."""
    groups = {d.id: StaffGroup(d.id, d.name) for d in registry.departments}
    for person in visible_staff(current_user, registry):
        groups[person.department].people.append(person)
    return [group for group in groups.values() if group.people]


def reader_department(device: Device, registry: Registry) -> str | None:
    """The department a reader serves: its own (an office reader) or its window's."""
    if device.department:
        return device.department
    window = registry.window_by_id.get(device.window or "")
    return window.department if window else None


def register_from_form() -> Refusal | None:
    """The POST of one card's form: register it (None), or say why not."""
    runtime = _runtime()
    registry = runtime.registry(fresh=True)
    form = RegisterCardForm()
    # "" too, so that no choice made is "please choose" rather than "not a valid choice".
    form.staff.choices = ["", *(s.id for s in visible_staff(current_user, registry))]
    if not form.validate_on_submit():
        errors = [e for errors in form.errors.values() for e in errors]
        return Refusal(form.card.data or "", form.staff.data or "", errors, [])
    person = registry.staff_by_id[form.staff.data]
    try:
        halls = Scope.of(current_user).halls
        register_card(
            runtime.sessions,
            person.id,
            form.card.data,
            datetime.now(UTC),
            halls,
            actor=current_user.username,
            address=request.remote_addr or "",
        )
    except RegistryError as exc:
        return Refusal(form.card.data, person.id, [], problem_rows(exc.problems))
    runtime.registry(fresh=True)
    department = registry.department_by_id.get(person.department)
    said = gettext(
        "已将卡 %(hex)s(十进制 %(decimal)s)登记给 %(name)s(%(department)s)。"
        "您保存的名册文件里还没有这张卡:下次上传名册前,请先在“名册”页下载当前名册 (YAML),"
        "在它的基础上修改,否则这张卡会被停用。",
        hex=form.card.data,
        decimal=printed_number(form.card.data),
        name=person.name,
        department=department.name if department else person.department,
    )
    # Markup survives the session's flash storage; its format() escapes what it is given.
    link = url_for("ops_staff.show", staff_id=person.id)
    flash(Markup('{} <a href="{}">{}</a>').format(said, link, gettext("查看此人")), "info")
    return None
