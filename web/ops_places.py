"""Windows and devices from the browser (/ops/places): list and search, add, edit, move,
retire after a confirmation; a device's firmware name and options (docs/DEVICES.md §1.2).
Each change is the registry edited as its file (hallwatch.registry.edits) through
`change_registry`: the import's validation, one transaction, the audit trail."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from hallwatch.registry import edits
from web.ops_forms import ConfirmForm, answered, apply, confirm_page, preview, runtime
from web.ops_place_forms import (
    KIND_WORDS,
    AddDeviceForm,
    AddWindowForm,
    DeviceForm,
    MoveWindowForm,
    PlaceForm,
    WindowForm,
    device_data,
    with_choices,
)
from web.roles import permission_required

bp = Blueprint("ops_places", __name__, url_prefix="/ops/places")

WINDOW_FIELDS = {"id": "window_id"}
DEVICE_FIELDS = {"id": "device_id"}


def _matches(words, query: str) -> bool:
    query = query.strip().lower()
    return not query or any(query in (w or "").lower() for w in words)


# --- the list --------------------------------------------------------------------------------


def _list_page(forms: dict | None = None, top: list[str] | None = None):
    registry = runtime().registry(fresh=True)
    forms = forms or {}
    window_form = forms.get("window") or AddWindowForm(formdata=None)
    device_form = forms.get("device") or AddDeviceForm(formdata=None)
    with_choices(registry, window_form, device_form)
    query = request.args.get("q", "")
    page = render_template(
        "ops_places.html",
        windows=[w for w in registry.windows if _matches((w.id, w.name, w.department), query)],
        devices=[
            d
            for d in registry.devices
            if _matches((d.id, d.window, d.department, d.zigbee2mqtt, d.tasmota, d.esphome), query)
        ],
        query=query,
        departments={d.id: d.name for d in registry.departments},
        window_names={w.id: w.name for w in registry.windows},
        kinds=KIND_WORDS,
        window_form=window_form,
        device_form=device_form,
        top=top or [],
    )
    return answered(page, forms, top)


@bp.get("")
@permission_required("read_operations")
def index():
    return _list_page()


# --- windows ---------------------------------------------------------------------------------


def _window(window_id: str):
    registry = runtime().registry(fresh=True)
    window = registry.window_by_id.get(window_id)
    if window is None:
        abort(404)
    return registry, window


@bp.post("/windows")
@permission_required("operate")
def add_window():
    registry = runtime().registry(fresh=True)
    (form,) = with_choices(registry, AddWindowForm())
    if not form.validate_on_submit():
        return _list_page({"window": form})
    window_id = form.window_id.data.strip()

    def edit(mapping: dict) -> None:
        edits.add_window(
            mapping,
            registry.hall.id,
            window_id,
            form.name.data,
            form.department.data,
            form.position(),
        )

    outcome = apply(
        form, "window.add", f"window {window_id}", edit, {**WINDOW_FIELDS, "position": "row"}
    )
    if not outcome.done:
        return _list_page({"window": form}, outcome.top)
    flash(gettext("已添加窗口 %(name)s。", name=form.name.data), "info")
    return redirect(url_for("ops_places.window", window_id=window_id))


def _window_page(window_id: str, forms: dict | None = None, top: list[str] | None = None):
    registry, window = _window(window_id)
    forms = forms or {}
    position = window.position or (None, None)
    data = {"name": window.name, "row": position[0], "column": position[1]}
    edit_form = forms.get("edit") or WindowForm(formdata=None, data=data)
    move_form = forms.get("move") or MoveWindowForm(
        formdata=None, data={"department": window.department}
    )
    with_choices(registry, move_form)
    page = render_template(
        "ops_window.html",
        window=window,
        department=registry.department_by_id.get(window.department),
        devices=[d for d in registry.devices if d.window == window.id],
        roster=[r for r in registry.roster if r.window == window.id],
        staff=registry.staff_by_id,
        kinds=KIND_WORDS,
        edit_form=edit_form,
        move_form=move_form,
        top=top or [],
    )
    return answered(page, forms, top)


@bp.get("/windows/<window_id>")
@permission_required("read_operations")
def window(window_id: str):
    return _window_page(window_id)


@bp.post("/windows/<window_id>")
@permission_required("operate")
def edit_window(window_id: str):
    _window(window_id)
    form = WindowForm()
    if not form.validate_on_submit():
        return _window_page(window_id, {"edit": form})

    def edit(mapping: dict) -> None:
        edits.edit_window(mapping, window_id, form.name.data, form.position())

    outcome = apply(form, "window.edit", f"window {window_id}", edit, {"position": "row"})
    if not outcome.done:
        return _window_page(window_id, {"edit": form}, outcome.top)
    flash(gettext("已保存窗口 %(name)s。", name=form.name.data), "info")
    return redirect(url_for("ops_places.window", window_id=window_id))


@bp.post("/windows/<window_id>/move")
@permission_required("operate")
def move_window(window_id: str):
    registry, window = _window(window_id)
    (form,) = with_choices(registry, MoveWindowForm())
    if not form.validate_on_submit():
        return _window_page(window_id, {"move": form})

    def edit(mapping: dict) -> None:
        edits.move_window(mapping, window_id, form.department.data)

    outcome = apply(form, "window.move", f"window {window_id}", edit)
    if not outcome.done:
        return _window_page(window_id, {"move": form}, outcome.top)
    flash(gettext("已将窗口 %(name)s 划归另一部门。", name=window.name), "info")
    return redirect(url_for("ops_places.window", window_id=window_id))


@bp.route("/windows/<window_id>/retire", methods=["GET", "POST"])
@permission_required("operate")
def retire_window(window_id: str):
    _, window = _window(window_id)
    form = ConfirmForm()
    together = request.form.get("with_dependents") == "yes"

    def edit(mapping: dict, together: bool = together) -> None:
        edits.retire_window(mapping, window_id, with_dependents=together)

    if request.method == "POST" and form.validate_on_submit():
        outcome = apply(form, "window.retire", f"window {window_id}", edit)
        if outcome.done:
            flash(gettext("已停用窗口 %(name)s。", name=window.name), "info")
            return redirect(url_for("ops_places.index"))
        form.confirm.errors = outcome.top
    return confirm_page(
        gettext("停用窗口 %(name)s", name=window.name),
        gettext("指向此窗口的设备和排班会随它一并停用(见下表);过去的日子仍按当时的名册统计。"),
        preview("window.retire", f"window {window_id}", lambda m: edit(m, True)),
        form,
        url_for("ops_places.window", window_id=window_id),
        extra={"with_dependents": "yes"},
    )


# --- devices ---------------------------------------------------------------------------------


def _device(device_id: str):
    registry = runtime().registry(fresh=True)
    device = registry.device_by_id.get(device_id)
    if device is None:
        abort(404)
    return registry, device


@bp.post("/devices")
@permission_required("operate")
def add_device():
    registry = runtime().registry(fresh=True)
    (form,) = with_choices(registry, AddDeviceForm())
    if not form.validate_on_submit():
        return _list_page({"device": form})
    device_id = form.device_id.data.strip()

    def edit(mapping: dict) -> None:
        edits.add_device(mapping, registry.hall.id, device_id, {**form.values(), **form.place()})

    outcome = apply(form, "device.add", f"device {device_id}", edit, DEVICE_FIELDS)
    if not outcome.done:
        return _list_page({"device": form}, outcome.top)
    flash(gettext("已添加设备 %(id)s。", id=device_id), "info")
    return redirect(url_for("ops_places.device", device_id=device_id))


def _device_page(device_id: str, forms: dict | None = None, top: list[str] | None = None):
    registry, device = _device(device_id)
    forms = forms or {}
    edit_form = forms.get("edit") or DeviceForm(formdata=None, data=device_data(device))
    place = {"window": device.window or "", "department": device.department or ""}
    place_form = forms.get("move") or PlaceForm(formdata=None, data=place)
    with_choices(registry, place_form)
    page = render_template(
        "ops_device.html",
        device=device,
        window=registry.window_by_id.get(device.window or ""),
        department=registry.department_by_id.get(device.department or ""),
        kinds=KIND_WORDS,
        edit_form=edit_form,
        place_form=place_form,
        top=top or [],
    )
    return answered(page, forms, top)


@bp.get("/devices/<device_id>")
@permission_required("read_operations")
def device(device_id: str):
    return _device_page(device_id)


@bp.post("/devices/<device_id>")
@permission_required("operate")
def edit_device(device_id: str):
    _device(device_id)
    form = DeviceForm()
    if not form.validate_on_submit():
        return _device_page(device_id, {"edit": form})

    def edit(mapping: dict) -> None:
        edits.edit_device(mapping, device_id, form.values())

    outcome = apply(form, "device.edit", f"device {device_id}", edit)
    if not outcome.done:
        return _device_page(device_id, {"edit": form}, outcome.top)
    flash(gettext("已保存设备 %(id)s。", id=device_id), "info")
    return redirect(url_for("ops_places.device", device_id=device_id))


@bp.post("/devices/<device_id>/move")
@permission_required("operate")
def move_device(device_id: str):
    registry, _ = _device(device_id)
    (form,) = with_choices(registry, PlaceForm())
    if not form.validate_on_submit():
        return _device_page(device_id, {"move": form})

    def edit(mapping: dict) -> None:
        edits.move_device(mapping, device_id, **form.place())

    outcome = apply(form, "device.move", f"device {device_id}", edit)
    if not outcome.done:
        return _device_page(device_id, {"move": form}, outcome.top)
    flash(gettext("已移动设备 %(id)s。", id=device_id), "info")
    return redirect(url_for("ops_places.device", device_id=device_id))


@bp.route("/devices/<device_id>/retire", methods=["GET", "POST"])
@permission_required("operate")
def retire_device(device_id: str):
    _device(device_id)
    form = ConfirmForm()

    def edit(mapping: dict) -> None:
        edits.retire_device(mapping, device_id)

    if request.method == "POST" and form.validate_on_submit():
        outcome = apply(form, "device.retire", f"device {device_id}", edit)
        if outcome.done:
            flash(gettext("已停用设备 %(id)s。", id=device_id), "info")
            return redirect(url_for("ops_places.index"))
        form.confirm.errors = outcome.top
    return confirm_page(
        gettext("停用设备 %(id)s", id=device_id),
        gettext("停用后,此设备发来的消息将作为未知设备被拒收并列出。"),
        preview("device.retire", f"device {device_id}", edit),
        form,
        url_for("ops_places.device", device_id=device_id),
    )
