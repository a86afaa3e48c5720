"""Applying a deployment to the database idempotently: each table's rows compared with
the wanted ones and added, restored, updated or retired, counted per section in an
`ImportSummary`, and the registry's revision counted. An entry missing from a newer file is
retired (kept with `retired_at`), so what happened before still has its window, person and
device; one that reappears is restored. Re-importing the same file writes nothing. A
change is also kept as a version of the whole registry (`hallwatch.registry.versions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hallwatch.registry.columns import Desired, desired_rows, hall_row_ids, primary_key_name
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.load import registry_revision
from hallwatch.registry.models import Base, RegistryRevisionRow
from hallwatch.registry.spec import Registry
from hallwatch.registry.versions import keep_history, store_version


@dataclass
class SectionCounts:
    """What one import did to one kind of entry."""

    added: int = 0
    restored: int = 0  # retired before, back in the file
    updated: int = 0
    retired: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return self.added + self.restored + self.updated + self.retired


@dataclass
class ImportSummary:
    """Counts per section (hall, departments, windows, staff, badges, devices, roster, leave)."""

    sections: dict[str, SectionCounts] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return sum(counts.changes for counts in self.sections.values())

    def __str__(self) -> str:
        parts = []
        for name, counts in self.sections.items():
            done = [
                f"{getattr(counts, f.name)} {f.name}"
                for f in fields(counts)
                if f.name != "unchanged" and getattr(counts, f.name)
            ]
            if done:
                parts.append(f"{name}: {', '.join(done)}")
        unchanged = sum(counts.unchanged for counts in self.sections.values())
        if not parts:
            return f"no changes ({unchanged} entries unchanged)"
        return "; ".join(parts) + f" ({unchanged} unchanged)"


def _sync(session: Session, model: type[Base], desired: Desired, now: datetime) -> SectionCounts:
    """Make the table's current rows exactly `desired`: add, restore, update, retire."""
    counts = SectionCounts()
    key_name = primary_key_name(model)
    existing = {getattr(row, key_name): row for row in session.scalars(select(model))}
    for seq, (key, columns) in enumerate(desired.items()):
        row = existing.get(key)
        if row is None:
            session.add(
                model(**{key_name: key}, **columns, seq=seq, created_at=now, updated_at=now)
            )
            counts.added += 1
            continue
        restored = row.retired_at is not None
        changed = any(getattr(row, name) != value for name, value in columns.items())
        if restored:
            counts.restored += 1
        elif changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
        if restored or changed:
            for name, value in columns.items():
                setattr(row, name, value)
            row.retired_at = None
            row.updated_at = now
        if row.seq != seq:
            row.seq = seq  # only the order in the file moved: not counted as a change
    for key, row in existing.items():
        if key not in desired and row.retired_at is None:
            row.retired_at = now
            row.updated_at = now
            counts.retired += 1
    session.flush()
    return counts


def apply_deployment(session: Session, deployment: Deployment, now: datetime) -> ImportSummary:
    """Bring the database to every hall of `deployment` as of `now` (aware), in the caller's
    transaction; a hall missing from it is retired with all it holds."""
    if now.tzinfo is None:
        raise ValueError(f"apply_deployment needs an aware `now`, got {now.isoformat()}")
    keep_history(session, registry_revision(session))
    summary = ImportSummary()
    for model, desired in desired_rows(deployment, hall_row_ids(session, deployment)).items():
        summary.sections[model.__tablename__] = _sync(session, model, desired, now)
    _count_revision(session)
    if summary.changes:
        store_version(session, deployment, registry_revision(session), now, str(summary))
    return summary


def _count_revision(session: Session) -> None:
    # In SQL, not Python: two imports at once on PostgreSQL must each count.
    stmt = update(RegistryRevisionRow).where(RegistryRevisionRow.id == 1)
    if session.execute(stmt.values(revision=RegistryRevisionRow.revision + 1)).rowcount == 0:
        session.add(RegistryRevisionRow(id=1, revision=1))


def apply_registry(session: Session, registry: Registry, now: datetime) -> ImportSummary:
    """Bring the database to the one hall `registry` (the whole deployment becomes it)."""
    return apply_deployment(session, Deployment((registry,)), now)
