"""A deployment written back as a registry file (docs/REGISTRY.md, docs/MULTI-HALL.md).

The inverse of `parse_deployment`: `parse_deployment(deployment_yaml(d)) == d` for
every deployment the parser can produce. One hall whose id is `main` is written in
the single `hall:` form, anything else as `halls:`. Values the parser would fill in
by default are left out of entries; the hall settings are written in full, since
that block is the one a manager reads first. Pure: no database, no clock, no files.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

import yaml

from hallwatch.registry.deployment import Deployment
from hallwatch.registry.file import HALL_ID_KEY, HALLS, REVISION, SECTIONS
from hallwatch.registry.spec import (
    DEFAULT_HALL_ID,
    TASMOTA_FULL_TOPIC,
    WEEKDAYS,
    ZIGBEE2MQTT_BASE,
    Device,
    HallSettings,
    Leave,
    Registry,
    RosterEntry,
    StaffMember,
    Swap,
    Window,
)
from hallwatch.registry.values import period_texts

LISTS = SECTIONS[1:]  # departments … leave: one entry a line
QUOTED = frozenset({"badges", "hours", "closed_days", "working_days", "from", "until", "date"})
LINE_WIDTH = 1 << 16  # an entry stays on one line, however long its names are


# --- values as the file writes them --------------------------------------------------------


def _number(value: float) -> int | str:
    """Minutes as the parser reads them back exactly: whole numbers bare, others positional
    (the parser takes no exponent, and `repr` would write 1e-07)."""
    if float(value).is_integer():
        return int(value)
    return format(Decimal(repr(float(value))), "f")


def _depends_on_fold(moment: datetime) -> bool:
    return moment.replace(fold=0).utcoffset() != moment.replace(fold=1).utcoffset()


def _hall_time(moment: datetime, tz: tzinfo) -> str:
    """An instant in hall time with its offset.

    A hall-time instant at a clock change (repeated or skipped wall time) is written
    without the offset, as the file it came from must have had it: Python holds such
    an instant unequal to the same instant at a fixed offset.
    """
    local = moment.astimezone(tz)
    spec = "minutes" if not (local.second or local.microsecond) else "auto"
    if moment.tzinfo is tz and moment.fold == 0 and _depends_on_fold(moment):
        return moment.replace(tzinfo=None).isoformat(timespec=spec)
    return local.isoformat(timespec=spec)


# --- entries -------------------------------------------------------------------------------


def _settings(hall: HallSettings) -> dict[str, Any]:
    return {
        "name": hall.name,
        "timezone": hall.timezone,
        "hours": period_texts(hall.hours),
        "holidays": hall.holidays,
        "closed_days": sorted(day.isoformat() for day in hall.closed_days),
        "working_days": sorted(day.isoformat() for day in hall.working_days),
        "empty_grace_minutes": _number(hall.empty_grace_minutes),
        "absent_grace_minutes": _number(hall.absent_grace_minutes),
        "offline_after_minutes": _number(hall.offline_after_minutes),
    }


def _window(window: Window) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": window.id, "name": window.name, "department": window.department}
    if window.position is not None:
        entry["position"] = list(window.position)
    return entry


def _person(person: StaffMember) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": person.id, "name": person.name, "department": person.department}
    if person.badges:
        entry["badges"] = list(person.badges)
    return entry


def _device(device: Device) -> dict[str, Any]:
    """Only the keys that say something: a default written out would be refused where it
    means nothing (a base topic without `zigbee2mqtt`, `uid_reversed` on a sensor)."""
    place = {"window": device.window} if device.window else {"department": device.department}
    entry: dict[str, Any] = {"id": device.id, "kind": device.kind, **place}
    for key in ("zigbee2mqtt", "tasmota", "esphome"):
        if getattr(device, key):
            entry[key] = getattr(device, key)
    if device.zigbee2mqtt and device.zigbee2mqtt_base != ZIGBEE2MQTT_BASE:
        entry["zigbee2mqtt_base"] = device.zigbee2mqtt_base
    if device.tasmota and device.tasmota_full_topic != TASMOTA_FULL_TOPIC:
        entry["tasmota_full_topic"] = device.tasmota_full_topic
    for key in ("uid_reversed", "uid_decimal"):
        if getattr(device, key):
            entry[key] = True
    if device.offline_after_minutes is not None:
        entry["offline_after_minutes"] = _number(device.offline_after_minutes)
    if device.sensing is not None:
        entry["sensing"] = device.sensing
    return entry


def _roster(line: RosterEntry) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "staff": line.staff,
        "window": line.window,
        "days": [day for day in WEEKDAYS if day in line.days],
    }
    if line.from_date is not None:
        entry["from"] = line.from_date.isoformat()
    if line.until_date is not None:
        entry["until"] = line.until_date.isoformat()
    if line.hours is not None:
        entry["hours"] = period_texts(line.hours)
    return entry


def _leave(leave: Leave, tz: tzinfo) -> dict[str, Any]:
    entry = {
        "staff": leave.staff,
        "from": _hall_time(leave.start, tz),
        "until": _hall_time(leave.end, tz),
    }
    if leave.reason:
        entry["reason"] = leave.reason
    if leave.type:
        entry["type"] = leave.type
    return entry


def _swap(swap: Swap) -> dict[str, Any]:
    if swap.staff:
        return {"date": swap.day.isoformat(), "staff": list(swap.staff)}
    return {"date": swap.day.isoformat(), "windows": list(swap.windows or ())}


def _sections(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    """A hall's lists, each left out when empty."""
    tz = registry.hall.tz
    sections = {
        "departments": [{"id": d.id, "name": d.name} for d in registry.departments],
        "windows": [_window(w) for w in registry.windows],
        "staff": [_person(s) for s in registry.staff],
        "devices": [_device(d) for d in registry.devices],
        "roster": [_roster(r) for r in registry.roster],
        "leave": [_leave(v, tz) for v in registry.leave],
        "swaps": [_swap(s) for s in registry.swaps],
    }
    return {name: entries for name, entries in sections.items() if entries}


