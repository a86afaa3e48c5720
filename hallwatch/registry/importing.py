"""A registry file imported as a whole transaction (`import_file`, limited to some halls
or not), validated whole and applied while holding the registry (`hold_registry`), so
that two changes at the same moment are made one after the other. Changes made from
forms are `hallwatch.registry.changes`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from hallwatch.access import Scope
from hallwatch.registry.apply import ImportSummary, apply_deployment
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.dump import deployment_yaml
from hallwatch.registry.file import RegistryError
from hallwatch.registry.load import load_deployment
from hallwatch.registry.models import RegistryRevisionRow
from hallwatch.registry.parse import parse_deployment
from hallwatch.registry.scoped import within_halls
from hallwatch.registry.users import current_halls


def import_file(
    session_factory: Callable[[], Session],
    path: Path | str,
    now: datetime | None = None,
    halls: Collection[str] = (),
) -> ImportSummary:
    """Parse the file (RegistryError if bad, nothing written) and apply it in one transaction.

    With `halls` (the importer is limited to them), only those halls change: see
    hallwatch.registry.scoped; the result is validated whole again, as a file would be.
    """
    deployment = parse_deployment(file_text(path))
    with session_factory() as session, session.begin():
        hold_registry(session)
        deployment = scoped(session, deployment, halls)
        return apply_deployment(session, deployment, now or datetime.now(UTC))


def file_text(path: Path | str) -> str:
    """A registry file's text (UTF-8, a BOM allowed); RegistryError if it is not text."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc


def scoped(session: Session, uploaded: Deployment, halls: Collection[str]) -> Deployment:
    """What an importer limited to `halls` makes of `uploaded` (none: all of it)."""
    if not halls:
        return uploaded
    in_force = set(current_halls(session))  # none yet: load_deployment's default is no hall
    current = [r for r in load_deployment(session).halls if r.hall.id in in_force]
    within = within_halls(current, uploaded, Scope(tuple(halls)))
    return parse_deployment(deployment_yaml(within))


def hold_registry(session: Session) -> None:
    """Take the registry for this transaction: another writer waits until it ends.

    A write before the read, so that two changes at the same moment are made one after
    the other instead of each applying a copy without the other's change.
    """
    row = RegistryRevisionRow
    if session.execute(update(row).where(row.id == 1).values(revision=row.revision)).rowcount:
        return
    session.add(RegistryRevisionRow(id=1, revision=0))
    session.flush()
