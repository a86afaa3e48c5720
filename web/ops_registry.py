"""Registry upload (/ops/registry): the current registry at a glance, and a new file imported
in two steps through the very functions `hallwatch import` calls, so the validation is the
same: a file with any problem is refused whole and nothing changes. The upload shows what
the file would add, change and retire (/ops/registry/preview/<digest>, the file kept
server-side by its hash); "确认导入" applies it, validated again, unless the registry moved
meanwhile (then it is shown again); an older file's retirements need a tick of their own.
The registry in the database can be downloaded as a file (/ops/registry.yaml, with its
`revision:`), cards registered on the pages included."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from datetime import UTC, datetime

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
from wtforms import BooleanField, HiddenField

from hallwatch.access import Scope
from hallwatch.registry.apply import ImportSummary, SectionCounts
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.dump import deployment_yaml
from hallwatch.registry.file import RegistryError
from hallwatch.registry.load import load_deployment, registry_revision
from hallwatch.registry.models import REGISTRY_MODELS
from hallwatch.registry.review import (
    Importer,
    RegistryMoved,
    RetirementsNotConfirmed,
    Review,
    confirm_import,
    review_import,
)
from hallwatch.registry.uploads import forget_upload, keep_upload, upload_of
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
    "swaps": lazy_gettext("调班"),
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


class ConfirmImportForm(FlaskForm):
    revision = HiddenField()  # the registry's revision the preview showed
    retire = BooleanField(lazy_gettext("我确认停用以上条目(此文件来自较早的名册版本)"))


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


def _review(text: str) -> Review:
    """What the file would do for this user (limited to their halls); RegistryError if bad."""
    return review_import(_runtime().sessions, text, datetime.now(UTC), Scope.of(current_user).halls)


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
                _review(data.decode("utf-8-sig"))
            except RegistryError as exc:
                problems = problem_rows(exc.problems)
            else:
                now = datetime.now(UTC)
                who = current_user.username
                digest = keep_upload(_runtime().sessions, who, filename, data, now)
                return redirect(url_for("ops.registry_preview", digest=digest))
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
    with runtime.sessions() as db:
        # The revision before the rows: a file never claims a newer revision than it holds.
        revision = registry_revision(db)
        deployment = load_deployment(db)
    scope = Scope.of(current_user)
    halls = tuple(r for r in deployment.halls if scope.sees_hall(r.hall.id))
    if not halls:
        abort(404)
    now = datetime.now(runtime.registry().hall.tz)
    text = f"# HallWatch registry, {now.isoformat(timespec='seconds')}\n"
    text += deployment_yaml(Deployment(halls), revision)
    name = f"hallwatch-registry-{now:%Y%m%d-%H%M}.yaml"
    note_download("registry", name, halls=[r.hall.id for r in halls])
    return Response(
        text.encode("utf-8"),
        content_type=YAML_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def preview(digest: str):
    """GET: what the uploaded file would add, change and retire. POST: import it."""
    upload = upload_of(_runtime().sessions, current_user.username, digest)
    if upload is None:
        abort(404)
    form = ConfirmImportForm()
    status, problems = 200, []
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                return _confirm(upload, form)
            except RegistryError as exc:
                problems = problem_rows(exc.problems)
            except RetirementsNotConfirmed:
                form.retire.errors.append(gettext("请勾选确认后再导入:此文件会停用以上条目。"))
            except RegistryMoved:
                flash(gettext("名册在此期间已被修改,请重新核对变化后再确认。"))
                return redirect(url_for("ops.registry_preview", digest=digest))
    try:
        review = _review(upload.text)
    except RegistryError as exc:  # the registry moved so that the file no longer fits
        review, problems = None, problems or problem_rows(exc.problems)
    if review is not None:
        form.revision.data = str(review.revision)
    return render_template(
        "ops_registry_preview.html",
        form=form,
        upload=upload,
        review=review,
        problems=problems,
        listed=review.listed() if review else [],
        sections=SECTION_WORDS,
        changes=CHANGE_WORDS,
    ), status


def _confirm(upload, form: ConfirmImportForm):
    """Import the kept file as the preview showed it; RegistryMoved if the registry moved."""
    runtime = _runtime()
    importer = Importer(
        current_user.username,
        upload.filename,
        request.remote_addr or "",
        Scope.of(current_user).halls,
    )
    expected = int(form.revision.data) if (form.revision.data or "").isdigit() else -1
    review = confirm_import(
        runtime.sessions,
        upload.text,
        datetime.now(UTC),
        importer,
        confirm_retirements=form.retire.data,
        expect_revision=expected,
    )
    forget_upload(runtime.sessions, current_user.username, upload.digest)
    runtime.registry(fresh=True)
    session[SUMMARY_KEY] = _summary_json(review.summary, upload.filename)
    flash(gettext("名册已导入:%(n)s 处变更。", n=review.summary.changes))
    return redirect(url_for("ops.registry"))