def dump_deployment(deployment: Deployment) -> dict[str, Any]:
    """The deployment as the mapping a registry file holds (plain dicts, lists and text)."""
    if deployment.single and deployment.first.hall.id == DEFAULT_HALL_ID:
        registry = deployment.first
        return {"hall": _settings(registry.hall), **_sections(registry)}
    return {
        HALLS: [
            {HALL_ID_KEY: r.hall.id, **_settings(r.hall), **_sections(r)} for r in deployment.halls
        ]
    }


# --- YAML ----------------------------------------------------------------------------------


class _Line(dict):
    """An entry of a section: a flow mapping on one line, as docs/REGISTRY.md writes them."""


class _Row(list):
    """A list of values (hours, days, badges, a position) written inline."""


class _Quoted(str):
    """Times, dates and cards in double quotes, as docs/REGISTRY.md writes them."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)  # "  - {…}" under a key, as in docs/REGISTRY.md


_Dumper.add_representer(
    _Line, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)
_Dumper.add_representer(
    _Row, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
_Dumper.add_representer(
    _Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style='"')
)


def _styled(value: Any, key: str | None = None) -> Any:
    """`value` with each part marked for how it is written."""
    if isinstance(value, dict):
        return {k: _styled(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_styled(item, key) for item in value]
        if key in LISTS and all(isinstance(item, dict) for item in items):
            return [_Line(item) for item in items]  # a section (not a swap's `staff` pair)
        return items if key == HALLS else _Row(items)
    if isinstance(value, str) and key in QUOTED:
        return _Quoted(value)
    return value


def registry_yaml(mapping: dict[str, Any]) -> str:
    """A registry mapping (from `dump_deployment`) as the text of a registry file."""
    return yaml.dump(
        _styled(mapping),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=LINE_WIDTH,
    )


def deployment_yaml(deployment: Deployment, revision: int | None = None) -> str:
    """The deployment as a registry file `hallwatch import` takes back unchanged; with the
    registry `revision` it was exported from (an import of an older one is reviewed)."""
    mapping = dump_deployment(deployment)
    return registry_yaml(mapping if revision is None else {REVISION: revision, **mapping})
