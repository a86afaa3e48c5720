"""What the registry's forms share (web/ops_staff.py, ops_places.py, ops_roster.py): one
change applied as `change_registry` applies it, its problems put beside the fields they
name, and the choices of a hall's departments and windows."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app, render_template, request
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice
from wtforms.validators import AnyOf, InputRequired

from hallwatch.access import Scope
from hallwatch.registry.changes import Change, change_registry, preview_change
from hallwatch.registry.dump import dump_deployment
from hallwatch.registry.edits import hall_part
from hallwatch.registry.file import RegistryError
from hallwatch.registry.roster_edits import line_key
from hallwatch.registry.spec import Registry
from web.ops_notify import Notice, queue
from web.ops_registry import SECTION_WORDS, problem_rows

Edit = Callable[[dict], None]


def runtime():
    return current_app.extensions["hallwatch"]


@dataclass
class Outcome:
    """A change tried: done, or its problems (those no field names go at the top)."""

    done: bool
    top: list[str] = field(default_factory=list)


def change(action: str, target: str) -> Change:
    """The current user's change: who, from where, within the halls they may change."""
    return Change(
        current_user.username,
        action,
        target,
        request.remote_addr or "",
        Scope.of(current_user).halls,
    )


def apply(
    form: FlaskForm | None,
    action: str,
    target: str,
    edit: Edit,
    fields: Mapping[str, str] | None = None,
    notice: Notice | None = None,
) -> Outcome:
    """Apply `edit` to the registry in one transaction, with its `notice` to the heads
    concerned; a refusal's problems go beside the form field their key names (`fields` maps
    a registry key to a field name; by default the field of the same name), the others on
    top. The registry is re-read after."""
    now = datetime.now(UTC)
    try:
        with runtime().sessions() as db, db.begin():
            change_registry(
                runtime().sessions, change(action, target), _changing(edit), now, session=db
            )
            if notice is not None:
                queue(db, notice, now)
    except _Unchanged:
        return Outcome(True)  # a form saved as it was: nothing to apply or to audit
    except RegistryError as exc:
        return Outcome(False, place_problems(form, exc.problems, fields or {}))
    runtime().registry(fresh=True)
    return Outcome(True)


class _Unchanged(Exception):
    """The edit left the registry as it was."""


def _changing(edit: Edit) -> Edit:
    def checked(mapping: dict) -> None:
        before = copy.deepcopy(mapping)
        edit(mapping)
        if mapping == before:
            raise _Unchanged

    return checked


def preview(action: str, target: str, edit: Edit):
    """What `apply` would do (a Preview), or the RegistryError it would raise."""
    try:
        return preview_change(runtime().sessions, change(action, target), edit, datetime.now(UTC))
    except RegistryError as exc:
        return exc


def place_problems(
    form: FlaskForm | None, problems: list[str], fields: Mapping[str, str]
) -> list[str]:
    """Put each problem beside its field; the ones that name no field of the form, returned."""
    top = []
    for row in problem_rows(problems):
        name = fields.get(row["key"] or "", row["key"])
        target = getattr(form, name, None) if form is not None and name else None
        if target is not None and hasattr(target, "errors") and name != "csrf_token":
            target.errors = [*target.errors, row["message"]]
        else:
            top.append(f"{row['entry']}: {row['message']}" if row["entry"] else row["message"])
    return top


def department_choices(registry: Registry, blank: bool = False) -> list[SelectChoice]:
    choices = [SelectChoice(d.id, f"{d.name} ({d.id})") for d in registry.departments]
    return [SelectChoice("", "—"), *choices] if blank else choices


def window_choices(registry: Registry, blank: bool = False) -> list[SelectChoice]:
    choices = [SelectChoice(w.id, f"{w.name} ({w.id})") for w in registry.windows]
    return [SelectChoice("", "—"), *choices] if blank else choices


def staff_choices(registry: Registry) -> list[SelectChoice]:
    return [SelectChoice(s.id, f"{s.name} ({s.id})") for s in registry.staff]


class ConfirmForm(FlaskForm):
    """The last step of a retirement: posted only from the page that said what goes with it."""

    confirm = HiddenField(
        validators=[InputRequired(message=lazy_gettext("请在确认页上确认")), AnyOf(["yes"])]
    )


def errors_of(form: FlaskForm) -> bool:
    return any(f.errors for f in form)


def answered(page: str, forms: Mapping[str, FlaskForm], top: list[str] | None) -> tuple:
    """A page with its forms: 400 when one of them, or the change, was refused."""
    failed = top or any(errors_of(f) for f in forms.values())
    return page, 400 if failed else 200


def keyed_lines(hall: str) -> list[tuple[str, dict]]:
    """The hall's roster lines as its file writes them, each with its key (`line_key`)."""
    mapping = dump_deployment(runtime().deployment(fresh=True))
    return [(line_key(line), line) for line in hall_part(mapping, hall).get("roster", ())]


def confirm_page(
    title: str, note: str, previewed, form: ConfirmForm, back: str, extra: dict | None = None
):
    """The confirmation step of a retirement: what goes (the preview's entries before), or
    why it cannot (the RegistryError the change would raise), and the form to confirm."""
    refused = previewed if isinstance(previewed, RegistryError) else None
    page = render_template(
        "ops_confirm.html",
        title=title,
        note=note,
        gone=[] if refused else [e for e in previewed.before if e not in previewed.after],
        problems=place_problems(None, refused.problems, {}) if refused else [],
        form=form,
        back=back,
        extra=extra or {},
        sections=SECTION_WORDS,
    )
    return page, 400 if refused or form.errors else 200
