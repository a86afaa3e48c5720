"""A registry file reviewed before it is imported: what it would add, change and retire.

`review_import` shows it and changes nothing (`hallwatch import --dry-run`, the upload's
preview page); `confirm_import` applies it in one transaction and records it in the
audit trail (action `registry.import`, the changed entries before and after). A file
exported from an older revision than the registry's (its `revision:` key) that would
retire entries is refused (`RetirementsNotConfirmed`) unless its retirements are
confirmed: such a file silently undoes what was added since it was made. The entries are
compared as the registry file writes them (`changes.differences` on the two dumps).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hallwatch.registry.apply import ImportSummary, apply_deployment
from hallwatch.registry.audit import record
from hallwatch.registry.changes import differences
from hallwatch.registry.dump import dump_deployment
from hallwatch.registry.importing import hold_registry, scoped
from hallwatch.registry.load import load_deployment, registry_revision
from hallwatch.registry.parse import read_registry_file

Listed = dict[str, Any]  # {"hall", "section", "entry"}, as `changes.differences` lists them
ACTION = "registry.import"


class RetirementsNotConfirmed(Exception):
    """The file is older than the registry and would retire entries: `review` lists them."""

    def __init__(self, review: Review) -> None:
        self.review = review
        super().__init__(
            f"made from revision {review.file_revision}, the registry is at {review.revision}; "
            f"it would retire {len(review.retired)} entries"
        )


class RegistryMoved(Exception):
    """The registry changed since the file was reviewed: review it again."""


@dataclass(frozen=True)
class Review:
    """What importing a file does: counts, and the entries added, changed and retired."""

    summary: ImportSummary
    added: list[Listed]
    changed: list[tuple[Listed, Listed]]  # (before, after)
    retired: list[Listed]
    file_revision: int | None  # the file's `revision:`
    revision: int  # the registry's when reviewed

    @property
    def stale(self) -> bool:
        """Exported from an older revision than the registry's."""
        return self.file_revision is not None and self.file_revision < self.revision

    @property
    def needs_confirmation(self) -> bool:
        return self.stale and bool(self.retired)

    def listed(self) -> list[tuple[str, str, list[str]]]:
        """(kind: added/updated/retired, section, the entries' labels), in the file's order."""
        found = []
        for kind, labels in (
            ("added", [(i["section"], label(i)) for i in self.added]),
            ("updated", [(a["section"], label(a, b)) for b, a in self.changed]),
            ("retired", [(i["section"], label(i)) for i in self.retired]),
        ):
            by_section: dict[str, list[str]] = {}
            for section, text in labels:
                by_section.setdefault(section, []).append(text)
            found += [(kind, section, texts) for section, texts in by_section.items()]
        return found

    def lines(self) -> list[str]:
        """One line per kind and section, naming the entries: `windows added: W04 (4号窗口)`."""
        words = {"added": "added", "updated": "changed", "retired": "retired"}
        return [f"{s} {words[kind]}: {', '.join(t)}" for kind, s, t in self.listed()]


def label(item: Listed, before: Listed | None = None) -> str:
    """An entry as a person reads it: its id and name (a changed name: old → new), or what it
    says (roster, leave)."""
    entry = item["entry"]
    name = entry.get("name")
    if before is not None and before["entry"].get("name") not in (None, name):
        name = f"{before['entry']['name']} → {name}"
    if item["section"] == "hall":
        return f"{item['hall']} ({name})"
    if "id" in entry:
        return f"{entry['id']} ({name})" if name else str(entry["id"])
    if item["section"] == "roster":
        return f"{entry.get('staff')}@{entry.get('window')}"
    return f"{entry.get('staff')} {entry.get('from')}–{entry.get('until')}"


def _key(item: Listed) -> tuple:
    entry = item["entry"]
    if item["section"] == "hall":
        return (item["hall"], "hall", "")
    return (item["hall"], item["section"], entry.get("id") or repr(sorted(entry.items())))


def _review(
    session: Session, text: str, now: datetime, halls: Collection[str]
) -> tuple[Review, list[Listed], list[Listed]]:
    """Apply the file in the caller's transaction; the review and the entries before/after."""
    uploaded, file_revision = read_registry_file(text)
    revision = registry_revision(session)
    before = dump_deployment(load_deployment(session))
    deployment = scoped(session, uploaded, halls)
    summary = apply_deployment(session, deployment, now)
    was, is_now = differences(before, dump_deployment(deployment))
    old, new = {_key(i): i for i in was}, {_key(i): i for i in is_now}
    review = Review(
        summary,
        added=[i for k, i in new.items() if k not in old],
        changed=[(old[k], i) for k, i in new.items() if k in old],
        retired=[i for k, i in old.items() if k not in new],
        file_revision=file_revision,
        revision=revision,
    )
    return review, was, is_now


def review_import(
    session_factory: Callable[[], Session], text: str, now: datetime, halls: Collection[str] = ()
) -> Review:
    """What importing `text` would do (RegistryError as the import would refuse it); nothing
    is applied."""
    with session_factory() as session:
        transaction = session.begin()
        try:
            review, _, _ = _review(session, text, now, halls)
        finally:
            transaction.rollback()
    return review


@dataclass(frozen=True)
class Importer:
    """Who imports, from where, and the file's name as the audit trail shows it."""

    actor: str
    target: str
    address: str = ""
    halls: Collection[str] = ()


def confirm_import(
    session_factory: Callable[[], Session],
    text: str,
    now: datetime,
    importer: Importer,
    confirm_retirements: bool = False,
    expect_revision: int | None = None,
) -> Review:
    """Import `text` in one transaction and record it in the audit trail.

    RetirementsNotConfirmed (nothing applied) for an older file's retirements unless
    `confirm_retirements`; RegistryMoved when the registry is no longer at `expect_revision`
    (the revision a preview was made at).
    """
    with session_factory() as session, session.begin():
        hold_registry(session)
        if expect_revision is not None and registry_revision(session) != expect_revision:
            raise RegistryMoved(f"the registry is no longer at revision {expect_revision}")
        review, was, is_now = _review(session, text, now, importer.halls)
        if review.needs_confirmation and not confirm_retirements:
            raise RetirementsNotConfirmed(review)
        record(
            session,
            importer.actor,
            ACTION,
            importer.target,
            now=now,
            address=importer.address,
            before=was,
            after=is_now,
        )
        return review
