"""What may be asked for: a staffing request checked against the registry and the filer's
scope before it is stored (hallwatch.registry.staffing).

A department head asks only for their own department's people and windows; a hall
manager for any of their halls'. Each refusal names the form field at fault and a code
the pages turn into words (`StaffingRefused`). Pure: no database, no clock.
"""

from __future__ import annotations

from datetime import date, datetime

from hallwatch.registry import values
from hallwatch.registry.spec import LEAVE_TYPES
from hallwatch.registry.staffing import LEAVE, REPLACEMENT, SWAP, Filed, StaffingRequestRow


class StaffingRefused(ValueError):
    """Not a request this user may file: `field` is the form field at fault, `code` why
    (not_yours, same, order, type, text, not_rostered, id, taken, card, missing)."""

    def __init__(self, field: str, code: str, detail: str = "") -> None:
        super().__init__(f"{field}: {code} {detail}".strip())
        self.field = field
        self.code = code
        self.detail = detail


def _person(filed: Filed, field: str, staff: str | None):
    person = filed.registry.staff_by_id.get(staff or "")
    if person is None or not filed.scope.sees_department(person.department):
        raise StaffingRefused(field, "not_yours", staff or "")
    return person


def _window(filed: Filed, field: str, window: str | None):
    place = filed.registry.window_by_id.get(window or "")
    if place is None or not filed.scope.sees_department(place.department):
        raise StaffingRefused(field, "not_yours", window or "")
    return place


def _text(field: str, text: str, required: bool = False) -> str:
    text = (text or "").strip()
    if not text:
        if required:
            raise StaffingRefused(field, "missing")
        return ""
    try:
        return values.text(text)
    except values.Invalid as exc:
        raise StaffingRefused(field, "text", str(exc)) from None


def leave_request(
    filed: Filed, staff: str, start: datetime, end: datetime, kind: str, reason: str
) -> StaffingRequestRow:
    """Leave of one person of the filer's department, from `start` until `end`."""
    person = _person(filed, "staff", staff)
    if end <= start:
        raise StaffingRefused("until", "order")
    if kind not in LEAVE_TYPES:
        raise StaffingRefused("type", "type", kind)
    return StaffingRequestRow(
        kind=LEAVE,
        department_id=person.department,
        staff_id=person.id,
        start=start,
        end=end,
        leave_type=kind,
        reason=_text("reason", reason),
    )


def swap_request(
    filed: Filed, day: date, people: tuple[str, str] | None, windows: tuple[str, str] | None
) -> StaffingRequestRow:
    """Two people exchange `day`'s duties, or the people of two windows exchange windows."""
    if people is not None:
        first, second = (
            _person(filed, f, s) for f, s in zip(("first", "second"), people, strict=True)
        )
    elif windows is not None:
        first, second = (
            _window(filed, f, w) for f, w in zip(("first", "second"), windows, strict=True)
        )
    else:
        raise StaffingRefused("first", "missing")
    if first.id == second.id:
        raise StaffingRefused("second", "same", first.id)
    by_people = people is not None
    return StaffingRequestRow(
        kind=SWAP,
        department_id=first.department,
        day=day,
        staff_id=first.id if by_people else None,
        other_staff_id=second.id if by_people else None,
        window_id=None if by_people else first.id,
        other_window_id=None if by_people else second.id,
    )


def _rostered_from(filed: Filed, staff: str, window: str, day: date) -> bool:
    return any(
        line.staff == staff
        and line.window == window
        and (line.until_date is None or line.until_date >= day)
        for line in filed.registry.roster
    )


def _newcomer(filed: Filed, new_id: str, new_name: str, new_card: str) -> tuple[str, str, str]:
    try:
        ident = values.ident(new_id.strip())
    except values.Invalid as exc:
        raise StaffingRefused("new_id", "id", str(exc)) from None
    if ident in filed.registry.staff_by_id:
        raise StaffingRefused("new_id", "taken", ident)
    name = _text("new_name", new_name, required=True)
    card = ""
    if new_card.strip():
        try:
            card = values.card(new_card.strip())
        except values.Invalid as exc:
            raise StaffingRefused("new_card", "card", str(exc)) from None
    return ident, name, card


def replacement_request(
    filed: Filed,
    window: str,
    leaving: str,
    day: date,
    coming: str = "",
    newcomer: tuple[str, str, str] | None = None,
) -> StaffingRequestRow:
    """From `day`, `coming` (a person of the window's department) or a `newcomer` (id, name,
    card or "") works `leaving`'s roster at `window`."""
    place = _window(filed, "window", window)
    person = _person(filed, "leaving", leaving)
    if not _rostered_from(filed, person.id, place.id, day):
        raise StaffingRefused("leaving", "not_rostered", person.id)
    row = StaffingRequestRow(
        kind=REPLACEMENT,
        department_id=place.department,
        window_id=place.id,
        staff_id=person.id,
        day=day,
    )
    if newcomer is not None:
        row.other_staff_id, row.new_name, card = _newcomer(filed, *newcomer)
        row.new_card = card or None
        return row
    other = _person(filed, "coming", coming)
    if other.id == person.id:
        raise StaffingRefused("coming", "same", other.id)
    if other.department != place.department:
        raise StaffingRefused("coming", "not_yours", other.id)
    row.other_staff_id = other.id
    return row
