"""Reading the audit trail: records picked by who, what, when and target, and what changed.

The page, its CSV and `hallwatch audit list` read through here. Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from hallwatch.registry.audit import AuditRow


@dataclass(frozen=True)
class AuditFilter:
    """Which records: by actor, action, [start, end) and text within the target."""

    actor: str = ""
    action: str = ""
    start: datetime | None = None
    end: datetime | None = None
    target: str = ""

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.actor:
            clauses.append(AuditRow.actor == self.actor)
        if self.action:
            clauses.append(AuditRow.action == self.action)
        if self.start is not None:
            clauses.append(AuditRow.at >= self.start)
        if self.end is not None:
            clauses.append(AuditRow.at < self.end)
        if self.target:
            escaped = self.target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(AuditRow.target.like(f"%{escaped}%", escape="\\"))
        return clauses


def newest_first(chosen: AuditFilter) -> Select:
    return select(AuditRow).where(*chosen.where()).order_by(AuditRow.seq.desc())


def count(session: Session, chosen: AuditFilter) -> int:
    return session.scalar(select(func.count()).select_from(AuditRow).where(*chosen.where()))


def page(session: Session, chosen: AuditFilter, offset: int, limit: int) -> list[AuditRow]:
    """One page of the chosen records, newest first."""
    return list(session.scalars(newest_first(chosen).offset(offset).limit(limit)))


def actions(session: Session) -> list[str]:
    """Every action the trail holds, in order (for a filter's choices)."""
    return list(session.scalars(select(AuditRow.action).distinct().order_by(AuditRow.action)))


@dataclass(frozen=True)
class KeyChange:
    """One key of a record's before/after: its old and new value (None: not there)."""

    key: str
    old: Any
    new: Any


def key_changes(before: Any, after: Any) -> list[KeyChange]:
    """The keys whose values differ between `before` and `after`, in key order.

    Two mappings are compared key by key; anything else (a list, a single value) is
    one change under the key "".
    """
    if before == after:
        return []
    if not isinstance(before, dict | None) or not isinstance(after, dict | None):
        return [KeyChange("", before, after)]
    old, new = before or {}, after or {}
    return [
        KeyChange(key, old.get(key), new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def shown(value: Any) -> str:
    """A value as one line of text ("" for none)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def describe(changes: Sequence[KeyChange]) -> str:
    """Changes as one line: "role: inspector → admin; password: → changed"."""
    return "; ".join(
        f"{c.key + ': ' if c.key else ''}{shown(c.old)} → {shown(c.new)}" for c in changes
    )
