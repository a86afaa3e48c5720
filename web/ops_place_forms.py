"""The forms of the windows and devices pages (web/ops_places.py): a window's name and
floor cell, a device's kind, place, firmware name and options as the registry's keys."""

from __future__ import annotations

from flask_babel import lazy_gettext
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
from hallwatch.registry.spec import TASMOTA_FULL_TOPIC, ZIGBEE2MQTT_BASE, Device, Registry
from hallwatch.registry.values import MAX_TEXT_LEN
from web.ops_forms import department_choices, window_choices

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


def _minutes(value) -> int | float | None:
    """Minutes as the registry's mapping holds them (a whole number as an int), so a form
    saved unchanged compares equal to what it was."""
    if value is None:
        return None
    return int(value) if value == int(value) else float(value)


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
            "offline_after_minutes": _minutes(minutes),
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


def with_choices(registry: Registry, *forms):
    for form in forms:
        if hasattr(form, "department"):
            form.department.choices = department_choices(registry, blank=hasattr(form, "window"))
        if hasattr(form, "window"):
            form.window.choices = window_choices(registry, blank=True)
    return forms


def device_data(device: Device) -> dict:
    """A device as its form shows it: a default left blank, as the registry file leaves it
    out (so saving the form unchanged changes nothing)."""
    data = {key: getattr(device, key) or "" for key in edits.FIRMWARE_KEYS}
    if data["zigbee2mqtt_base"] == ZIGBEE2MQTT_BASE:
        data["zigbee2mqtt_base"] = ""
    if data["tasmota_full_topic"] == TASMOTA_FULL_TOPIC:
        data["tasmota_full_topic"] = ""
    return {
        **data,
        "kind": device.kind,
        "uid_reversed": device.uid_reversed,
        "uid_decimal": device.uid_decimal,
        "offline_after_minutes": device.offline_after_minutes,
        "sensing": device.sensing or "",
    }
