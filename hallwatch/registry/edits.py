"""The daily edits of the registry, as a form makes them: staff, cards, windows, devices.

Each function changes a registry mapping (as `changes.change_registry` hands it to an
edit) in place, the way a manager would edit the file, or raises RegistryError naming
the entry and key at fault in the parser's own form ("staff (id s001): key 'name': …"),
so a page can show the problem beside its field. What a file could not say (an unknown
department, a card someone else holds) is left to the parser, which reads the result
as it reads an imported file. Pure: no database, no clock. The roster's edits are in
`roster_edits.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hallwatch.registry import values
from hallwatch.registry.changes import LISTS, Mapping, find_entry, hall_id, halls_of
from hallwatch.registry.file import RegistryError

# A device's keys a form sets besides its id; a value left empty drops the key.
DEVICE_KEYS = (
    "kind",
    "window",
    "department",
    "zigbee2mqtt",
    "zigbee2mqtt_base",
    "tasmota",
    "tasmota_full_topic",
    "esphome",
    "uid_reversed",
    "uid_decimal",
    "offline_after_minutes",
    "sensing",
)
FIRMWARE_KEYS = ("zigbee2mqtt", "zigbee2mqtt_base", "tasmota", "tasmota_full_topic", "esphome")


def problem(section: str, entry_id: str, key: str, message: str) -> RegistryError:
    """A refusal worded as the parser words one, so a page can put it beside its field."""
    return RegistryError([f"{section} (id {entry_id}): key '{key}': {message}"])


def hall_part(mapping: Mapping, hall: str) -> Mapping:
    """The part of the mapping that holds hall `hall`."""
    for part in halls_of(mapping):
        if hall_id(part) == hall:
            return part
    raise RegistryError([f"hall '{hall}': no such hall"])


def entry_of(mapping: Mapping, section: str, entry_id: str) -> tuple[Mapping, Mapping]:
    """The hall part and the entry; a refusal naming the id if it is gone."""
    try:
        return find_entry(mapping, section, entry_id)
    except RegistryError:
        raise problem(section, entry_id, "id", "no such entry (retired meanwhile?)") from None


def _new_id(mapping: Mapping, section: str, entry_id: str) -> None:
    """An id free in the whole file (ids are unique across halls), and well formed."""
    try:
        values.ident(entry_id)
    except values.Invalid as exc:
        raise problem(section, entry_id, "id", str(exc)) from None
    for part in halls_of(mapping):
        if any(e.get("id") == entry_id for e in part.get(section, ())):
            raise problem(section, entry_id, "id", "this id is already used")


def _without(part: Mapping, section: str, keep) -> list[Mapping]:
    """Drop the entries of `section` that `keep` refuses; return the dropped ones."""
    entries = part.get(section, [])
    dropped = [e for e in entries if not keep(e)]
    if dropped:
        part[section] = [e for e in entries if keep(e)]
    return dropped


def names(entry: Mapping, key: str, entry_id: str) -> bool:
    """Whether an entry points at `entry_id` under `key`: `window: W01`, or one of a swap's
    pair (`staff: [s001, s002]`, `windows: [W01, W02]`)."""
    value = entry.get(key)
    return value == entry_id or (isinstance(value, list) and entry_id in value)


def set_or_drop(entry: Mapping, key: str, value: Any) -> None:
    """Set `key`, or drop it when the form left it empty (None, "", False)."""
    if value is None or value is False or value == "" or value == []:  # not 0: refused, not dropped
        entry.pop(key, None)
    else:
        entry[key] = value


# --- staff -----------------------------------------------------------------------------------


def add_person(
    mapping: Mapping, hall: str, staff_id: str, name: str, department: str, badges: Iterable = ()
) -> None:
    """A new person of `department` in hall `hall`, with their cards if any."""
    _new_id(mapping, "staff", staff_id)
    entry: Mapping = {"id": staff_id, "name": name, "department": department}
    set_or_drop(entry, "badges", list(badges))
    hall_part(mapping, hall).setdefault("staff", []).append(entry)


def rename_person(mapping: Mapping, staff_id: str, name: str) -> None:
    entry_of(mapping, "staff", staff_id)[1]["name"] = name


def move_person(mapping: Mapping, staff_id: str, department: str) -> str:
    """Move a person to another department of their hall; the department they left."""
    _, person = entry_of(mapping, "staff", staff_id)
    left = person["department"]
    if department == left:
        raise problem("staff", staff_id, "department", f"already in department '{left}'")
    person["department"] = department
    return left


def retire_person(mapping: Mapping, staff_id: str) -> list[Mapping]:
    """Retire a person with every roster line and leave of theirs (the registry's history
    keeps the past); the entries that went with them."""
    part, person = entry_of(mapping, "staff", staff_id)
    part["staff"] = [e for e in part["staff"] if e is not person]
    gone = []
    for section in LISTS:
        if section != "staff":
            gone += _without(part, section, lambda e: not names(e, "staff", staff_id))
    return gone


def add_card(mapping: Mapping, staff_id: str, card: str) -> None:
    """One more card for a person (the parser refuses a card someone else holds)."""
    _, person = entry_of(mapping, "staff", staff_id)
    try:
        number = values.card(card)
    except values.Invalid as exc:
        raise problem("staff", staff_id, "badges", str(exc)) from None
    held = person.get("badges", [])
    if number in _numbers(held):
        raise problem("staff", staff_id, "badges", f"'{card}' is already one of their cards")
    person["badges"] = [*held, card]


def remove_card(mapping: Mapping, staff_id: str, card: str) -> None:
    """Take a card from a person, however it was written."""
    _, person = entry_of(mapping, "staff", staff_id)
    try:
        number = values.card(card)
    except values.Invalid as exc:
        raise problem("staff", staff_id, "badges", str(exc)) from None
    held = person.get("badges", [])
    kept = [b for b in held if _numbers([b]) != {number}]
    if len(kept) == len(held):
        raise problem("staff", staff_id, "badges", f"'{card}' is not one of their cards")
    set_or_drop(person, "badges", kept)


def _numbers(badges: Iterable[str]) -> set[str]:
    numbers = set()
    for badge in badges:
        try:
            numbers.add(values.card(badge))
        except values.Invalid:
            pass  # a bad card already in the file is the parser's to report
    return numbers


# --- windows ---------------------------------------------------------------------------------


def add_window(
    mapping: Mapping,
    hall: str,
    window_id: str,
    name: str,
    department: str,
    position: list[int] | None = None,
) -> None:
    _new_id(mapping, "windows", window_id)
    entry: Mapping = {"id": window_id, "name": name, "department": department}
    set_or_drop(entry, "position", position)
    hall_part(mapping, hall).setdefault("windows", []).append(entry)


def edit_window(
    mapping: Mapping, window_id: str, name: str, position: list[int] | None = None
) -> None:
    """A window's name and its cell on the floor view (none: placed after the others)."""
    _, window = entry_of(mapping, "windows", window_id)
    window["name"] = name
    set_or_drop(window, "position", position)


