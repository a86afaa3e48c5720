"""A named lease in the database: one process at a time acts, another takes over when it dies.

Acquiring is one conditional UPDATE (ours already, or expired), or an INSERT when
no row exists yet; both backends make either atomic (a row lock in PostgreSQL,
the database write lock in SQLite, the primary key for two first INSERTs). The
holder renews by acquiring again before `ttl_s` runs out; a holder that stops
renewing loses the lease when it expires. Times come from the callers' clocks,
so hosts sharing a lease need synchronised clocks (NTP) to well under the TTL.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.registry.alerting import LockRow


def make_holder() -> str:
    """A holder name unique to this process: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def try_acquire(
    session_factory: sessionmaker[Session], name: str, holder: str, ttl_s: float, now: datetime
) -> bool:
    """Take or renew lease `name` until now + ttl_s; False while someone else holds it."""
    expires = now + timedelta(seconds=ttl_s)
    with session_factory() as session:
        taken = session.execute(
            update(LockRow)
            .where(LockRow.name == name, or_(LockRow.holder == holder, LockRow.expires_at < now))
            .values(holder=holder, expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            session.commit()
            return True
        # Ask first: a failed INSERT every tick would fill PostgreSQL's log with errors.
        if session.scalar(select(LockRow.name).where(LockRow.name == name)) is not None:
            session.rollback()
            return False
        session.add(LockRow(name=name, holder=holder, expires_at=expires))
        try:
            session.commit()
        except IntegrityError:  # another process inserted it first: theirs
            session.rollback()
            return False
        return True


def release(session_factory: sessionmaker[Session], name: str, holder: str) -> bool:
    """Give lease `name` up if we hold it, so a standby takes over at once; True if we did."""
    with session_factory() as session:
        gone = session.execute(
            delete(LockRow)
            .where(LockRow.name == name, LockRow.holder == holder)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return gone.rowcount == 1


def holder_of(session_factory: sessionmaker[Session], name: str, now: datetime) -> str | None:
    """Who holds lease `name` at `now`, if anyone (for operators and tests)."""
    with session_factory() as session:
        row = session.get(LockRow, name)
        return row.holder if row is not None and row.expires_at >= now else None
