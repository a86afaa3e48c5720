"""Rosters imported from a registry workbook (docs/REGISTRY.md, "Excel 工作簿"): the 排班
sheet replaces the roster of every hall the user manages, through
hallwatch.registry.changes, so it is validated as a file, shown first (lines added, changed,
removed) and applied in one audited transaction ("roster.import") only when confirmed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hallwatch.registry.apply import ImportSummary
from hallwatch.registry.changes import (
    Change,
    Mapping,
    Preview,
    change_registry,
    hall_id,
    halls_of,
    preview_change,
)
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.file import RegistryError
from hallwatch.registry.load import load_deployment
from hallwatch.registry.workbook import DAY_CHARACTERS
from hallwatch.registry.workbook_read import RosterLine, read_roster

ACTION = "roster.import"
STALE = "名册在预览之后已被修改,请重新上传工作簿并核对"


@dataclass(frozen=True)
class RosterChanges:
    """What an import does to the roster: lines added, changed (before, after), removed,
    each {"hall", "entry"}; and how many lines stay as they are."""

    added: list[Mapping] = field(default_factory=list)
    changed: list[tuple[Mapping, Mapping]] = field(default_factory=list)
    removed: list[Mapping] = field(default_factory=list)
    unchanged: int = 0

    @property
    def count(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


@dataclass(frozen=True)
class RosterImport:
    """A workbook's roster read and compared with the registry's (nothing applied yet)."""

    lines: list[RosterLine]
    changes: RosterChanges
    summary: ImportSummary
    revision: str  # the rosters it was compared with (`rosters_digest`)


def rosters_digest(mapping: Mapping, halls: Collection[str]) -> str:
    """A fingerprint of the rosters of `halls` (all without), to see they did not change
    between the preview and its confirmation."""
    rosters = {
        hall_id(part): part.get("roster", [])
        for part in halls_of(mapping)
        if not halls or hall_id(part) in halls
    }
    text = json.dumps(rosters, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def replace_rosters(
    lines: Sequence[RosterLine], halls: Collection[str], revision: str | None = None
) -> Callable[[Mapping], None]:
    """The edit that makes each hall's roster (of `halls`, or every hall) the lines read;
    with `revision`, refused when the rosters are no longer those previewed."""

    def edit(mapping: Mapping) -> None:
        if revision is not None and rosters_digest(mapping, halls) != revision:
            raise RegistryError([STALE])
        for part in halls_of(mapping):
            hall = hall_id(part)
            if halls and hall not in halls:
                continue
            part["roster"] = [dict(line.entry) for line in lines if line.hall == hall]
            if not part["roster"]:
                del part["roster"]

    return edit


def _line_key(item: Mapping) -> tuple[str, str, str]:
    return item["hall"], item["entry"]["staff"], item["entry"]["window"]


def roster_changes(preview: Preview, lines: int) -> RosterChanges:
    """The roster lines a preview adds, changes and removes: a line of the same person at
    the same window on both sides (once each) is changed, any other is added or removed."""
    was = [item for item in preview.before if item["section"] == "roster"]
    now = [item for item in preview.after if item["section"] == "roster"]
    keys_was = [_line_key(item) for item in was]
    keys_now = [_line_key(item) for item in now]
    paired = {k for k in keys_was if keys_was.count(k) == 1 and keys_now.count(k) == 1}
    changed = [
        (old, next(new for new in now if _line_key(new) == _line_key(old)))
        for old in was
        if _line_key(old) in paired
    ]
    added = [item for item in now if _line_key(item) not in paired]
    removed = [item for item in was if _line_key(item) not in paired]
    return RosterChanges(added, changed, removed, lines - len(added) - len(changed))


def _current(session_factory: Callable[[], Session]) -> Deployment:
    with session_factory() as session:
        return load_deployment(session)


def read_and_compare(
    session_factory: Callable[[], Session],
    data: bytes,
    change: Change,
    now: datetime,
) -> RosterImport:
    """Read the workbook and preview what its roster would change (RegistryError: every bad
    cell, or what the registry would refuse); nothing is applied."""
    deployment = _current(session_factory)
    lines = read_roster(data, deployment, change.halls)
    revision = ""

    def edit(mapping: Mapping) -> None:
        nonlocal revision
        revision = rosters_digest(mapping, change.halls)
        replace_rosters(lines, change.halls)(mapping)

    preview = preview_change(session_factory, change, edit, now)
    return RosterImport(lines, roster_changes(preview, len(lines)), preview.summary, revision)


def apply_roster(
    session_factory: Callable[[], Session],
    lines: Sequence[RosterLine],
    change: Change,
    now: datetime,
    revision: str | None = None,
) -> ImportSummary:
    """Make the rosters the lines, audited as `change` (RegistryError: refused, unchanged)."""
    return change_registry(
        session_factory, change, replace_rosters(lines, change.halls, revision), now
    )


def lines_json(lines: Sequence[RosterLine]) -> str:
    """Lines as the text a confirmation form carries back (`lines_from_json` reads it)."""
    items = [{"row": line.row, "hall": line.hall, "entry": line.entry} for line in lines]
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"))


def lines_from_json(text: str) -> list[RosterLine]:
    """The lines of `lines_json`; RegistryError when the text is not such a list (the
    registry validates their content again when they are applied)."""
    try:
        items = json.loads(text)
        return [RosterLine(int(i["row"]), str(i["hall"]), dict(i["entry"])) for i in items]
    except (ValueError, TypeError, KeyError) as exc:
        raise RegistryError([f"确认的数据无法读取:{exc}"]) from None


def line_words(item: Mapping, deployment: Deployment) -> str:
    """A roster line in words: 张三(s001) · 1号窗口(W01) · 周一、周三 · 2026-12-01 起 …"""
    entry: dict[str, Any] = item["entry"]
    registry = deployment.by_id.get(item["hall"]) or deployment.first
    person = registry.staff_by_id.get(entry["staff"])
    window = registry.window_by_id.get(entry["window"])
    parts = [
        f"{person.name if person else ''}({entry['staff']})",
        f"{window.name if window else ''}({entry['window']})",
        "、".join(f"周{DAY_CHARACTERS[day]}" for day in entry["days"]),
    ]
    if entry.get("from"):
        parts.append(f"{entry['from']} 起")
    if entry.get("until"):
        parts.append(f"至 {entry['until']}")
    if entry.get("hours"):
        parts.append(", ".join(f"{start}-{end}" for start, end in entry["hours"]))
    if not deployment.single:
        parts.insert(0, registry.hall.name)
    return " · ".join(parts)