def move_window(mapping: Mapping, window_id: str, department: str) -> str:
    """Give a window to another department; the department that had it."""
    _, window = entry_of(mapping, "windows", window_id)
    had = window["department"]
    if department == had:
        raise problem("windows", window_id, "department", f"already staffed by '{had}'")
    window["department"] = department
    return had


def window_dependents(mapping: Mapping, window_id: str) -> list[Mapping]:
    """The devices and roster lines (and any other entry) that point at a window."""
    part, _ = entry_of(mapping, "windows", window_id)
    return [
        entry
        for section in LISTS
        if section != "windows"
        for entry in part.get(section, ())
        if names(entry, "window", window_id) or names(entry, "windows", window_id)
    ]


def retire_window(mapping: Mapping, window_id: str, with_dependents: bool = False) -> list[Mapping]:
    """Retire a window; refused while devices or roster lines point at it, unless they are to
    go with it (`with_dependents`). The entries that went with it."""
    part, window = entry_of(mapping, "windows", window_id)
    dependents = window_dependents(mapping, window_id)
    if dependents and not with_dependents:
        named = ", ".join(_label(e) for e in dependents)
        raise problem("windows", window_id, "id", f"still in use by {named}")
    part["windows"] = [e for e in part["windows"] if e is not window]
    for section in LISTS:
        _without(
            part,
            section,
            lambda e: not (names(e, "window", window_id) or names(e, "windows", window_id)),
        )
    return dependents


def _label(entry: Mapping) -> str:
    """An entry as a person reads it: a device's id, a roster line's person and days."""
    if "id" in entry:
        return f"device {entry['id']}" if "kind" in entry else str(entry["id"])
    if "date" in entry:
        return f"swap of {entry['date']}"
    return f"roster line of {entry.get('staff')} ({' '.join(entry.get('days', ()))})"


# --- devices ---------------------------------------------------------------------------------


def _device_values(device: Mapping, fields: Mapping) -> None:
    """Write the form's values of DEVICE_KEYS onto a device entry, in the file's key order."""
    for key in DEVICE_KEYS:
        if key in fields:
            set_or_drop(device, key, fields[key])


def add_device(mapping: Mapping, hall: str, device_id: str, fields: Mapping) -> None:
    """A new device at a window or a department office, with its firmware name if any."""
    _new_id(mapping, "devices", device_id)
    entry: Mapping = {"id": device_id}
    _device_values(entry, fields)
    hall_part(mapping, hall).setdefault("devices", []).append(entry)


def edit_device(mapping: Mapping, device_id: str, fields: Mapping) -> None:
    """A device's kind, firmware name and options (the keys given in `fields`)."""
    _, device = entry_of(mapping, "devices", device_id)
    if "kind" in fields and fields["kind"] != device.get("kind"):
        # The reader-only and sensor-only options of the old kind would now be refused.
        for key in ("uid_reversed", "uid_decimal", "sensing"):
            if key not in fields:
                device.pop(key, None)
    _device_values(device, fields)
    ordered = {"id": device_id, **{k: device[k] for k in DEVICE_KEYS if k in device}}
    device.clear()
    device.update(ordered)


def move_device(
    mapping: Mapping, device_id: str, window: str | None = None, department: str | None = None
) -> None:
    """Put a device at a window or at a department's office (exactly one of the two)."""
    if bool(window) == bool(department):
        raise problem("devices", device_id, "window", "choose a window or a department office")
    edit_device(mapping, device_id, {"window": window, "department": department})


def retire_device(mapping: Mapping, device_id: str) -> None:
    part, device = entry_of(mapping, "devices", device_id)
    part["devices"] = [e for e in part["devices"] if e is not device]
