"""The registry as an Excel workbook (/ops/registry.xlsx, for whoever reads the operations
pages; every download audited), and rosters imported from it (/ops/roster-import, for
operators): the upload is read and compared with the registry, the lines it would add,
change and remove are shown, and only a confirmation applies them
(hallwatch.registry.roster_import). A bad workbook is refused whole, each bad cell named."""

from __future__ import annotations

import base64
import os
import zlib
from dataclasses import replace
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField
from wtforms.validators import InputRequired

from hallwatch.access import Scope
from hallwatch.registry.audit import record
from hallwatch.registry.changes import Change
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.file import RegistryError
from hallwatch.registry.roster_import import (
    ACTION,
    apply_roster,
    line_words,
    lines_from_json,
    lines_json,
    read_and_compare,
)
from hallwatch.registry.workbook import registry_workbook_bytes
from web.limits import MAX_UPLOAD_BYTES
from web.roles import permission_required

bp = Blueprint("ops_files", __name__, url_prefix="/ops")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_ACTION = "export.registry"


class RosterUploadForm(FlaskForm):
    file = FileField(
        lazy_gettext("名册工作簿 (Excel)"),
        validators=[
            FileRequired(message=lazy_gettext("请选择要导入的工作簿")),
            FileAllowed(["xlsx"], message=lazy_gettext("只接受 .xlsx 工作簿")),
        ],
    )


class RosterConfirmForm(FlaskForm):
    lines = HiddenField(validators=[InputRequired()])
    revision = HiddenField(validators=[InputRequired()])
    filename = HiddenField(validators=[InputRequired()])


def _runtime():
    return current_app.extensions["hallwatch"]


def _change() -> Change:
    return Change(
        current_user.username,
        ACTION,
        "",
        request.remote_addr or "",
        Scope.of(current_user).halls,
    )


def _visible() -> Deployment:
    """The halls the user may see, as they are in the database now."""
    deployment = _runtime().deployment(fresh=True)
    scope = Scope.of(current_user)
    halls = tuple(r for r in deployment.halls if scope.sees_hall(r.hall.id))
    if not halls:
        abort(404)
    return Deployment(halls)


@bp.get("/registry.xlsx")
@permission_required("read_operations")
def registry_xlsx() -> Response:
    """The registry (staff, windows, roster, leave) as a workbook; recorded in the audit trail."""
    deployment = _visible()
    now = datetime.now(UTC)
    name = f"hallwatch-registry-{now.astimezone(deployment.first.hall.tz):%Y%m%d-%H%M}.xlsx"
    data = registry_workbook_bytes(deployment, now)
    with _runtime().sessions() as db, db.begin():
        record(
            db,
            current_user.username,
            EXPORT_ACTION,
            name,
            now=now,
            address=request.remote_addr or "",
        )
    return Response(
        data,
        content_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _pack(text: str) -> str:
    """The lines for the confirmation form, compressed: a roster of thousands of lines
    stays far below the request bound."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def _unpack(text: str) -> str:
    try:
        return zlib.decompress(base64.urlsafe_b64decode(text.encode("ascii"))).decode("utf-8")
    except (ValueError, zlib.error):
        raise RegistryError([gettext("确认的数据已损坏,请重新上传工作簿")]) from None


def _upload_page(form: RosterUploadForm, problems: list[str], status: int):
    return render_template(
        "ops_roster_import.html",
        form=form,
        problems=problems,
        max_mib=MAX_UPLOAD_BYTES // (1024 * 1024),
    ), status


@bp.get("/roster-import")
@permission_required("operate")
def roster_import():
    """The upload form for a workbook's 排班 sheet."""
    return _upload_page(RosterUploadForm(), [], 200)


@bp.post("/roster-import")
@permission_required("operate")
def roster_preview():
    """Read the uploaded workbook and show what it would change; nothing is applied."""
    form = RosterUploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, [], 400)
    data = form.file.data.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        form.file.errors.append(gettext("文件太大:最大 %(mib)s MiB", mib=MAX_UPLOAD_BYTES >> 20))
        return _upload_page(form, [], 400)
    filename = os.path.basename(form.file.data.filename or "roster.xlsx")
    change = replace(_change(), target=filename)
    try:
        found = read_and_compare(_runtime().sessions, data, change, datetime.now(UTC))
    except RegistryError as exc:
        return _upload_page(form, exc.problems, 400)
    confirm = RosterConfirmForm(
        lines=_pack(lines_json(found.lines)), revision=found.revision, filename=filename
    )
    deployment = _visible()  # one hall seen: its lines without the hall's name
    return render_template(
        "ops_roster_preview.html",
        form=confirm,
        filename=filename,
        changes=found.changes,
        added=[line_words(item, deployment) for item in found.changes.added],
        changed=[
            (line_words(old, deployment), line_words(new, deployment))
            for old, new in found.changes.changed
        ],
        removed=[line_words(item, deployment) for item in found.changes.removed],
    )


@bp.post("/roster-import/confirm")
@permission_required("operate")
def roster_confirm():
    """Apply the previewed roster; refused (and shown why) if the registry changed since."""
    form = RosterConfirmForm()
    if not form.validate_on_submit():
        return _upload_page(RosterUploadForm(), [gettext("确认表单无效,请重新上传工作簿")], 400)
    filename = os.path.basename(form.filename.data)
    change = replace(_change(), target=filename)
    try:
        lines = lines_from_json(_unpack(form.lines.data))
        summary = apply_roster(
            _runtime().sessions, lines, change, datetime.now(UTC), form.revision.data
        )
    except RegistryError as exc:
        return _upload_page(RosterUploadForm(), exc.problems, 409)
    _runtime().registry(fresh=True)
    counts = summary.sections.get("roster")
    flash(
        gettext(
            "已从 %(file)s 导入排班:%(n)s 处变更。",
            file=filename,
            n=counts.changes if counts else 0,
        ),
        "info",
    )
    return redirect(url_for("ops.registry"))
