"""Registry upload (/ops/registry): the current registry at a glance, and a new file imported
through the very function `hallwatch import` calls, so the validation is the same: a file
with any problem is refused whole and nothing changes. The registry in the database can be
downloaded as a file (/ops/registry.yaml), cards registered on the pages included."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import fields
from datetime import datetime

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy import func, select

from hallwatch.access import Scope
from hallwatch.registry.apply import ImportSummary, SectionCounts
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.dump import deployment_yaml
from hallwatch.registry.file import RegistryError
from hallwatch.registry.importing import import_file
from hallwatch.registry.models import REGISTRY_MODELS
from web.audit_trail import note_download
from web.limits import MAX_UPLOAD_BYTES

YAML_TYPE = "application/yaml; charset=utf-8"  # RFC 9512
SUMMARY_KEY = "ops_import_summary"  # the last import's counts, shown once after the redirect
# How the parser names a problem: "windows[0] (id W01): key 'department': message".
PROBLEM = re.compile(r"^(?P<entry>[^:]+?)(?:: key '(?P<key>[^']*)')?: (?P<message>.*)$", re.S)

SECTION_WORDS = {
    "hall": lazy_gettext("大厅设置"),
    "departments": lazy_gettext("部门"),
    "windows": lazy_gettext("窗口"),
    "staff": lazy_gettext("人员"),
    "badges": lazy_gettext("工卡"),
    "devices": lazy_gettext("设备"),
    "roster": lazy_gettext("排班"),
    "leave": lazy_gettext("请假"),
}
CHANGE_WORDS = {
    "added": lazy_gettext("新增"),
    "restored": lazy_gettext("恢复"),
    "updated": lazy_gettext("修改"),
    "retired": lazy_gettext("停用"),
    "unchanged": lazy_gettext("未变"),
}
CHANGE_KINDS = tuple(f.name for f in fields(SectionCounts))


class RegistryUploadForm(FlaskForm):
    file = FileField(
        lazy_gettext("名册文件 (YAML)"),
        validators=[
            FileRequired(message=lazy_gettext("请选择要上传的名册文件")),
            FileAllowed(["yaml", "yml"], message=lazy_gettext("只接受 .yaml 或 .yml 文件")),
        ],
    )


def _runtime():
    return current_app.extensions["hallwatch"]


def problem_rows(problems: list[str]) -> list[dict]:
    """Each parser problem split into entry, key and message (whole, if it has no such form)."""
    rows = []
    for problem in problems:
        match = PROBLEM.match(problem)
        if match:
            rows.append(match.groupdict())
        else:
            rows.append({"entry": "", "key": None, "message": problem})
    return rows


def _last_change() -> datetime | None:
    """When any registry row was last written (an import that changes nothing writes nothing)."""
    with _runtime().sessions() as db:
        times = [db.scalar(select(func.max(model.updated_at))) for model in REGISTRY_MODELS]
    return max((t for t in times if t is not None), default=None)


def _summary_json(summary: ImportSummary, filename: str) -> dict:
    return {
        "file": filename,
        "sections": {
            name: [getattr(counts, kind) for kind in CHANGE_KINDS]
            for name, counts in summary.sections.items()
        },
    }


def _import(data: bytes, filename: str) -> ImportSummary:
    """Import uploaded bytes through `import_file` (which reads a path); RegistryError if bad.

    A user limited to some halls changes only those (hallwatch.registry.scoped)."""
    handle, path = tempfile.mkstemp(prefix="hallwatch-upload-", suffix=".yaml")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        try:
            return import_file(_runtime().sessions, path, halls=Scope.of(current_user).halls)
        except RegistryError as exc:
            raise RegistryError([p.replace(path, filename) for p in exc.problems]) from exc
    finally:
        os.unlink(path)


def _check_upload(form: RegistryUploadForm) -> bytes | None:
    """The file's bytes, or None after putting what is wrong with it on the field."""
    data = form.file.data.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        form.file.errors.append(
            gettext("文件太大:最大 %(mib)s MiB", mib=MAX_UPLOAD_BYTES // (1024 * 1024))
        )
        return None
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        form.file.errors.append(
            gettext("文件不是 UTF-8 编码的文本(第 %(byte)s 字节)", byte=exc.start)
        )
        return None
    return data


def page():
    """GET: the registry now and the form. POST: import the file, or say why not (400)."""
    form = RegistryUploadForm()
    problems: list[dict] = []
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit() and (data := _check_upload(form)) is not None:
            filename = os.path.basename(form.file.data.filename or "registry.yaml")
            try:
                summary = _import(data, filename)
            except RegistryError as exc:
                problems = problem_rows(exc.problems)
            else:
                _runtime().registry(fresh=True)
                session[SUMMARY_KEY] = _summary_json(summary, filename)
                flash(gettext("名册已导入:%(n)s 处变更。", n=summary.changes))
                return redirect(url_for("ops.registry"))
    registry = _runtime().registry(fresh=True)
    return render_template(
        "ops_registry.html",
        form=form,
        problems=problems,
        registry=registry,
        badges=sum(len(s.badges) for s in registry.staff),
        last_change=_last_change(),
        imported=session.pop(SUMMARY_KEY, None) if request.method == "GET" else None,
        sections=SECTION_WORDS,
        changes=CHANGE_WORDS,
        change_kinds=CHANGE_KINDS,
        max_mib=MAX_UPLOAD_BYTES // (1024 * 1024),
    ), status


def download() -> Response:
    """The halls the user may see, from the database, as a registry file (attachment)."""
    runtime = _runtime()
    deployment = runtime.deployment(fresh=True)
    scope = Scope.of(current_user)
    halls = tuple(r for r in deployment.halls if scope.sees_hall(r.hall.id))
    if not halls:
        abort(404)
    now = datetime.now(runtime.registry().hall.tz)
    text = f"# HallWatch registry, {now.isoformat(timespec='seconds')}\n"
    text += deployment_yaml(Deployment(halls))
    name = f"hallwatch-registry-{now:%Y%m%d-%H%M}.yaml"
    note_download("registry", name, halls=[r.hall.id for r in halls])
    return Response(
        text.encode("utf-8"),
        content_type=YAML_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
