"""The forms of the staffing page (人员调整): leave, a swap of two people or two windows, a
replacement, a decision and a withdrawal; and the words for what the registry refuses.

Each form checks its own fields (required, lengths, order of times); what only the
registry can say (a person of another department, not rostered there, an id taken) comes
back as `StaffingRefused` and is put beside the field it names (`show_refusal`).
"""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from hallwatch.registry.spec import LEAVE_TYPES
from hallwatch.registry.staffing import NOTE_MAX_CHARS
from hallwatch.registry.staffing_rules import StaffingRefused

TEXT_MAX_CHARS = 200  # docs/REGISTRY.md: a text value
LEAVE_TYPE_WORDS = {
    "personal": lazy_gettext("事假"),
    "sick": lazy_gettext("病假"),
    "annual": lazy_gettext("年假"),
    "compensatory": lazy_gettext("调休"),
    "official": lazy_gettext("公出"),
    "training": lazy_gettext("培训"),
    "other": lazy_gettext("其他"),
}
REFUSAL_WORDS = {
    "not_yours": lazy_gettext("不是您可以调整的人员或窗口"),
    "same": lazy_gettext("两方须不同"),
    "order": lazy_gettext("结束时间须晚于开始时间"),
    "type": lazy_gettext("请选择请假类型"),
    "text": lazy_gettext("不能含换行等控制字符,最多 200 字"),
    "not_rostered": lazy_gettext("此人在该窗口没有该日期及以后的排班"),
    "id": lazy_gettext("编号只能由字母、数字、_ 和 - 组成,最多 64 个字符"),
    "taken": lazy_gettext("该编号已有人使用"),
    "card": lazy_gettext("卡号无效:请写十六进制 UID(如 04A1B2C3)或 dec: 加印刷的十进制卡号"),
    "missing": lazy_gettext("必填"),
}


def _date(label) -> DateField:
    return DateField(label, validators=[InputRequired(message=lazy_gettext("请输入日期"))])


def _text(label, required: bool = False) -> StringField:
    first = DataRequired(message=lazy_gettext("必填")) if required else Optional()
    limit = Length(max=TEXT_MAX_CHARS, message=lazy_gettext("最多 200 字"))
    return StringField(label, validators=[first, limit])


class LeaveForm(FlaskForm):
    staff = SelectField(lazy_gettext("人员"), validate_choice=True)
    from_day = _date(lazy_gettext("开始日期"))
    from_time = TimeField(lazy_gettext("开始时间(可不填:当天开始)"), validators=[Optional()])
    until_day = _date(lazy_gettext("结束日期"))
    until_time = TimeField(lazy_gettext("结束时间(可不填:当天结束)"), validators=[Optional()])
    type = SelectField(
        lazy_gettext("请假类型"),
        choices=[SelectChoice(k, LEAVE_TYPE_WORDS[k]) for k in LEAVE_TYPES],
        validate_choice=True,
    )
    reason = _text(lazy_gettext("事由"))

    def validate_until_day(self, field) -> None:
        if self.from_day.data and field.data and field.data < self.from_day.data:
            raise ValidationError(lazy_gettext("结束日期不能早于开始日期"))


class SwapForm(FlaskForm):
    """Two people (`by` = "staff") or two windows (`by` = "windows") swap for one day."""

    by = HiddenField()
    day = _date(lazy_gettext("调班日期"))
    first = SelectField(lazy_gettext("一方"), validate_choice=True)
    second = SelectField(lazy_gettext("另一方"), validate_choice=True)

    def validate_second(self, field) -> None:
        if field.data and field.data == self.first.data:
            raise ValidationError(REFUSAL_WORDS["same"])


class ReplacementForm(FlaskForm):
    window = SelectField(lazy_gettext("窗口"), validate_choice=True)
    leaving = SelectField(lazy_gettext("被替换人员"), validate_choice=True)
    day = _date(lazy_gettext("生效日期"))
    coming = SelectField(lazy_gettext("接替人员"), validate_choice=True)
    new_id = _text(lazy_gettext("新人员编号"))
    new_name = _text(lazy_gettext("新人员姓名"))
    new_card = _text(lazy_gettext("新人员卡号(可不填)"))

    def validate_new_id(self, field) -> None:
        if not self.coming.data and not (field.data or "").strip():
            raise ValidationError(lazy_gettext("接替人员为新人员时必填"))

    def validate_new_name(self, field) -> None:
        if not self.coming.data and not (field.data or "").strip():
            raise ValidationError(lazy_gettext("接替人员为新人员时必填"))


class DecideForm(FlaskForm):
    note = TextAreaField(
        lazy_gettext("审批意见"),
        validators=[
            DataRequired(message=lazy_gettext("请填写审批意见")),
            Length(max=NOTE_MAX_CHARS, message=lazy_gettext("审批意见最多 500 字")),
        ],
    )
    approve = SubmitField(lazy_gettext("批准"))
    reject = SubmitField(lazy_gettext("驳回"))


class WithdrawForm(FlaskForm):
    submit = SubmitField(lazy_gettext("撤回申请"))


# The form field each refusal names (StaffingRefused.field), where it differs.
REFUSAL_FIELDS = {"until": "until_day"}


def show_refusal(form: FlaskForm, refused: StaffingRefused) -> None:
    """Put the refusal beside the field it names."""
    name = REFUSAL_FIELDS.get(refused.field, refused.field)
    field = getattr(form, name, None) or next(iter(form))
    field.errors = [*field.errors, REFUSAL_WORDS.get(refused.code, refused.code)]
