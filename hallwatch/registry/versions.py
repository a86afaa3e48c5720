"""The registry's history: every change kept as a version of the whole registry file.

Each change that `apply_deployment` makes (an import, a form) stores the deployment as it
stands after it, as the registry file's YAML (zlib), with the registry revision it made
and the instant it is effective from (`made_at`, the change's `now`). Future effects (a
roster from a date, a leave) are dated entries inside the registry, so a version never
needs a future instant. `load_deployment_at` answers the registry in effect at an instant;
`registry_for_day` is the one rule for a past day: the registry as it stood at the end of
that day, so a rename or a leave entered during the day applies to the whole day, and a
rename today never rewrites last month (a day before the first import: the registry at the
end of the day it was first imported).

A database from before versions gets its first version lazily (`keep_history`): the
current registry, effective from the newest change of its rows; before it, the rows'
own created/retired instants (`load_deployment(as_of=...)`) are all there is.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import OrderedDict
from datetime import date, datetime, timedelta

from sqlalchemy import Integer, LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hallwatch.registry.deployment import Deployment
from hallwatch.registry.dump import deployment_yaml
from hallwatch.registry.load import load_deployment
from hallwatch.registry.models import (
    Base,
    DepartmentRow,
    DeviceRow,
    HallRow,
    LeaveRow,
    RosterRow,
    StaffRow,
    UTCDateTime,
    WindowRow,
)
from hallwatch.registry.parse import parse_deployment
from hallwatch.registry.spec import HallSettings
from hallwatch.schedule import day_of, local_midnight

SUMMARY_LEN = 200
DIGEST_LEN = 64
PARSED_KEPT = 16  # parsed versions kept in memory: a month's report reads one or two
_JUST_BEFORE = timedelta(microseconds=1)
_TRACKED = (HallRow, DepartmentRow, WindowRow, StaffRow, DeviceRow, RosterRow, LeaveRow)


class RegistryVersionRow(Base):
    """One version of the whole registry, in effect from `made_at` until the next one."""

    __tablename__ = "registry_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    revision: Mapped[int] = mapped_column(Integer)  # the registry revision after the change
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    summary: Mapped[str] = mapped_column(String(SUMMARY_LEN))
    digest: Mapped[str] = mapped_column(String(DIGEST_LEN))  # sha256 of the file: parsed once
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the registry file, zlib-compressed


def pack(deployment: Deployment) -> tuple[bytes, str]:
    """The registry file compressed, and its digest."""
    text = deployment_yaml(deployment).encode("utf-8")
    return zlib.compress(text, 6), hashlib.sha256(text).hexdigest()


def unpack(body: bytes) -> str:
    """A version's registry file, as text."""
    return zlib.decompress(body).decode("utf-8")


def store_version(
    session: Session, deployment: Deployment, revision: int, made_at: datetime, summary: str
) -> RegistryVersionRow:
    """Keep `deployment` as the registry in effect from `made_at`, in the caller's transaction."""
    if made_at.tzinfo is None:
        raise ValueError(f"a version needs an aware `made_at`, got {made_at.isoformat()}")
    body, digest = pack(deployment)
    row = RegistryVersionRow(
        revision=revision, made_at=made_at, summary=summary[:SUMMARY_LEN], digest=digest, body=body
    )
    session.add(row)
    session.flush()
    return row


def keep_history(session: Session, revision: int) -> RegistryVersionRow | None:
    """The first version of a database from before versions (rows and no version yet):
    the current registry, effective from the newest change of its rows. None otherwise."""
    if session.scalar(select(RegistryVersionRow.id).limit(1)) is not None:
        return None
    newest = [session.scalar(select(func.max(model.updated_at))) for model in _TRACKED]
    known = [moment for moment in newest if moment is not None]
    if not known:
        return None
    summary = "registry as found (before versions were kept)"
    return store_version(session, load_deployment(session), revision, max(known), summary)


def version_at(session: Session, at: datetime):
    """The id and instant of the version in effect at `at`, None before the first."""
    stmt = select(RegistryVersionRow.id, RegistryVersionRow.made_at, RegistryVersionRow.digest)
    stmt = stmt.where(RegistryVersionRow.made_at <= at)
    found = session.execute(
        stmt.order_by(RegistryVersionRow.made_at.desc(), RegistryVersionRow.id.desc()).limit(1)
    ).first()
    return None if found is None else found


def _first_version(session: Session):
    """The id and instant of the first version, None when there is none."""
    stmt = select(RegistryVersionRow.id, RegistryVersionRow.made_at, RegistryVersionRow.digest)
    order = (RegistryVersionRow.made_at, RegistryVersionRow.id)
    return session.execute(stmt.order_by(*order).limit(1)).first()


class _Parsed:
    """Parsed versions by the digest of their file, the most recently used kept (parsing a
    big file takes time; the digest, not the row's id, since a process may read several
    databases, and equal files are one registry)."""

    def __init__(self, size: int = PARSED_KEPT):
        self.size = size
        self._kept: OrderedDict[str, Deployment] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, version) -> Deployment:
        """`version`: a row of (id, made_at, digest)."""
        with self._lock:
            if (found := self._kept.get(version.digest)) is not None:
                self._kept.move_to_end(version.digest)
                return found
        body = session.scalar(
            select(RegistryVersionRow.body).where(RegistryVersionRow.id == version.id)
        )
        parsed = parse_deployment(unpack(body))
        with self._lock:
            self._kept[version.digest] = parsed
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return parsed


PARSED = _Parsed()


def load_deployment_at(session: Session, at: datetime) -> Deployment:
    """The registry in effect at `at` (aware).

    Before the first version: the rows' own history (`load_deployment(as_of=at)`), or,
    when no entry existed yet (the registry was first imported after `at`), the first
    version: the events of a day before the import can only be read with it.
    """
    if at.tzinfo is None:
        raise ValueError(f"load_deployment_at needs an aware `at`, got {at.isoformat()}")
    found = version_at(session, at)
    if found is not None:
        return PARSED.get(session, found)
    from_rows = load_deployment(session, as_of=at)
    if any(registry.departments for registry in from_rows.halls):
        return from_rows
    first = _first_version(session)
    return from_rows if first is None else PARSED.get(session, first)


def end_of_day(hall: HallSettings, day: date, now: datetime) -> datetime:
    """The instant whose registry a hall day uses: its last instant, or `now` if sooner."""
    return min(local_midnight(hall, day + timedelta(days=1)) - _JUST_BEFORE, now)


def registry_for_day(session: Session, hall: HallSettings, day: date, now: datetime) -> Deployment:
    """The registry a hall day is counted, replayed and reported with: as it stood at the
    end of that day (capped at `now`), so a change made during a day applies to all of it.

    A day before the registry existed (events older than the first import) is read with
    the registry as it stood at the end of the day it was first imported: the corrections
    of the day a hall is set up count for what came before it.
    """
    at = end_of_day(hall, day, now)
    first = _first_version(session)
    if first is not None and at < first.made_at:
        from_rows = load_deployment(session, as_of=at)  # a database from before versions
        if any(registry.departments for registry in from_rows.halls):
            return from_rows
        at = end_of_day(hall, day_of(hall, first.made_at), now)
    return load_deployment_at(session, at)
