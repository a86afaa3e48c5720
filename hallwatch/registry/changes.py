"""One change to the registry made from a form, as a whole transaction, audited.

Every form (a person added, a card registered, a window moved, a leave approved) edits
the registry as its file would be edited: the current registry is written out as the
mapping a file holds (`dump_deployment`), the form's `edit` changes that mapping, and the
result is read back exactly as `hallwatch import` reads a file, so a form can never store
what a file could not say. Nothing is applied unless all of it is valid; the entries that
changed, before and after, go into the audit trail in the same transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hallwatch.registry.apply import ImportSummary, apply_deployment
from hallwatch.registry.audit import record
from hallwatch.registry.dump import dump_deployment, registry_yaml
from hallwatch.registry.file import HALL_ID_KEY, HALLS, SECTIONS, RegistryError
from hallwatch.registry.importing import hold_registry
from hallwatch.registry.load import load_deployment
from hallwatch.registry.parse import parse_deployment
from hallwatch.registry.spec import DEFAULT_HALL_ID

Mapping = dict[str, Any]  # a registry file's content, as `dump_deployment` writes it
LISTS = tuple(s for s in SECTIONS if s != "hall")  # a hall's lists of entries


@dataclass(frozen=True)
class Change:
    """Who changes the registry, from where, and how the audit trail names the change."""

    actor: str
    action: str  # e.g. "staff.add", "card.register", "leave.approve"
    target: str = ""  # what it is done to, e.g. "staff s001"
    address: str = ""  # the client's address
    halls: Collection[str] = ()  # the actor may change only these halls (none: every hall)


def halls_of(mapping: Mapping) -> list[Mapping]:
    """Each hall's part of a registry mapping, whichever form it is in."""
    return mapping[HALLS] if HALLS in mapping else [mapping]


def hall_id(part: Mapping) -> str:
    return part.get(HALL_ID_KEY, DEFAULT_HALL_ID)


def find_entry(mapping: Mapping, section: str, entry_id: str) -> tuple[Mapping, Mapping]:
    """The hall part and the entry of `section` with id `entry_id`; RegistryError if none."""
    for part in halls_of(mapping):
        for entry in part.get(section, ()):
            if entry.get("id") == entry_id:
                return part, entry
    raise RegistryError([f"{section}: no entry with id '{entry_id}'"])


def _entries(mapping: Mapping) -> dict[tuple[str, str, str], Any]:
    """Every entry of every hall, keyed by (hall, section, id or its content)."""
    keyed: dict[tuple[str, str, str], Any] = {}
    for part in halls_of(mapping):
        hall = hall_id(part)
        keyed[(hall, "hall", "")] = {k: v for k, v in part.items() if k not in LISTS}
        for section in LISTS:
            for entry in part.get(section, ()):
                keyed[(hall, section, entry.get("id") or repr(sorted(entry.items())))] = entry
    return keyed


def differences(before: Mapping, after: Mapping) -> tuple[list[Mapping], list[Mapping]]:
    """The entries that differ between two mappings: as they were, and as they are now,
    each with its hall and section (an entry added has no "before", one removed no "after")."""
    old, new = _entries(before), _entries(after)
    was, now = [], []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) == new.get(key):
            continue
        hall, section, _ = key
        if key in old:
            was.append({"hall": hall, "section": section, "entry": old[key]})
        if key in new:
            now.append({"hall": hall, "section": section, "entry": new[key]})
    return was, now


def _outside_scope(before: Mapping, after: Mapping, halls: Collection[str]) -> list[str]:
    if not halls:
        return []
    old = {hall_id(p): p for p in halls_of(before)}
    new = {hall_id(p): p for p in halls_of(after)}
    return sorted(h for h in old.keys() | new.keys() if h not in halls and old.get(h) != new.get(h))


@dataclass(frozen=True)
class Preview:
    """What a change would do, without doing it: counts, and the entries before and after."""

    summary: ImportSummary
    before: list[Mapping]
    after: list[Mapping]


def _edited(session: Session, change: Change, edit: Callable[[Mapping], None]) -> tuple:
    """The registry before and after `edit`, checked as a file and against the scope."""
    before = dump_deployment(load_deployment(session))
    after = copy.deepcopy(before)
    edit(after)
    if outside := _outside_scope(before, after, change.halls):
        raise RegistryError([f"hall '{h}': not a hall you manage" for h in outside])
    return before, after, parse_deployment(registry_yaml(after))


def change_registry(
    session_factory: Callable[[], Session],
    change: Change,
    edit: Callable[[Mapping], None],
    now: datetime,
    session: Session | None = None,
) -> ImportSummary:
    """Apply `edit` (which changes the mapping in place, or raises RegistryError) to the
    registry in one transaction, validated as a file, and record it in the audit trail.

    With `session`, in the caller's transaction (the caller commits or rolls back), so that
    a change and what caused it (a request approved) are stored together or not at all.
    """
    if session is not None:
        return _apply_change(session, change, edit, now)
    with session_factory() as own, own.begin():
        return _apply_change(own, change, edit, now)


def _apply_change(
    session: Session, change: Change, edit: Callable[[Mapping], None], now: datetime
) -> ImportSummary:
    hold_registry(session)
    before, after, deployment = _edited(session, change, edit)
    summary = apply_deployment(session, deployment, now)
    was, is_now = differences(before, after)
    record(
        session,
        change.actor,
        change.action,
        change.target,
        now=now,
        address=change.address,
        before=was,
        after=is_now,
    )
    return summary


def preview_change(
    session_factory: Callable[[], Session],
    change: Change,
    edit: Callable[[Mapping], None],
    now: datetime,
) -> Preview:
    """What `change_registry` would do (RegistryError as it would refuse), rolled back."""
    with session_factory() as session:
        transaction = session.begin()
        try:
            before, after, deployment = _edited(session, change, edit)
            summary = apply_deployment(session, deployment, now)
        finally:
            transaction.rollback()
    return Preview(summary, *differences(before, after))


def register_card(
    session_factory: Callable[[], Session],
    staff_id: str,
    card: str,
    now: datetime,
    halls: Collection[str] = (),
    actor: str = "system",
    address: str = "",
) -> ImportSummary:
    """Add `card` to the badges of `staff_id` (RegistryError naming the problem, and
    nothing changed, when it cannot be). With `halls`, the person must be in one of them."""

    def edit(mapping: Mapping) -> None:
        try:
            part, person = find_entry(mapping, "staff", staff_id)
        except RegistryError:
            raise RegistryError([f"staff: no staff member '{staff_id}' any more"]) from None
        if halls and hall_id(part) not in halls:
            raise RegistryError([f"staff: '{staff_id}' is not in a hall you manage"])
        person["badges"] = [*person.get("badges", ()), card]

    change = Change(actor, "card.register", f"staff {staff_id}", address, halls)
    return change_registry(session_factory, change, edit, now)
