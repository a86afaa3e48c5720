"""Login throttling: failed logins per user name and per client address, kept in the database.

The web may run as several processes, so the failures live in a table every process
reads, not in memory. Whether a name or an address must wait is a pure function of
its recent failure times (`wait_after`); the rest is three small queries.

A streak of failures locks once it reaches `max_failures`: the name (or address) then
waits `first_delay` after its last failure, twice as long after each further failure,
up to `max_delay`. Attempts made while it waits are refused unchecked and not counted.
A quiet spell of `window` past the end of the wait, or (for a name) a successful login,
starts afresh. Unknown names are throttled exactly like real ones, so the lockout
tells nobody which names exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Index, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hallwatch.registry.models import ID_LEN, Base, UTCDateTime

USER = "user"
ADDRESS = "address"
KEY_LEN = 64  # user names are at most ID_LEN; an IPv6 address is at most 45 characters
MEMORY = timedelta(hours=24)  # failures older than this are deleted
FAILURES_READ = 100  # the newest failures read per key; more than any streak needs to be at max


@dataclass(frozen=True)
class Policy:
    """When failures lock: `max_failures` in a streak (gaps under `window`), then growing waits."""

    max_failures: int
    window: timedelta
    first_delay: timedelta
    max_delay: timedelta

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {self.max_failures}")
        if not timedelta(0) < self.first_delay <= self.max_delay:
            raise ValueError("delays must satisfy 0 < first_delay <= max_delay")
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")

    def delay(self, streak: int) -> timedelta:
        """The wait after the `streak`-th failure in a row (zero below the threshold)."""
        if streak < self.max_failures:
            return timedelta(0)
        doublings = min(streak - self.max_failures, 32)  # 2**32 minutes is past any max_delay
        return min(self.first_delay * 2**doublings, self.max_delay)


# A person mistyping gets five tries; a guesser gets about one per half hour after that.
USER_POLICY = Policy(
    max_failures=5,
    window=timedelta(minutes=15),
    first_delay=timedelta(minutes=1),
    max_delay=timedelta(minutes=30),
)
# Many names tried from one address (an office behind one NAT address shares it).
ADDRESS_POLICY = Policy(
    max_failures=20,
    window=timedelta(minutes=15),
    first_delay=timedelta(minutes=1),
    max_delay=timedelta(hours=1),
)


def wait_after(failures: Iterable[datetime], policy: Policy, now: datetime) -> timedelta | None:
    """How long a key with these failure times must still wait at `now`, or None."""
    streak, last = 0, None
    for at in sorted(failures):
        if last is not None and at - last > policy.window + policy.delay(streak):
            streak = 0  # a quiet spell past the wait: a fresh start
        streak, last = streak + 1, at
    if last is None:
        return None
    until = last + policy.delay(streak)
    return until - now if until > now else None


class LoginFailureRow(Base):
    """One failed login: by a user name or from an address (one row for each)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16))  # USER or ADDRESS
    key: Mapped[str] = mapped_column(String(KEY_LEN))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def user_key(username: str) -> str:
    """One key for every spelling of a name (case, surrounding spaces); bounded length."""
    return username.strip().casefold()[:ID_LEN]


def _keys(username: str, address: str | None) -> list[tuple[str, str, Policy]]:
    keys = [(USER, user_key(username), USER_POLICY)]
    if address:
        keys.append((ADDRESS, address[:KEY_LEN], ADDRESS_POLICY))
    return keys


def retry_after(
    session: Session, username: str, address: str | None, now: datetime
) -> timedelta | None:
    """How long a login as `username` from `address` must wait (the longer of the two), or None."""
    waits = []
    for scope, key, policy in _keys(username, address):
        query = (
            select(LoginFailureRow.at)
            .where(LoginFailureRow.scope == scope, LoginFailureRow.key == key)
            .where(LoginFailureRow.at > now - MEMORY)
            .order_by(LoginFailureRow.at.desc())
            .limit(FAILURES_READ)
        )
        wait = wait_after(session.scalars(query), policy, now)
        if wait is not None:
            waits.append(wait)
    return max(waits, default=None)


def record_failure(session: Session, username: str, address: str | None, now: datetime) -> None:
    """Count a failed login against the name and the address; forget old ones (caller commits)."""
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.at <= now - MEMORY))
    for scope, key, _policy in _keys(username, address):
        session.add(LoginFailureRow(scope=scope, key=key, at=now))
    session.flush()


def clear_failures(session: Session, username: str) -> None:
    """A successful login: the name's failures are forgotten, the address's are not."""
    mine = (LoginFailureRow.scope == USER, LoginFailureRow.key == user_key(username))
    # Look first: every HTTP Basic request logs in, and most have nothing to forget.
    if session.scalars(select(LoginFailureRow.id).where(*mine).limit(1)).first() is not None:
        session.execute(delete(LoginFailureRow).where(*mine))
