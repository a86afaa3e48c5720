"""Windows and devices from the browser (/ops/places): list and search, add, edit, move,
retire after a confirmation; a device's firmware name and options (docs/DEVICES.md §1.2).
Each change is the registry edited as its file (hallwatch.registry.edits) through
`change_registry`: the import's validation, one transaction, the audit trail."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from hallwatch.registry import edits
from hallwatch.registry.spec import Registry
from hallwatch.registry.values import MAX_TEXT_LEN
from web.ops_forms import (
    ConfirmForm,
    apply,
    confirm_page,
    department_choices,
    errors_of,
    preview,
    runtime,
    window_choices,
)
from web.roles import permission_required

bp = Blueprint("ops_places", __name__, url_prefix="/ops/places")

WINDOW_FIELDS = {"id": "window_id"}
DEVICE_FIELDS = {"id": "device_id"}
KIND_WORDS = {
    "badge_reader": lazy_gettext("读卡器"),
    "presence_sensor": lazy_gettext("在位传感器"),
}
KIND_CHOICES = [SelectChoice(kind, words) for kind, words in KIND_WORDS.items()]
SENSING_CHOICES = [SelectChoice(v, v or "—") for v in ("", "pir", "radar")]


def _required(message):
    return [InputRequired(message=message)]


class WindowForm(FlaskForm):
    name = StringField(
        lazy_gettext("名称"),
        validators=[*_required(lazy_gettext("请输入名称")), Length(max=MAX_TEXT_LEN)],
    )
    row = IntegerField(lazy_gettext("行(可不填)"), validators=[Optional(), NumberRange(min=1)])
    column = IntegerField(lazy_gettext("列(可不填)"), validators=[Optional(), NumberRange(min=1)])

    def position(self) -> list[int] | None:
        if self.row.data is None and self.column.data is None:
            return None
        return [self.row.data or 0, self.column.data or 0]  # one without the other: refused


class AddWindowForm(WindowForm):
    window_id = StringField(
        lazy_gettext("编号"), validators=[*_required(lazy_gettext("请输入编号"))]
    )
    department = SelectField(lazy_gettext("部门"), validate_choice=True)


class MoveWindowForm(FlaskForm):
    department = SelectField(lazy_gettext("部门"), validate_choice=True)


class DeviceForm(FlaskForm):
    kind = SelectField(lazy_gettext("类型"), choices=KIND_CHOICES, validate_choice=True)
    zigbee2mqtt = StringField(lazy_gettext("Zigbee2MQTT 名称 (friendly_name)"))
    zigbee2mqtt_base = StringField(lazy_gettext("Zigbee2MQTT 基础主题(默认 zigbee2mqtt)"))
    tasmota = StringField(lazy_gettext("Tasmota 主题 (Topic)"))
    tasmota_full_topic = StringField(lazy_gettext("Tasmota FullTopic(默认 %prefix%/%topic%/)"))
    esphome = StringField(lazy_gettext("ESPHome 实体(节点/object_id)"))
    uid_reversed = BooleanField(lazy_gettext("卡号字节倒序 (uid_reversed)"))
    uid_decimal = BooleanField(lazy_gettext("卡号为十进制 (uid_decimal)"))
    offline_after_minutes = DecimalField(
        lazy_gettext("静默多少分钟算离线(可不填)"), validators=[Optional()]
    )
    sensing = SelectField(lazy_gettext("感应方式"), choices=SENSING_CHOICES, validate_choice=True)

    def values(self) -> dict:
        """The form as the registry's device keys (empty ones dropped by the edit)."""
        minutes = self.offline_after_minutes.data
        return {
            "kind": self.kind.data,
            **{key: (getattr(self, key).data or "").strip() for key in edits.FIRMWARE_KEYS},
            "uid_reversed": self.uid_reversed.data,
            "uid_decimal": self.uid_decimal.data,
            "offline_after_minutes": None if minutes is None else format(minutes, "f"),
            "sensing": self.sensing.data,
        }


class PlaceForm(FlaskForm):
    """Where a device sits: a window, or a department's office."""

    window = SelectField(lazy_gettext("窗口"), validate_choice=True)
    department = SelectField(lazy_gettext("或部门办公室"), validate_choice=True)

    def place(self) -> dict:
        return {"window": self.window.data or None, "department": self.department.data or None}


class AddDeviceForm(DeviceForm, PlaceForm):
    device_id = StringField(
        lazy_gettext("编号"), validators=[*_required(lazy_gettext("请输入编号"))]
    )


def _with_choices(registry: Registry, *forms):
    for form in forms:
        if hasattr(form, "department"):
            form.department.choices = department_choices(registry, blank=hasattr(form, "window"))
        if hasattr(form, "window"):
            form.window.choices = window_choices(registry, blank=True)
    return forms


def _matches(words, query: str) -> bool:
    query = query.strip().lower()
    return not query or any(query in (w or "").lower() for w in words)


# --- the list --------------------------------------------------------------------------------


def _list_page(forms: dict | None = None, top: list[str] | None = None):
    registry = runtime().registry(fresh=True)
    forms = forms or {}
    window_form = forms.get("window") or AddWindowForm(formdata=None)
    device_form = forms.get("device") or AddDeviceForm(formdata=None)
    _with_choices(registry, window_form, device_form)
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
    failed = top or any(errors_of(f) for f in forms.values())
    return page, 400 if failed else 200


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
    (form,) = _with_choices(registry, AddWindowForm())
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
    _with_choices(registry, move_form)
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
    failed = top or any(errors_of(f) for f in forms.values())
    return page, 400 if failed else 200


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
    (form,) = _with_choices(registry, MoveWindowForm())
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
    (form,) = _with_choices(registry, AddDeviceForm())
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


def _device_data(device) -> dict:
    data = {key: getattr(device, key) or "" for key in edits.FIRMWARE_KEYS}
    if not device.zigbee2mqtt:
        data["zigbee2mqtt_base"] = ""
    if not device.tasmota:
        data["tasmota_full_topic"] = ""
    return {
        **data,
        "kind": device.kind,
        "uid_reversed": device.uid_reversed,
        "uid_decimal": device.uid_decimal,
        "offline_after_minutes": device.offline_after_minutes,
        "sensing": device.sensing or "",
    }


def _device_page(device_id: str, forms: dict | None = None, top: list[str] | None = None):
    registry, device = _device(device_id)
    forms = forms or {}
    edit_form = forms.get("edit") or DeviceForm(formdata=None, data=_device_data(device))
    place = {"window": device.window or "", "department": device.department or ""}
    place_form = forms.get("move") or PlaceForm(formdata=None, data=place)
    _with_choices(registry, place_form)
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
    failed = top or any(errors_of(f) for f in forms.values())
    return page, 400 if failed else 200


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
    (form,) = _with_choices(registry, PlaceForm())
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
